// Builds the hand-written WAT example plugin with wabt's wat2wasm (the wabt
// npm package, WebAssembly itself, so no native toolchain is needed).
// Imported by plugins/build.mjs; see plugins/README.md.
//
// The build is reproducible: the committed examples.wasm must be exactly what
// this source builds to, so it is written without debug names (the name
// section would only repeat the $labels of the source).
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const source = 'examples.wat';

export const name = 'wat';
export const output = 'wat/examples.wasm';

async function loadWabt() {
  const { default: wabtInit } = await import('wabt');
  return wabtInit();
}

export async function missing() {
  try {
    await import('wabt');
    return null;
  } catch {
    return 'the wabt npm package is not installed (run npm install)';
  }
}

export async function build(outFile) {
  const wabt = await loadWabt();
  const text = await readFile(join(here, source), 'utf8');
  let module;
  let binary;
  try {
    module = wabt.parseWat(source, text);
    module.resolveNames();
    module.validate();
    binary = module.toBinary({ log: false, write_debug_names: false }).buffer;
  } catch (error) {
    throw new Error(`wat2wasm failed to build ${output}:\n${error.message}`);
  } finally {
    module?.destroy();
  }
  await writeFile(outFile, binary);
}
