// Plugins for the other ABIs built here from C (plugins/extism-c, plugins/wasp-go-c), with a
// real libc allocator: detected, called, and for Extism checked against the Extism JS SDK.
import { readFile } from 'node:fs/promises';
import createPlugin from '@extism/extism';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../../src/engine/engine.js';
import { PluginCallError, PluginRaisedError } from '../../../src/engine/errors.js';
import { root } from '../../helpers/plugins.js';

const module = (kit: string) => readFile(`${root}plugins/${kit}/plugin.wasm`).then((b) => new Uint8Array(b));
const texts = ['Nic', 'Zoë', 'Łódź 日本語', '🐝 wasp 🐝', ''];

describe('C plugins for the other ABIs', () => {
  it('wasp-go (plugins/wasp-go-c): Go Wasp\'s example functions, malloc and free through allocate and deallocate', async () => {
    const engine = new Engine();
    engine.addCallback('env', 'call_me', (s: string) => `Hello ${s}`, { params: ['string'], result: 'string' });
    const plugin = await engine.registerPlugin('go', await module('wasp-go-c'));
    expect(plugin.abi).toBe('wasp-go');
    const inst = await engine.getInstance('go');
    expect(inst.call('sum', 40, 2)).toBe(42);
    for (const t of texts) expect(inst.callString('hello', t)).toBe(`Hello ${t}`);
    expect(inst.callBytes('reverse', new Uint8Array([1, 2, 3]))).toEqual(new Uint8Array([3, 2, 1]));
    const big = new Uint8Array(1 << 20).map((_, i) => i & 0xff);
    expect(Buffer.compare(Buffer.from(inst.callBytes('reverse', big)!), Buffer.from(big.slice().reverse()))).toBe(0);
    expect(inst.callString('callback')).toBe('Hello Nic');
    expect(() => inst.call('fail')).toThrow(PluginRaisedError);
    const before = inst.memoryBytes;
    for (let i = 0; i < 100_000; i++) inst.callString('hello', 'Zoë 🐝');
    expect(inst.memoryBytes).toBe(before); // every block freed: malloc reuses them
  });

  it('extism (plugins/extism-c, no PDK): the same outputs as the Extism JS SDK, config and vars included', async () => {
    const bytes = await module('extism-c');
    for (const config of [{}, { vowels: 'aeiou' }]) {
      const engine = new Engine();
      const plugin = await engine.registerPlugin('ext', bytes, { config });
      expect(plugin.abi).toBe('extism');
      const inst = await engine.getInstance('ext');
      const sdk = await createPlugin({ wasm: [{ data: bytes }] }, { useWasi: true, runInWorker: false, config });
      try {
        for (const t of [...texts, 'AEIOU aeiou']) {
          expect(inst.callString('count_vowels', t)).toBe((await sdk.call('count_vowels', t))?.text() ?? null);
          if (t !== '') expect(inst.callString('reverse', t)).toBe((await sdk.call('reverse', t))?.text() ?? null);
        }
        const error = (() => {
          try {
            inst.callString('reverse', '');
          } catch (e) {
            return e;
          }
        })();
        expect(error).toBeInstanceOf(PluginCallError);
        expect(error).toMatchObject({ status: 1, pluginMessage: 'nothing to reverse' });
        await expect(sdk.call('reverse', '')).rejects.toThrow(/nothing to reverse/);
      } finally {
        await sdk.close();
      }
    }
  });
});
