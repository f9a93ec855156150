// Builds the C example plugin (examples.c + wasp.h) with clang and wasi-libc.
// Imported by plugins/build.mjs; see plugins/README.md.
//
// The build is reproducible: the committed examples.wasm must be exactly what
// this source builds to on any machine with the same toolchain. So clang runs
// in this folder on relative paths (nothing in the module depends on where the
// checkout is), without debug info, and the linker strips the custom sections
// (names, producers, target features), which carry nothing the host needs.
import { execFile } from 'node:child_process';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));

export const name = 'c';
export const output = 'c/examples.wasm';

// Debian's wasi-libc installs into /usr (include/wasm32-wasi, lib/wasm32-wasi).
// WASI_SYSROOT points elsewhere, e.g. at a wasi-sdk's share/wasi-sysroot.
const sysroot = process.env.WASI_SYSROOT || '/usr';
const clang = process.env.CLANG || 'clang';
const target = ['--target=wasm32-wasi', `--sysroot=${sysroot}`];
const installHint = 'apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32';

const compileFlags = [
  ...target,
  '-O2',
  '-g0',
  '-std=c11',
  '-Wall',
  '-Wextra',
  '-DNDEBUG', // assert() would embed __FILE__
];
// Linking is a separate step with no -O flag: clang's driver runs wasm-opt on
// an optimized link whenever one is on PATH (binaryen, or node_modules/.bin),
// which would make the output depend on the machine.
const linkFlags = [
  ...target,
  '-mexec-model=reactor', // a library: exports _initialize, no _start
  '-Wl,--strip-all',
];

async function exists(path) {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

// Asks clang a -print-* question; null when clang cannot run.
async function ask(question) {
  try {
    const { stdout } = await run(clang, [...target, question]);
    return stdout.trim();
  } catch {
    return null;
  }
}

// Where the linker clang would run lives: -print-prog-name answers with a full
// path when it finds one next to clang, else the bare name, looked up in PATH.
async function findLinker() {
  const linker = await ask('-print-prog-name=wasm-ld');
  if (!linker) return false;
  if (linker.includes('/')) return exists(linker);
  try {
    await run(linker, ['--version']);
    return true;
  } catch {
    return false;
  }
}

export async function missing() {
  if ((await ask('--version')) === null) {
    return `clang not found (${installHint})`;
  }
  const absent = [];
  if (!(await findLinker())) absent.push('wasm-ld (lld)');
  const headers = join(sysroot, 'include', 'wasm32-wasi', 'stdlib.h');
  const libc = join(sysroot, 'lib', 'wasm32-wasi', 'libc.a');
  if (!(await exists(headers)) || !(await exists(libc))) {
    absent.push(`the WASI sysroot in ${sysroot} (wasi-libc)`);
  }
  const builtins = await ask('-print-libgcc-file-name');
  if (!builtins || !(await exists(builtins))) {
    absent.push(`the wasm32 compiler-rt builtins${builtins ? ` (${builtins})` : ''}`);
  }
  if (absent.length === 0) return null;
  return `missing ${absent.join(', ')} (${installHint})`;
}

export async function build(outFile) {
  await compileC(here, 'examples.c', outFile, output);
}

/**
 * Builds one C file in `dir` (a relative name, so that nothing depends on where the checkout
 * is) into a reactor module at outFile, reproducibly; the other C plugins (plugins/extism-c,
 * plugins/wasp-go-c) build with it too.
 */
export async function compileC(dir, source, outFile, label) {
  const tmp = await mkdtemp(join(tmpdir(), 'wasp-c-'));
  const object = join(tmp, 'plugin.o');
  try {
    await run(clang, [...compileFlags, '-c', '-o', object, source], { cwd: dir });
    await run(clang, [...linkFlags, '-o', outFile, object], { cwd: dir });
  } catch (error) {
    const detail = (error.stderr || '').trim() || error.message;
    throw new Error(`clang failed to build ${label}:\n${detail}`);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
