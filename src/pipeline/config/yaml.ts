// Reading a YAML file checked against a schema, with every problem pointed at its line and
// column: what the pipeline loader and the test-case loader share. The YAML library is guarded
// against documents that would take the process down (see checkStructure).
import { isAlias, isCollection, isMap, isNode, isPair, isScalar, isSeq, LineCounter, parseDocument, Parser, visit, type CST, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { describe, WaspError } from '../../engine/errors.js';

/** One thing wrong with a config file, pointing at the line like a linter. */
export interface ConfigProblem {
  file: string;
  line: number;
  column: number;
  /** the key's path, e.g. stages[0].function */
  path: string;
  message: string;
  /** a warning's kind (see lint.ts); absent on a problem */
  kind?: string;
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

/** A warning, pointed at like a problem. */
export function formatWarning(p: ConfigProblem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.path || '(top)'}: warning: ${p.message}`;
}

export type Path = readonly (string | number)[];
type At = (offset: number | undefined, path: Path, message: string) => void;

/** A document read against a schema: its value when the schema took it, and every problem found so far. */
export interface YamlRead<T> {
  doc: Document;
  /** the document as plain values, after ${VAR} substitution; undefined when it could not be read at all */
  raw: unknown;
  /** the schema's output; undefined when the schema found problems */
  data: T | undefined;
  problems: ConfigProblem[];
  /** adds a problem pointed at the node at a path (or its deepest ancestor that exists) */
  problem(path: Path, message: string): void;
  /** the same pointer, for a warning */
  locate(path: Path, message: string): ConfigProblem;
}

/**
 * Parses YAML text, guards the parser against hostile documents, substitutes ${VAR}s and checks
 * the result against a schema. Stops early (with `raw` undefined) only when the document cannot
 * be read; schema problems are collected with `raw` still given, for checks of the well-formed parts.
 */
export function readYaml<S extends z.ZodType>(text: string, file: string, schema: S, env: Record<string, string | undefined>): YamlRead<z.output<S>> {
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
  // logLevel: keys the library must stringify are reported as unknown keys, not as process warnings.
  const doc = parseDocument(deep === undefined ? text : '', { prettyErrors: false, uniqueKeys: true, logLevel: 'error' });
  const locate = (path: Path, message: string): ConfigProblem => {
    const { line, col } = lines.linePos(nodeOffset(doc, path) ?? 0);
    return { file, line, column: col, path: formatPath(path), message };
  };
  const read: YamlRead<z.output<S>> = { doc, raw: undefined, data: undefined, problems, problem: (path, message) => problems.push(locate(path, message)), locate };
  if (problems.length > 0) return read;
  for (const error of doc.errors) at(error.pos[0], [], error.message.split('\n')[0]!);
  if (problems.length > 0) return read;
  checkStructure(doc, at);
  if (problems.length > 0) return read;

  const substituted = substituteEnv(doc, env, at);
  let raw: unknown;
  try {
    // checkStructure bounds what aliases expand to, so the library's own guard (which knows no position) is off.
    raw = doc.toJS({ maxAliasCount: -1 }) ?? {};
  } catch (error) {
    at(undefined, [], `cannot read the document: ${describe(error)}`);
    return read;
  }
  read.raw = raw;
  let parsed = schema.safeParse(raw);
  // `ackWaitMs: ${ACK_WAIT}`: the value of a variable is text; where the key wants a number or a boolean, it becomes one
  if (!parsed.success && coerceSubstituted(doc, raw, parsed.error.issues, substituted)) parsed = schema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues.flatMap(withinUnion)) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) at(keyOffset(doc, issue.path, key), [...issue.path, key] as Path, 'unknown key');
      } else {
        at(nodeOffset(doc, issue.path as Path), issue.path as Path, issue.message);
      }
    }
  } else {
    read.data = parsed.data;
  }
  return read;
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

/**
 * A union's "Invalid input" as what went wrong inside the one branch the value has the shape of
 * (a pool given as a map with a bad mode: the map's problem, not that it is no number).
 */
function withinUnion(issue: z.core.$ZodIssue): z.core.$ZodIssue[] {
  if (issue.code !== 'invalid_union') return [issue];
  const shaped = issue.errors.filter((branch) => branch.length > 0 && branch.every((i) => i.path.length > 0 || i.code === 'custom'));
  if (shaped.length !== 1) return [issue];
  return shaped[0]!.map((i) => ({ ...i, path: [...issue.path, ...i.path] }) as z.core.$ZodIssue).flatMap(withinUnion);
}

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

export function formatPath(path: Path): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}
