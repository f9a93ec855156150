// Builds text.wasm, the plugin of the example text pipelines, from text.ts
// with asc and the AssemblyScript kit (plugins/assemblyscript/wasp.ts).
// Imported by plugins/build.mjs, which builds it with the example plugins
// (`node plugins/build.mjs text-pipeline`); same interface as the kits'
// build.mjs files, with `output` relative to plugins/.
//
// The build is reproducible: the committed text.wasm must be exactly what
// text.ts builds to. asc runs with this folder as its base directory, so the
// file names it may embed (in abort messages) are relative to it, and it
// writes no source map and no debug names.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile } from '../../plugins/assemblyscript/build.mjs';

const here = dirname(fileURLToPath(import.meta.url));

export const name = 'text-pipeline';
export const output = '../pipelines/text/text.wasm';

export const flags = [
  'text.ts',
  '--baseDir', here,
  '-O3',
  // As for the kit's examples (plugins/assemblyscript/build.mjs): TLSF plus
  // the incremental GC, so wasp_alloc works and nobody has to call __collect.
  '--runtime', 'incremental',
  // The host provides no `env`: aborts go to wasp.error, then trap. asc names
  // an element by its file's path relative to the base directory, without
  // the extension, so the kit is `../../plugins/assemblyscript/wasp` here.
  '--use', 'abort=../../plugins/assemblyscript/wasp/waspAbort',
];

export { missing } from '../../plugins/assemblyscript/build.mjs';

export function build(outFile) {
  return compile(flags, 'text.wasm', outFile, output);
}
