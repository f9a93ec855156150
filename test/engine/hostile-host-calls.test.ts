// Hostile plugins that go through the host: a host call the plugin makes costly, or makes fail
// and catches, a memory the host cannot follow, a var key that decodes like another. Each ends in
// a typed error at the deadline or at once, never in a hang, unbounded host memory or a call that
// succeeds after a failure it hid.
import { describe, expect, it } from 'vitest';
import { CallbackError, CallLimitError, Engine, PluginCompileError, PluginTimeoutError, PluginTrapError } from '../../src/index.js';
import { catchError } from '../helpers/errors.js';
import { callbackSwallower, costlyErrorLoop, fileFlood, randomGetter, stdoutPieces, randomLoop, recurserLoopingFree, sharedMemory } from '../helpers/hostile.js';
import { wat } from '../helpers/plugins.js';

async function engineWith(bytes: Uint8Array, options = {}) {
  const engine = new Engine();
  await engine.registerPlugin('p', bytes, options);
  return engine;
}

const u32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);
const errno = (out: Uint8Array) => new DataView(out.buffer, out.byteOffset).getUint32(0, true);

describe('host calls a plugin makes costly', () => {
  it('stops a loop of wasp.error calls over all of memory at the deadline', { timeout: 30_000 }, async () => {
    const inst = await (await engineWith(await costlyErrorLoop(), { timeoutMs: 200 })).getInstance('p');
    const started = Date.now();
    expect(catchError(() => inst.callString('run', 'x'))).toBeInstanceOf(PluginTimeoutError);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('answers a WASI random_get past memory with EFAULT at once, and stops a loop of random_get at the deadline', { timeout: 30_000 }, async () => {
    const inst = await (await engineWith(await randomGetter(), { timeoutMs: 200 })).getInstance('p');
    expect(errno(inst.callBytes('run', u32(16))!)).toBe(0);
    expect(errno(inst.callBytes('run', u32(0x7fff_ffff))!)).toBe(21); // EFAULT: 2 GiB from a 64 KiB memory
    expect(errno(inst.callBytes('run', u32(65_537))!)).toBe(21);
    const loop = await (await engineWith(await randomLoop(), { timeoutMs: 200 })).getInstance('p');
    const started = Date.now();
    expect(catchError(() => loop.callString('run', 'x'))).toBeInstanceOf(PluginTimeoutError);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('fails WASI file writes past memoryLimitPages with ENOSPC, says so once, and has the instance replaced', async () => {
    const warnings: string[] = [];
    const engine = new Engine({ logger: { warn: (message: string) => warnings.push(message) } });
    await engine.registerPlugin('p', await fileFlood(), { memoryLimitPages: 4, wasi: { files: { '/data/a': 'x' } } });
    const inst = await engine.getInstance('p');
    const ints = (out: Uint8Array) => [0, 4, 8].map((at) => new DataView(out.buffer, out.byteOffset).getUint32(at, true));
    expect(ints(inst.callBytes('run', new Uint8Array([2]))!)).toEqual([0, 0, 2]); // 128 KiB of a 256 KiB budget
    expect(inst.needsReplacement).toBe(false);
    expect(ints(inst.callBytes('run', new Uint8Array([200]))!)).toEqual([0, 51, 2]); // two more, then ENOSPC
    expect(inst.needsReplacement).toBe(true);
    expect(ints(inst.callBytes('run', new Uint8Array([1]))!)).toEqual([0, 51, 0]);
    expect(warnings.filter((w) => w.includes('ENOSPC'))).toHaveLength(1);
    // a fresh instance has a budget of its own
    expect(ints((await engine.getInstance('p')).callBytes('run', new Uint8Array([1]))!)).toEqual([0, 0, 1]);
  });

  it('takes a negative size for a file as the huge u64 it is, not as a credit to the budget', async () => {
    const engine = new Engine({ logger: { warn: () => {} } });
    await engine.registerPlugin('p', await fileFlood('-0x4000000000000000'), { memoryLimitPages: 4, wasi: { files: { '/data/a': 'x' } } });
    const out = (await engine.getInstance('p')).callBytes('run', new Uint8Array([40]))!;
    // four 64 KiB writes fill the 256 KiB budget, as without the size set
    expect([4, 8].map((at) => new DataView(out.buffer, out.byteOffset).getUint32(at, true))).toEqual([51, 4]);
  });

  it('searches a WASI stdout write of many pieces only as far as each piece (20,000 of them took 23 s over 2 MiB)', async () => {
    const inst = await (await engineWith(await stdoutPieces(20_000), { timeoutMs: 2_000 })).getInstance('p');
    expect(inst.callString('run', 'x')).toBeNull();
  });

  it('answers a WASI write whose pieces lie outside memory with EFAULT, to stdout and to a file alike', async () => {
    // run(input): one fd_write to the descriptor the input's first byte names, of one piece at 0xFFFFFF00; outputs the errno
    const engine = new Engine();
    await engine.registerPlugin(
      'p',
      await wat(`(module (import "wasp" "output" (func $output (param i32 i32)))
        (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
        (memory (export "memory") 1)
        (func (export "wasp_alloc") (param i32) (result i32) (i32.const 1024))
        (func (export "wasp_free") (param i32 i32))
        (func (export "run") (param $p i32) (param $n i32) (result i32)
          (i32.store (i32.const 32) (i32.const 0xFFFFFF00)) (i32.store (i32.const 36) (i32.const 16))
          (i32.store (i32.const 0) (call $fd_write (i32.load8_u (local.get $p)) (i32.const 32) (i32.const 1) (i32.const 48)))
          (call $output (i32.const 0) (i32.const 4))
          (i32.const 0)))`),
      { wasi: { files: { '/data/a': 'x' } } },
    );
    const inst = await engine.getInstance('p');
    for (const fd of [1, 2, 3]) expect(errno(inst.callBytes('run', new Uint8Array([fd]))!), `fd ${fd}`).toBe(21);
  });

  it('reports a timeout as the timeout when wasp_free, called for the input after it, has a check of its own', async () => {
    const inst = await (await engineWith(await recurserLoopingFree(), { timeoutMs: 100 })).getInstance('p');
    expect(inst.callString('run', 'fine')).toBe('fine');
    expect(catchError(() => inst.callString('run', 'recurse'))).toBeInstanceOf(PluginTimeoutError);
    expect(inst.needsReplacement).toBe(true);
  });
});

describe('failures a plugin hides', () => {
  it('fails the call of a plugin that caught a failing callback (catch_all), inline and in a worker', async () => {
    const engine = new Engine();
    engine.addCallback('plugin', 'cb', (s: string) => {
      throw new Error(`database down for ${s}`);
    }, { params: ['string'] });
    await engine.registerPlugin('p', await callbackSwallower());
    const inst = await engine.getInstance('p');
    const error = catchError(() => inst.callString('run', 'x'));
    expect(error).toBeInstanceOf(CallbackError);
    expect((error as CallbackError).cause).toMatchObject({ message: 'database down for x' });
    expect(inst.needsReplacement).toBe(true);
    const pool = engine.createPool('p', { size: 1, mode: 'worker' });
    try {
      await pool.ready();
      await expect(pool.call('run', 'x')).rejects.toMatchObject({ name: 'CallbackError' });
    } finally {
      await pool.close();
    }
  });
});

describe('a plugin that exits', () => {
  it('fails the call with PluginTrapError saying it exited with its code (WASI proc_exit), and the instance is replaced', async () => {
    const inst = await (
      await engineWith(
        await wat(`(module (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
          (memory (export "memory") 1)
          (func (export "wasp_alloc") (param i32) (result i32) (i32.const 1024))
          (func (export "wasp_free") (param i32 i32))
          (func (export "run") (param i32 i32) (result i32) (call $exit (i32.const 3)) (i32.const 0)))`),
      )
    ).getInstance('p');
    const error = catchError(() => inst.callString('run', 'x'));
    expect(error).toBeInstanceOf(PluginTrapError);
    expect((error as Error).message).toBe('plugin p: run exited with code 3 (WASI proc_exit)');
    expect(inst.needsReplacement).toBe(true);
  });
});

describe('what the host cannot follow', () => {
  it('refuses a shared memory at registration: its growth is not seen by the host', async () => {
    const engine = new Engine();
    const error = await engine.registerPlugin('p', await sharedMemory()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PluginCompileError);
    expect((error as Error).message).toMatch(/shared memory/);
  });

  it('extism: a var deleted under a key that decodes like another frees only what was kept', async () => {
    // key A is 10 bytes of 0xFF, key B 10 x F0 90 80 (30 bytes): both decode to ten U+FFFD. Each
    // set under A and delete under B once took 20 bytes more off the count than it added.
    const kernel = (imports: [string, string][]) => imports.map(([n, t]) => `(import "extism:host/env" "${n}" (func $${n} ${t}))`).join('\n');
    const engine = new Engine();
    await engine.registerPlugin(
      'x',
      await wat(`(module
        ${kernel([['alloc', '(param i64) (result i64)'], ['store_u8', '(param i64 i32)'], ['var_set', '(param i64 i64)']])}
        (memory (export "memory") 1)
        (func (export "run") (result i32) (local $a i64) (local $b i64) (local $v i64) (local $i i32)
          (local.set $a (call $alloc (i64.const 10)))
          (local.set $b (call $alloc (i64.const 30)))
          (local.set $v (call $alloc (i64.const 1)))
          (block $d (loop $l (br_if $d (i32.ge_u (local.get $i) (i32.const 10)))
            (call $store_u8 (i64.add (local.get $a) (i64.extend_i32_u (local.get $i))) (i32.const 0xff))
            (call $store_u8 (i64.add (local.get $b) (i64.extend_i32_u (i32.mul (local.get $i) (i32.const 3)))) (i32.const 0xf0))
            (call $store_u8 (i64.add (local.get $b) (i64.extend_i32_u (i32.add (i32.mul (local.get $i) (i32.const 3)) (i32.const 1)))) (i32.const 0x90))
            (call $store_u8 (i64.add (local.get $b) (i64.extend_i32_u (i32.add (i32.mul (local.get $i) (i32.const 3)) (i32.const 2)))) (i32.const 0x80))
            (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l)))
          (local.set $i (i32.const 0))
          (block $d (loop $l (br_if $d (i32.ge_u (local.get $i) (i32.const 1000)))
            (call $var_set (local.get $a) (local.get $v))
            (call $var_set (local.get $b) (i64.const 0))
            (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l)))
          ;; 1 MiB + 10,000 bytes under key B: over the cap, unless the count went negative
          (call $var_set (local.get $b) (call $alloc (i64.const 1058576)))
          (i32.const 0)))`),
      { memoryLimitPages: 64 },
    );
    const error = catchError(() => engine.getInstanceSync('x').callString('run'));
    expect(error).toBeInstanceOf(CallLimitError);
    expect(error).toMatchObject({ limit: 'maxVarBytes' });
  });
});
