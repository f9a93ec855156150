// Pools behind one async call: inline and in worker threads, with batches and deadlines.
import { describe, expect, it } from 'vitest';
import { Engine, InstanceStateError, PluginCallError, PluginTimeoutError, PluginTrapError } from '../../src/index.js';
import { textPlugin } from '../helpers/pipelines.js';
import { kits, wat } from '../helpers/plugins.js';

const text = (b: Uint8Array) => Buffer.from(b).toString();

describe.each(['inline', 'worker'] as const)('%s pool', (mode) => {
  async function pool(size = 2, extra = {}) {
    const engine = new Engine();
    await engine.registerPlugin('text', textPlugin);
    return engine.createPool('text', { size, mode, emits: ['audit.>'], ...extra });
  }

  it('calls the plugin and returns every output, in order, for concurrent calls', async () => {
    const p = await pool();
    const inputs = Array.from({ length: 300 }, (_, i) => `word${i} other${i}`);
    const results = await Promise.all(inputs.map((s) => p.call('words', s)));
    expect(results.map((r) => r.outputs.map(text))).toEqual(inputs.map((s) => s.split(' ')));
    expect((await p.call('upper', new Uint8Array([104, 105]))).outputs.map(text)).toEqual(['HI']);
    await p.close();
  });

  it('returns allowed side outputs and passes the message subject and headers', async () => {
    const p = await pool(1);
    const audited = await p.call('audit', 'seen');
    expect(audited.emits.map((e) => [e.subject, text(e.data)])).toEqual([['audit.text', 'seen']]);
    const tagged = await p.call('tag', 'x', { subject: 'orders.eu', headers: [['X-Tag', 'blue']] });
    expect(tagged.outputs.map(text)).toEqual(['orders.eu;blue;x']);
    await p.close();
  });

  it('fails single calls with typed errors and goes on', async () => {
    const p = await pool(1);
    const [ok, failed, trapped, after] = await Promise.allSettled([
      p.call('fail_on_x', 'fine'),
      p.call('fail_on_x', 'box'),
      p.call('trap_on_x', 'xx'),
      p.call('upper', 'after'),
    ]);
    expect(ok).toMatchObject({ status: 'fulfilled' });
    expect(failed).toMatchObject({ status: 'rejected', reason: expect.any(PluginCallError) });
    expect((failed as PromiseRejectedResult).reason).toMatchObject({ status: 1, pluginMessage: 'contains x', function: 'fail_on_x' });
    expect(trapped).toMatchObject({ status: 'rejected', reason: expect.any(PluginTrapError) });
    expect(after).toMatchObject({ status: 'fulfilled', value: { outputs: [expect.anything()] } });
    await p.close();
    await expect(p.call('upper', 'closed')).rejects.toThrow(InstanceStateError);
  });
});

describe('worker pool deadlines', () => {
  it('stops a call that runs past timeoutMs, fails it, and runs the rest of its batch on a fresh worker', async () => {
    const engine = new Engine();
    await engine.registerPlugin(
      'spin',
      await wat(`(module
        (import "wasp" "output" (func $output (param i32 i32)))
        (memory (export "memory") 1)
        (global $next (mut i32) (i32.const 1024))
        (func (export "wasp_alloc") (param $n i32) (result i32) (local $p i32)
          (local.set $p (global.get $next)) (global.set $next (i32.add (local.get $p) (local.get $n)))
          (if (i32.gt_u (global.get $next) (i32.const 60000)) (then (global.set $next (i32.const 1024))))
          (local.get $p))
        (func (export "wasp_free") (param i32 i32))
        ;; loops forever when the input starts with "s", else echoes it
        (func (export "run") (param $p i32) (param $n i32) (result i32)
          (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 115)) (then (loop $forever (br $forever))))
          (call $output (local.get $p) (local.get $n))
          (i32.const 0)))`),
    );
    const p = engine.createPool('spin', { size: 1, mode: 'worker', timeoutMs: 200 });
    const started = Date.now();
    const results = await Promise.allSettled(['a', 'b', 'spin', 'c', 'd'].map((s) => p.call('run', s)));
    expect(results.map((r) => (r.status === 'fulfilled' ? text(r.value.outputs[0]!) : (r.reason as Error).name))).toEqual([
      'a',
      'b',
      'PluginTimeoutError',
      'c',
      'd',
    ]);
    expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(PluginTimeoutError);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(text((await p.call('run', 'again')).outputs[0]!)).toBe('again');
    await p.close();
  });

  it('refuses plugins that need host callbacks (not offered to workers yet)', async () => {
    const engine = new Engine();
    engine.addCallback('plugin', 'call_me', (s: string) => s, { params: ['string'], result: 'string' });
    await engine.registerPlugin('c', kits[1].path);
    expect(() => engine.createPool('c', { mode: 'worker' })).toThrow(/host callbacks are not available to worker pools/);
  });
});
