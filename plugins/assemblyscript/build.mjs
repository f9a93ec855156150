// Builds the AssemblyScript example plugin (examples.ts + wasp.ts) with asc.
// Imported by plugins/build.mjs; see plugins/README.md.
//
// The build is reproducible: the committed examples.wasm must be exactly what
// this source builds to. asc runs with this folder as its base directory, so
// the file names it embeds (in abort messages) do not depend on where the
// checkout is, and it writes no source map and no debug names.
import { writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export const name = 'assemblyscript';
export const output = 'assemblyscript/examples.wasm';

export const flags = [
  'examples.ts',
  '--baseDir', here,
  '-O3',
  // TLSF plus the incremental GC: heap.alloc/heap.free (wasp_alloc) keep
  // working, and garbage is collected without the host calling __collect,
  // which the minimal runtime would need.
  '--runtime', 'incremental',
  // The host provides no `env`: aborts go to wasp.error, then trap.
  '--use', 'abort=wasp/waspAbort',
];

// The package only has an "import" export for asc, so require.resolve cannot
// find it: loading it is the check.
async function loadAsc() {
  const { default: asc } = await import('assemblyscript/asc');
  return asc;
}

export async function missing() {
  try {
    await loadAsc();
    return null;
  } catch {
    return 'the assemblyscript npm package is not installed (run npm install)';
  }
}

/**
 * Compiles one AssemblyScript entry file with asc, keeping the binary in
 * memory so outFile can be anywhere. Shared with the example pipelines'
 * plugin (pipelines/text/build.mjs).
 */
export async function compile(ascFlags, entryOutput, outFile, label) {
  const asc = await loadAsc();
  const stdout = asc.createMemoryStream();
  const stderr = asc.createMemoryStream();
  let binary = null;
  const { error } = await asc.main([...ascFlags, '--outFile', entryOutput], {
    stdout,
    stderr,
    writeFile(filename, contents) {
      if (filename === entryOutput) binary = contents;
    },
  });
  if (error || binary === null) {
    const detail = stderr.toString().trim() || (error ? error.message : 'no output');
    throw new Error(`asc failed to build ${label}:\n${detail}`);
  }
  await writeFile(outFile, binary);
}

export function build(outFile) {
  return compile(flags, 'examples.wasm', outFile, output);
}
