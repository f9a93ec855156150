// Plugins built by Extism for Extism (test/fixtures/extism, BSD-3-Clause, origin in its README),
// unmodified, through Wasp, checked call by call against Extism's JS SDK on the same input.
import { readFile } from 'node:fs/promises';
import createPlugin, { type CallContext } from '@extism/extism';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../../src/engine/engine.js';
import { PluginTrapError } from '../../../src/engine/errors.js';
import { root } from '../../helpers/plugins.js';

const fixture = (name: string) => readFile(`${root}test/fixtures/extism/${name}.wasm`).then((b) => new Uint8Array(b));
const inputs = ['hello world', 'aeiou AEIOU', 'Zoë and Łódź 🐝', '', 'x'.repeat(10_000)];

describe('Extism\'s own plugins', () => {
  it('count_vowels (code.wasm: vars and config): the same outputs, the running total kept across calls', async () => {
    const bytes = await fixture('code');
    const engine = new Engine();
    const plugin = await engine.registerPlugin('code', bytes);
    expect(plugin.abi).toBe('extism');
    const inst = await engine.getInstance('code');
    const sdk = await createPlugin({ wasm: [{ data: bytes }] }, { useWasi: true, runInWorker: false });
    try {
      for (const input of [...inputs, ...inputs]) {
        expect(inst.callString('count_vowels', input)).toBe((await sdk.call('count_vowels', input))?.text() ?? null);
      }
    } finally {
      await sdk.close();
    }
  });

  it('count_vowels through a host function (code-functions.wasm, a WASI reactor)', async () => {
    const bytes = await fixture('code-functions');
    const seen: string[] = [];
    const engine = new Engine();
    engine.addCallback('extism:host/user', 'hello_world', (s: string) => (seen.push(s), s), { params: ['string'], result: 'string' });
    await engine.registerPlugin('functions', bytes);
    const inst = await engine.getInstance('functions');
    const sdk = await createPlugin(
      { wasm: [{ data: bytes }] },
      { useWasi: true, runInWorker: false, functions: { 'extism:host/user': { hello_world: (ctx: CallContext, off: bigint) => ctx.store(ctx.read(off)!.text()) } } },
    );
    try {
      for (const input of inputs) expect(inst.callString('count_vowels', input)).toBe((await sdk.call('count_vowels', input))?.text() ?? null);
      // an empty input gets no output and no call of the host function
      expect(seen).toHaveLength(inputs.filter((i) => i !== '').length);
    } finally {
      await sdk.close();
    }
  });

  it('Haskell PDK (hello_haskell.wasm: hs_init run once, config)', async () => {
    const bytes = await fixture('hello_haskell');
    const engine = new Engine();
    await engine.registerPlugin('hs', bytes, { config: { greeting: 'Howdy' } });
    const inst = await engine.getInstance('hs');
    const sdk = await createPlugin({ wasm: [{ data: bytes }] }, { useWasi: true, runInWorker: false, config: { greeting: 'Howdy' } });
    try {
      for (const input of ['John', 'Ben', 'Zoë 🐝', '']) expect(inst.callString('testing', input)).toBe((await sdk.call('testing', input))?.text() ?? null);
      expect(inst.callString('testing', 'John')).toBe('Howdy, John');
    } finally {
      await sdk.close();
    }
  });

  it('Go PDK (TinyGo: _start run once): config, vars, logs at every level, an error', async () => {
    const engine = new Engine();
    const lines: [string, string][] = [];
    const logging = new Engine({
      logger: Object.fromEntries((['trace', 'debug', 'info', 'warn', 'error'] as const).map((l) => [l, (m: string) => lines.push([l, m])])),
    });
    for (const name of ['config', 'var', 'fail', 'hello']) await engine.registerPlugin(name, await fixture(name), { config: { thing: 'cool' } });
    await logging.registerPlugin('log', await fixture('log'));
    for (const name of ['config', 'var', 'hello']) {
      const inst = await engine.getInstance(name);
      const sdk = await createPlugin({ wasm: [{ data: await fixture(name) }] }, { useWasi: true, runInWorker: false, config: { thing: 'cool' } });
      try {
        for (let i = 0; i < 3; i++) expect(inst.callString('run_test', 'x')).toBe((await sdk.call('run_test', 'x'))?.text() ?? null);
      } finally {
        await sdk.close();
      }
    }
    expect(engine.getInstanceSync('config').callString('run_test')).toBe('{"config": "cool"}');
    expect(engine.getInstanceSync('var').callString('run_test')).toBe('a: 0');
    // log.wasm imports get_log_level, which the installed SDK lacks: checked against what it logs
    logging.getInstanceSync('log').callString('run_test');
    expect(lines.filter(([, m]) => /^this is an? /.test(m))).toEqual([
      ['trace', 'this is a trace log'],
      ['debug', 'this is a debug log'],
      ['info', 'this is an info log'],
      ['warn', 'this is a warning log'],
      ['error', 'this is an error log'],
    ]);
    expect(() => engine.getInstanceSync('fail').callString('run_test')).toThrow(expect.objectContaining({ name: 'PluginCallError', status: 1, pluginMessage: 'Some error message' }));
  });

  it('echo, and a trap (unreachable.wasm)', async () => {
    const engine = new Engine();
    await engine.registerPlugin('echo', await fixture('echo'));
    await engine.registerPlugin('unreachable', await fixture('unreachable'));
    const echo = await engine.getInstance('echo');
    for (const input of inputs) expect(echo.callString('echo', input)).toBe(input);
    const big = new Uint8Array(1 << 20).map((_, i) => i & 0xff);
    expect(Buffer.compare(Buffer.from(echo.callBytes('echo', big)!), Buffer.from(big))).toBe(0);
    expect(() => engine.getInstanceSync('unreachable').callString('do_unreachable')).toThrow(PluginTrapError);
  });

  // extism/hello-from: the same `hello` from each PDK. The JavaScript one imports http_request in
  // every build; the AssemblyScript one sets a non-ASCII output's length in UTF-16 units (cut short
  // in any host; the SDK fails on such an input), so it gets ASCII inputs only.
  it.each([
    ['js', 'JavaScript', true],
    ['assemblyscript', 'AssemblyScript', false],
    ['c', 'C', true],
    ['go', 'Go', true],
  ] as const)('hello from the %s PDK: the same outputs as the SDK, 200 calls on one instance', async (pdk, language, unicode) => {
    const bytes = await fixture(`hello-from-${pdk}`);
    const engine = new Engine();
    expect((await engine.registerPlugin(pdk, bytes)).abi).toBe('extism');
    const inst = await engine.getInstance(pdk);
    const sdk = await createPlugin({ wasm: [{ data: bytes }] }, { useWasi: true, runInWorker: false });
    try {
      for (const input of ['Nic', '', 'x'.repeat(70_000), ...(unicode ? ['Zoë and Łódź 🐝'] : [])]) {
        expect(inst.callString('hello', input)).toBe((await sdk.call('hello', input))?.text() ?? null);
      }
      for (let i = 0; i < 200; i++) expect(inst.callString('hello', `call ${i}`)).toBe(`call ${i}\nHello from ${language}!`);
    } finally {
      await sdk.close();
    }
  });
});
