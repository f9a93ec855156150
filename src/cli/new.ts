import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import type { CommandIO } from './command.js';
import { parseCommandArgs } from './fleet-connect.js';
import { copyKit } from './scaffold/kits.js';
import { LANGUAGES, MANIFEST, newPipeline, pipelineFile, readme, sources, type Language, type PluginManifest } from './scaffold/templates.js';
import { UsageError } from './usage.js';

const NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;

/**
 * `wasp new plugin NAME --lang c|rust|as|wat`: a plugin project in ./NAME, ready for `wasp build`
 * (the kit, an example stage, a pipeline with test cases, a README). `wasp new pipeline NAME`: a
 * pipeline file with every key explained.
 */
export async function newCommand(argv: string[], io: CommandIO): Promise<number> {
  const { positionals, values } = parseCommandArgs(argv, { lang: { type: 'string' }, plugin: { type: 'string' }, function: { type: 'string' } }, 'new');
  const [what, name, ...rest] = positionals;
  if (what !== 'plugin' && what !== 'pipeline') throw new UsageError('wasp new makes a plugin or a pipeline: wasp new plugin NAME --lang LANG, wasp new pipeline NAME');
  if (name === undefined || rest.length > 0) throw new UsageError(`wasp new ${what} takes one NAME`);
  if (!NAME.test(name)) throw new UsageError(`${name}: a name starts with a letter and has letters, digits, - and _ only`);
  return what === 'plugin' ? newPlugin(name, values.lang as string | undefined, io) : newPipelineFile(name, values, io);
}

async function newPlugin(name: string, lang: string | undefined, io: CommandIO): Promise<number> {
  if (lang === undefined || !LANGUAGES.includes(lang as Language)) throw new UsageError(`--lang must be one of ${LANGUAGES.join(', ')}${lang === undefined ? '' : `, not ${lang}`}`);
  const dir = join(process.cwd(), name);
  const present = await readdir(dir).catch(() => undefined);
  if (present !== undefined && present.length > 0) {
    io.stderr.write(`error: ${name} exists and is not empty: nothing written\n`);
    return 1;
  }
  const manifest: PluginManifest = { name, lang: lang as Language, output: `${name}.wasm` };
  const files: Record<string, string> = {
    ...sources(name, manifest.lang),
    [MANIFEST]: `${JSON.stringify(manifest, null, 2)}\n`,
    'pipeline.yaml': pipelineFile(name, manifest.output),
    'README.md': readme(name, manifest.lang),
  };
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  const kit = await copyKit(manifest.lang, dir);
  io.stdout.write(`wrote ${relative(process.cwd(), dir)}/: ${[...Object.keys(files), ...kit].sort().join(', ')}\nnext: cd ${name} && npx wasp build && npx wasp test .\n`);
  return 0;
}

async function newPipelineFile(name: string, values: Record<string, string | boolean | undefined>, io: CommandIO): Promise<number> {
  const file = join(process.cwd(), `${name}.yaml`);
  const module = (values.plugin as string | undefined) ?? './plugin.wasm';
  try {
    // wx: an existing file is never overwritten
    await writeFile(file, newPipeline(name, module, (values.function as string | undefined) ?? 'upper'), { flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    io.stderr.write(`error: ${name}.yaml exists: nothing written\n`);
    return 1;
  }
  io.stdout.write(`wrote ${name}.yaml${values.plugin === undefined ? ' (its plugin path is ./plugin.wasm: point it at your module, or pass --plugin FILE)' : ''}\n`);
  return 0;
}
