#!/usr/bin/env node
// Rebuilds the example plugins from source. Each language lives in its own
// folder with a build.mjs that exports { name, output, missing(), build(outFile) }.
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
export const languages = ['assemblyscript', 'c', 'rust', 'wat'];

export async function loadKit(language) {
  const kit = await import(join(here, language, 'build.mjs'));
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
