// The package as users get it: packed as npm would publish it, installed into an empty project,
// and used from there with npx: the version, a new plugin built with its kit, a call, a run and
// its test cases. Nothing from the repository is reachable from that project.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { root } from '../helpers/plugins.js';

const exec = promisify(execFile);
let dir: string | undefined;

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('npm pack, installed into an empty project', () => {
  it('npx wasp --version, new plugin, build, call, run and test work from the install', { timeout: 600_000 }, async () => {
    dir = await mkdtemp(join(tmpdir(), 'wasp-pack-'));
    // npm test built dist already; the package ships what is built
    const { stdout } = await exec('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: root });
    const tarball = join(dir, stdout.trim().split('\n').pop()!);
    const project = join(dir, 'user');
    await exec('mkdir', [project]);
    await writeFile(join(project, 'package.json'), '{ "name": "user", "version": "1.0.0", "private": true, "type": "module" }\n');
    await exec('npm', ['install', '--no-audit', '--no-fund', tarball], { cwd: project, maxBuffer: 16 * 1024 * 1024 });
    const npx = async (args: string[], cwd = project, input?: string) => {
      const child = exec('npx', ['--no-install', 'wasp', ...args], { cwd });
      if (input !== undefined) child.child.stdin!.end(input);
      return (await child).stdout;
    };
    expect(await npx(['--version'])).toMatch(/^wasp \d+\.\d+\.\d+ \(wasp-streams/);
    expect(await npx(['new', 'plugin', 'hello', '--lang', 'c'])).toMatch(/^wrote hello\//);
    const app = join(project, 'hello');
    expect(await npx(['build'], app)).toMatch(/^built hello\.wasm: /);
    expect(await npx(['call', 'hello.wasm', 'upper', 'from the install'], app)).toBe('FROM THE INSTALL\n');
    expect(await npx(['run', 'pipeline.yaml'], app, 'one\n')).toBe('ONE\n');
    expect(await npx(['test', '.'], app)).toMatch(/2 case\(s\): 2 passed, 0 failed\n$/);
    // the embedding entry point resolves by package name
    const { stdout: entry } = await exec(process.execPath, ['--input-type=module', '-e', "import { Pipeline } from 'wasp-streams/pipelines'; import { Engine } from 'wasp-streams'; console.log(typeof Pipeline, typeof Engine)"], { cwd: project });
    expect(entry).toBe('function function\n');
  });
});
