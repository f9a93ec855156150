// How `wasp build` turns a plugin project into a module, per language, and what it says when a
// toolchain is missing. The flags are the ones the repository's own kits build with
// (plugins/*/build.mjs): small modules, no debug info, a reactor (no _start).
import { execFile } from 'node:child_process';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { WaspError } from '../../engine/errors.js';
import { crateName, type Language, type PluginManifest } from './templates.js';

const run = promisify(execFile);

/** A toolchain the build needs is not there; `install` says how to get it. */
export class ToolchainMissingError extends WaspError {
  override name = 'ToolchainMissingError';
  constructor(
    readonly lang: Language,
    readonly missing: string,
    readonly install: string,
  ) {
    super(`cannot build ${lang}: ${missing} (${install})`);
  }
}

/** The toolchain ran and refused the source; `output` is what it said. */
export class PluginBuildError extends WaspError {
  override name = 'PluginBuildError';
  constructor(
    readonly lang: Language,
    readonly output: string,
  ) {
    super(`the ${lang} build failed:\n${output}`);
  }
}

const C_INSTALL = 'Debian: apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32';
const RUST_INSTALL = 'Debian: apt-get install -y rustc cargo libstd-rust-dev-wasm32';
// Debian's toolchain, not a rustup one that may come first on PATH without the wasm32-wasi target
const RUSTC = process.env.WASP_RUSTC ?? '/usr/bin/rustc';
const CARGO = process.env.WASP_CARGO ?? '/usr/bin/cargo';
const WASI_SYSROOT = process.env.WASI_SYSROOT ?? '/usr';
const CLANG = process.env.CLANG ?? 'clang';
const C_TARGET = ['--target=wasm32-wasi', `--sysroot=${WASI_SYSROOT}`];

const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);

/** Builds the project in `dir` into its manifest's output; the module's bytes. */
export async function buildPlugin(dir: string, manifest: PluginManifest): Promise<Uint8Array> {
  const out = join(dir, manifest.output);
  switch (manifest.lang) {
    case 'c':
      await buildC(dir, out);
      break;
    case 'rust':
      await buildRust(dir, manifest.name, out);
      break;
    case 'as':
      await buildAssemblyScript(dir, out);
      break;
    case 'wat':
      await buildWat(dir, manifest.name, out);
      break;
  }
  return new Uint8Array(await readFile(out));
}

async function buildC(dir: string, out: string): Promise<void> {
  const version = await run(CLANG, ['--version']).catch(() => undefined);
  if (version === undefined) throw new ToolchainMissingError('c', 'clang not found', C_INSTALL);
  if (!(await exists(join(WASI_SYSROOT, 'lib', 'wasm32-wasi', 'libc.a')))) throw new ToolchainMissingError('c', `no WASI sysroot (wasi-libc) in ${WASI_SYSROOT}`, C_INSTALL);
  const builtins = (await run(CLANG, [...C_TARGET, '-print-libgcc-file-name']).catch(() => ({ stdout: '' }))).stdout.trim();
  if (!builtins || !(await exists(builtins))) throw new ToolchainMissingError('c', 'no wasm32 compiler-rt builtins', C_INSTALL);
  const tmp = await mkdtemp(join(tmpdir(), 'wasp-build-'));
  try {
    const object = join(tmp, 'plugin.o');
    await run(CLANG, [...C_TARGET, '-O2', '-g0', '-std=c11', '-Wall', '-Wextra', '-DNDEBUG', '-c', '-o', object, 'plugin.c'], { cwd: dir });
    await run(CLANG, [...C_TARGET, '-mexec-model=reactor', '-Wl,--strip-all', '-o', out, object], { cwd: dir });
  } catch (error) {
    if (error instanceof WaspError) throw error;
    const e = error as { stderr?: string; message: string };
    if (/wasm-ld/.test(e.stderr ?? '') && /not found|No such file/.test(e.stderr ?? '')) throw new ToolchainMissingError('c', 'the linker wasm-ld (lld) is missing', C_INSTALL);
    throw new PluginBuildError('c', (e.stderr ?? '').trim() || e.message);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function buildRust(dir: string, name: string, out: string): Promise<void> {
  for (const [what, path] of [['rustc', RUSTC], ['cargo', CARGO], ['the wasm32-wasi standard library', '/usr/lib/rustlib/wasm32-wasi/lib']] as const) {
    if (!(await exists(path))) throw new ToolchainMissingError('rust', `${what} not found at ${path}`, RUST_INSTALL);
  }
  try {
    await run(CARGO, ['build', '--offline', '--release', '--target', 'wasm32-wasi'], { cwd: dir, env: { ...process.env, RUSTC }, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new PluginBuildError('rust', (e.stderr ?? '').trim() || e.message);
  }
  // read and written rather than copied, so the module does not keep the linker's executable bit
  await writeFile(out, await readFile(join(dir, 'target', 'wasm32-wasi', 'release', `${crateName(name)}.wasm`)));
}

async function buildAssemblyScript(dir: string, out: string): Promise<void> {
  let asc: { main: (argv: string[], options: Record<string, unknown>) => Promise<{ error: Error | null }>; createMemoryStream(): { toString(): string } };
  try {
    asc = (await import('assemblyscript/asc' as string)).default;
  } catch {
    throw new ToolchainMissingError('as', 'the AssemblyScript compiler is not installed', 'npm install --save-dev assemblyscript');
  }
  const stderr = asc.createMemoryStream();
  const { error } = await asc.main(['index.ts', '--baseDir', dir, '-O3', '--runtime', 'incremental', '--use', 'abort=wasp/waspAbort', '--outFile', out], { stdout: asc.createMemoryStream(), stderr });
  if (error) throw new PluginBuildError('as', stderr.toString().trim() || error.message);
}

async function buildWat(dir: string, name: string, out: string): Promise<void> {
  let wabt: () => Promise<{ parseWat(file: string, text: string): { resolveNames(): void; validate(): void; toBinary(o: object): { buffer: Uint8Array }; destroy(): void } }>;
  try {
    wabt = (await import('wabt' as string)).default;
  } catch {
    throw new ToolchainMissingError('wat', 'wabt is not installed', 'npm install --save-dev wabt');
  }
  const file = `${name}.wat`;
  const text = await readFile(join(dir, file), 'utf8');
  let module;
  try {
    module = (await wabt()).parseWat(file, text);
    module.resolveNames();
    module.validate();
  } catch (error) {
    throw new PluginBuildError('wat', (error as Error).message);
  }
  try {
    await writeFile(out, module.toBinary({}).buffer);
  } finally {
    module.destroy();
  }
}
