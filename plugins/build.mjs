#!/usr/bin/env node
// Rebuilds the example plugins from source. Each language lives in its own
// folder with a build.mjs that exports { name, output, missing(), build(outFile) },
// `output` being relative to this folder. Plugins kept elsewhere in the repo
// (the example pipelines' plugin) have a build.mjs of the same shape, listed
// below with its path, and are built and checked along with the kits.
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));

// What `node plugins/build.mjs <name>` builds: the build script of each,
// relative to this folder.
const builds = {
  assemblyscript: 'assemblyscript/build.mjs',
  c: 'c/build.mjs',
  rust: 'rust/build.mjs',
  wat: 'wat/build.mjs',
  'extism-c': 'extism-c/build.mjs',
  'wasp-go-c': 'wasp-go-c/build.mjs',
  'text-pipeline': '../pipelines/text/build.mjs',
};

export const languages = Object.keys(builds);

export async function loadKit(language) {
  if (!Object.hasOwn(builds, language)) {
    throw new Error(`unknown language ${language}; one of: ${languages.join(', ')}`);
  }
  const kit = await import(join(here, builds[language]));
  return { ...kit, outputPath: join(here, kit.output) };
}

async function main(args) {
  const wanted = args.length > 0 ? args : languages;
  let failed = 0;
  for (const language of wanted) {
    if (!languages.includes(language)) {
      console.error(`unknown language ${language}; one of: ${languages.join(', ')}`);
      process.exit(2);
    }
    const kit = await loadKit(language);
    const missing = await kit.missing();
    if (missing) {
      console.error(`${language}: cannot build: ${missing}`);
      failed++;
      continue;
    }
    await kit.build(kit.outputPath);
    console.error(`${language}: built ${kit.output}`);
  }
  process.exit(failed > 0 ? 1 : 0);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main(process.argv.slice(2));
}
