// A first plugin as a user makes one: wasp new plugin in an empty folder, wasp build, then the
// module through wasp call, wasp run and wasp test, in every language wasp new knows.
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnWasp, wasp } from '../helpers/cli.js';
import { textPlugin } from '../helpers/pipelines.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wasp-new-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const present = (path: string) => access(path).then(() => true, () => false);
/** What each language needs on this machine; CI installs all of it, so there a gap fails the test. */
const toolchains: Record<string, () => Promise<boolean>> = {
  c: async () => (await present('/usr/lib/wasm32-wasi/libc.a')) && (await present('/usr/bin/clang')),
  rust: async () => (await present('/usr/bin/cargo')) && (await present('/usr/lib/rustlib/wasm32-wasi/lib')),
  as: async () => true,
  wat: async () => true,
};

describe('wasp new plugin, then wasp build', () => {
  for (const lang of ['c', 'rust', 'as', 'wat']) {
    it(`${lang}: a project that builds, calls, runs and passes its own test cases`, { timeout: 300_000 }, async () => {
      expect(await toolchains[lang]!(), `the ${lang} toolchain (CI installs it: .ci/run)`).toBe(true);
      const name = `hello_${lang}`;
      const made = await wasp(['new', 'plugin', name, '--lang', lang], { cwd: dir });
      expect(made.code, made.stderr).toBe(0);
      expect(made.stdout).toMatch(new RegExp(`^wrote ${name}/: .*pipeline\\.yaml.*wasp-plugin\\.json`));
      const project = join(dir, name);
      const built = await wasp(['build'], { cwd: project });
      expect(built.code, built.stderr).toBe(0);
      expect(built.stdout).toMatch(new RegExp(`^built ${name}\\.wasm: [\\d,]+ bytes, ABI wasp/1, sha256 [0-9a-f]{64}\\nfunctions: upper\\n$`));
      expect(await wasp(['call', `${name}.wasm`, 'upper', 'hello wasp'], { cwd: project })).toEqual({ code: 0, stdout: 'HELLO WASP\n', stderr: '' });
      const run = spawnWasp(['run', join(project, 'pipeline.yaml')]);
      run.child.stdin!.end('one\ntwo\n');
      expect((await run.exited).code).toBe(0);
      expect(run.stdout()).toBe('ONE\nTWO\n');
      const tested = await wasp(['test', '.'], { cwd: project });
      expect(tested.stdout).toMatch(/2 case\(s\): 2 passed, 0 failed\n$/);
      expect(tested.code).toBe(0);
    });
  }

  it('says which toolchain is missing and how to install it; shows the compiler\'s message for broken source', async () => {
    expect((await wasp(['new', 'plugin', 'broken', '--lang', 'c'], { cwd: dir })).code).toBe(0);
    const project = join(dir, 'broken');
    const noClang = await wasp(['build'], { cwd: project, env: { CLANG: '/nonexistent/clang' } });
    expect(noClang.code).toBe(1);
    expect(noClang.stderr).toBe('error: cannot build c: clang not found (Debian: apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32)\n');
    expect((await wasp(['new', 'plugin', 'rusty', '--lang', 'rust'], { cwd: dir })).code).toBe(0);
    const noCargo = await wasp(['build', 'rusty'], { cwd: dir, env: { WASP_CARGO: '/nonexistent/cargo' } });
    expect(noCargo.code).toBe(1);
    expect(noCargo.stderr).toMatch(/^error: cannot build rust: cargo not found at \/nonexistent\/cargo \(Debian: apt-get install -y rustc cargo libstd-rust-dev-wasm32\)/);

    expect((await wasp(['new', 'plugin', 'typo', '--lang', 'wat'], { cwd: dir })).code).toBe(0);
    const wat = join(dir, 'typo', 'typo.wat');
    await writeFile(wat, (await readFile(wat, 'utf8')).replace('(call $output', '(call $nowhere'));
    const failed = await wasp(['build', 'typo'], { cwd: dir });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/^error: the wat build failed:\n[\s\S]*undefined function variable "\$nowhere"/);
  });

  it('writes nothing into a folder that is not empty; refuses a bad name or language; no project, no build', async () => {
    expect((await wasp(['new', 'plugin', 'twice', '--lang', 'wat'], { cwd: dir })).code).toBe(0);
    const again = await wasp(['new', 'plugin', 'twice', '--lang', 'c'], { cwd: dir });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/twice exists and is not empty: nothing written/);
    expect(await present(join(dir, 'twice', 'plugin.c'))).toBe(false);
    expect((await wasp(['new', 'plugin', 'x', '--lang', 'cobol'], { cwd: dir })).code).toBe(2);
    expect((await wasp(['new', 'plugin', '../escape', '--lang', 'c'], { cwd: dir })).code).toBe(2);
    expect((await wasp(['new', 'widget', 'x'], { cwd: dir })).code).toBe(2);
    const none = await wasp(['build'], { cwd: dir });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/wasp-plugin\.json cannot be read .*: wasp build builds a project made by wasp new plugin/);
  });

  it('wasp new pipeline writes a commented file that validates once it names a module', async () => {
    const made = await wasp(['new', 'pipeline', 'orders', '--plugin', textPlugin, '--function', 'upper'], { cwd: dir });
    expect(made.code, made.stderr).toBe(0);
    const text = await readFile(join(dir, 'orders.yaml'), 'utf8');
    expect(text).toMatch(/^# Where messages come from: exactly one of$/m);
    const checked = await wasp(['validate', 'orders.yaml'], { cwd: dir });
    expect(checked).toEqual({ code: 0, stdout: 'orders.yaml: ok\n', stderr: '' });
    expect((await wasp(['new', 'pipeline', 'orders'], { cwd: dir })).code).toBe(1);
  });
});
