import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArg } from '../../src/cli/call.js';
import { spawnWasp, wasp } from '../helpers/cli.js';
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
    // and Node says nothing of an experimental WASI: the engine's WASI is not node:wasi
    expect(await wasp(['call', c, 'env', 'HOME', '--env', 'HOME=/wasp'])).toEqual({ code: 0, stdout: '/wasp\n', stderr: '' });
  });

  it('exits 1 with error: on stderr when the call fails', async () => {
    const c = kits.find((k) => k.language === 'c')!.path;
    expect(await wasp(['call', c, 'fail', 'x'])).toEqual({ code: 1, stdout: '', stderr: 'error: fail failed with status 1: failed: x\n' });
    const trap = await wasp(['call', c, 'trap']);
    expect(trap.code).toBe(1);
    expect(trap.stderr).toMatch(/^error: plugin module: trap trapped: unreachable/);
    // a wrong name lists what there is
    const missing = await wasp(['call', c, 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: .*examples\.wasm exports no function nope; its functions:\n/);
    expect(missing.stderr).toMatch(/^ {2}sum \(i32, i32\) -> i32$/m);
    expect(missing.stderr).toMatch(/^ {2}hello \(i32, i32\) -> i32$/m);
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

describe('wasp call shows what a stage does', () => {
  const as = kits.find((k) => k.language === 'assemblyscript')!.path;
  const text = `${root}pipelines/text/text.wasm`;

  /** wasp call with `input` on its standard input. */
  async function piped(args: string[], input: Uint8Array) {
    const child = spawnWasp(args);
    child.child.stdin!.end(input);
    const { code } = await child.exited;
    return { code, stdout: child.stdout(), stderr: child.stderr() };
  }

  it('takes the message from a file or stdin, byte for byte, with its subject and headers', async () => {
    const tagged = await piped(['call', as, 'tag', '--input', '-', '--subject', 'orders.eu', '--header', 'X-Tag=blue'], Buffer.from('hi'));
    expect(tagged).toEqual({ code: 0, stdout: 'orders.eu;blue;hi\n', stderr: '' });
    const binary = Buffer.from([0xff, 0x00, 0x0a, 0x80, 0x41]);
    const file = join(tmpdir(), `wasp-call-input-${process.pid}.bin`);
    await writeFile(file, binary);
    const same = await wasp(['call', text, 'identity', '--input', file, '--returns', 'bytes']);
    expect(same).toEqual({ code: 0, stdout: `${binary.toString('hex')}\n`, stderr: '' });
    expect((await wasp(['call', text, 'identity', '--input', file, 'extra'])).code).toBe(2);
    expect((await wasp(['call', text, 'identity', '--input', '/nonexistent'])).stderr).toMatch(/cannot read --input \/nonexistent/);
  });

  it('prints side outputs on stderr, refuses those --emits does not allow, and shows every output of a flat-map', async () => {
    expect(await wasp(['call', as, 'audit', 'hello'])).toEqual({ code: 0, stdout: 'hello\n', stderr: 'emit audit.as: hello\n' });
    const refused = await wasp(['call', as, 'audit', 'hello', '--emits', 'other.>']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/emit refused: -2/);
    expect((await wasp(['call', as, 'audit', 'hello', '--emits', 'audit.*'])).code).toBe(0);
    const words = await piped(['call', text, 'words', '--input', '-'], Buffer.from('one two three'));
    expect(words.stdout).toBe('one\ntwo\nthree\n');
  });

  it('shows the plugin\'s log lines on stderr at --log-level, and says when a message gave no output', async () => {
    const logged = await wasp(['call', as, 'shout', 'hello there']);
    expect(logged.code).toBe(0);
    expect(logged.stdout).toBe('');
    expect(logged.stderr).toMatch(/ INFO {2}hello there \{"plugin":"module","function":"shout"\}\n/);
    expect(logged.stderr).toMatch(/\(no output: shout gave none and returned 0/);
    expect((await wasp(['call', as, 'shout', 'quiet', '--log-level', 'warn'])).stderr).not.toMatch(/quiet/);
    const filtered = await piped(['call', text, 'fail_on_x', '--input', '-'], Buffer.from('box'));
    expect(filtered.code).toBe(1);
    expect(filtered.stderr).toMatch(/contains x/);
  });

  it('refuses a number a parameter cannot hold, or a fraction for an integer, as usage mistakes', async () => {
    for (const [args, why] of [
      [['sum', '4294967296', '0'], /argument 1 of sum is an i32: 4294967296 is out of its range/],
      [['sum', '1.5', '2'], /argument 1 of sum is an i32: 1.5 has a fraction/],
      [['sum', '1', '-2147483649'], /argument 2 of sum is an i32: -2147483649 is out of its range/],
      [['add_i64', '18446744073709551616', '0'], /argument 1 of add_i64 is an i64: .* is out of its range/],
      [['sum', 'NaN', '1'], /argument 1 of sum is an i32: NaN is not a whole number/],
      // JSON reads 1e999 as Infinity, and an f32 turns 1e40 into one: neither is what was written
      [['mul_f64', '1e999', '1'], /argument 1 of mul_f64 is an f64: 1e999 is out of its range/],
      [['half_f32', '1e40'], /argument 1 of half_f32 is an f32: 1e40 is out of its range/],
    ] as const) {
      const result = await wasp(['call', as, ...args]);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(why);
    }
    // both readings of 32 bits are fine: 4294967295 is -1
    expect((await wasp(['call', as, 'sum', '4294967295', '1'])).stdout).toBe('0\n');
    // f32::MAX as usually written rounds to itself, not to Infinity
    expect((await wasp(['call', as, 'half_f32', '3.4028235e38'])).code).toBe(0);
    // written as such, a float parameter takes them
    expect((await wasp(['call', as, 'mul_f64', 'NaN', '1', '--returns=number'])).stdout).toBe('NaN\n');
    expect((await wasp(['call', as, 'mul_f64', '-Infinity', '2', '--returns=number'])).stdout).toBe('-Infinity\n');
  });

  it('says how to pass a number as text when it does not fit', async () => {
    const result = await wasp(['call', as, 'hello', '42']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/42 was read as a number; to pass text, quote it as JSON: '"42"'/);
    expect((await wasp(['call', as, 'hello', '"42"'])).stdout).toBe('Hello 42\n');
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
