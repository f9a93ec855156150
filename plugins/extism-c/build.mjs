// Builds plugin.c: A C plugin for ABI extism, written against Extism's kernel without a PDK.
// Imported by plugins/build.mjs; the C toolchain and flags are plugins/c's.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileC, missing } from '../c/build.mjs';

const here = dirname(fileURLToPath(import.meta.url));

export const name = 'extism-c';
export const output = 'extism-c/plugin.wasm';
export { missing };

export async function build(outFile) {
  await compileC(here, 'plugin.c', outFile, output);
}
