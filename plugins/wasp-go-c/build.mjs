// Builds plugin.c: A C plugin in the Go Wasp conventions (ABI wasp-go).
// Imported by plugins/build.mjs; the C toolchain and flags are plugins/c's.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileC, missing } from '../c/build.mjs';

const here = dirname(fileURLToPath(import.meta.url));

export const name = 'wasp-go-c';
export const output = 'wasp-go-c/plugin.wasm';
export { missing };

export async function build(outFile) {
  await compileC(here, 'plugin.c', outFile, output);
}
