// The deadline instrumenter: its check points stop runaway calls (loops,
// recursion, start functions, bulk operations, catch_all), every function index
// follows the new import, every committed plugin still validates and behaves the
// same, and bad input only ever gives InstrumentError.
import { readFile } from 'node:fs/promises';
import wabtInit from 'wabt';
import { describe, expect, it } from 'vitest';
import { DEADLINE_IMPORT, InstrumentError, instrumentModule } from '../../../src/engine/deadline/instrument.js';
import { MAX_UNCHECKED_WEIGHT } from '../../../src/engine/deadline/call-graph.js';
import { knownOpcodes } from '../../../src/engine/deadline/opcodes.js';
import { root, wat, watExample } from '../../helpers/plugins.js';

type Exports = Record<string, (...args: never[]) => unknown>;
type Features = Record<string, boolean>;

/**
 * A check that hands back `steps` `allow` times, then says the deadline has
 * passed; `calls` counts every call. Asked again after saying no, it throws:
 * the module should have trapped.
 */
function deadline(steps: number, allow = Number.POSITIVE_INFINITY) {
  const state = {
    calls: 0,
    check: (): number => {
      state.calls++;
      if (state.calls > allow + 1) throw new Error('check called again after the deadline passed');
      return state.calls > allow ? 0 : steps;
    },
  };
  return state;
}

// WebAssembly's own verdicts; the casts only satisfy TypeScript's view of Buffer and wabt's output
const compile = (bytes: Uint8Array): WebAssembly.Module => new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
const valid = (bytes: Uint8Array): boolean => WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>);

function instantiate(bytes: Uint8Array, imports: WebAssembly.Imports = {}): WebAssembly.Instance {
  return new WebAssembly.Instance(compile(bytes), imports);
}

/** The instrumented module's exports, its check import wired to `check`. */
function run(bytes: Uint8Array, check: () => number, imports: WebAssembly.Imports = {}): Exports {
  return instantiate(bytes, { ...imports, [DEADLINE_IMPORT.module]: { [DEADLINE_IMPORT.name]: check } }).exports as Exports;
}

function call<T = number>(exports: Exports, name: string, ...args: unknown[]): T {
  return (exports[name] as (...a: unknown[]) => T)(...args);
}

let wabt: Awaited<ReturnType<typeof wabtInit>> | undefined;

/** Like wat(), with wabt feature flags and, on request, a name section. */
async function watWith(source: string, features: Features, names = false): Promise<Uint8Array> {
  wabt ??= await wabtInit();
  const module = wabt.parseWat('fixture.wat', source, features);
  try {
    return module.toBinary({ write_debug_names: names }).buffer;
  } finally {
    module.destroy();
  }
}

// The tests' own reading of the binary format, independent of the instrumenter's.

function leb(bytes: Uint8Array, at: number): [value: number, next: number] {
  let value = 0;
  for (let shift = 0; ; shift += 7) {
    const b = bytes[at++]!;
    value += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return [value, at];
  }
}

function sections(bytes: Uint8Array): { id: number; content: Uint8Array }[] {
  const out = [];
  for (let at = 8; at < bytes.length; ) {
    const id = bytes[at]!;
    const [size, start] = leb(bytes, at + 1);
    out.push({ id, content: bytes.subarray(start, start + size) });
    at = start + size;
  }
  return out;
}

/** Every function body (locals and code), in order. */
function bodies(bytes: Uint8Array): Uint8Array[] {
  const code = sections(bytes).find((s) => s.id === 10)!.content;
  const out = [];
  let [n, at] = leb(code, 0);
  for (; n > 0; n--) {
    const [size, start] = leb(code, at);
    out.push(code.subarray(start, start + size));
    at = start + size;
  }
  return out;
}

/** How many entries a vector section holds. */
function countOf(bytes: Uint8Array, id: number): number {
  const section = sections(bytes).find((s) => s.id === id);
  return section === undefined ? 0 : leb(section.content, 0)[0];
}

/** A module from hand-written sections: [id, content bytes]. */
function moduleOf(...parts: [id: number, content: number[]][]): Uint8Array {
  const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  for (const [id, content] of parts) out.push(id, ...u32(content.length), ...content);
  return new Uint8Array(out);
}

function u32(n: number): number[] {
  const out = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** One `() -> ()` function whose code is `code` (ending with its own 0x0b). */
function oneFunction(code: number[]): Uint8Array {
  const body = [0, ...code];
  return moduleOf([1, [1, 0x60, 0, 0]], [3, [1, 0]], [10, [1, ...u32(body.length), ...body]]);
}

/**
 * A loop that runs 2^32 times: endless as far as the tests go, but should the
 * check points go missing a test fails after a few seconds instead of hanging
 * (nothing can interrupt a synchronous Wasm call). `spin` declares its local.
 */
const spinLoop = '(loop $spin (br_if $spin (local.tee $spin (i32.add (local.get $spin) (i32.const 1)))))';
const spin = `(local $spin i32) ${spinLoop}`;

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

// Every family of instructions Node 20 runs by default, in a loop so that the
// decoder must step over each one's immediates to place the check points.
const everything = `(module
  (type $ii (func (param i32) (result i32)))
  (type $two (func (param i32) (result i32 i32)))
  (import "env" "mem" (memory 1 1 shared))
  (table $t 2 funcref)
  (table $x 2 externref)
  (tag $e (param i32))
  (global $gv (mut v128) (v128.const i32x4 0 0 0 0))
  (data $d "abcdefgh")
  (elem $el func $id $tail)
  (func $id (param i32) (result i32) (local.get 0))
  (func $tail (param i32) (result i32) (return_call $id (i32.add (local.get 0) (i32.const 1))))
  (func $tail_indirect (param i32) (result i32) (return_call_indirect $t (type $ii) (local.get 0) (i32.const 1)))
  (func (export "all") (param $n i32) (result i32)
    (local $v v128) (local $acc i32) (local $i i32) (local $f f64)
    (table.init $t $el (i32.const 0) (i32.const 0) (i32.const 2))
    (loop $l
      (i32.store offset=64 align=4 (i32.const 0) (local.get $i))
      (local.set $acc (i32.add (local.get $acc) (i32.load8_u offset=64 (i32.const 0))))
      (i64.store (i32.const 72) (i64.const -1234567890123))
      (local.set $f (f64.add (f64.load (i32.const 72)) (f64.const 1.5)))
      (f32.store (i32.const 80) (f32.const -2.25))
      (local.set $acc (i32.add (local.get $acc) (i32.trunc_f32_s (f32.load (i32.const 80)))))
      (local.set $acc (i32.add (local.get $acc) (i32.wrap_i64 (i64.clz (i64.const 1)))))
      (local.set $acc (select (local.get $acc) (i32.const 0) (i32.const 1)))
      (local.set $acc (i32.add (local.get $acc) (memory.size)))
      (drop (memory.grow (i32.const 0)))
      (block $b (br_table $b $b $b (local.get $i)))
      (if (i32.eqz (local.get $i)) (then (nop)) (else (local.set $acc (i32.add (local.get $acc) (i32.const 1)))))
      (local.set $acc (i32.add (local.get $acc) (i32.extend8_s (i32.const 0xff))))
      (local.set $acc (i32.add (local.get $acc) (i32.trunc_sat_f64_s (f64.const 1e30))))
      (i32.const 3) (block (type $two) (i32.const 4) (br 0)) (local.set $acc (i32.add (local.get $acc) (i32.add)))
      (memory.init $d (i32.const 128) (i32.const 0) (i32.const 8))
      (memory.copy (i32.const 256) (i32.const 128) (i32.const 8))
      (memory.fill (i32.const 264) (i32.const 7) (i32.const 8))
      (local.set $acc (i32.add (local.get $acc) (i32.load8_u (i32.const 263))))
      (table.fill $x (i32.const 0) (ref.null extern) (i32.const 2))
      (table.copy $t $t (i32.const 0) (i32.const 0) (i32.const 1))
      (drop (table.grow $x (ref.null extern) (i32.const 0)))
      (local.set $acc (i32.add (local.get $acc) (table.size $t)))
      (local.set $acc (i32.add (local.get $acc) (ref.is_null (table.get $x (i32.const 0)))))
      (table.set $t (i32.const 1) (ref.func $tail))
      (local.set $acc (i32.add (local.get $acc) (ref.is_null (select (result funcref) (ref.func $id) (ref.null func) (i32.const 1)))))
      (local.set $acc (i32.add (local.get $acc) (call_indirect $t (type $ii) (i32.const 5) (i32.const 0))))
      (local.set $acc (i32.add (local.get $acc) (call $tail_indirect (i32.const 10))))
      (local.set $v (v128.load offset=128 (i32.const 0)))
      (v128.store (i32.const 512) (local.get $v))
      (local.set $v (v128.load8_lane 3 (i32.const 0) (local.get $v)))
      (v128.store64_lane 1 (i32.const 520) (local.get $v))
      (local.set $v (v128.load32_zero (i32.const 128)))
      (local.set $v (i8x16.shuffle 0 17 2 3 4 5 6 7 8 9 10 11 12 13 14 31 (local.get $v) (v128.const i64x2 1 2)))
      (local.set $v (i32x4.replace_lane 2 (local.get $v) (i32.const 9)))
      (local.set $v (i32x4.add (local.get $v) (i32x4.splat (local.get $i))))
      (local.set $v (i32x4.dot_i16x8_s (local.get $v) (local.get $v)))
      (local.set $v (f64x2.promote_low_f32x4 (local.get $v)))
      (global.set $gv (local.get $v))
      (local.set $acc (i32.add (local.get $acc) (i8x16.extract_lane_u 15 (global.get $gv))))
      (local.set $acc (i32.add (local.get $acc) (i32x4.extract_lane 2 (local.get $v))))
      (drop (i32.atomic.rmw.add offset=600 (i32.const 0) (i32.const 1)))
      (drop (i64.atomic.rmw32.cmpxchg_u (i32.const 608) (i64.const 0) (i64.const 1)))
      (atomic.fence)
      (local.set $acc (i32.add (local.get $acc) (memory.atomic.notify (i32.const 600) (i32.const 0))))
      (local.set $acc (i32.add (local.get $acc) (i32.atomic.load (i32.const 600))))
      (try
        (do (try (do (throw $e (i32.const 5))) (delegate 0)))
        (catch $e (local.set $acc (i32.add (local.get $acc))))
        (catch_all))
      (try
        (do (try (do (throw $e (i32.const 1))) (catch_all (rethrow 0))))
        (catch_all (local.set $acc (i32.add (local.get $acc) (i32.const 1)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (data.drop $d)
    (elem.drop $el)
    (local.get $acc)))`;
const everythingFeatures = { exceptions: true, threads: true, tail_call: true };
const sharedMemory = () => ({ env: { mem: new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }) } });


describe('check points', () => {
  const counted = `(module
    (func (export "count") (param $n i32) (result i32) (local $i i32)
      (loop $next
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $next (i32.lt_u (local.get $i) (local.get $n))))
      (local.get $i)))`;

  it('stop an infinite loop: check returning < 1 makes the call trap with unreachable', async () => {
    const bytes = instrumentModule(await wat(`(module (func (export "spin") ${spin}))`), { steps: 10 });
    const d = deadline(10, 4);
    const error = thrown(() => call(run(bytes, d.check), 'spin'));
    expect(error).toBeInstanceOf(WebAssembly.RuntimeError);
    expect(error).toMatchObject({ message: expect.stringMatching(/unreachable/) });
    expect(d.calls).toBe(5);
  });

  it('ask once every `steps` loop iterations', async () => {
    const source = await wat(counted);
    for (const [steps, checks] of [
      [100, 10],
      [7, 142],
      [1000, 1],
      [1001, 0],
      [1, 1001], // every turn asks, and the loop still gets on (and the entry asks too)
    ] as const) {
      const d = deadline(steps);
      expect(call(run(instrumentModule(source, { steps }), d.check), 'count', 1000)).toBe(1000);
      expect(d.calls, `steps ${steps}`).toBe(checks);
    }
    // the default allowance
    const d = deadline(10_000);
    expect(call(run(instrumentModule(source), d.check), 'count', 25_000)).toBe(25_000);
    expect(d.calls).toBe(2);
  });

  it('stop infinite recursion through functions without loops, direct or indirect (entry checks)', async () => {
    const source = await wat(`(module
      (func $ping (export "ping") (call $pong))
      (func $pong (call $ping))
      (type $v (func))
      (table 2 funcref)
      (elem (i32.const 0) $tick $tock)
      (func $tick (export "tick") (call_indirect (type $v) (i32.const 1)))
      (func $tock (call_indirect (type $v) (i32.const 0)))
      (func $is_even (export "is_even") (param $n i32) (result i32)
        (if (result i32) (i32.eqz (local.get $n)) (then (i32.const 1)) (else (call $is_odd (i32.sub (local.get $n) (i32.const 1))))))
      (func $is_odd (param $n i32) (result i32)
        (if (result i32) (i32.eqz (local.get $n)) (then (i32.const 0)) (else (call $is_even (i32.sub (local.get $n) (i32.const 1)))))))`);
    const bytes = instrumentModule(source, { steps: 100 });
    const stop = deadline(100, 0);
    expect(() => call(run(bytes, stop.check), 'ping')).toThrow(/unreachable/);
    expect(stop.calls).toBe(1); // after 100 entries, far from the stack's limit
    const stopIndirect = deadline(100, 0);
    expect(() => call(run(bytes, stopIndirect.check), 'tick')).toThrow(/unreachable/);
    expect(stopIndirect.calls).toBe(1);
    // 1,001 calls of is_even / is_odd: a check every 100
    const d = deadline(100);
    expect(call(run(bytes, d.check), 'is_even', 1000)).toBe(1);
    expect(d.calls).toBe(10);
  });

  it('stop a start function that loops: instantiation traps', async () => {
    const bytes = instrumentModule(await wat(`(module (func $forever ${spin}) (start $forever))`));
    const d = deadline(10_000, 2);
    expect(() => run(bytes, d.check)).toThrow(WebAssembly.RuntimeError);
    expect(d.calls).toBe(3);
  });

  it('cannot be swallowed by a catch_all around the loop', async () => {
    const source = await watWith(
      `(module
        (tag $oops)
        (func (export "guarded") (param $throw i32) (result i32) (local $spin i32)
          (try (result i32)
            (do
              (if (local.get $throw) (then (throw $oops)))
              ${spinLoop}
              (i32.const 0))
            (catch_all (i32.const 1)))))`,
      { exceptions: true },
    );
    const d = deadline(50, 3);
    const exports = run(instrumentModule(source, { steps: 50 }), d.check);
    expect(call(exports, 'guarded', 1)).toBe(1); // the catch_all does catch what is thrown
    expect(() => call(exports, 'guarded', 0)).toThrow(/unreachable/);
    expect(d.calls).toBe(4);
  });

  it('charge memory.fill (size >>> 16) + 1 and leave its operands as they were', async () => {
    const source = await wat(`(module (memory (export "memory") 100)
      (func (export "fill") (param $at i32) (param $value i32) (param $size i32)
        (memory.fill (local.get $at) (local.get $value) (local.get $size))))`);
    const d = deadline(100);
    const exports = run(instrumentModule(source, { steps: 100 }), d.check);
    const memory = new Uint8Array((exports.memory as unknown as WebAssembly.Memory).buffer);
    call(exports, 'fill', 16, 0xab, 50 * 65536); // 51: 49 left
    expect(d.calls).toBe(0);
    expect([memory[15], memory[16], memory[16 + 50 * 65536 - 1], memory[16 + 50 * 65536]]).toEqual([0, 0xab, 0xab, 0]);
    call(exports, 'fill', 0, 1, 48 * 65536); // 49: 0 left, ask
    expect(d.calls).toBe(1);
    call(exports, 'fill', 0, 1, 98 * 65536 + 65535); // 99: 1 left
    expect(d.calls).toBe(1);
    call(exports, 'fill', 0, 1, 0); // 1: 0 left, ask
    expect(d.calls).toBe(2);
    const stop = deadline(100, 0);
    const stopped = run(instrumentModule(source, { steps: 100 }), stop.check);
    call(stopped, 'fill', 0, 0, 64 * 65536); // 65: 35 left
    expect(() => call(stopped, 'fill', 0, 0, 100 * 65536)).toThrow(/unreachable/); // 101: ask, and stop
    expect(stop.calls).toBe(1);
  });

  it('precede every bulk operation whose cost grows with its size', async () => {
    const source = await wat(`(module
      (memory 1) (data $d "abcd") (table $t 4 funcref) (elem $e func $f) (func $f)
      (func (export "memory.fill") (memory.fill (i32.const 0) (i32.const 0) (i32.const 4)))
      (func (export "memory.copy") (memory.copy (i32.const 0) (i32.const 4) (i32.const 4)))
      (func (export "memory.init") (memory.init $d (i32.const 0) (i32.const 0) (i32.const 4)))
      (func (export "table.fill") (table.fill $t (i32.const 0) (ref.null func) (i32.const 4)))
      (func (export "table.copy") (table.copy $t $t (i32.const 0) (i32.const 1) (i32.const 2)))
      (func (export "table.init") (table.init $t $e (i32.const 0) (i32.const 0) (i32.const 1)))
      (func (export "table.grow") (drop (table.grow $t (ref.null func) (i32.const 1))))
      (func (export "data.drop") (data.drop $d)))`);
    const d = deadline(1); // every charge asks
    const exports = run(instrumentModule(source, { steps: 1 }), d.check);
    for (const name of ['memory.fill', 'memory.copy', 'memory.init', 'table.fill', 'table.copy', 'table.init']) {
      const before = d.calls;
      call(exports, name);
      expect(d.calls - before, name).toBe(1);
    }
    call(exports, 'table.grow');
    call(exports, 'data.drop');
    expect(d.calls).toBe(6);
  });

  it('leave functions without loops or bulk operations, off every cycle of calls, byte for byte as they were', async () => {
    const source = await wat(`(module
      (import "env" "twice" (func $twice (param i32) (result i32)))
      (func $sum (export "sum") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
      (func (export "branchy") (param i32) (result i32) (local f64)
        (block (result i32) (br_if 0 (i32.const 7) (local.get 0)) (drop) (i32.const 8)))
      (func (export "host") (param i32) (result i32) (call $twice (call $twice (local.get 0))))
      (func (export "calls") (result i32) (call $sum (i32.const 1) (i32.const 2))))`);
    const out = instrumentModule(source);
    const [sum, branchy, host, calls] = bodies(out);
    expect(sum).toEqual(bodies(source)[0]);
    expect(branchy).toEqual(bodies(source)[1]);
    expect(host).toEqual(bodies(source)[2]); // calls of imports keep their index
    // `call $sum` names function 2 instead of 1, the check import having come in between
    const shifted = Uint8Array.from(bodies(source)[3]!);
    const at = shifted.indexOf(0x10);
    expect(shifted[at + 1]).toBe(1);
    shifted[at + 1] = 2;
    expect(calls).toEqual(shifted);
    const exports = run(out, () => 1, { env: { twice: (x: number) => 2 * x } });
    expect([call(exports, 'sum', 2, 3), call(exports, 'branchy', 1), call(exports, 'branchy', 0), call(exports, 'host', 5), call(exports, 'calls')]).toEqual([
      5, 7, 8, 20, 3,
    ]);
  });
});

describe('entry checks, where the call graph needs them', () => {
  /** How many times `check` is asked while `name` runs once, with the given steps. */
  function asks(bytes: Uint8Array, steps: number, name: string, ...args: unknown[]): [result: unknown, calls: number] {
    const d = deadline(steps);
    const result = call(run(instrumentModule(bytes, { steps }), d.check), name, ...args);
    return [result, d.calls];
  }

  it('let deep but finite chains of call-only functions run, asking seldom', async () => {
    const n = 2000;
    const functions = Array.from({ length: n }, (_, i) =>
      i === n - 1
        ? `(func $f${i} (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))`
        : `(func $f${i} (param i32) (result i32) (call $f${i + 1} (i32.add (local.get 0) (i32.const 1))))`,
    );
    const source = await wat(`(module ${functions.join('\n')} (export "chain" (func $f0)))`);
    // 2,000 calls, five instructions each: a check every MAX_UNCHECKED_WEIGHT / 5 of them
    const [result, calls] = asks(source, 1, 'chain', 0);
    expect(result).toBe(n);
    expect(calls).toBeGreaterThan(0);
    expect(calls).toBeLessThanOrEqual(Math.ceil((5 * n) / MAX_UNCHECKED_WEIGHT));
    expect(asks(source, 100, 'chain', 7)).toEqual([n + 7, 0]);
  });

  it('still stop calls that multiply without a cycle: a call-only function weighing too much is checked', async () => {
    // f0 calls f1 four times, f1 calls f2 four times...: 4^13 calls without recursion or loop, a
    // second or so unchecked (a test fails rather than hangs should the checks go missing)
    const n = 14;
    const functions = Array.from({ length: n }, (_, i) =>
      i === n - 1
        ? `(func $f${i} (result i32) (i32.const 1))`
        : `(func $f${i} (result i32) (i32.add (i32.add (call $f${i + 1}) (call $f${i + 1})) (i32.add (call $f${i + 1}) (call $f${i + 1}))))`,
    );
    const source = await wat(`(module ${functions.join('\n')} (export "tree" (func $f0)) (export "small" (func $f${n - 3})))`);
    const stop = deadline(1000, 2);
    expect(() => call(run(instrumentModule(source, { steps: 1000 }), stop.check), 'tree')).toThrow(/unreachable/);
    expect(stop.calls).toBe(3);
    // the bottom of the tree is light enough to go unchecked
    expect(asks(source, 1, 'small')).toEqual([16, 0]);
  });

  it('stop recursion through a table the host fills: an exported table can hold any exported function', async () => {
    const source = await wat(`(module
      (type $v (func))
      (table (export "table") 1 funcref)
      (func $bounce (export "bounce") (call_indirect (type $v) (i32.const 0))))`);
    const stop = deadline(100, 0);
    const exports = run(instrumentModule(source, { steps: 100 }), stop.check);
    (exports.table as unknown as WebAssembly.Table).set(0, exports.bounce as unknown as () => void);
    expect(() => call(exports, 'bounce')).toThrow(/unreachable/);
    expect(stop.calls).toBe(1);
  });

  it('stop recursion through a table filled by the module: ref.func, or an exported function passed in as a funcref', async () => {
    const source = await wat(`(module
      (type $v (func))
      (table $t 1 funcref)
      (global $self funcref (ref.func $viaGlobal))
      (func $viaGlobal (export "viaGlobal")
        (table.set $t (i32.const 0) (global.get $self))
        (call_indirect $t (type $v) (i32.const 0)))
      (type $g (func (param funcref)))
      (func $given (export "given") (param funcref)
        (table.set $t (i32.const 0) (local.get 0))
        (call_indirect $t (type $g) (local.get 0) (i32.const 0))))`);
    for (const name of ['viaGlobal', 'given']) {
      const stop = deadline(100, 0);
      const exports = run(instrumentModule(source, { steps: 100 }), stop.check);
      // `given` is handed itself, and hands itself on through the table
      expect(() => call(exports, name, name === 'given' ? exports.given : undefined), name).toThrow(/unreachable/);
      expect(stop.calls, name).toBe(1);
    }
  });

  it('give a recursive function with all the locals V8 takes its entry check all the same', () => {
    // () -> (), 50,000 i32 locals, calls itself: no room for the local the entry check would use
    const body = [1, ...u32(50_000), 0x7f, 0x10, 0, 0x0b];
    const source = moduleOf([1, [1, 0x60, 0, 0]], [3, [1, 0]], [7, [1, 1, 0x72, 0, 0]], [10, [1, ...u32(body.length), ...body]]);
    expect(valid(source)).toBe(true);
    // such frames fill the stack in a few calls: ask at the first
    const stop = deadline(1, 0);
    expect(() => call(run(instrumentModule(source, { steps: 1 }), stop.check), 'r')).toThrow(/unreachable/);
    expect(stop.calls).toBe(1);
  });

  it('check a call followed by unreachable where it is made, without making its caller recursive', async () => {
    // the pattern of AssemblyScript's runtime: every function may abort, and abort calls functions
    // that may abort in turn; the aborting calls are checked, the functions on the way are not
    const source = await watWith(
      `(module
        (tag $oops)
        (func $abort (param $depth i32)
          (drop (call $format (local.get $depth)))
          (throw $oops))
        (func $format (param $depth i32) (result i32)
          (if (i32.eqz (local.get $depth)) (then (call $abort (i32.const 1)) (unreachable)))
          (i32.add (local.get $depth) (i32.const 1)))
        (func (export "format") (param $n i32) (result i32)
          (i32.add (call $format (local.get $n)) (call $format (local.get $n))))
        (func $again (export "again") (param $depth i32)
          ;; a tree of aborts, each caught: 2^depth calls
          (if (i32.eqz (local.get $depth)) (then (throw $oops)))
          (try (do (call $again (i32.sub (local.get $depth) (i32.const 1))) (unreachable)) (catch_all))
          (try (do (call $again (i32.sub (local.get $depth) (i32.const 1))) (unreachable)) (catch_all))
          (throw $oops)))`,
      { exceptions: true },
    );
    expect(asks(source, 1, 'format', 4)).toEqual([10, 0]);
    const d = deadline(100);
    // $format -> $abort -> $format, which returns, and $abort throws: one check, at the aborting call
    const error = thrown(() => call(run(instrumentModule(source, { steps: 100 }), d.check), 'format', 0));
    expect((error as object).constructor.name).toBe('Exception'); // $oops, a WebAssembly.Exception: no trap
    expect(d.calls).toBe(0);
    const stop = deadline(100, 2);
    const exports = run(instrumentModule(source, { steps: 100 }), stop.check);
    expect(() => call(exports, 'again', 16)).toThrow(/unreachable/);
    expect(stop.calls).toBe(3);
  });
});

describe('loops', () => {
  // branches of every kind out of loops and nested loops, loops with results, br_table to labels on both sides
  const branches = `(module
    (func (export "f") (param $n i32) (result i32) (local $i i32) (local $acc i32) (local $j i32)
      (block $done
        (loop $outer
          (local.set $j (i32.const 0))
          (local.set $acc (i32.add (local.get $acc)
            (loop $count (result i32)
              (local.set $j (i32.add (local.get $j) (i32.const 1)))
              (br_if $count (i32.lt_u (local.get $j) (i32.rem_u (local.get $i) (i32.const 5))))
              (local.get $j))))
          (block $skip
            (block $three
              (block $two
                (block $one
                  (loop $inner
                    (br_table $one $two $three $skip $done $inner (i32.rem_u (local.get $i) (i32.const 7)))))
                (local.set $acc (i32.add (local.get $acc) (i32.const 100)))
                (br $skip))
              (local.set $acc (i32.add (local.get $acc) (i32.const 1000)))
              (br $skip))
            (if (i32.gt_u (local.get $i) (i32.const 50)) (then (return (i32.sub (i32.const 0) (local.get $acc))))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $outer (i32.lt_u (local.get $i) (local.get $n)))))
      (i32.add (local.get $acc) (i32.mul (local.get $i) (i32.const 1000000)))))`;

  it('keep every branch out of them going where it went', async () => {
    const source = await wat(branches);
    const plain = instantiate(source).exports as Exports;
    for (const steps of [1, 2, 3, 10_000]) {
      // a bounded allowance: a branch gone astray into an endless loop fails the test rather than hangs it
      const d = deadline(steps, 5000);
      const exports = run(instrumentModule(source, { steps }), d.check);
      for (const n of [0, 1, 4, 5, 6, 12, 13, 60]) expect(call(exports, 'f', n), `steps ${steps}, n ${n}`).toBe(call(plain, 'f', n));
    }
  });

  it('keep delegate and rethrow out of them going where they went', async () => {
    // delegate 0 and 1 hand the exception to the inner try, which counts $i up to 20 in a loop and
    // rethrows from it; delegate 2 hands it to the outer one
    const delegating = (label: number): string => `
      (func (export "delegate${label}") (param $n i32) (result i32) (local $i i32)
        (try (result i32)
          (do
            (try (result i32)
              (do
                (loop $l
                  (try
                    (do
                      (local.set $i (i32.add (local.get $i) (i32.const 1)))
                      (if (i32.ge_u (local.get $i) (local.get $n)) (then (throw $e (local.get $i)))))
                    (delegate ${label}))
                  (br $l))
                (i32.const -1))
              (catch $e
                (drop)
                (loop $again
                  (if (i32.lt_u (local.get $i) (i32.const 20))
                    (then (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $again)))
                  (rethrow 1))
                (i32.const 0))))
          (catch $e (i32.add (i32.mul (i32.const 1000)) (local.get $i)))))`;
    const source = await watWith(`(module (tag $e (param i32)) ${delegating(0)} ${delegating(1)} ${delegating(2)})`, { exceptions: true });
    const plain = instantiate(source).exports as Exports;
    expect([5, 30].flatMap((n) => [0, 1, 2].map((label) => call(plain, `delegate${label}`, n)))).toEqual([5020, 5020, 5005, 30030, 30030, 30030]);
    for (const steps of [1, 2, 7]) {
      const exports = run(instrumentModule(source, { steps }), deadline(steps, 5000).check);
      for (const n of [1, 5, 30]) {
        for (const label of [0, 1, 2]) expect(call(exports, `delegate${label}`, n), `steps ${steps}, n ${n}`).toBe(call(plain, `delegate${label}`, n));
      }
    }
  });

  it('check a loop with parameters in place, and stop it', async () => {
    const source = await wat(`(module
      (type $step (func (param i32) (result i32)))
      (func (export "sum") (param $n i32) (result i32) (local $i i32)
        (i32.const 0)
        (loop $l (type $step)
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (i32.add (local.get $i))
          (br_if $l (i32.lt_u (local.get $i) (local.get $n)))))
      (func (export "forever") (result i32)
        (i32.const 0)
        (loop $l (type $step) (br $l (i32.add (i32.const 1))))))`);
    expect(asks100(source, 'sum', 1000)).toEqual([500_500, 10]);
    const stop = deadline(100, 3);
    expect(() => call(run(instrumentModule(source, { steps: 100 }), stop.check), 'forever')).toThrow(/unreachable/);
    expect(stop.calls).toBe(4);
  });

  it('count on from the largest answer check can give', async () => {
    const source = await wat(`(module (func (export "count") (param $n i32) (result i32) (local $i i32)
      (loop $next
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $next (i32.lt_u (local.get $i) (local.get $n))))
      (local.get $i)))`);
    let calls = 0;
    const exports = run(instrumentModule(source, { steps: 10 }), () => (calls++, 0x7fff_ffff));
    expect(call(exports, 'count', 100_000)).toBe(100_000);
    expect(calls).toBe(1);
  });
});

function asks100(bytes: Uint8Array, name: string, ...args: unknown[]): [result: unknown, calls: number] {
  const d = deadline(100);
  const result = call(run(instrumentModule(bytes, { steps: 100 }), d.check), name, ...args);
  return [result, d.calls];
}

describe('function indices', () => {
  it('follow through call_indirect and a table filled by an element segment', async () => {
    const source = await wat(`(module
      (type $r (func (result i32)))
      (table 3 funcref)
      (elem (i32.const 0) $ten $twenty $spin)
      (func $ten (result i32) (i32.const 10))
      (func $twenty (result i32) (i32.const 20))
      (func $spin (result i32) ${spin} (i32.const 0))
      (func (export "dispatch") (param i32) (result i32) (call_indirect (type $r) (local.get 0))))`);
    const d = deadline(1000, 1);
    const exports = run(instrumentModule(source, { steps: 1000 }), d.check);
    expect([call(exports, 'dispatch', 0), call(exports, 'dispatch', 1)]).toEqual([10, 20]);
    expect(() => call(exports, 'dispatch', 2)).toThrow(/unreachable/);
    expect(d.calls).toBe(2);
  });

  it('follow through element segments of every form and ref.func in code and constant expressions', async () => {
    // wabt writes these segments with flags 0 to 7, in order (checked with wasm-objdump)
    const source = await wat(`(module
      (type $r (func (result i32)))
      (import "env" "seven" (func $seven (result i32)))
      (table $t0 8 funcref)
      (table $t1 8 funcref)
      (table $t2 8 funcref)
      (func $one (result i32) (i32.const 1))
      (func $two (result i32) (i32.const 2))
      (func $three (result i32) (i32.const 3))
      (func $four (result i32) (i32.const 4))
      (global $g funcref (ref.func $three))
      (global (export "exported") funcref (ref.func $four))
      (elem (i32.const 0) $one $two $seven)
      (elem $p1 func $three $four)
      (elem (table $t1) (i32.const 0) func $four $three $seven)
      (elem declare func $one)
      (elem (i32.const 3) funcref (ref.func $four) (ref.null func))
      (elem $p5 funcref (ref.func $two) (ref.func $seven) (ref.null func))
      (elem (table $t2) (i32.const 3) funcref (ref.func $one) (ref.null func))
      (elem declare funcref (ref.func $two) (ref.null func))
      (func (export "t0") (param i32) (result i32) (call_indirect $t0 (type $r) (local.get 0)))
      (func (export "t1") (param i32) (result i32) (call_indirect $t1 (type $r) (local.get 0)))
      (func (export "t2") (param i32) (result i32) (call_indirect $t2 (type $r) (local.get 0)))
      (func (export "init")
        (table.init $t0 $p1 (i32.const 5) (i32.const 0) (i32.const 2))
        (table.init $t1 $p5 (i32.const 5) (i32.const 0) (i32.const 2))
        (table.set $t0 (i32.const 7) (ref.func $one))
        (table.set $t1 (i32.const 7) (global.get $g))))`);
    const env = { env: { seven: () => 7 } };
    const results = (exports: Exports): Record<string, unknown> => {
      call(exports, 'init');
      const slot = (table: string, i: number): unknown => {
        try {
          return call(exports, table, i);
        } catch (e) {
          return (e as Error).constructor.name; // an empty slot traps
        }
      };
      const exported = (exports.exported as unknown as WebAssembly.Global).value as () => number;
      const table = (name: string) => [0, 1, 2, 3, 4, 5, 6, 7].map((i) => slot(name, i));
      return { t0: table('t0'), t1: table('t1'), t2: table('t2'), exported: exported() };
    };
    const expected = results(instantiate(source, env).exports as Exports);
    const empty = 'RuntimeError';
    expect(expected).toEqual({
      t0: [1, 2, 7, 4, empty, 3, 4, 1],
      t1: [4, 3, 7, empty, empty, 2, 7, 3],
      t2: [empty, empty, empty, 1, empty, empty, empty, empty],
      exported: 4,
    });
    expect(results(run(instrumentModule(source), () => 1, env))).toEqual(expected);
  });

  it('shift defined functions only: calls to imports keep their index, the new import comes last', async () => {
    const source = await wat(`(module
      (import "env" "twice" (func $twice (param i32) (result i32)))
      (import "env" "memory" (memory 1))
      (import "env" "base" (global $base i32))
      (import "env" "plus" (func $plus (param i32 i32) (result i32)))
      (global $own (mut i32) (i32.const 5))
      (func $local (param i32) (result i32) (i32.add (local.get 0) (global.get $own)))
      (func (export "compute") (param i32) (result i32)
        (global.set $own (i32.add (global.get $own) (i32.const 1)))
        (call $plus (call $twice (call $local (local.get 0))) (global.get $base)))
      (export "local" (func $local)))`);
    const imports = (): WebAssembly.Imports => ({
      env: { twice: (x: number) => 2 * x, memory: new WebAssembly.Memory({ initial: 1 }), base: 100, plus: (a: number, b: number) => a + b },
    });
    const original = instantiate(source, imports()).exports as Exports;
    const out = instrumentModule(source);
    expect(WebAssembly.Module.imports(compile(out))).toEqual([
      ...WebAssembly.Module.imports(compile(source)),
      { module: 'wasp:deadline', name: 'check', kind: 'function' },
    ]);
    const exports = run(out, () => 1, imports());
    for (const x of [1, 2, 3]) expect(call(exports, 'compute', x)).toBe(call(original, 'compute', x));
    expect(call(exports, 'local', 1)).toBe(call(original, 'local', 1));
  });

  it('create the import, type and global sections a module lacks, and reuse an existing () -> i32 type', async () => {
    const empty = moduleOf();
    const out = instrumentModule(empty);
    expect(valid(out)).toBe(true);
    expect(WebAssembly.Module.imports(compile(out))).toEqual([{ module: 'wasp:deadline', name: 'check', kind: 'function' }]);
    expect([countOf(out, 1), countOf(out, 2), countOf(out, 6)]).toEqual([1, 1, 1]);

    const withType = await wat('(module (type (func (param i32))) (type (func (result i32))) (func (export "f") (result i32) (i32.const 3)))');
    expect(countOf(instrumentModule(withType), 1)).toBe(2);
    const withoutType = await wat('(module (type (func (param i32))) (global (mut i32) (i32.const 1)) (func (export "f") (param i32)))');
    const extended = instrumentModule(withoutType);
    expect([countOf(extended, 1), countOf(extended, 6)]).toEqual([2, 2]);
    expect(valid(extended)).toBe(true);
  });

  it('keep the name section, so stack traces name the right functions', async () => {
    const source = await watWith(
      `(module
        (func $outer (export "outer") (param $depth i32) (call $middle (local.get $depth)))
        (func $middle (param $depth i32) (local $unused i32) (call $inner))
        (func $inner ${spin}))`,
      {},
      true,
    );
    const d = deadline(100, 0);
    const error = thrown(() => call(run(instrumentModule(source, { steps: 100 }), d.check), 'outer', 1)) as Error;
    const frames = error.stack!.split('\n').filter((line) => line.includes('wasm-function'));
    expect(frames.map((line) => /at (\w+)/.exec(line)?.[1])).toEqual(['inner', 'middle', 'outer']);
    wabt ??= await wabtInit();
    const text = wabt.readWasm(instrumentModule(source), { readDebugNames: true });
    try {
      text.applyNames();
      expect(text.toText({})).toMatch(/func \$middle \(type \d+\) \(param \$depth i32\)\s*\(local \$unused i32\)/);
    } finally {
      text.destroy();
    }
  });

  it('drop label names, unknown name subsections and a malformed name section', async () => {
    const source = await wat('(module (func (export "f")))');
    const name = (...subsections: [id: number, content: number[]][]): Uint8Array => {
      const content = [4, ...Buffer.from('name'), ...subsections.flatMap(([id, c]) => [id, ...u32(c.length), ...c])];
      return new Uint8Array([...source, 0, ...u32(content.length), ...content]);
    };
    const nameOf = (bytes: Uint8Array): number[] | undefined => {
      const custom = sections(bytes).find((section) => section.id === 0);
      return custom === undefined ? undefined : [...custom.content.subarray(5)];
    };
    const functions: [number, number[]] = [1, [1, 0, 1, 0x66]]; // function 0 is "f"
    const labels: [number, number[]] = [3, [1, 0, 1, 0, 1, 0x6c]]; // label 0 of function 0 is "l"
    const out = instrumentModule(name([0, [1, 0x6d]], functions, labels, [99, [1, 2]]));
    expect(nameOf(out)).toEqual([0, 2, 1, 0x6d, 1, 4, 1, 1, 1, 0x66]);
    expect(valid(out)).toBe(true);
    const broken = name(functions, [1, [5, 0, 1]]);
    expect(valid(broken)).toBe(true); // engines ignore it
    expect(nameOf(instrumentModule(broken))).toBeUndefined();
  });
});

describe('every committed plugin', () => {
  const plugins = ['plugins/assemblyscript/examples.wasm', 'plugins/c/examples.wasm', 'plugins/rust/examples.wasm', 'plugins/wat/examples.wasm', 'pipelines/text/text.wasm'];

  it.each(plugins)('%s instruments to a valid module', async (path) => {
    const out = instrumentModule(await readFile(`${root}${path}`));
    expect(valid(out)).toBe(true);
  });

  /** The plugin with stub host functions; `outputs` collects what it sends through wasp.output. */
  function plugin(bytes: Uint8Array, check: () => number) {
    const outputs: string[] = [];
    let memory: WebAssembly.Memory | undefined;
    const imports: Record<string, Record<string, (...args: number[]) => number | undefined>> = {
      [DEADLINE_IMPORT.module]: { [DEADLINE_IMPORT.name]: check },
    };
    for (const i of WebAssembly.Module.imports(compile(bytes))) {
      if (i.module === DEADLINE_IMPORT.module) continue;
      imports[i.module] ??= {};
      imports[i.module]![i.name] =
        i.module === 'wasp' && i.name === 'output' ? (ptr, len) => void outputs.push(Buffer.from(memory!.buffer, ptr, len).toString()) : () => 0;
    }
    const exports = instantiate(bytes, imports).exports as Exports;
    memory = exports.memory as unknown as WebAssembly.Memory;
    const withInput = (name: string, input: string): [status: number, outputs: string[]] => {
      outputs.length = 0;
      const data = Buffer.from(input);
      const ptr = call(exports, 'wasp_alloc', data.length);
      new Uint8Array(memory!.buffer).set(data, ptr);
      const status = call(exports, name, ptr, data.length);
      call(exports, 'wasp_free', ptr, data.length);
      return [status, [...outputs]];
    };
    return { exports, withInput };
  }

  it.each([watExample, ...['assemblyscript', 'c', 'rust'].map((kit) => `${root}plugins/${kit}/examples.wasm`)])('%s gives the same results', async (path) => {
    const source = await readFile(path);
    // a bounded allowance: a loop whose branches went astray fails the test rather than hangs it
    const d = deadline(5, 100_000);
    const before = plugin(source, () => 1);
    const after = plugin(instrumentModule(source, { steps: 5 }), d.check);
    const numbers = (p: ReturnType<typeof plugin>) => [
      call(p.exports, 'sum', 2, 40),
      call(p.exports, 'sum', -7, 3),
      call(p.exports, 'add_i64', 2n ** 62n, 2n ** 62n),
      call(p.exports, 'mul_f64', 1.5, -4),
      call(p.exports, 'half_f32', 3),
      p.withInput('hello', 'deadline'),
      p.withInput('reverse', 'x'.repeat(300) + 'abc'),
    ];
    expect(numbers(after)).toEqual(numbers(before));
    expect(numbers(before)).toContainEqual([0, ['Hello deadline']]);
    expect(d.calls).toBeGreaterThan(0);
  });

  it('pipelines/text/text.wasm burns to the same hash, and spin_on_x stops', async () => {
    const source = await readFile(`${root}pipelines/text/text.wasm`);
    const d = deadline(10_000, 10_000);
    const after = plugin(instrumentModule(source), d.check);
    const input = 'the quick brown fox '.repeat(50);
    expect(after.withInput('burn', input)).toEqual(plugin(source, () => 1).withInput('burn', input));
    expect(d.calls).toBeGreaterThanOrEqual(Math.floor((2000 * input.length) / 10_000));
    const stop = deadline(10_000, 3);
    const spinning = plugin(instrumentModule(source), stop.check);
    expect(spinning.withInput('spin_on_x', 'abc')).toEqual([0, ['abc']]);
    expect(() => spinning.withInput('spin_on_x', 'xyz')).toThrow(/unreachable/);
    expect(stop.calls).toBe(4);
  });
});

describe('instructions', () => {
  it('are all stepped over: a module using every feature Node 20 runs gives the same result', async () => {
    const source = await watWith(everything, everythingFeatures);
    const d = deadline(3);
    const out = instrumentModule(source, { steps: 3 });
    expect(valid(out)).toBe(true);
    const expected = call(instantiate(source, sharedMemory()).exports as Exports, 'all', 7);
    expect(call(run(out, d.check, sharedMemory()), 'all', 7)).toBe(expected);
    // the loop's counter: 7 turns; the global: the entry of `all`, table.init, 5 bulk operations and
    // the entry of $tail_indirect per turn (on a cycle: `all` is exported, so the table may hold it;
    // $tail only calls, off every cycle, and $id is a leaf)
    expect(d.calls).toBe(Math.floor(7 / 3) + Math.floor((1 + 1 + 7 * (5 + 1)) / 3));
  });

  it('are the ones V8 knows, apart from a few of later features', () => {
    const v8Knows = (code: number[]): boolean => {
      const body = [0, ...code, ...new Array<number>(24).fill(0), 0x0b];
      try {
        compile(moduleOf([1, [1, 0x60, 0, 0]], [3, [1, 0]], [5, [1, 0, 1]], [10, [1, ...u32(body.length), ...body]]));
      } catch (e) {
        return !/invalid (simd |numeric |atomic )?opcode|opcode not available/i.test((e as Error).message);
      }
      return true;
    };
    const encode = (code: number): number[] => (code > 0xff ? [code >> 16, ...u32(code & 0xffff)] : [code]);
    // typed function references (call_ref, return_call_ref, ref.as_non_null, br_on_null, br_on_non_null) and relaxed SIMD
    const later = new Set([0x14, 0x15, 0xd4, 0xd5, 0xd6, ...Array.from({ length: 0x14 }, (_, i) => 0xfd0100 + i)]);
    const decoded = knownOpcodes();
    expect(decoded).toEqual(expect.arrayContaining([...later]));
    expect(decoded.filter((code) => !later.has(code) && !v8Knows(encode(code)))).toEqual([]);
    if (process.versions.v8.startsWith('11.3.')) {
      // Node 20: nothing V8 runs by default is missing
      const candidates = [
        ...Array.from({ length: 0xfb }, (_, i) => i),
        ...[0xfc, 0xfd, 0xfe].flatMap((prefix) => Array.from({ length: 0x200 }, (_, i) => (prefix << 16) | i)),
      ];
      const known = new Set(decoded);
      expect(candidates.filter((code) => !known.has(code) && v8Knows(encode(code))).map((c) => c.toString(16))).toEqual([]);
    }
  });

  it('accept multi-memory: memory indices in memargs and bulk operations', async () => {
    // Node 20 cannot run multi-memory, and wabt's validator ignores the feature: read the output back as text
    const features = { multi_memory: true };
    const source = await watWith(
      `(module (memory $a 1) (memory $b 1) (data $d "xy")
        (func (export "f") (param i32) (result i32)
          (loop $l
            (memory.fill $b (i32.const 0) (i32.const 1) (i32.const 2))
            (memory.copy $a $b (i32.const 0) (i32.const 0) (i32.const 2))
            (memory.init $b $d (i32.const 0) (i32.const 0) (i32.const 2))
            (i32.store $b offset=4 (i32.const 0) (i32.load $a (i32.const 0)))
            (br_if $l (local.get 0)))
          (i32.load $b (i32.const 4))))`,
      features,
    );
    wabt ??= await wabtInit();
    const module = wabt.readWasm(instrumentModule(source), { readDebugNames: false, ...features });
    try {
      const text = module.toText({});
      expect(text).toMatch(/memory\.fill 1\n[\s\S]*memory\.copy 0 1\n[\s\S]*memory\.init 0 1\n\s*i32\.const 0\n\s*i32\.const 0\n\s*i32\.load\n\s*i32\.store 1 offset=4\n/);
      expect(text.match(/call 0\n/g)).toHaveLength(5); // entry, loop, 3 bulk operations
    } finally {
      module.destroy();
    }
  });
});

describe('refuses', () => {
  const invalid: [string, Uint8Array, RegExp?][] = [
    ['no magic', new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8])],
    ['too short', new Uint8Array([0, 0x61, 0x73])],
    ['version 2', new Uint8Array([0, 0x61, 0x73, 0x6d, 2, 0, 0, 0])],
    ['an unknown opcode', oneFunction([0x0a, 0x0b])],
    ['an unknown SIMD opcode', oneFunction([0xfd, 0x9a, 0x01, 0x0b])],
    ['an unknown 0xfc opcode', oneFunction([0xfc, 18, 0x0b])],
    ['a LEB128 longer than 5 bytes', oneFunction([0x0c, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x0b]), /bad LEB128 u32/], // br 0
    ['a u32 past 32 bits', oneFunction([0x0c, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x0b]), /bad LEB128 u32/],
    ['an s32 past 32 bits', oneFunction([0x41, 0xff, 0xff, 0xff, 0xff, 0x4f, 0x1a, 0x0b]), /bad LEB128 s32/],
    ['an s64 past 64 bits', oneFunction([0x42, ...new Array<number>(9).fill(0xff), 0x3f, 0x1a, 0x0b]), /bad LEB128 s64/],
    ['a body without its end', oneFunction([0x01])],
    ['a body going on after its end', oneFunction([0x0b, 0x01])],
    ['a delegate outside a try', oneFunction([0x18, 0x00, 0x0b])],
    ['a block type that is no type', oneFunction([0x02, 0x50, 0x0b, 0x0b])],
    ['a select with an unknown type', oneFunction([0x41, 0, 0x41, 0, 0x41, 0, 0x1c, 1, 0x50, 0x1a, 0x0b])],
    ['a ref.null of an unknown heap type', oneFunction([0xd0, 0x50, 0x1a, 0x0b])],
    ['an atomic.fence without its 0x00', oneFunction([0xfe, 0x03, 0x01, 0x0b])],
    ['a count past its section', moduleOf([1, [100, 0x60, 0, 0]]), /count 100 at byte \d+ runs past its section/],
    ['a section past the end', moduleOf([1, [1, 0x60, 0, 0]]).subarray(0, 12)],
    ['bytes after a section content', moduleOf([1, [1, 0x60, 0, 0]], [3, [1, 0, 0]], [10, [1, 2, 0, 0x0b]]), /1 bytes after its content/],
    ['a function type that does not exist', moduleOf([1, [1, 0x60, 0, 0]], [3, [1, 1]])],
    ['more functions than bodies', moduleOf([1, [1, 0x60, 0, 0]], [3, [2, 0, 0]], [10, [1, 2, 0, 0x0b]])],
    ['sections out of order', moduleOf([3, [0]], [1, [0]])],
    ['a repeated section', moduleOf([1, [0]], [1, [0]])],
    ['an unknown section', moduleOf([14, [0]])],
    ['an unknown import kind', moduleOf([2, [1, 1, 0x61, 1, 0x62, 5, 0]])],
    ['memory64', moduleOf([5, [1, 0x04, 1]]), /64-bit memory/],
    ['an imported memory64', moduleOf([2, [1, 1, 0x61, 1, 0x62, 2, 0x05, 1, 2]]), /64-bit memory/],
    ['a data count that differs', moduleOf([5, [1, 0, 1]], [12, [2]], [11, [1, 1, 0]])],
    ['unknown element segment flags', moduleOf([9, [1, 8]])],
    // out of range in the input, these would name the counters once instrumented
    ['a local past the function\'s', oneFunction([0x20, 0, 0x1a, 0x0b]), /local 0 at byte \d+ does not exist/],
    ['a global past the module\'s', oneFunction([0x23, 0, 0x1a, 0x0b]), /global 0 at byte \d+ does not exist/],
    ['an export of a global past the module\'s', moduleOf([6, [1, 0x7f, 0, 0x41, 0, 0x0b]], [7, [1, 1, 0x67, 3, 1]]), /global 1 at byte \d+ does not exist/],
  ];

  it.each(invalid)('%s', (_, bytes, message) => {
    expect(() => instrumentModule(bytes)).toThrow(InstrumentError);
    if (message) expect(() => instrumentModule(bytes)).toThrow(message);
  });

  it('memory.atomic.wait32 and wait64: a plugin may not block the host thread', async () => {
    for (const wait of ['memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const 0)', 'memory.atomic.wait64 (i32.const 0) (i64.const 0) (i64.const 0)']) {
      const source = await watWith(`(module (memory 1 1 shared) (func (result i32) (${wait})))`, { threads: true });
      expect(valid(source)).toBe(true);
      expect(() => instrumentModule(source)).toThrow(/memory\.atomic\.wait at byte \d+: a plugin may not block/);
    }
  });

  it('a module that imports from wasp:deadline itself', async () => {
    const source = await wat('(module (import "wasp:deadline" "check" (func (result i32))))');
    expect(() => instrumentModule(source)).toThrow(/imports from wasp:deadline itself/);
    expect(valid(instrumentModule(await wat('(module (import "wasp:deadlines" "check" (func)))')))).toBe(true);
  });

  it('steps outside 1..2^31-1', async () => {
    const source = await wat('(module)');
    for (const steps of [0, -1, 1.5, 2 ** 31, Number.NaN]) expect(() => instrumentModule(source, { steps })).toThrow(RangeError);
    expect(valid(instrumentModule(source, { steps: 2 ** 31 - 1 }))).toBe(true);
  });
});

describe('malformed input', () => {
  /** What instrumenting gives: the output, or the error, which must be an InstrumentError. */
  function attempt(bytes: Uint8Array): Uint8Array | InstrumentError {
    try {
      return instrumentModule(bytes, { steps: 5 });
    } catch (e) {
      if (e instanceof InstrumentError) return e;
      throw new Error(`${(e as Error).name} for ${Buffer.from(bytes).toString('hex')}`, { cause: e });
    }
  }

  it('cut at every byte gives InstrumentError or a valid module', async () => {
    const modules = [await readFile(watExample), await watWith(everything, everythingFeatures), await readFile(`${root}pipelines/text/text.wasm`)];
    for (const bytes of modules) {
      for (let cut = 0; cut < bytes.length; cut++) {
        const result = attempt(bytes.subarray(0, cut));
        if (!(result instanceof InstrumentError)) expect(valid(result), `cut at ${cut}`).toBe(true);
      }
    }
  });

  it('with random bytes changed gives InstrumentError or a module, valid whenever the input was', async () => {
    let seed = 0x2545f491;
    const random = (n: number): number => {
      // xorshift32: the same mutations on every run
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const modules = [await readFile(watExample), await readFile(`${root}pipelines/text/text.wasm`), await readFile(`${root}plugins/c/examples.wasm`)];
    let refused = 0;
    let validIn = 0;
    for (const original of modules) {
      for (let round = 0; round < 400; round++) {
        const bytes = Uint8Array.from(original);
        for (let k = 1 + random(3); k > 0; k--) bytes[random(bytes.length)] = random(256);
        const result = attempt(bytes);
        const validInput = valid(bytes);
        if (result instanceof InstrumentError) {
          refused++;
          expect(validInput, `refused a valid module: ${result.message}`).toBe(false);
        } else if (validInput) {
          validIn++;
          expect(valid(result)).toBe(true);
        }
      }
    }
    expect(refused).toBeGreaterThan(50);
    expect(validIn).toBeGreaterThan(50);
  });
});
