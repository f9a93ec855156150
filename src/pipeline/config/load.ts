import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import { WaspError } from '../../engine/errors.js';
import { compilePlugin } from '../../engine/plugin.js';
import { pipelineFileSchema, pluginSchema, stageSchema, type PipelineConfig, type PipelineFile } from './schema.js';

/** One thing wrong with a config file, pointing at the line like a linter. */
export interface ConfigProblem {
  file: string;
  line: number;
  column: number;
  /** the key's path, e.g. stages[0].function */
  path: string;
  message: string;
}

/** A config file that cannot run; `problems` lists every problem found, not just the first. */
export class ConfigError extends WaspError {
  override name = 'ConfigError';
  constructor(
    readonly file: string,
    readonly problems: ConfigProblem[],
  ) {
    super(`${file}: ${problems.length} problem(s)\n${problems.map(formatProblem).join('\n')}`);
  }
}

export function formatProblem(p: ConfigProblem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.path || '(top)'}: ${p.message}`;
}

export interface LoadOptions {
  /** for ${VAR} substitution; process.env by default */
  env?: Record<string, string | undefined>;
  /** load and inspect plugin modules (default true) */
  checkPlugins?: boolean;
}

type Path = readonly (string | number)[];

export async function loadPipelineConfig(file: string, options: LoadOptions = {}): Promise<PipelineConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new ConfigError(file, [{ file, line: 1, column: 1, path: '', message: `cannot read the file: ${(cause as Error).message}` }]);
  }
  return parsePipelineConfig(text, file, options);
}

export async function parsePipelineConfig(text: string, file: string, options: LoadOptions = {}): Promise<PipelineConfig> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const problems: ConfigProblem[] = [];
  const at = (offset: number | undefined, path: Path, message: string): void => {
    const { line, col } = lines.linePos(offset ?? 0);
    problems.push({ file, line, column: col, path: formatPath(path), message });
  };
  for (const error of doc.errors) at(error.pos[0], [], error.message.split('\n')[0]!);
  if (problems.length > 0) throw new ConfigError(file, problems);

  substituteEnv(doc, options.env ?? process.env, at);
  const parsed = pipelineFileSchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) at(keyOffset(doc, issue.path, key), [...issue.path, key] as Path, 'unknown key');
      } else {
        at(nodeOffset(doc, issue.path as Path), issue.path as Path, issue.message);
      }
    }
  }
  // The checks across keys, files and plugins run even when the schema found problems, on the
  // parts that are well-formed on their own, so one run reports every problem.
  const config = parsed.success ? normalize(parsed.data, file) : undefined;
  const view = config ?? looseView(doc.toJS() ?? {}, file);
  await checkMeaning(view, options.checkPlugins ?? true, (path, message) => at(nodeOffset(doc, path), path, message));
  if (problems.length > 0 || config === undefined) throw new ConfigError(file, problems);
  return config;
}

/** What checkMeaning reads; a full config is one, and so is the well-formed part of a broken file. */
interface MeaningView {
  nats?: { creds?: string; tls?: { ca?: string; cert?: string; key?: string } };
  input: { kind: string };
  plugins: Record<string, { path: string; sha256?: string; memoryLimitPages?: number; maxOutputBytes?: number; wasi?: { files?: Record<string, string> } }>;
  /** holes where a stage is malformed, so indexes still match the file */
  stages: ({ name: string; plugin: string; function: string } | undefined)[];
}

function looseView(raw: Record<string, unknown>, file: string): MeaningView {
  const dir = dirname(resolve(file));
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(dir, p));
  const plugins: MeaningView['plugins'] = {};
  if (raw.plugins && typeof raw.plugins === 'object') {
    for (const [name, entry] of Object.entries(raw.plugins)) {
      const p = pluginSchema.safeParse(entry);
      if (p.success) plugins[name] = { ...p.data, path: abs(p.data.path), wasi: { files: Object.fromEntries(Object.entries(p.data.wasi?.files ?? {}).map(([k, v]) => [k, abs(v)])) } };
    }
  }
  const stages = Array.isArray(raw.stages) ? raw.stages.map((s) => (stageSchema.safeParse(s).success ? (s as MeaningView['stages'][number]) : undefined)) : [];
  const input = raw.input as { stream?: unknown } | undefined;
  return { nats: raw.nats ? {} : undefined, input: { kind: input && input.stream !== undefined ? 'stream' : 'other' }, plugins, stages };
}

/** ${NAME}, ${NAME:-default} and $$ in string values, reported where they stand. */
function substituteEnv(doc: Document, env: Record<string, string | undefined>, at: (offset: number | undefined, path: Path, message: string) => void): void {
  visit(doc, {
    Scalar(_, node, path) {
      if (typeof node.value !== 'string' || !node.value.includes('$')) return;
      node.value = node.value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (match, name?: string, fallback?: string) => {
        if (match === '$$') return '$';
        const value = env[name!];
        if (value !== undefined && value !== '') return value;
        if (fallback !== undefined) return fallback;
        at(node.range?.[0], pathOf(path), `environment variable ${name} is not set`);
        return match;
      });
    },
  });
}

function pathOf(ancestors: readonly unknown[]): Path {
  const out: (string | number)[] = [];
  for (let i = 0; i < ancestors.length; i++) {
    const node = ancestors[i];
    const next = ancestors[i + 1];
    if (isSeq(node) && next !== undefined) out.push(node.items.indexOf(next as never));
    else if (node && typeof node === 'object' && 'key' in node && isScalar((node as { key: unknown }).key)) {
      out.push(String((node as { key: { value: unknown } }).key.value));
    }
  }
  return out;
}

/** The offset of the node at a path, or of the deepest ancestor that exists (for a missing key: its map). */
function nodeOffset(doc: Document, path: Path): number | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = doc.getIn(path.slice(0, depth), true) as Node | undefined;
    if (node && typeof node === 'object' && 'range' in node && node.range) return node.range[0];
  }
  return doc.contents?.range?.[0];
}

function keyOffset(doc: Document, path: readonly PropertyKey[], key: string): number | undefined {
  const map = path.length === 0 ? doc.contents : (doc.getIn(path as Path, true) as Node | undefined);
  if (isMap(map)) {
    const pair = map.items.find((p) => isScalar(p.key) && p.key.value === key);
    if (pair && isScalar(pair.key)) return pair.key.range?.[0];
  }
  return nodeOffset(doc, path as Path);
}

function formatPath(path: Path): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
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
        ? { kind: 'stream', stream: input.stream, consumer: input.consumer!, subject: input.subject, maxAckPending: input.maxAckPending, ackWaitMs: input.ackWaitMs }
        : input.stdin
          ? { kind: 'stdin' }
          : { kind: 'subject', subject: input.subject!, queue: input.queue },
    stages: file.stages.map((s) => ({ ...s, pool: typeof s.pool === 'number' ? { size: s.pool, mode: 'inline' as const } : s.pool })),
    output: output.stdout ? { kind: 'stdout' } : { kind: 'subject', subject: output.subject! },
    deadLetter: file.deadLetter,
  };
}

const STAGE_TYPE = '(i32, i32) -> i32';

/** What the schema cannot see: references between keys, files on disk, and the plugins themselves. */
async function checkMeaning(config: MeaningView, checkPlugins: boolean, problem: (path: Path, message: string) => void): Promise<void> {
  if (config.input.kind === 'stream' && config.nats === undefined) problem(['input', 'stream'], 'a stream input needs a NATS connection (nats:)');
  const seen = new Set<string>();
  config.stages.forEach((s, i) => {
    if (s === undefined) return;
    if (seen.has(s.name)) problem(['stages', i, 'name'], `another stage is already named ${s.name}`);
    seen.add(s.name);
    if (!(s.plugin in config.plugins)) problem(['stages', i, 'plugin'], `no plugin named ${s.plugin} is declared under plugins`);
  });
  const mustExist = async (path: Path, file: string | undefined): Promise<boolean> => {
    if (file === undefined) return true;
    const ok = await stat(file).then((s) => s.isFile(), () => false);
    if (!ok) problem(path, `no such file: ${file}`);
    return ok;
  };
  await mustExist(['nats', 'creds'], config.nats?.creds);
  for (const key of ['ca', 'cert', 'key'] as const) await mustExist(['nats', 'tls', key], config.nats?.tls?.[key]);

  for (const [name, p] of Object.entries(config.plugins)) {
    for (const [sandbox, host] of Object.entries(p.wasi?.files ?? {})) {
      if (!sandbox.startsWith('/')) problem(['plugins', name, 'wasi', 'files', sandbox], 'sandbox paths must be absolute');
      await mustExist(['plugins', name, 'wasi', 'files', sandbox], host);
    }
    if (!checkPlugins || !(await mustExist(['plugins', name, 'path'], p.path))) continue;
    let plugin;
    try {
      plugin = await compilePlugin(name, p.path, { sha256: p.sha256, memoryLimitPages: p.memoryLimitPages, maxOutputBytes: p.maxOutputBytes }, new Map());
    } catch (error) {
      const e = error as WaspError;
      const key = e.name === 'PluginHashMismatchError' ? 'sha256' : e.name === 'MemoryLimitError' ? 'memoryLimitPages' : 'path';
      const message =
        e.name === 'UnresolvedImportError' && /has no callback/.test(e.message)
          ? `unsatisfied import ${(e as WaspError & { module: string; field: string }).module}.${(e as WaspError & { field: string }).field}: pipelines provide no host callbacks`
          : e.message;
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
      if (type !== STAGE_TYPE) problem(['stages', i, 'function'], `function ${s.function} has type ${type}; a stage needs ${STAGE_TYPE}`);
    });
  }
}
