// Pools behind one async call: inline and in worker threads, with batches and deadlines.
import { describe, expect, it } from 'vitest';
import { CallbackError, Engine, InstanceStateError, PluginCallError, PluginTimeoutError, PluginTrapError } from '../../src/index.js';
import { textPlugin } from '../helpers/pipelines.js';
import { kits, wat } from '../helpers/plugins.js';
import { bumpAllocator } from '../helpers/hostile.js';

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
        ${bumpAllocator}
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
});

// run(input) outputs whatever the host's lookup callback gives for the input
const lookupPlugin = () =>
  wat(`(module
    (import "wasp" "output" (func $output (param i32 i32)))
    (import "host" "lookup" (func $lookup (param i32 i32) (result i64)))
    ${bumpAllocator}
    (func (export "run") (param $p i32) (param $n i32) (result i32) (local $r i64)
      (local.set $r (call $lookup (local.get $p) (local.get $n)))
      (call $output (i32.wrap_i64 (i64.shr_u (local.get $r) (i64.const 32))) (i32.wrap_i64 (local.get $r)))
      (i32.const 0)))`);

describe('host callbacks in pools', () => {
  async function poolWith(lookup: (key: string) => unknown, options = {}) {
    const engine = new Engine();
    engine.addCallback('host', 'lookup', lookup, { params: ['string'], result: 'string' });
    await engine.registerPlugin('lookup', await lookupPlugin());
    return engine.createPool('lookup', { size: 2, mode: 'worker', ...options });
  }

  it('awaits async callbacks for plugins in workers, each call getting its own answer', async () => {
    const p = await poolWith(async (key: string) => {
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
      return `value of ${key}`;
    });
    const keys = Array.from({ length: 60 }, (_, i) => `k${i}`);
    const results = await Promise.all(keys.map((k) => p.call('run', k)));
    expect(results.map((r) => text(r.outputs[0]!))).toEqual(keys.map((k) => `value of ${k}`));
    await p.close();
  });

  it('runs synchronous callbacks the same way', async () => {
    const p = await poolWith((key: string) => key.toUpperCase());
    expect(text((await p.call('run', 'quiet')).outputs[0]!)).toBe('QUIET');
    await p.close();
  });

  it('fails a call whose callback rejects or answers the wrong type with CallbackError, and goes on', async () => {
    const p = await poolWith(async (key: string) => {
      if (key === 'bad') throw new Error('no such key');
      if (key === 'number') return 42;
      return key;
    });
    const [bad, wrong, fine] = await Promise.allSettled([p.call('run', 'bad'), p.call('run', 'number'), p.call('run', 'fine')]);
    expect(bad).toMatchObject({ status: 'rejected', reason: expect.any(CallbackError) });
    expect((bad as PromiseRejectedResult).reason).toMatchObject({ callback: 'host.lookup', function: 'run', message: expect.stringContaining('no such key') });
    expect((wrong as PromiseRejectedResult).reason).toMatchObject({ name: 'CallbackError', message: expect.stringContaining('expected a string') });
    expect(fine).toMatchObject({ status: 'fulfilled' });
    await p.close();
  });

  it('counts the time a callback takes against the deadline', async () => {
    let failedAfter = 0;
    const p = await poolWith((key: string) => (key === 'hang' ? new Promise(() => {}) : key), { size: 1, timeoutMs: 150 });
    await p.ready();
    const started = Date.now();
    const [hung, after] = await Promise.allSettled([
      p.call('run', 'hang').finally(() => (failedAfter = Date.now() - started)),
      p.call('run', 'after'),
    ]);
    expect((hung as PromiseRejectedResult).reason).toBeInstanceOf(PluginTimeoutError);
    // the watchdog's bound: not before the deadline, and not much after it (it looks every timeoutMs / 4)
    expect(failedAfter).toBeGreaterThanOrEqual(150);
    expect(failedAfter).toBeLessThan(900);
    expect(after).toMatchObject({ status: 'fulfilled' });
    expect(text((after as PromiseFulfilledResult<{ outputs: Uint8Array[] }>).value.outputs[0]!)).toBe('after');
    await p.close();
  });

  it('refuses async callbacks inline, where the plugin cannot wait', async () => {
    const p = await poolWith(async (key: string) => key, { mode: 'inline' });
    await expect(p.call('run', 'x')).rejects.toThrow(/must be synchronous/);
    await p.close();
  });
});

describe.each(kits.filter((k) => k.wasi))('worker pool with a WASI plugin ($language)', (kit) => {
  it("gives each worker the plugin's WASI world (env and files) and the host's callbacks", async () => {
    const engine = new Engine();
    engine.addCallback('plugin', 'call_me', (name: string) => `Hello ${name}`, { params: ['string'], result: 'string' });
    await engine.registerPlugin('p', kit.path, { wasi: { env: { GREETING: 'hi' }, files: { '/etc/app.json': '{"a":1}' } } });
    const p = engine.createPool('p', { size: 2, mode: 'worker' });
    const results = await Promise.all([p.call('env', 'GREETING'), p.call('env', 'GREETING'), p.call('cat', '/etc/app.json'), p.call('reverse', 'abc')]);
    expect(results.map((r) => text(r.outputs[0]!))).toEqual(['hi', 'hi', '{"a":1}', 'cba']);
    await expect(p.call('cat', '/etc/passwd')).rejects.toMatchObject({ name: 'PluginCallError', pluginMessage: 'cannot open /etc/passwd' });
    await p.close();
  });
});

describe('worker pool transfer', () => {
  it('moves payloads bigger than its rings, both ways, and many of every size in between', async () => {
    const engine = new Engine();
    await engine.registerPlugin('text', textPlugin, { maxOutputBytes: 8 << 20 });
    const p = engine.createPool('text', { size: 2, mode: 'worker' });
    const big = new Uint8Array(3 << 20).map((_, i) => 97 + (i % 26));
    const [out] = (await p.call('upper', big)).outputs;
    expect(out!.length).toBe(big.length);
    expect(out![0]).toBe(65);
    expect(out![big.length - 1]).toBe(65 + ((big.length - 1) % 26));
    // sizes that wrap the rings many times over, with pad records at the ends
    const sizes = Array.from({ length: 3000 }, (_, i) => (i * 7919) % 70_000);
    const inputs = sizes.map((n, i) => new Uint8Array(n).fill(97 + (i % 26)));
    const results = await Promise.all(inputs.map((input) => p.call('identity', input)));
    results.forEach((r, i) => {
      expect(r.outputs.length).toBe(1);
      expect(Buffer.compare(r.outputs[0]!, inputs[i]!)).toBe(0);
    });
    await p.close();
  });
});
