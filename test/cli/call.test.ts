import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArg } from '../../src/cli/call.js';
import { wasp } from '../helpers/cli.js';
import { kits, root, wat, watExample } from '../helpers/plugins.js';
import { waspGoPlugin } from '../helpers/wasp-go.js';

describe('wasp call', () => {
  it.each(kits)('calls the $language example', async ({ path }) => {
    expect(await wasp(['call', path, 'hello', 'Nic'])).toEqual({ code: 0, stdout: 'Hello Nic\n', stderr: '' });
    expect((await wasp(['call', path, 'sum', '3', '2'])).stdout).toBe('5\n');
    expect((await wasp(['call', path, 'sum', '-3', '2'])).stdout).toBe('-1\n');
    expect((await wasp(['call', path, 'reverse', 'abc', '--returns', 'bytes'])).stdout).toBe('636261\n');
    expect((await wasp(['call', path, 'words', 'one two'])).stdout).toBe('one\ntwo\n');
    expect((await wasp(['call', path, 'json_tag', '{"a":1}'])).stdout).toBe('{"bytes":7,"a":1}\n');
    expect((await wasp(['call', path, 'add_i64', '9223372036854775807', '1'])).stdout).toBe('-9223372036854775808\n');
    expect((await wasp(['call', path, 'mul_f64', '1.5', '2', '--returns=number'])).stdout).toBe('3\n');
  });

  it('prints the output as text, or the numeric return value', async () => {
    expect((await wasp(['call', watExample, 'hello', '"42"'])).stdout).toBe('Hello 42\n');
    expect((await wasp(['call', watExample, 'hello', 'not json'])).stdout).toBe('Hello not json\n');
    expect((await wasp(['call', watExample, 'hello', '--returns', 'string', '--', '--dashes'])).stdout).toBe('Hello --dashes\n');
    expect((await wasp(['call', watExample, 'half_f32', '5'])).stdout).toBe('2.5\n');
  });

  it('calls a plugin in the Go Wasp conventions (ABI wasp-go, detected) as its README does', async () => {
    const file = join(tmpdir(), `wasp-go-${process.pid}.wasm`);
    await writeFile(file, await wat(waspGoPlugin({ callback: false }), { bulk_memory: true }));
    expect(await wasp(['call', file, 'hello', '"Nic"'])).toEqual({ code: 0, stdout: 'Hello Nic\n', stderr: '' });
    expect((await wasp(['call', file, 'hello', 'Zoë 🐝'])).stdout).toBe('Hello Zoë 🐝\n');
    expect((await wasp(['call', file, 'sum', '3', '2'])).stdout).toBe('5\n');
    const failed = await wasp(['call', file, 'fail']);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/raised an error: Ooops/);
    // forced to wasp/1, a string argument does not fit: the error says so
    const forced = await wasp(['call', file, 'hello', '"Nic"', '--abi', 'wasp/1']);
    expect(forced.code).toBe(1);
    expect(forced.stderr).toMatch(/does not fit hello's type/);
    expect((await wasp(['call', file, 'hello', 'x', '--abi', 'nope'])).code).toBe(2);
  });

  it('calls a plugin built for Extism (detected), printing its output', async () => {
    const code = `${root}test/fixtures/extism/code.wasm`;
    expect(await wasp(['call', code, 'count_vowels', 'hello world'])).toEqual({ code: 0, stdout: '{"count":3,"total":3,"vowels":"aeiouAEIOU"}\n', stderr: '' });
    expect((await wasp(['call', `${root}test/fixtures/extism/echo.wasm`, 'echo', 'abc', '--returns', 'bytes'])).stdout).toBe('616263\n');
    const trapped = await wasp(['call', `${root}test/fixtures/extism/unreachable.wasm`, 'do_unreachable']);
    expect(trapped.code).toBe(1);
    expect(trapped.stderr).toMatch(/do_unreachable trapped/);
  });

  it('passes --env to WASI', async () => {
    const c = kits.find((k) => k.language === 'c')!.path;
    expect((await wasp(['call', c, 'env', 'HOME', '--env', 'HOME=/wasp'])).stdout).toBe('/wasp\n');
  });

  it('exits 1 with error: on stderr when the call fails', async () => {
    const c = kits.find((k) => k.language === 'c')!.path;
    expect(await wasp(['call', c, 'fail', 'x'])).toEqual({ code: 1, stdout: '', stderr: 'error: fail failed with status 1: failed: x\n' });
    const trap = await wasp(['call', c, 'trap']);
    expect(trap.code).toBe(1);
    expect(trap.stderr).toMatch(/^error: plugin module: trap trapped: unreachable/);
    const missing = await wasp(['call', c, 'nope']);
    expect(missing).toMatchObject({ code: 1, stderr: 'error: plugin module exports no function nope\n' });
    const callback = await wasp(['call', c, 'callback']);
    expect(callback.code).toBe(1);
    expect(callback.stderr).toMatch(/plugin\.call_me, a host callback that wasp call does not provide/);
  });

  it('exits 1 for a corrupt or missing module', async () => {
    const bad = join(tmpdir(), `wasp-corrupt-${process.pid}.wasm`);
    await writeFile(bad, 'garbage');
    const corrupt = await wasp(['call', bad, 'f']);
    expect(corrupt.code).toBe(1);
    expect(corrupt.stderr).toMatch(/is not a valid WebAssembly module/);
    const gone = await wasp(['call', '/nonexistent.wasm', 'f']);
    expect(gone).toMatchObject({ code: 1, stderr: expect.stringMatching(/^error: cannot read \/nonexistent.wasm/) });
  });

  it('exits 2 on a usage mistake', async () => {
    for (const args of [['call'], ['call', watExample], ['frobnicate'], ['call', watExample, 'sum', '--returns', 'json'], ['call', watExample, 'sum', '--bogus']]) {
      const result = await wasp(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(/^error: .*\nusage:/);
    }
  });
});

describe('argument parsing', () => {
  it('reads JSON numbers and strings, and anything else as text', () => {
    expect(parseArg('3')).toBe(3);
    expect(parseArg('-1.5')).toBe(-1.5);
    expect(parseArg('"3"')).toBe('3');
    expect(parseArg('abc')).toBe('abc');
    expect(parseArg('{"a":1}')).toBe('{"a":1}');
    expect(parseArg('true')).toBe('true');
    expect(parseArg('18446744073709551615')).toBe(18446744073709551615n);
  });
});
