// Builds rust/examples.wasm with Debian's Rust toolchain (see ../build.mjs).
import { execFile } from 'node:child_process';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));

export const name = 'rust';
export const output = 'rust/examples.wasm';

// Debian's rustc, not a rustup one that may come first on PATH: only the
// Debian one has the wasm32-wasi std, and the committed module is what this
// exact toolchain builds.
const RUSTC = '/usr/bin/rustc';
const CARGO = '/usr/bin/cargo';
const WASI_STD = '/usr/lib/rustlib/wasm32-wasi/lib';
const TARGET = 'wasm32-wasi';
const INSTALL = 'apt-get install -y rustc cargo libstd-rust-dev-wasm32';

export async function missing() {
  const absent = [];
  for (const [what, path] of [
    ['rustc', RUSTC],
    ['cargo', CARGO],
    ['the wasm32-wasi standard library', WASI_STD],
  ]) {
    try {
      await access(path);
    } catch {
      absent.push(`${what} (${path})`);
    }
  }
  return absent.length === 0 ? null : `missing ${absent.join(', ')}; install with: ${INSTALL}`;
}

export async function build(outFile) {
  const targetDir = join(here, 'target');
  const env = { ...process.env, RUSTC };
  // Settings from the environment would change the bytes, so the build
  // could no longer match the committed module.
  for (const key of Object.keys(env)) {
    if (/^(RUSTFLAGS|RUSTDOCFLAGS|RUSTC_WRAPPER|RUSTC_WORKSPACE_WRAPPER|CARGO_(PROFILE|BUILD|TARGET|ENCODED)_)/.test(key)) {
      delete env[key];
    }
  }
  // Cargo already names the workspace's sources by relative paths; the remap
  // makes sure the checkout's location cannot end up in the module either way.
  // Unlike RUSTFLAGS, this variable is not split on spaces (flags are
  // separated by 0x1f), so a checkout path with spaces stays one argument.
  env.CARGO_ENCODED_RUSTFLAGS = `--remap-path-prefix=${here}=.`;
  try {
    await promisify(execFile)(
      CARGO,
      ['build', '--offline', '--locked', '--release', '--target', TARGET, '--target-dir', targetDir],
      { cwd: here, env, maxBuffer: 16 * 1024 * 1024 },
    );
  } catch (error) {
    throw new Error(`cargo build failed:\n${error.stderr || error.message}`, { cause: error });
  }
  await mkdir(dirname(outFile), { recursive: true });
  // Read and write rather than copy, so the file does not inherit the
  // linker's executable bit.
  await writeFile(outFile, await readFile(join(targetDir, TARGET, 'release', 'examples.wasm')));
}
