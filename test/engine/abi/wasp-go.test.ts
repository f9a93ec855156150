// ABI wasp-go: plugins in the Go Wasp conventions run through the same Engine API as wasp/1 ones.
import { describe, expect, it } from 'vitest';
import { Engine } from '../../../src/engine/engine.js';
import {
  AbiError,
  CallbackError,
  PluginRaisedError,
  PluginTimeoutError,
  PluginTrapError,
  SignatureError,
  UnresolvedImportError,
} from '../../../src/engine/errors.js';
import { detectAbi } from '../../../src/engine/abi/abi.js';
import { wat } from '../../helpers/plugins.js';
import { waspGoPlugin } from '../../helpers/wasp-go.js';

async function goEngine(options: Parameters<typeof waspGoPlugin>[0] = {}, register: Record<string, unknown> = {}) {
  const engine = new Engine();
  engine.addCallback('env', 'call_me', (s: string) => `Hello ${s}`, { params: ['string'], result: 'string' });
  const plugin = await engine.registerPlugin('go', await wat(waspGoPlugin(options), { bulk_memory: true }), register);
  return { engine, plugin, inst: await engine.getInstance('go') };
}

describe('ABI wasp-go', () => {
  it('is detected from allocate and get_string_size, and can be named', async () => {
    const { plugin } = await goEngine();
    expect(plugin.abi).toBe('wasp-go');
    const named = await new Engine().registerPlugin('x', await wat('(module (func (export "sum") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))'), { abi: 'wasp-go' });
    expect(named.abi).toBe('wasp-go');
    expect(detectAbi([], [{ name: 'allocate', kind: 'function' }, { name: 'get_string_size', kind: 'function' }, { name: 'wasp_alloc', kind: 'function' }] as never)).toBe('wasp/1');
    await expect(new Engine().registerPlugin('y', await wat('(module)'), { abi: 'nope' as never })).rejects.toBeInstanceOf(AbiError);
  });

  it('numbers', async () => {
    const { inst } = await goEngine();
    expect(inst.call('sum', 2, 3)).toBe(5);
    expect(inst.call('sum', -7, 3)).toBe(-4);
  });

  it('strings: ASCII, multi-byte, emoji, empty, and a string result whose length comes from get_string_size', async () => {
    const { inst } = await goEngine();
    for (const name of ['Nic', 'Zoë', 'Łódź 日本語', '🐝 wasp 🐝', '']) {
      expect(inst.callString('hello', name)).toBe(`Hello ${name}`);
    }
    expect(inst.callString('nothing', 'x')).toBeNull();
    expect(inst.call('live')).toBe(0);
  });

  it('bytes: empty, a few, 1 MiB, length-prefixed both ways', async () => {
    const { inst } = await goEngine();
    expect(inst.callBytes('reverse', new Uint8Array(0))).toEqual(new Uint8Array(0));
    expect(inst.callBytes('reverse', new Uint8Array([1, 2, 3, 0, 255]))).toEqual(new Uint8Array([255, 0, 3, 2, 1]));
    const big = new Uint8Array(1 << 20).map((_, i) => i & 0xff);
    expect(Buffer.from(inst.callBytes('reverse', big)!).equals(Buffer.from(big.slice().reverse()))).toBe(true);
    expect(inst.callOutputs('reverse', new Uint8Array([7, 8]))).toEqual([new Uint8Array([8, 7])]);
    expect(inst.call('live')).toBe(0);
  });

  it('callbacks in the namespace the module imports them from, with its conventions; what they are handed and return is freed', async () => {
    const { inst } = await goEngine();
    expect(inst.callString('callback')).toBe('Hello Nic');
    expect(inst.call('live')).toBe(0);
    const failing = new Engine();
    failing.addCallback('env', 'call_me', () => {
      throw new Error('no');
    }, { params: ['string'], result: 'string' });
    await failing.registerPlugin('go', await wat(waspGoPlugin(), { bulk_memory: true }));
    const error = await failing.getInstance('go').then((i) => i.callString('callback')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CallbackError);
  });

  it('a call that hands over many blocks through callbacks frees each once, the one returned too', async () => {
    const { inst } = await goEngine();
    for (const n of [1, 15, 16, 17, 500]) {
      expect(inst.callString('callbacks', n)).toBe('Hello Nic');
      expect(inst.call('live')).toBe(0);
    }
  });

  it('a callback imported with the wrong convention, and a missing one, are refused at registration', async () => {
    const engine = new Engine();
    engine.addCallback('env', 'call_me', (n: number) => n, { params: ['i32', 'i32'], result: 'i32' });
    const wrong = await engine.registerPlugin('go', await wat(waspGoPlugin(), { bulk_memory: true })).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(UnresolvedImportError);
    expect((wrong as UnresolvedImportError).problem).toBe('wrong-type');
    const missing = await new Engine().registerPlugin('go', await wat(waspGoPlugin(), { bulk_memory: true })).catch((e: unknown) => e);
    expect(missing).toMatchObject({ name: 'UnresolvedImportError', problem: 'no-callback', module: 'env', field: 'call_me' });
  });

  it('env.raise_error fails the call with the plugin\'s message; the instance goes on', async () => {
    const { inst } = await goEngine();
    const error = await Promise.resolve().then(() => inst.call('fail')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PluginRaisedError);
    expect(error).toMatchObject({ pluginMessage: 'Ooops', function: 'fail' });
    expect(inst.needsReplacement).toBe(false);
    expect(inst.call('live')).toBe(0);
    expect(inst.call('sum', 1, 1)).toBe(2);
  });

  it('a trap fails the call and marks the instance for replacement; a string call on a non-pointer export is a SignatureError', async () => {
    const { inst, engine } = await goEngine();
    expect(() => inst.callString('trap', 'x')).toThrow(PluginTrapError);
    expect(inst.needsReplacement).toBe(true);
    const fresh = await engine.getInstance('go');
    expect(() => fresh.callString('sum', 'x')).toThrow(SignatureError);
  });

  it('runs _start once at instantiation, as TinyGo modules need, and takes proc_exit(0) there as the end of set-up', async () => {
    const { inst } = await goEngine({ start: { exit: 0 } });
    expect(inst.callString('hello', 'Nic')).toBe('Hello Nic');
    const exits = await goEngine({ start: { exit: 3 } }).catch((e: unknown) => e);
    expect(exits).toBeInstanceOf(PluginTrapError);
    expect((exits as Error).message).toMatch(/_start exited with code 3/);
  });

  it('provides the older WASI generation its plugins import (wasi_unstable): output reaches the logger, exit 0 ends _start', async () => {
    const lines: [string, unknown][] = [];
    const engine = new Engine({ logger: { debug: (m: string, f?: Record<string, unknown>) => lines.push([m, f?.stream]) } });
    const plugin = await engine.registerPlugin(
      'u',
      await wat(`(module
        (import "wasi_unstable" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
        (import "wasi_unstable" "proc_exit" (func $exit (param i32)))
        (memory (export "memory") 1)
        (data (i32.const 64) "from wasi_unstable\\n")
        (func (export "allocate") (param i32) (result i32) (i32.const 1024))
        (func (export "get_string_size") (param i32) (result i32) (i32.const 0))
        (func (export "_start") (call $exit (i32.const 0)))
        (func (export "say") (result i32)
          (i32.store (i32.const 0) (i32.const 64)) (i32.store (i32.const 4) (i32.const 19))
          (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))) (i32.const 7)))`),
    );
    expect(plugin.abi).toBe('wasp-go');
    expect((await engine.getInstance('u')).call('say')).toBe(7);
    expect(lines).toContainEqual(['from wasi_unstable', 'stdout']);
  });

  it('100,000 calls free every block: nothing live, memory as it was', async () => {
    const { inst } = await goEngine();
    inst.callString('hello', 'warm');
    const before = inst.memoryBytes;
    for (let i = 0; i < 100_000; i++) {
      inst.callString('hello', 'Zoë 🐝');
      inst.callBytes('reverse', new Uint8Array([i & 0xff, 1, 2]));
    }
    expect(inst.call('live')).toBe(0);
    expect(inst.memoryBytes).toBe(before);
  });

  it('a runaway call is stopped by the deadline, inline and in a worker', async () => {
    const { engine } = await goEngine({}, { timeoutMs: 200 });
    const inst = await engine.getInstance('go');
    expect(() => inst.callString('spin', 'x')).toThrow(PluginTimeoutError);
    const pool = engine.createPool('go', { mode: 'worker', size: 1 });
    try {
      await expect(pool.call('spin', 'x')).rejects.toBeInstanceOf(PluginTimeoutError);
      // pools and pipeline stages hand a wasp-go function bytes and take bytes back
      expect((await pool.call('reverse', new Uint8Array([1, 2]))).outputs).toEqual([new Uint8Array([2, 1])]);
    } finally {
      await pool.close();
    }
  });
});
