// registerPlugin: what is refused before any instance exists, and why.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  CallbackDefinitionError,
  Engine,
  MemoryLimitError,
  PluginCompileError,
  PluginExistsError,
  PluginHashMismatchError,
  PluginLoadError,
  PluginNotFoundError,
  UnresolvedImportError,
} from '../../src/index.js';
import { kits, wat, watExample } from '../helpers/plugins.js';

describe('registerPlugin', () => {
  it('accepts a path, a file URL or bytes, and lists exports and imports', async () => {
    const engine = new Engine();
    const bytes = await readFile(watExample);
    await engine.registerPlugin('by-path', watExample);
    await engine.registerPlugin('by-url', pathToFileURL(watExample));
    const plugin = await engine.registerPlugin('by-bytes', bytes);
    expect(plugin.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(plugin.exports.map((e) => e.name)).toEqual(expect.arrayContaining(['memory', 'wasp_alloc', 'wasp_free', 'sum', 'hello', 'reverse']));
    expect(plugin.imports).toEqual([
      { module: 'wasp', name: 'output', kind: 'function', type: { params: ['i32', 'i32'], results: [] } },
      { module: 'wasp', name: 'error', kind: 'function', type: { params: ['i32', 'i32'], results: [] } },
    ]);
    expect(engine.plugins.map((p) => p.name)).toEqual(['by-path', 'by-url', 'by-bytes']);
    const inst = await engine.getInstance('by-url');
    expect(inst.callString('hello', 'WAT')).toBe('Hello WAT');
  });

  it('refuses a corrupt module with a clear error', async () => {
    const engine = new Engine();
    const garbage = new TextEncoder().encode('this is not wasm');
    await expect(engine.registerPlugin('bad', garbage)).rejects.toThrow(/not a valid WebAssembly module: not a WebAssembly module \(missing the \\0asm magic/);
    const truncated = (await readFile(watExample)).subarray(0, 40);
    const error = await engine.registerPlugin('cut', truncated).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PluginCompileError);
    expect(error).toMatchObject({ plugin: 'cut', message: expect.stringMatching(/runs past the end|unexpected end/) });
    // well-formed sections, invalid code: the runtime's verdict is passed on
    const invalid = await wat('(module (func (export "f") (result i32) (i32.const 1) (i32.const 2) (drop)))');
    invalid[invalid.length - 3] = 0xff;
    await expect(engine.registerPlugin('invalid', invalid)).rejects.toThrow(PluginCompileError);
    expect(engine.plugins).toEqual([]);
  });

  it('refuses a missing file', async () => {
    const error = await new Engine().registerPlugin('gone', '/nonexistent/plugin.wasm').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PluginLoadError);
    expect((error as Error).message).toContain('/nonexistent/plugin.wasm');
  });

  it('refuses a module whose sha256 differs from the pin', async () => {
    const engine = new Engine();
    const bytes = await readFile(watExample);
    const sha = createHash('sha256').update(bytes).digest('hex');
    await engine.registerPlugin('pinned', bytes, { sha256: sha.toUpperCase() });
    const wrong = '0'.repeat(64);
    const error = await engine.registerPlugin('tampered', bytes, { sha256: wrong }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PluginHashMismatchError);
    expect(error).toMatchObject({ expected: wrong, actual: sha, plugin: 'tampered' });
  });

  it('names every kind of unresolved import', async () => {
    const engine = new Engine();
    engine.addCallback('plugin', 'call_me', (s: string) => s, { params: ['string'], result: 'string' });
    const cases: [string, RegExp, string][] = [
      ['(import "wasp" "bogus" (func))', /import wasp\.bogus is not a wasp host function/, 'unknown-host-function'],
      ['(import "wasp" "output" (func (param i32)))', /import wasp\.output has type \(i32\) -> \(\), expected \(i32, i32\) -> \(\)/, 'wrong-type'],
      ['(import "plugin" "missing" (func))', /import plugin\.missing has no callback/, 'no-callback'],
      ['(import "plugin" "call_me" (func (param i32 i32) (result i32)))', /call_me has type \(i32, i32\) -> i32, but the callback's signature needs \(i32, i32\) -> i64/, 'wrong-type'],
      ['(import "env" "memory" (memory 1))', /import env\.memory is a memory/, 'not-a-function'],
    ];
    for (const [i, [imports, message, problem]] of cases.entries()) {
      const error = await engine.registerPlugin(`p${i}`, await wat(`(module ${imports})`)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnresolvedImportError);
      expect((error as Error).message).toMatch(message);
      expect((error as UnresolvedImportError).problem).toBe(problem);
    }
  });

  it('checks memoryLimitPages against what the module needs at start', async () => {
    const engine = new Engine();
    const module = await wat('(module (memory (export "memory") 4 100) (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))');
    await expect(engine.registerPlugin('too-small', module, { memoryLimitPages: 3 })).rejects.toThrow(MemoryLimitError);
    await expect(engine.registerPlugin('nonsense', module, { memoryLimitPages: 0 })).rejects.toThrow(/integer from 1 to 65536/);
    await engine.registerPlugin('capped', module, { memoryLimitPages: 6 });
    const inst = await engine.getInstance('capped');
    expect(inst.call('grow', 3)).toBe(-1);
    expect(inst.call('grow', 2)).toBe(4);
    expect(inst.call('grow', 1)).toBe(-1);
    // a module's own, lower maximum still holds
    await engine.registerPlugin('own-max', module, { memoryLimitPages: 1000 });
    expect((await engine.getInstance('own-max')).call('grow', 97)).toBe(-1);
  });

  it('keeps names unique and reports unknown ones', async () => {
    const engine = new Engine();
    await engine.registerPlugin('once', watExample);
    await expect(engine.registerPlugin('once', watExample)).rejects.toThrow(PluginExistsError);
    await expect(engine.getInstance('never')).rejects.toThrow(PluginNotFoundError);
    engine.unregisterPlugin('once');
    expect(() => engine.plugin('once')).toThrow(PluginNotFoundError);
  });

  it('refuses callbacks in reserved namespaces or with unknown types', () => {
    const engine = new Engine();
    expect(() => engine.addCallback('wasp', 'x', () => 0, { params: [] })).toThrow(CallbackDefinitionError);
    expect(() => engine.addCallback('wasi_snapshot_preview1', 'x', () => 0, { params: [] })).toThrow(/reserved/);
    expect(() => engine.addCallback('plugin', 'x', () => 0, { params: ['u8' as 'i32'] })).toThrow(/unknown parameter type u8/);
    engine.addCallback('plugin', 'x', () => 0, { params: [] });
    expect(() => engine.addCallback('plugin', 'x', () => 0, { params: [] })).toThrow(/already defined/);
  });

  it('compiles once and instantiates many times from the same module', async () => {
    const engine = new Engine();
    engine.addCallback('plugin', 'call_me', (s: string) => s, { params: ['string'], result: 'string' });
    const plugin = await engine.registerPlugin('c', kits[1].path);
    const a = await engine.getInstance('c');
    const b = await engine.getInstance('c');
    expect(a.plugin.module).toBe(plugin.module);
    a.call('grow', 2);
    expect(b.memoryBytes).toBeLessThan(a.memoryBytes);
  });
});
