// ABI edges pinned down with hand-written fixtures: allocation bookkeeping,
// callbacks of every type, failures that must not corrupt the host.
import { beforeAll, describe, expect, it } from 'vitest';
import { AllocationError, CallbackError, Engine, InstanceStateError, MemoryAccessError, PluginTrapError } from '../../src/index.js';
import { catchError } from '../helpers/errors.js';
import { wat } from '../helpers/plugins.js';

// A bump allocator that counts live blocks and checks that every free names
// the size it was allocated with; `echo` outputs its input, `echo2` its two inputs.
const counting = `(module
  (import "wasp" "output" (func $output (param i32 i32)))
  (import "wasp" "error" (func $error (param i32 i32)))
  (memory (export "memory") 1)
  (global $next (mut i32) (i32.const 1024))
  (global $live (mut i32) (i32.const 0))
  (global $badfree (mut i32) (i32.const 0))
  (global $inits (mut i32) (i32.const 0))
  (func (export "_initialize") (global.set $inits (i32.add (global.get $inits) (i32.const 1))))
  (func (export "inits") (result i32) (global.get $inits))
  (func (export "live") (result i32) (global.get $live))
  (func (export "badfree") (result i32) (global.get $badfree))
  (func (export "wasp_alloc") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $next))
    ;; keep the size in the 4 bytes before the block
    (i32.store (local.get $p) (local.get $n))
    (global.set $next (i32.add (local.get $p) (i32.add (local.get $n) (i32.const 4))))
    (global.set $live (i32.add (global.get $live) (i32.const 1)))
    (i32.add (local.get $p) (i32.const 4)))
  (func (export "wasp_free") (param $p i32) (param $n i32)
    (if (i32.ne (i32.load (i32.sub (local.get $p) (i32.const 4))) (local.get $n))
      (then (global.set $badfree (i32.add (global.get $badfree) (i32.const 1)))))
    (global.set $live (i32.sub (global.get $live) (i32.const 1)))
    (if (i32.eqz (global.get $live)) (then (global.set $next (i32.const 1024)))))
  (func (export "echo") (param i32 i32) (result i32) (call $output (local.get 0) (local.get 1)) (i32.const 0))
  (func (export "echo2") (param i32 i32 i32 i32) (result i32)
    (call $output (local.get 0) (local.get 1)) (call $output (local.get 2) (local.get 3)) (i32.const 0))
  (func (export "args") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "err_ok") (param i32 i32) (result i32) (call $error (local.get 0) (local.get 1)) (i32.const 0))
  (func (export "bad_error") (result i32) (call $error (i32.const 65530) (i32.const 100)) (i32.const 0))
)`;

describe('input blocks', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = new Engine();
    await engine.registerPlugin('counting', await wat(counting));
  });

  it('calls _initialize exactly once per instance', async () => {
    const inst = await engine.getInstance('counting');
    inst.callString('echo', 'x');
    expect(inst.call('inits')).toBe(1);
  });

  it('frees every block with the size it was allocated with, also when the call fails', async () => {
    const inst = await engine.getInstance('counting');
    expect(inst.callOutputs('echo2', 'ab', new Uint8Array([1, 2, 3])).map((b) => [...b])).toEqual([[97, 98], [1, 2, 3]]);
    expect(inst.call('live')).toBe(0);
    expect(() => inst.callString('echo', 'x', 'y')).toThrow(/argument 2 \(string\) does not fit echo's type/);
    expect(() => inst.callString('echo2', 'x')).toThrow(/the 1 argument\(s\) given fill 2 parameter/);
    expect(inst.call('live')).toBe(0);
    inst.callString('err_ok', 'ignored on success');
    expect(inst.call('live')).toBe(0);
    expect(inst.call('badfree')).toBe(0);
  });

  it('passes empty strings and bytes as (0, 0) without allocating', async () => {
    const inst = await engine.getInstance('counting');
    expect(inst.call('args', '')).toBe(0);
    expect(inst.call('args', new Uint8Array(0))).toBe(0);
    expect(inst.callString('echo', '')).toBe('');
    expect(inst.call('live')).toBe(0);
  });

  it('encodes a string by its UTF-8 length, not its UTF-16 length', async () => {
    const inst = await engine.getInstance('counting');
    expect(inst.callBytes('echo', '🐝é')).toEqual(new Uint8Array([0xf0, 0x9f, 0x90, 0x9d, 0xc3, 0xa9]));
  });

  it('ignores wasp.error on success and refuses a bad pointer to it', async () => {
    const inst = await engine.getInstance('counting');
    expect(inst.callString('err_ok', 'nope')).toBeNull();
    expect(() => inst.callString('bad_error')).toThrow(MemoryAccessError);
    expect(inst.needsReplacement).toBe(false);
  });

  it('refuses calls on a removed instance', async () => {
    const inst = await engine.getInstance('counting');
    inst.remove();
    expect(() => inst.call('live')).toThrow(InstanceStateError);
  });
});

describe('allocation failures', () => {
  it('fails the call when wasp_alloc returns 0 or a block outside memory', async () => {
    const engine = new Engine();
    const module = (ret: string) =>
      wat(`(module (memory (export "memory") 1)
        (func (export "wasp_alloc") (param i32) (result i32) ${ret})
        (func (export "wasp_free") (param i32 i32))
        (func (export "f") (param i32 i32) (result i32) (i32.const 0)))`);
    await engine.registerPlugin('zero', await module('(i32.const 0)'));
    await engine.registerPlugin('outside', await module('(i32.const 65530)'));
    const zero = await engine.getInstance('zero');
    expect(() => zero.callString('f', 'abc')).toThrow(/wasp_alloc\(3\) returned 0/);
    expect(() => zero.callString('f', 'abc')).toThrow(AllocationError);
    const outside = await engine.getInstance('outside');
    expect(() => outside.callString('f', 'abcdefghijk')).toThrow(/returned 65530, outside memory/);
    expect(zero.callString('f', '')).toBeNull();
  });

  it('treats a trap inside wasp_alloc as a trap of the call', async () => {
    const engine = new Engine();
    await engine.registerPlugin(
      'bad-alloc',
      await wat(`(module (memory (export "memory") 1)
        (func (export "wasp_alloc") (param i32) (result i32) unreachable)
        (func (export "wasp_free") (param i32 i32))
        (func (export "f") (param i32 i32) (result i32) (i32.const 0)))`),
    );
    const inst = await engine.getInstance('bad-alloc');
    expect(() => inst.callBytes('f', new Uint8Array([1]))).toThrow(PluginTrapError);
    expect(inst.needsReplacement).toBe(true);
    const other = await engine.getInstance('bad-alloc');
    expect(() => other.callString('f', 'x', 'y')).toThrow(PluginTrapError);
  });

  it('explains that a plugin without an allocator takes only numbers', async () => {
    const engine = new Engine();
    await engine.registerPlugin('numbers', await wat('(module (func (export "f") (param i32 i32) (result i32) (i32.const 0)))'));
    const inst = await engine.getInstance('numbers');
    expect(() => inst.callString('f', 'x')).toThrow(/exports no wasp_alloc/);
    expect(inst.call('f', 1, 2)).toBe(0);
  });
});

describe('callbacks', () => {
  const module = `(module
    (import "host" "concat" (func $concat (param i32 i32 i32 i32) (result i64)))
    (import "host" "mix" (func $mix (param i32 i64 f32 f64) (result f64)))
    (import "host" "bytes" (func $bytes (param i32 i32) (result i64)))
    (import "host" "boom" (func $boom))
    (import "host" "reenter" (func $reenter))
    (import "wasp" "output" (func $output (param i32 i32)))
    (memory (export "memory") 1)
    (data (i32.const 16) "abcdef")
    (global $next (mut i32) (i32.const 4096))
    (func (export "wasp_alloc") (param $n i32) (result i32) (local $p i32)
      (local.set $p (global.get $next)) (global.set $next (i32.add (local.get $p) (local.get $n))) (local.get $p))
    (func (export "wasp_free") (param i32 i32))
    ;; outputs the packed (ptr << 32 | len) block a callback returned
    (func $out_packed (param $r i64)
      (call $output (i32.wrap_i64 (i64.shr_u (local.get $r) (i64.const 32))) (i32.wrap_i64 (local.get $r))))
    (func (export "concat") (result i32) (call $out_packed (call $concat (i32.const 16) (i32.const 3) (i32.const 19) (i32.const 3))) (i32.const 0))
    (func (export "bytes") (result i32) (call $out_packed (call $bytes (i32.const 16) (i32.const 2))) (i32.const 0))
    (func (export "bad_ptr") (result i32) (call $out_packed (call $bytes (i32.const 65535) (i32.const 2))) (i32.const 0))
    (func (export "mix") (result f64) (call $mix (i32.const -5) (i64.const -9007199254740993) (f32.const 1.5) (f64.const 0.25)))
    (func (export "boom") (result i32) (call $boom) (i32.const 0))
    (func (export "reenter") (result i32) (call $reenter) (i32.const 0))
    (func (export "answer") (result i32) (i32.const 42))
  )`;

  async function setup(bytesResult: (b: Uint8Array) => unknown = (b) => b.reverse()) {
    const engine = new Engine();
    let self: import('../../src/index.js').Instance | undefined;
    const seen: unknown[] = [];
    engine
      .addCallback('host', 'concat', (a: string, b: string) => `${b}+${a}`, { params: ['string', 'string'], result: 'string' })
      .addCallback('host', 'mix', (a: number, b: bigint, c: number, d: number) => (seen.push(a, b, c, d), a + c + d), {
        params: ['i32', 'i64', 'f32', 'f64'],
        result: 'f64',
      })
      .addCallback('host', 'bytes', bytesResult, { params: ['bytes'], result: 'bytes' })
      .addCallback('host', 'boom', () => {
        throw new RangeError('host failure');
      }, { params: [] })
      .addCallback('host', 'reenter', () => self!.call('answer'), { params: [] });
    await engine.registerPlugin('cb', await wat(module));
    self = await engine.getInstance('cb');
    return { inst: self, seen };
  }

  it('passes strings and bytes both ways and numbers of every type', async () => {
    const { inst, seen } = await setup();
    expect(inst.callString('concat')).toBe('def+abc');
    expect(inst.callBytes('bytes')).toEqual(new Uint8Array([98, 97]));
    expect(inst.call('mix')).toBe(-5 + 1.5 + 0.25);
    expect(seen).toEqual([-5, -9007199254740993n, 1.5, 0.25]);
  });

  it('returns an empty result as 0 without allocating', async () => {
    const { inst } = await setup(() => null);
    expect(inst.callBytes('bytes')).toEqual(new Uint8Array(0));
  });

  it('wraps a throwing callback in CallbackError and marks the instance', async () => {
    const { inst } = await setup();
    const error = catchError(() => inst.callString('boom'));
    expect(error).toBeInstanceOf(CallbackError);
    expect(error).toMatchObject({ callback: 'host.boom', plugin: 'cb', function: 'boom' });
    expect((error as Error).cause).toBeInstanceOf(RangeError);
    expect(inst.needsReplacement).toBe(true);
  });

  it('refuses a callback result of the wrong type', async () => {
    const { inst } = await setup(() => 'not bytes');
    expect(() => inst.callBytes('bytes')).toThrow(/returned string, expected a Uint8Array/);
  });

  it('refuses a callback that calls back into the same instance', async () => {
    const { inst } = await setup();
    const error = catchError(() => inst.callString('reenter'));
    expect(error).toBeInstanceOf(CallbackError);
    expect((error as Error).cause).toBeInstanceOf(InstanceStateError);
    expect(inst.call('answer')).toBe(42);
  });

  it('refuses a bad pointer passed to a callback', async () => {
    const { inst } = await setup();
    expect(() => inst.callBytes('bad_ptr')).toThrow(MemoryAccessError);
  });
});

describe('traps', () => {
  it('survives a stack overflow and an out-of-bounds access', async () => {
    const engine = new Engine();
    await engine.registerPlugin(
      'crash',
      await wat(`(module (memory 1)
        (func $rec (export "rec") (result i32) (i32.add (call $rec) (i32.const 1)))
        (func (export "oob") (result i32) (i32.load (i32.const 70000)))
        (func (export "ok") (result i32) (i32.const 7)))`),
    );
    const inst = await engine.getInstance('crash');
    expect(() => inst.call('rec')).toThrow(PluginTrapError);
    expect(() => inst.call('oob')).toThrow(/oob trapped: memory access out of bounds/);
    expect(inst.needsReplacement).toBe(true);
    expect(inst.call('ok')).toBe(7);
  });

  it('reports a trap in _initialize when the instance is made', async () => {
    const engine = new Engine();
    await engine.registerPlugin('bad-init', await wat('(module (func (export "_initialize") unreachable))'));
    await expect(engine.getInstance('bad-init')).rejects.toThrow(/_initialize trapped/);
  });
});

// The engine keeps views over plugin memory between calls; growing the memory
// detaches them, so every step that can follow a growth must see the new memory.
describe('memory growth during a call', () => {
  const growing = `(module
    (import "wasp" "output" (func $output (param i32 i32)))
    (memory (export "memory") 1)
    ;; every block is the first byte of a page grown for it: the input lands past the old end
    (func (export "wasp_alloc") (param $n i32) (result i32)
      (i32.shl (memory.grow (i32.const 1)) (i32.const 16)))
    (func (export "wasp_free") (param i32 i32))
    (func (export "echo") (param $p i32) (param $n i32) (result i32)
      (call $output (local.get $p) (local.get $n)) (i32.const 0))
    ;; grows memory, copies the input past the old end and outputs the copy
    (func (export "grow_echo") (param $p i32) (param $n i32) (result i32) (local $dst i32) (local $i i32)
      (local.set $dst (i32.shl (memory.grow (i32.const 1)) (i32.const 16)))
      (block $done (loop $copy
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store8 (i32.add (local.get $dst) (local.get $i)) (i32.load8_u (i32.add (local.get $p) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $copy)))
      (call $output (local.get $dst) (local.get $n)) (i32.const 0)))`;
  let engine: Engine;
  beforeAll(async () => {
    engine = new Engine();
    // past the default cap of 1,024 pages: the test grows memory by 1,200
    await engine.registerPlugin('growing', await wat(growing), { memoryLimitPages: 4096 });
  });

  it('copies inputs into memory that wasp_alloc grew', async () => {
    const inst = await engine.getInstance('growing');
    const echo = inst.func('echo', { params: ['bytes'], result: 'bytes' });
    // Enough rounds for the JIT to optimize the paths that cache the views.
    for (let i = 0; i < 300; i++) {
      const input = new Uint8Array([i & 0xff, 1, 2, 3]);
      expect([...inst.callBytes('echo', input)!]).toEqual([...input]);
      expect(inst.callString('echo', `text ${i}`)).toBe(`text ${i}`);
      expect([...echo(input)!]).toEqual([...input]);
    }
    expect(inst.memoryBytes).toBe((1 + 900) * 65536);
  });

  it('reads outputs written past the end the memory had when the call began', async () => {
    const inst = await engine.getInstance('growing');
    for (let i = 0; i < 300; i++) {
      const before = inst.memoryBytes;
      expect(inst.callString('grow_echo', `grown ${i} ✓`)).toBe(`grown ${i} ✓`);
      expect([...inst.callBytes('grow_echo', new Uint8Array([9, i & 0xff]))!]).toEqual([9, i & 0xff]);
      expect(inst.memoryBytes).toBe(before + 4 * 65536);
    }
  });
});
