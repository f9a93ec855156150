import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { STAGE_TYPES } from '../../engine/abi/abi.js';
import { MemoryLimitError, PluginHashMismatchError, UnresolvedImportError, type WaspError } from '../../engine/errors.js';
import { compilePlugin, type Plugin } from '../../engine/plugin.js';
import { pluginOptions, readWasiFiles } from '../plugin-options.js';
import { MISSING_DEAD_LETTER, pipelineFileSchema, pluginSchema, stageSchema, type PipelineConfig, type PipelineFile, type PluginConfig } from './schema.js';
import { checkCaseInputs } from './cases.js';
import { lintPipeline } from './lint.js';
import { ConfigError, formatPath, readYaml, type ConfigProblem, type Path } from './yaml.js';

export { ConfigError, formatProblem, formatWarning, type ConfigProblem } from './yaml.js';

export interface LoadOptions {
  /** for ${VAR} substitution; process.env by default */
  env?: Record<string, string | undefined>;
  /** load and inspect plugin modules (default true) */
  checkPlugins?: boolean;
}

export async function loadPipelineConfig(file: string, options: LoadOptions = {}): Promise<PipelineConfig> {
  return (await loadPipelineFile(file, options)).config;
}

export async function parsePipelineConfig(text: string, file: string, options: LoadOptions = {}): Promise<PipelineConfig> {
  return (await parsePipelineFile(text, file, options)).config;
}

/**
 * A pipeline file loaded and checked: the file as written (after defaults and ${VAR} substitution),
 * the config made from it, and its plugins as checking compiled them (hand them to
 * PipelineIO.plugins so they are not compiled again; empty with checkPlugins: false).
 */
export interface LoadedPipeline {
  file: PipelineFile;
  config: PipelineConfig;
  plugins: ReadonlyMap<string, Plugin>;
  /** what the file may mean without being wrong (see lint.ts): loops, an input nothing reaches, keys that change nothing */
  warnings: ConfigProblem[];
}

export async function loadPipelineFile(file: string, options: LoadOptions = {}): Promise<LoadedPipeline> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new ConfigError(file, [{ file, line: 1, column: 1, path: '', message: `cannot read the file: ${(cause as Error).message}` }]);
  }
  return parsePipelineFile(text, file, options);
}

export async function parsePipelineFile(text: string, file: string, options: LoadOptions = {}): Promise<LoadedPipeline> {
  const read = readYaml(text, file, pipelineFileSchema, options.env ?? process.env);
  if (read.raw === undefined) throw new ConfigError(file, read.problems);
  // The checks across keys, files and plugins run even when the schema found problems, on the
  // parts that are well-formed on their own, so one run reports every problem.
  const config = read.data && normalize(read.data, file);
  const view = config ?? looseView(read.raw as Record<string, unknown>, file);
  const plugins = await checkMeaning(view, options.checkPlugins ?? true, read.problem);
  if (config !== undefined && read.data?.tests !== undefined) checkCaseInputs(read.data.tests, config.input, (path, message) => read.problem(['tests', ...path], message));
  if (read.problems.length > 0 || config === undefined) throw new ConfigError(file, read.problems);
  const warnings = lintPipeline(config, read.raw).map((w) => ({ ...read.locate(w.path, w.message), kind: w.kind }));
  return { file: read.data!, config, plugins, warnings };
}

/**
 * A pipeline file that is already a value (a deployed revision, say): checked against the same
 * schema, with problems named by key path, and made into a config. References to files are not
 * checked here: whoever runs it supplies the modules.
 */
export function pipelineFromValue(value: unknown, file: string): PipelineConfig {
  const parsed = pipelineFileSchema.safeParse(value);
  if (!parsed.success) {
    throw new ConfigError(
      file,
      parsed.error.issues.map((issue) => ({ file, line: 1, column: 1, path: formatPath(issue.path as Path), message: issue.code === 'unrecognized_keys' ? `unknown key(s) ${issue.keys.join(', ')}` : issue.message })),
    );
  }
  return normalize(parsed.data, file);
}

/** What checkMeaning reads; a full config is one, and so is the well-formed part of a broken file. */
interface MeaningView {
  nats?: { creds?: string; tls?: { ca?: string; cert?: string; key?: string } };
  input: { kind: string };
  deadLetter?: unknown;
  plugins: Record<string, PluginConfig>;
  /** plugins declared but malformed (their problems said already): a stage naming one is not told it names none */
  malformedPlugins?: ReadonlySet<string>;
  /** holes where a stage is malformed, so indexes still match the file */
  stages: ({ name: string; plugin: string; function: string } | undefined)[];
}

function looseView(raw: Record<string, unknown>, file: string): MeaningView {
  const dir = dirname(resolve(file));
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(dir, p));
  const plugins: MeaningView['plugins'] = {};
  const malformedPlugins = new Set<string>();
  if (raw.plugins && typeof raw.plugins === 'object') {
    for (const [name, entry] of Object.entries(raw.plugins)) {
      const p = pluginSchema.safeParse(entry);
      if (!p.success) malformedPlugins.add(name);
      else plugins[name] = { ...p.data, path: abs(p.data.path), wasi: { ...p.data.wasi, files: Object.fromEntries(Object.entries(p.data.wasi?.files ?? {}).map(([k, v]) => [k, abs(v)])) } };
    }
  }
  const stages = Array.isArray(raw.stages) ? raw.stages.map((s) => (stageSchema.safeParse(s).success ? (s as MeaningView['stages'][number]) : undefined)) : [];
  const input = raw.input as { stream?: unknown } | undefined;
  return { nats: raw.nats ? {} : undefined, input: { kind: input && input.stream !== undefined ? 'stream' : 'other' }, deadLetter: raw.deadLetter ?? undefined, plugins, malformedPlugins, stages };
}


function normalize(file: PipelineFile, path: string): PipelineConfig {
  const dir = dirname(resolve(path));
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(dir, p));
  const { input, output, nats } = file;
  return {
    name: file.name,
    file: resolve(path),
    nats: nats && {
      ...nats,
      servers: typeof nats.servers === 'string' ? nats.servers.split(',').map((s) => s.trim()) : nats.servers,
      creds: nats.creds === undefined ? undefined : abs(nats.creds),
      tls: nats.tls && {
        ...nats.tls,
        ca: nats.tls.ca === undefined ? undefined : abs(nats.tls.ca),
        cert: nats.tls.cert === undefined ? undefined : abs(nats.tls.cert),
        key: nats.tls.key === undefined ? undefined : abs(nats.tls.key),
      },
    },
    plugins: Object.fromEntries(
      Object.entries(file.plugins).map(([name, p]) => [
        name,
        {
          ...p,
          path: abs(p.path),
          wasi: p.wasi && { ...p.wasi, files: p.wasi.files && Object.fromEntries(Object.entries(p.wasi.files).map(([k, v]) => [k, abs(v)])) },
        },
      ]),
    ),
    input:
      input.stream !== undefined
        ? {
            kind: 'stream',
            stream: input.stream,
            consumer: input.consumer!,
            subject: input.subject,
            maxAckPending: input.maxAckPending,
            ackWaitMs: input.ackWaitMs,
            maxDeliver: input.maxDeliver,
          }
        : input.stdin
          ? { kind: 'stdin' }
          : { kind: 'subject', subject: input.subject!, queue: input.queue, maxPending: input.maxPending, maxPendingBytes: input.maxPendingBytes },
    stages: file.stages.map((s) => ({ ...s, pool: typeof s.pool === 'number' ? { size: s.pool, mode: 'inline' as const } : s.pool })),
    output: output.stdout ? { kind: 'stdout' } : { kind: 'subject', subject: output.subject! },
    deadLetter: file.deadLetter && { subject: file.deadLetter.subject, core: file.deadLetter.core, discard: file.deadLetter.discard === true },
  };
}


/** What the schema cannot see: references between keys, files on disk, and the plugins themselves. */
async function checkMeaning(config: MeaningView, checkPlugins: boolean, problem: (path: Path, message: string) => void): Promise<Map<string, Plugin>> {
  const compiled = new Map<string, Plugin>();
  if (config.input.kind === 'stream' && config.nats === undefined) problem(['input', 'stream'], 'a stream input needs a NATS connection (nats:)');
  if (config.input.kind === 'stream' && config.deadLetter === undefined) problem(['input', 'stream'], MISSING_DEAD_LETTER);
  const seen = new Set<string>();
  config.stages.forEach((s, i) => {
    if (s === undefined) return;
    if (seen.has(s.name)) problem(['stages', i, 'name'], `another stage is already named ${s.name}`);
    seen.add(s.name);
    if (!Object.hasOwn(config.plugins, s.plugin) && !config.malformedPlugins?.has(s.plugin)) problem(['stages', i, 'plugin'], `no plugin named ${s.plugin} is declared under plugins`);
  });
  const mustExist = async (path: Path, file: string | undefined): Promise<boolean> => {
    if (file === undefined) return true;
    const found = await stat(file).then((s) => (s.isFile() ? 'file' : s.isDirectory() ? 'a directory' : 'not a regular file'), () => undefined);
    if (found === undefined) problem(path, `no such file: ${file}`);
    else if (found !== 'file') problem(path, `${file} is ${found}, not a file`);
    return found === 'file';
  };
  await mustExist(['nats', 'creds'], config.nats?.creds);
  for (const key of ['ca', 'cert', 'key'] as const) await mustExist(['nats', 'tls', key], config.nats?.tls?.[key]);

  for (const [name, p] of Object.entries(config.plugins)) {
    let filesExist = true;
    for (const [sandbox, host] of Object.entries(p.wasi?.files ?? {})) {
      if (!sandbox.startsWith('/')) problem(['plugins', name, 'wasi', 'files', sandbox], 'sandbox paths must be absolute');
      if (!(await mustExist(['plugins', name, 'wasi', 'files', sandbox], host))) filesExist = false;
    }
    if (!checkPlugins || !(await mustExist(['plugins', name, 'path'], p.path))) continue;
    let plugin;
    try {
      // compiled as the pipeline would compile it (a missing file is reported above), so the run can take it as it is
      const files = filesExist ? await readWasiFiles(p) : {};
      plugin = await compilePlugin(name, p.path, await pluginOptions(p, files), new Map());
    } catch (error) {
      const e = error as WaspError;
      const key = e instanceof PluginHashMismatchError ? 'sha256' : e instanceof MemoryLimitError ? 'memoryLimitPages' : 'path';
      const message =
        e instanceof UnresolvedImportError && e.problem === 'no-callback' ? `unsatisfied import ${e.module}.${e.field}: pipelines provide no host callbacks` : e.message;
      problem(['plugins', name, key], message);
      continue;
    }
    config.stages.forEach((s, i) => {
      if (s === undefined || s.plugin !== name) return;
      if (!plugin.hasFunction(s.function)) {
        problem(['stages', i, 'function'], `plugin ${name} exports no function ${s.function}`);
        return;
      }
      const t = plugin.functionType(s.function);
      const type = `(${t.params.join(', ')}) -> ${t.results.join(', ') || '()'}`;
      const wanted = STAGE_TYPES[plugin.abi];
      if (type !== wanted) problem(['stages', i, 'function'], `function ${s.function} has type ${type}; a stage of a ${plugin.abi} plugin needs ${wanted}`);
    });
    compiled.set(name, plugin);
  }
  return compiled;
}
