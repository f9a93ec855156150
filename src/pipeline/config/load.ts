import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isAlias, isCollection, isMap, isNode, isPair, isScalar, isSeq, LineCounter, parseDocument, Parser, visit, type CST, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { STAGE_TYPES, type AbiName } from '../../engine/abi/abi.js';
import { describe, MemoryLimitError, PluginHashMismatchError, UnresolvedImportError, WaspError } from '../../engine/errors.js';
import { compilePlugin } from '../../engine/plugin.js';
import { MISSING_DEAD_LETTER, pipelineFileSchema, pluginSchema, stageSchema, type PipelineConfig, type PipelineFile } from './schema.js';

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
type At = (offset: number | undefined, path: Path, message: string) => void;

export async function loadPipelineConfig(file: string, options: LoadOptions = {}): Promise<PipelineConfig> {
  return (await loadPipelineFile(file, options)).config;
}

export async function parsePipelineConfig(text: string, file: string, options: LoadOptions = {}): Promise<PipelineConfig> {
  return (await parsePipelineFile(text, file, options)).config;
}

/** The file as written (after defaults and ${VAR} substitution) beside the config made from it. */
export async function loadPipelineFile(file: string, options: LoadOptions = {}): Promise<{ file: PipelineFile; config: PipelineConfig }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new ConfigError(file, [{ file, line: 1, column: 1, path: '', message: `cannot read the file: ${(cause as Error).message}` }]);
  }
  return parsePipelineFile(text, file, options);
}

export async function parsePipelineFile(text: string, file: string, options: LoadOptions = {}): Promise<{ file: PipelineFile; config: PipelineConfig }> {
  const lines = new LineCounter();
  const problems: ConfigProblem[] = [];
  const at: At = (offset, path, message) => {
    const { line, col } = lines.linePos(offset ?? 0);
    problems.push({ file, line, column: col, path: formatPath(path), message });
  };
  const parser = new Parser(lines.addNewLine);
  let deep: number | undefined;
  try {
    deep = tooDeep(parser.parse(text));
  } catch (error) {
    // the parser recurses when it closes nested blocks: thousands of levels overflow the stack
    if (!(error instanceof RangeError)) throw error;
    deep = parser.offset;
  }
  if (deep !== undefined) at(deep, [], `nested deeper than ${MAX_DEPTH} levels`);
  if (problems.length > 0) throw new ConfigError(file, problems);

  // logLevel: keys the library must stringify are reported as unknown keys, not as process warnings.
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, logLevel: 'error' });
  for (const error of doc.errors) at(error.pos[0], [], error.message.split('\n')[0]!);
  if (problems.length > 0) throw new ConfigError(file, problems);
  checkStructure(doc, at);
  if (problems.length > 0) throw new ConfigError(file, problems);

  const substituted = substituteEnv(doc, options.env ?? process.env, at);
  let raw: unknown;
  try {
    // checkStructure bounds what aliases expand to, so the library's own guard (which knows no position) is off.
    raw = doc.toJS({ maxAliasCount: -1 }) ?? {};
  } catch (error) {
    at(undefined, [], `cannot read the document: ${describe(error)}`);
    throw new ConfigError(file, problems);
  }
  let parsed = pipelineFileSchema.safeParse(raw);
  // `ackWaitMs: ${ACK_WAIT}`: the value of a variable is text; where the key wants a number or a boolean, it becomes one
  if (!parsed.success && coerceSubstituted(doc, raw, parsed.error.issues, substituted)) parsed = pipelineFileSchema.safeParse(raw);
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
  const view = config ?? looseView(raw as Record<string, unknown>, file);
  await checkMeaning(view, options.checkPlugins ?? true, (path, message) => at(nodeOffset(doc, path), path, message));
  if (problems.length > 0 || config === undefined) throw new ConfigError(file, problems);
  return { file: parsed.data!, config };
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
  plugins: Record<string, { path: string; sha256?: string; abi?: AbiName; config?: Record<string, string>; timeoutMs?: number; memoryLimitPages?: number; maxOutputBytes?: number; wasi?: { files?: Record<string, string> } }>;
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
  return { nats: raw.nats ? {} : undefined, input: { kind: input && input.stream !== undefined ? 'stream' : 'other' }, deadLetter: raw.deadLetter ?? undefined, plugins, stages };
}

/** Deeper than any pipeline file needs (6 levels), shallow enough for every recursive pass over the document. */
const MAX_DEPTH = 64;
/** How many nodes aliases may add to the document: an anchor reused a few times is fine, a "billion laughs" is not. */
const MAX_ALIAS_NODES = 10_000;

/**
 * The offset of the first collection nested deeper than MAX_DEPTH, read from
 * the parser's tokens (the parser keeps its own stack). The library's composer
 * recurses once per level, and near the end of the stack it can take the
 * process down (V8 aborts compiling a regular expression) instead of throwing.
 */
function tooDeep(tokens: Iterable<CST.Token>): number | undefined {
  const stack: { token: CST.Token; depth: number }[] = [...tokens].reverse().map((token) => ({ token, depth: 0 }));
  while (stack.length > 0) {
    const { token, depth } = stack.pop()!;
    if (token.type === 'document') {
      if (token.value) stack.push({ token: token.value, depth: 1 });
    } else if (token.type === 'block-map' || token.type === 'block-seq' || token.type === 'flow-collection') {
      if (depth > MAX_DEPTH) return token.offset;
      for (let i = token.items.length - 1; i >= 0; i--) {
        const { key, value } = token.items[i]!;
        if (value) stack.push({ token: value, depth: depth + 1 });
        if (key) stack.push({ token: key, depth: depth + 1 });
      }
    }
  }
  return undefined;
}

/** A node as the document expands it: its node count and depth, aliases followed. */
interface Extent {
  size: number;
  height: number;
}

/** A collection being walked; `merge` marks a << value, `merged` the items of a << sequence. */
interface Frame {
  node: Node;
  depth: number;
  children: Child[];
  next: number;
  extent: Extent;
}
interface Child {
  node: unknown;
  path: Path;
  role: 'plain' | 'merge' | 'merged';
  /** where to point when the node itself is missing (an empty << value) */
  keyOffset: number | undefined;
}

/**
 * What the YAML library cannot turn into values, or only at the cost of the
 * process, found before it tries and reported where it stands: aliases to no
 * anchor or inside the node they name, aliases that blow the document up,
 * nesting deep enough to overflow the stack (directly or through aliases), and
 * << merges (YAML 1.1) of anything but maps. Iterative and in document order,
 * the order in which the library resolves aliases, so any depth the parser
 * accepted is walked safely.
 */
function checkStructure(doc: Document, at: At): void {
  const merges = doc.schema.tags.some((t) => t.tag === 'tag:yaml.org,2002:merge' && t.default === 'key');
  const anchors = new Map<string, Node>();
  const aliases = new Map<Node, Node>(); // alias -> its anchor, for << of an aliased sequence
  const extents = new Map<Node, Extent>(); // anchored nodes, once walked
  const open = new Set<Node>();
  const reported = { bomb: false, deep: false };
  let added = 0;
  const leaf: Extent = { size: 1, height: 1 };
  const offset = (node: unknown): number | undefined => (isNode(node) ? node.range?.[0] : undefined);
  const target = (node: unknown): unknown => (isAlias(node) ? aliases.get(node) : node);
  const notMergeable = (c: Child): void => at(offset(c.node) ?? c.keyOffset, c.path, '<< merges only a map, an alias of a map, or a sequence of them');

  const followAlias = (alias: Node & { source: string }, depth: number, path: Path): Extent => {
    const anchor = anchors.get(alias.source);
    if (anchor === undefined) {
      at(offset(alias), path, `alias *${alias.source} refers to no anchor &${alias.source} before it`);
      return leaf;
    }
    aliases.set(alias, anchor);
    const extent = extents.get(anchor);
    if (open.has(anchor) || extent === undefined) {
      at(offset(alias), path, `alias *${alias.source} is inside the node &${alias.source} it refers to`);
      return leaf;
    }
    if (depth + extent.height - 1 > MAX_DEPTH && !reported.deep) {
      at(offset(alias), path, `alias *${alias.source} nests the document deeper than ${MAX_DEPTH} levels`);
      reported.deep = true;
    }
    added += extent.size;
    if (added > MAX_ALIAS_NODES && !reported.bomb) {
      at(offset(alias), path, `alias *${alias.source} makes the aliases expand to more than ${MAX_ALIAS_NODES} nodes (an alias bomb?)`);
      reported.bomb = true;
    }
    return extent;
  };

  // Measures a scalar or an alias now; pushes a collection, measured once its children are.
  const stack: Frame[] = [];
  const enter = (c: Child, depth: number): Extent | undefined => {
    const node = c.node;
    if (!isNode(node)) {
      if (c.role !== 'plain') notMergeable(c);
      return { size: 0, height: 0 };
    }
    if (node.anchor) anchors.set(node.anchor, node);
    let extent: Extent | undefined = leaf;
    if (isAlias(node)) {
      extent = followAlias(node, depth, c.path);
    } else if (isCollection(node) && depth > MAX_DEPTH) {
      if (!reported.deep) at(offset(node), c.path, `nested deeper than ${MAX_DEPTH} levels`);
      reported.deep = true;
    } else if (isCollection(node)) {
      const mergeSeq = c.role === 'merge' && isSeq(node);
      const children = node.items.flatMap((item, i): Child[] => {
        if (!isPair(item)) return [{ node: item, path: [...c.path, i], role: mergeSeq ? 'merged' : 'plain', keyOffset: undefined }];
        const path = isSeq(node) ? [...c.path, i] : [...c.path, keyName(item.key)];
        if (mergeSeq) notMergeable({ node: item.key, path, role: 'merged', keyOffset: undefined });
        return [
          { node: item.key, path, role: 'plain', keyOffset: undefined },
          { node: item.value, path, role: merges && isMergeKey(item.key) ? 'merge' : 'plain', keyOffset: offset(item.key) },
        ];
      });
      open.add(node);
      stack.push({ node, depth, children, next: 0, extent: { size: 1, height: 1 } });
      extent = undefined;
    }
    if (c.role !== 'plain') {
      const source = target(node);
      const ok = isMap(source) || (c.role === 'merge' && isSeq(source) && (!isAlias(node) || source.items.every((i) => isMap(target(i)))));
      if (!ok && source !== undefined) notMergeable(c);
    }
    if (extent !== undefined && node.anchor) extents.set(node, extent);
    return extent;
  };

  const add = (frame: Frame | undefined, extent: Extent): void => {
    if (frame === undefined) return;
    frame.extent.size += extent.size;
    frame.extent.height = Math.max(frame.extent.height, extent.height + 1);
  };
  enter({ node: doc.contents, path: [], role: 'plain', keyOffset: undefined }, 1);
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    const child = frame.children[frame.next++];
    if (child === undefined) {
      stack.pop();
      open.delete(frame.node);
      if (frame.node.anchor) extents.set(frame.node, frame.extent);
      add(stack[stack.length - 1], frame.extent);
      continue;
    }
    const extent = enter({ ...child, keyOffset: child.keyOffset ?? offset(frame.node) }, frame.depth + 1);
    if (extent !== undefined) add(frame, extent);
  }
}

/** A << key, as the library recognizes one when the schema merges (a plain << scalar). */
function isMergeKey(key: unknown): boolean {
  if (!isScalar(key)) return false;
  const value = key.value;
  return (typeof value === 'symbol' && value.description === '<<') || (value === '<<' && (!key.type || key.type === 'PLAIN'));
}

function keyName(key: unknown): string {
  if (!isScalar(key)) return '?';
  return typeof key.value === 'symbol' ? (key.value.description ?? '') : String(key.value);
}

/**
 * ${NAME}, ${NAME:-default} and $$ in string values, reported where they stand. Returns the
 * scalars that were one ${...} and nothing else, which may become numbers or booleans.
 */
function substituteEnv(doc: Document, env: Record<string, string | undefined>, at: At): Set<Node> {
  const whole = new Set<Node>();
  visit(doc, {
    Scalar(_, node, path) {
      if (typeof node.value !== 'string' || !node.value.includes('$')) return;
      if (WHOLE_VARIABLE.test(node.value)) whole.add(node);
      node.value = node.value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (match, name?: string, fallback?: string) => {
        if (match === '$$') return '$';
        const value = Object.hasOwn(env, name!) ? env[name!] : undefined; // ${constructor} is no variable
        if (value !== undefined && value !== '') return value;
        if (fallback !== undefined) return fallback;
        at(node.range?.[0], pathOf(path), `environment variable ${name} is not set`);
        return match;
      });
    },
  });
  return whole;
}

const WHOLE_VARIABLE = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$/;

/**
 * Turns the text a whole ${...} gave into the number or boolean the schema wants where it stands
 * (read as YAML reads a plain scalar); anything else is left for the schema to report. True when
 * something changed.
 */
function coerceSubstituted(doc: Document, raw: unknown, issues: readonly z.core.$ZodIssue[], substituted: Set<Node>): boolean {
  let changed = false;
  for (const issue of issues) {
    const want = expectedScalar(issue);
    if (want === undefined) continue;
    const path = issue.path as Path;
    const node = doc.getIn(path, true);
    if (!isScalar(node) || !substituted.has(node)) continue;
    const parent = path.slice(0, -1).reduce<unknown>((v, key) => (v as Record<string | number, unknown> | undefined)?.[key], raw) as Record<string | number, unknown> | undefined;
    const key = path[path.length - 1]!;
    const text = parent?.[key];
    if (typeof text !== 'string') continue;
    const value = want === 'number' ? (YAML_NUMBER.test(text.trim()) ? Number(text.trim()) : undefined) : YAML_BOOLEAN[text.trim()];
    if (value === undefined) continue;
    parent![key] = value;
    changed = true;
  }
  return changed;
}

const YAML_NUMBER = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;
const YAML_BOOLEAN: Record<string, boolean | undefined> = { true: true, True: true, TRUE: true, false: false, False: false, FALSE: false };

/** The number or boolean an issue says was expected (also as one branch of a union, e.g. a pool size). */
function expectedScalar(issue: z.core.$ZodIssue): 'number' | 'boolean' | undefined {
  if (issue.code === 'invalid_type' && (issue.expected === 'number' || issue.expected === 'boolean')) return issue.expected as 'number' | 'boolean';
  if (issue.code === 'invalid_union') {
    for (const branch of issue.errors) {
      const found = branch.find((i) => i.path.length === 0 && i.code === 'invalid_type' && (i.expected === 'number' || i.expected === 'boolean'));
      if (found) return (found as { expected: 'number' | 'boolean' }).expected;
    }
  }
  return undefined;
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
async function checkMeaning(config: MeaningView, checkPlugins: boolean, problem: (path: Path, message: string) => void): Promise<void> {
  if (config.input.kind === 'stream' && config.nats === undefined) problem(['input', 'stream'], 'a stream input needs a NATS connection (nats:)');
  if (config.input.kind === 'stream' && config.deadLetter === undefined) problem(['input', 'stream'], MISSING_DEAD_LETTER);
  const seen = new Set<string>();
  config.stages.forEach((s, i) => {
    if (s === undefined) return;
    if (seen.has(s.name)) problem(['stages', i, 'name'], `another stage is already named ${s.name}`);
    seen.add(s.name);
    if (!Object.hasOwn(config.plugins, s.plugin)) problem(['stages', i, 'plugin'], `no plugin named ${s.plugin} is declared under plugins`);
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
      plugin = await compilePlugin(name, p.path, { sha256: p.sha256, abi: p.abi, config: p.config, timeoutMs: p.timeoutMs, memoryLimitPages: p.memoryLimitPages, maxOutputBytes: p.maxOutputBytes }, new Map());
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
  }
}
