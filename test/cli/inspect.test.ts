import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { wasp } from '../helpers/cli.js';
import { kits, root, wat } from '../helpers/plugins.js';

describe('wasp inspect', () => {
  it('says what a wasp/1 module is: digest, ABI, memory, each export and import and what answers it', async () => {
    const c = kits.find((k) => k.language === 'c')!.path;
    const result = await wasp(['inspect', c]);
    expect(result.code, result.stderr).toBe(0);
    const sha = createHash('sha256').update(await readFile(c)).digest('hex');
    expect(result.stdout).toContain(`sha256   ${sha}\n`);
    expect(result.stdout).toMatch(/^abi +wasp\/1 \(detected; --abi to choose\); a stage function has type \(i32, i32\) -> i32$/m);
    expect(result.stdout).toMatch(/^memory +2 pages \(128 KiB\) at start, no maximum; registered, it is capped at memoryLimitPages/m);
    expect(result.stdout).toMatch(/^ {2}wasp_alloc +\(i32\) -> i32 +used by the wasp\/1 ABI$/m);
    expect(result.stdout).toMatch(/^ {2}hello +\(i32, i32\) -> i32 +a stage \(a message in, outputs out\)/m);
    expect(result.stdout).toMatch(/^ {2}add_i64 +\(i64, i64\) -> i64 +numbers: wasp call MOD add_i64 1 2$/m);
    expect(result.stdout).toMatch(/^ {2}wasp\.emit +\(i32, i32, i32, i32\) -> i32 +the host \(wasp\/1\)$/m);
    expect(result.stdout).toMatch(/^ {2}plugin\.call_me +\(i32, i32\) -> i64 +a host callback: an embedding program adds it/m);
    expect(result.stdout).toMatch(/^ {2}wasi_snapshot_preview1\.fd_read +.* WASI, sandboxed$/m);
  });

  it('detects an Extism plugin, or reads a module as the ABI --abi names', async () => {
    const extism = await wasp(['inspect', `${root}test/fixtures/extism/code.wasm`]);
    expect(extism.code).toBe(0);
    expect(extism.stdout).toMatch(/^abi +extism \(detected/m);
    expect(extism.stdout).toMatch(/^ {2}count_vowels +\(\) -> i32 +an Extism function: input in, output out; a stage/m);
    expect(extism.stdout).toMatch(/^ {2}extism:host\/env\.var_set +\(i64, i64\) -> \(\) +the host \(extism\)$/m);
    // read as wasp/1, Extism's kernel functions answer nothing
    const forced = await wasp(['inspect', `${root}test/fixtures/extism/code.wasm`, '--abi', 'wasp/1']);
    expect(forced.stdout).toMatch(/^abi +wasp\/1; /m);
    expect(forced.stdout).toMatch(/extism:host\/env\.alloc .*a host callback/);
  });

  it('exits 1 when an import would be refused, naming why; for a file that is no module; 2 for a usage mistake', async () => {
    const file = join(tmpdir(), `wasp-inspect-${process.pid}.wasm`);
    await writeFile(file, await wat('(module (import "wasp" "output" (func (param i64))) (import "wasp" "bogus" (func)) (memory (export "memory") 1))'));
    const refused = await wasp(['inspect', file]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/^ {2}wasp\.output +\(i64\) -> \(\) +refused: has type \(i64\) -> \(\), expected \(i32, i32\) -> \(\)$/m);
    expect(refused.stdout).toMatch(/^ {2}wasp\.bogus +\(\) -> \(\) +refused: is not a wasp host function/m);
    await writeFile(file, 'garbage');
    const garbage = await wasp(['inspect', file]);
    expect(garbage.code).toBe(1);
    expect(garbage.stderr).toMatch(/is not a valid WebAssembly module/);
    // sections whole, a function body not: (i32.const 7) made an i32.add of nothing
    const body = await wat('(module (func (export "f") (result i32) (i32.const 7)))');
    const at = body.lastIndexOf(0x41);
    expect(body[at + 1]).toBe(7);
    body[at] = 0x6a;
    body[at + 1] = 0x01; // a nop, so the body keeps its length
    await writeFile(file, body);
    const invalid = await wasp(['inspect', file]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/is not a valid WebAssembly module: .*Compiling function/);
    expect((await wasp(['inspect'])).code).toBe(2);
    expect((await wasp(['inspect', file, '--abi', 'nope'])).code).toBe(2);
  });
});
