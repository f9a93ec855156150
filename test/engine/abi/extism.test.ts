// ABI extism: plugins against Extism's kernel run through the same Engine API, and agree with
// Extism's own JS SDK (@extism/extism), the oracle, on the same input.
import createPlugin, { type CallContext } from '@extism/extism';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../../src/engine/engine.js';
import { CallbackError, CallLimitError, HostFunctionRefusedError, PluginCallError, PluginTimeoutError, PluginTrapError, UnresolvedImportError } from '../../../src/engine/errors.js';
import { extismPlugin } from '../../helpers/extism.js';
import { wat } from '../../helpers/plugins.js';

const shout = (s: string) => `${s.toUpperCase()}!`;

async function waspExtism(options: Parameters<typeof extismPlugin>[0] = {}, register: Record<string, unknown> = {}) {
  const engine = new Engine();
  const logs: { message: string; fields?: Record<string, unknown> }[] = [];
  const logged = new Engine({ logger: { info: (message: string, fields?: Record<string, unknown>) => logs.push({ message, fields }) } });
  for (const e of [engine, logged]) e.addCallback('extism:host/user', 'shout', shout, { params: ['string'], result: 'string' });
  const bytes = await wat(extismPlugin(options));
  const plugin = await engine.registerPlugin('ext', bytes, register);
  await logged.registerPlugin('ext', bytes, register);
  return { engine, plugin, bytes, inst: await engine.getInstance('ext'), logged: await logged.getInstance('ext'), logs };
}

async function oracle(bytes: Uint8Array, config: Record<string, string> = {}) {
  return createPlugin(
    { wasm: [{ data: bytes }], config },
    {
      useWasi: false,
      runInWorker: false,
      functions: {
        'extism:host/user': {
          shout: (ctx: CallContext, off: bigint) => ctx.store(shout(ctx.read(off)!.text())),
        },
      },
    },
  );
}

describe('ABI extism', () => {
  it('is detected from the kernel imports, old env.extism_* names included', async () => {
    expect((await waspExtism()).plugin.abi).toBe('extism');
    const old = await waspExtism({ oldNames: true });
    expect(old.plugin.abi).toBe('extism');
    expect(old.inst.callString('echo', 'old names')).toBe('old names');
  });

  it('agrees with the Extism JS SDK: strings (ASCII, multi-byte, emoji, empty), bytes (empty, 1 MiB), no output', async () => {
    const { inst, bytes } = await waspExtism();
    const sdk = await oracle(bytes);
    try {
      for (const text of ['hello', 'Zoë', 'Łódź 日本語', '🐝 wasp 🐝', '']) {
        const expected = (await sdk.call('echo', text))?.text() ?? null;
        expect(inst.callString('echo', text)).toBe(expected);
        expect((await sdk.call('shout', text))?.text()).toBe(inst.callString('shout', text));
      }
      expect(inst.callBytes('echo', new Uint8Array(0))).toEqual(new Uint8Array(0));
      const big = new Uint8Array(1 << 20).map((_, i) => (i * 7) & 0xff);
      const mine = inst.callBytes('echo', big)!;
      const theirs = (await sdk.call('echo', big))!;
      expect(Buffer.compare(Buffer.from(mine), Buffer.from(theirs.bytes()))).toBe(0);
      expect(Buffer.compare(Buffer.from(mine), Buffer.from(big))).toBe(0);
      expect(inst.callString('nothing', 'x')).toBeNull();
      expect(await sdk.call('nothing', 'x')).toBeNull();
    } finally {
      await sdk.close();
    }
  });

  it('a non-zero return fails the call with the message from error_set', async () => {
    const { inst, bytes } = await waspExtism();
    const error = (() => {
      try {
        inst.callString('fail', 'it went wrong');
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(PluginCallError);
    expect(error).toMatchObject({ status: 7, pluginMessage: 'it went wrong' });
    expect(inst.needsReplacement).toBe(false);
    const sdk = await oracle(bytes);
    await expect(sdk.call('fail', 'it went wrong')).rejects.toThrow(/it went wrong/);
    await sdk.close();
  });

  it('config from registerPlugin, vars per instance across calls, logs to the engine\'s logger', async () => {
    const { inst, engine } = await waspExtism({}, { config: { greeting: 'hi from config' } });
    expect(inst.callString('greet')).toBe('hi from config');
    expect([...inst.callBytes('count')!]).toEqual([1]);
    expect([...inst.callBytes('count')!]).toEqual([2]);
    expect([...(await engine.getInstance('ext')).callBytes('count')!]).toEqual([1]);
    const bare = await waspExtism();
    expect(() => bare.inst.callString('greet')).toThrow(/no greeting configured/);
    bare.logged.callString('log', 'a line from the plugin');
    expect(bare.logs).toEqual([{ message: 'a line from the plugin', fields: expect.objectContaining({ plugin: 'ext', function: 'log' }) }]);
  });

  it('a user host function that throws fails the call; one not added is refused at registration; http_request fails the call that uses it', async () => {
    const engine = new Engine();
    engine.addCallback('extism:host/user', 'shout', () => {
      throw new Error('no');
    }, { params: ['string'], result: 'string' });
    await engine.registerPlugin('ext', await wat(extismPlugin()));
    expect(() => engine.getInstanceSync('ext').callString('shout', 'x')).toThrow(CallbackError);
    const missing = await new Engine().registerPlugin('ext', await wat(extismPlugin())).catch((e: unknown) => e);
    expect(missing).toMatchObject({ name: 'UnresolvedImportError', problem: 'no-callback', module: 'extism:host/user', field: 'shout' });
    // The JavaScript PDK imports http_request in every plugin: importing it is fine, calling it is not.
    const withHttp = new Engine();
    await withHttp.registerPlugin('ext', await wat(extismPlugin({ http: true, userFunction: false })));
    const inst = withHttp.getInstanceSync('ext');
    expect(inst.callString('echo', 'no network needed')).toBe('no network needed');
    const refused = (() => {
      try {
        return inst.callString('fetch', 'x');
      } catch (e) {
        return e;
      }
    })();
    expect(refused).toBeInstanceOf(HostFunctionRefusedError);
    expect(refused).toMatchObject({ module: 'extism:host/env', field: 'http_request', plugin: 'ext', function: 'fetch' });
    expect((refused as Error).message).toMatch(/fetch called extism:host\/env.http_request, Extism's HTTP host function/);
    expect(withHttp.getInstanceSync('ext').callString('echo', 'again')).toBe('again');
    // a plugin that catches what the host throws still fails
    const sneaky = await wat(
      `(module (import "extism:host/env" "http_request" (func $http (param i64 i64) (result i64))) (memory (export "memory") 1)
        (func (export "sneaky") (result i32) (try (do (drop (call $http (i64.const 0) (i64.const 0)))) (catch_all)) (i32.const 0)))`,
      { exceptions: true },
    );
    await withHttp.registerPlugin('sneaky', sneaky);
    expect(() => withHttp.getInstanceSync('sneaky').callString('sneaky')).toThrow(HostFunctionRefusedError);
  });

  it('a trap, and a runaway call stopped by the deadline inline and in a worker', async () => {
    const { inst, engine } = await waspExtism({}, { timeoutMs: 200 });
    expect(() => inst.callString('trap')).toThrow(PluginTrapError);
    expect(inst.needsReplacement).toBe(true);
    expect(() => engine.getInstanceSync('ext').callString('spin')).toThrow(PluginTimeoutError);
    const pool = engine.createPool('ext', { mode: 'worker', size: 1 });
    try {
      await expect(pool.call('spin', 'x')).rejects.toBeInstanceOf(PluginTimeoutError);
      expect((await pool.call('echo', 'pool')).outputs.map((o) => Buffer.from(o).toString())).toEqual(['pool']);
    } finally {
      await pool.close();
    }
  });

  it('a hostile plugin cannot take more kernel memory than its memoryLimitPages, nor hoard vars past 1 MiB', async () => {
    const { inst } = await waspExtism({}, { memoryLimitPages: 256 }); // 16 MiB
    expect([...inst.callBytes('hog')!]).toEqual([0]); // not one 64 MiB block
    const roomy = await waspExtism({}, { memoryLimitPages: 4096 }); // 256 MiB
    expect(roomy.inst.callBytes('hog')![0]).toBeLessThanOrEqual(4);
    // vars: 64 KiB each under new keys; the 17th would pass 1 MiB
    for (let i = 0; i < 15; i++) roomy.inst.callString('hoard', `key ${i}`);
    const error = (() => {
      try {
        for (let i = 15; i < 40; i++) roomy.inst.callString('hoard', `key ${i}`);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(CallLimitError);
    expect(error).toMatchObject({ limit: 'maxVarBytes', max: 1 << 20 });
    roomy.inst.callString('hoard', 'key 0'); // replacing a var's value stays within the budget
  });

  it('100,000 calls leave the kernel and the plugin as they were', async () => {
    const { inst } = await waspExtism();
    inst.callString('echo', 'warm');
    const before = inst.memoryBytes;
    for (let i = 0; i < 100_000; i++) expect(inst.callString('echo', 'Zoë 🐝')).toBe('Zoë 🐝');
    expect(inst.memoryBytes).toBe(before);
  });
});
