// Hostile plugins of the other ABIs, from an adversarial review: forged kernel lengths, offsets
// past 4 GiB, a full kernel, failed calls that must still give their blocks back, a raise in
// _start. Each ends in a typed error, the instance left usable or marked for replacement.
import { describe, expect, it } from 'vitest';
import { Engine } from '../../../src/engine/engine.js';
import { AllocationError, MemoryAccessError, OutputLimitError, PluginRaisedError, PluginTrapError } from '../../../src/engine/errors.js';
import { wat } from '../../helpers/plugins.js';
import { waspGoPlugin } from '../../helpers/wasp-go.js';

const kernel = (imports: [string, string][]) => imports.map(([n, t]) => `(import "extism:host/env" "${n}" (func $${n} ${t}))`).join('\n');
const failure = (f: () => unknown): unknown => {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to fail');
};

describe('hostile plugins of other ABIs', () => {
  it('extism: a log line of a whole block is read only as far as a log line goes (4 KiB)', async () => {
    const lines: string[] = [];
    const engine = new Engine({ logger: { info: (message: string) => lines.push(message) } });
    await engine.registerPlugin(
      'x',
      await wat(`(module
        ${kernel([['alloc', '(param i64) (result i64)'], ['log_info', '(param i64)']])}
        (memory (export "memory") 1)
        (func (export "run") (result i32) (call $log_info (call $alloc (i64.const 8388608))) (i32.const 0)))`),
    );
    engine.getInstanceSync('x').callString('run');
    expect(lines).toHaveLength(1);
    expect(Buffer.byteLength(lines[0]!)).toBe(4096 + Buffer.byteLength('…'));
  });

  it('extism: a forged block length in error_set or var_set is a MemoryAccessError, and the instance goes on', async () => {
    const engine = new Engine();
    await engine.registerPlugin(
      'x',
      await wat(`(module
        ${kernel([['alloc', '(param i64) (result i64)'], ['store_u64', '(param i64 i64)'], ['error_set', '(param i64)'], ['output_set', '(param i64 i64)'], ['var_set', '(param i64 i64)']])}
        (memory (export "memory") 1)
        (func $forged (result i64) (local $b i64)
          (local.set $b (call $alloc (i64.const 8)))
          (call $store_u64 (i64.sub (local.get $b) (i64.const 8)) (i64.const 0x80000000))
          (local.get $b))
        (func (export "bad_error") (result i32) (call $error_set (call $forged)) (i32.const 1))
        (func (export "bad_var") (result i32) (call $var_set (call $alloc (i64.const 1)) (call $forged)) (i32.const 0))
        (func (export "ok") (result i32) (local $b i64)
          (local.set $b (call $alloc (i64.const 2)))
          (call $store_u64 (local.get $b) (i64.const 0x6968))
          (call $output_set (local.get $b) (i64.const 2))
          (i32.const 0)))`),
    );
    const inst = await engine.getInstance('x');
    expect(failure(() => inst.callString('bad_error'))).toBeInstanceOf(MemoryAccessError);
    expect(inst.callString('ok')).toBe('hi'); // not left busy
    expect(failure(() => inst.callString('bad_var'))).toBeInstanceOf(MemoryAccessError);
    expect(engine.getInstanceSync('x').callRaw('ok')).toEqual({ value: 0, outputs: [new Uint8Array([0x68, 0x69])], errorMessage: null });
  });

  it('extism: offsets and lengths past 4 GiB trap rather than wrap; a full kernel is an AllocationError, not "absent"', async () => {
    const engine = new Engine();
    engine.addCallback('extism:host/user', 'big', () => 'x'.repeat(200_000), { params: [], result: 'string' });
    await engine.registerPlugin(
      'x',
      await wat(`(module
        ${kernel([['alloc', '(param i64) (result i64)'], ['store_u64', '(param i64 i64)'], ['output_set', '(param i64 i64)']])}
        (import "extism:host/user" "big" (func $big (result i64)))
        (memory (export "memory") 1)
        (func (export "far") (result i32) (call $output_set (i64.add (call $alloc (i64.const 2)) (i64.const 0x100000000)) (i64.const 2)) (i32.const 0))
        (func (export "long") (result i32) (call $output_set (call $alloc (i64.const 2)) (i64.const 0x100000002)) (i32.const 0))
        (func (export "store") (result i32) (call $store_u64 (i64.const 0x100000000) (i64.const 1)) (i32.const 0))
        (func (export "fetch") (result i32) (drop (call $big)) (i32.const 0)))`),
      { memoryLimitPages: 2 },
    );
    for (const fn of ['far', 'long', 'store']) expect(failure(() => engine.getInstanceSync('x').callString(fn))).toBeInstanceOf(PluginTrapError);
    expect(failure(() => engine.getInstanceSync('x').callString('fetch'))).toBeInstanceOf(AllocationError);
  });

  it('wasp-go: a call that fails without a trap still frees its blocks, so failures do not fill the heap', async () => {
    const engine = new Engine();
    engine.addCallback('env', 'call_me', (s: string) => s, { params: ['string'], result: 'string' });
    await engine.registerPlugin('go', await wat(waspGoPlugin(), { bulk_memory: true }), { maxOutputBytes: 8 });
    const inst = await engine.getInstance('go');
    for (let i = 0; i < 20; i++) expect(failure(() => inst.callString('hello', 'a long name'))).toBeInstanceOf(OutputLimitError);
    expect(inst.call('live')).toBe(0);
    expect(inst.needsReplacement).toBe(false);
    expect(inst.callString('hello', 'ab')).toBe('Hello ab');
  });

  it('wasp-go: an error raised in _start fails the instantiation, not the first call', async () => {
    const engine = new Engine();
    await engine.registerPlugin(
      'go',
      await wat(`(module
        (import "env" "raise_error" (func $raise (param i32)))
        (memory (export "memory") 1)
        (data (i32.const 16) "boom\\00")
        (func (export "allocate") (param i32) (result i32) (i32.const 1024))
        (func (export "get_string_size") (param i32) (result i32) (i32.const 0))
        (func (export "_start") (call $raise (i32.const 16)))
        (func (export "sum") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))`),
    );
    await expect(engine.getInstance('go')).rejects.toMatchObject({ name: 'PluginRaisedError', pluginMessage: 'boom', function: '_start' });
    expect(PluginRaisedError).toBeDefined();
  });

  it('a stage message is bytes to a wasp-go function inline as in workers, and a wasp/1 module exporting allocate stays wasp/1', async () => {
    const engine = new Engine();
    engine.addCallback('env', 'call_me', (s: string) => s, { params: ['string'], result: 'string' });
    await engine.registerPlugin('go', await wat(waspGoPlugin(), { bulk_memory: true }));
    for (const mode of ['inline', 'worker'] as const) {
      const pool = engine.createPool('go', { mode });
      try {
        expect((await pool.call('reverse', 'ab')).outputs).toEqual([new Uint8Array([98, 97])]);
      } finally {
        await pool.close();
      }
    }
    const plugin = await new Engine().registerPlugin(
      'w',
      await wat(`(module
        (import "wasp" "output" (func $out (param i32 i32)))
        (memory (export "memory") 1)
        (func (export "allocate") (param i32) (result i32) (i32.const 1024))
        (func (export "get_string_size") (param i32) (result i32) (i32.const 0)))`),
    );
    expect(plugin.abi).toBe('wasp/1');
  });
});
