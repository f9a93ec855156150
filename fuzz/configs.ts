// Config fuzzing: mutants of the committed pipeline files, as text and as
// structure, go through parsePipelineConfig. Each must give a config or a
// ConfigError whose every problem has a position.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { ConfigError, parsePipelineConfig } from '../src/pipeline/config/load.js';
import type { PipelineConfig } from '../src/pipeline/config/schema.js';
import { describeError, root, type Mutant, type Verdict } from './cases.js';
import type { Rng } from './rng.js';

export const CONFIG_DIR = 'pipelines/text';
/** Where the mutants claim to live, so ./text.wasm resolves to the real plugin. */
export const CONFIG_FILE = join(root, CONFIG_DIR, 'fuzz-case.yaml');

export interface ConfigBase {
  name: string;
  text: string;
}

export function loadConfigBases(): ConfigBase[] {
  return readdirSync(join(root, CONFIG_DIR))
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => ({ name: `${CONFIG_DIR}/${f}`, text: readFileSync(join(root, CONFIG_DIR, f), 'utf8') }));
}

// --- Values worth trying ---

const NUMBERS = [
  '1e400', '-1e400', '1e308', '1e300', '9007199254740993', '99999999999999999999999999', '0x7fffffff', '0xffffffffffffffff', '-1', '-0', '0',
  '0.5', '.nan', '.inf', '-.inf', '0o777', '0b101', '1e-400', '2147483648', '4294967296', '65536', '65537', '1_000',
];
const SUBJECTS = ['"a.*.b"', 'a.>.b', '">"', '"*"', 'a b', '"a..b"', '".a"', '"a."', 'text.>', '"\\t"', '"a\\u0000b"', '" "'];
const PATHS = [
  './missing.wasm', '/dev/zero', '/dev/null', '.', '..', '/', '/proc/self/mem', './pipeline.yaml', '../../plugins/rust/examples.wasm',
  '../../plugins/wat/examples.wasm', '../../plugins/c/examples.wasm', '"./text.wasm\\0"', '""', '" "', './text.wasm/', '~/text.wasm',
];
const OTHERS = ['""', "''", '~', 'null', 'true', 'no', 'yes', 'on', '[]', '{}', '[1, 2]', '{a: 1}', '[[[]]]', '{ path: ./text.wasm }', '{ size: 0, mode: worker }', '{ size: 2, mode: thread }', '|\n  block\n', '>-\n  folded\n'];
const TAGS = [
  '!!js/function "function () {}"', '!!js/undefined ""', '!!binary AAAA', '!!binary "%%%"', '!!set {a, b}', '!!omap [a: 1]', '!!pairs [a: 1]',
  '!!timestamp 2001-12-14', '!!int "12"', '!!float "x"', '!!str 1', '!!map {}', '!!seq []', '!foo bar', '!<tag:yaml.org,2002:str> x', '!!null ""', '!!bool maybe',
];
const ENVS = [
  '${VAR}', '${VAR:-x}', '${VAR:-}', '$$', '${', '${}', '${A:-${B}}', '${constructor}', '${__proto__:-y}', '$VAR', '${1A}', '${VAR:-./text.wasm}',
  '${VAR:-1e400}', '$${VAR}', 'a${VAR}b${VAR2:-c}', '${toString}', '${VAR:-a.*.b}',
];
const CHARS = [':', '-', '[', ']', '{', '}', '&', '*', '!', '|', '>', '"', "'", '#', '%', '@', '`', ',', '?', '\t', '\n', '\r', '\0', ' ', '\\', '\u{1F600}', '\uFFFD', '\uFEFF', '\u2028', '\uD800', '\u0085', 'x', '1'];
const KEYS = ['colour', '__proto__', 'constructor', 'toString', '', ' ', 'name ', 'Name', '<<', '? x', 'plugins', 'stages', '1', 'null', 'true'];
const PROTO_NAMES = ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf', 'isPrototypeOf'];

function longString(rng: Rng): string {
  return 'x'.repeat(rng.pick([1000, 65536, 200_000]));
}

function scalar(rng: Rng): string {
  return rng.weighted<() => string>([
    [4, () => rng.pick(NUMBERS)],
    [3, () => rng.pick(SUBJECTS)],
    [3, () => rng.pick(PATHS)],
    [3, () => rng.pick(OTHERS)],
    [3, () => rng.pick(TAGS)],
    [3, () => rng.pick(ENVS)],
    [1, () => longString(rng)],
  ])();
}

function deepFlow(rng: Rng): string {
  const n = rng.pick([2, 10, 63, 64, 65, 100, 1000, 3000]);
  return rng.chance(0.5) ? `${'['.repeat(n)}${']'.repeat(n)}` : `${'{a: '.repeat(n)}1${'}'.repeat(n)}`;
}

/** Text after "key:" or "- " on a line: where a scalar or collection value stands. */
function valueSlots(lines: readonly string[]): { line: number; prefix: string }[] {
  const slots: { line: number; prefix: string }[] = [];
  lines.forEach((l, i) => {
    const m = /^(\s*(?:- )?[^:#\s][^:#]*:\s+|\s*- )(?!#)\S/.exec(l);
    if (m) slots.push({ line: i, prefix: m[1]! });
  });
  return slots;
}

type TextMutation = (rng: Rng, text: string) => [string, string] | undefined;

const withLines = (f: (rng: Rng, lines: string[]) => string | undefined): TextMutation => (rng, text) => {
  const lines = text.split('\n');
  const what = f(rng, lines);
  return what === undefined ? undefined : [lines.join('\n'), what];
};

const withSlot = (f: (rng: Rng, lines: string[], slot: { line: number; prefix: string }) => string): TextMutation =>
  withLines((rng, lines) => {
    const slots = valueSlots(lines);
    return slots.length === 0 ? undefined : f(rng, lines, rng.pick(slots));
  });

const setValue = (lines: string[], slot: { line: number; prefix: string }, value: string): void => {
  lines[slot.line] = `${slot.prefix}${value}`;
};

const textMutations: Record<string, TextMutation> = {
  deleteLine: withLines((rng, lines) => {
    const i = rng.int(lines.length);
    lines.splice(i, 1);
    return `deleteLine(${i + 1})`;
  }),
  duplicateLine: withLines((rng, lines) => {
    const i = rng.int(lines.length);
    lines.splice(rng.int(lines.length + 1), 0, lines[i]!);
    return `duplicateLine(${i + 1})`;
  }),
  swapLines: withLines((rng, lines) => {
    const i = rng.int(lines.length);
    const j = rng.int(lines.length);
    [lines[i], lines[j]] = [lines[j]!, lines[i]!];
    return `swapLines(${i + 1}, ${j + 1})`;
  }),
  copyBlock: withLines((rng, lines) => {
    const from = rng.int(lines.length);
    const n = rng.range(1, 6);
    const at = rng.int(lines.length + 1);
    lines.splice(at, 0, ...lines.slice(from, from + n));
    return `copyBlock(${from + 1}+${n} to ${at + 1})`;
  }),
  indent: withLines((rng, lines) => {
    const i = rng.int(lines.length);
    const change = rng.pick(['+1', '+2', '+4', '-1', '-2', 'tab']);
    const l = lines[i]!;
    lines[i] = change === 'tab' ? `\t${l}` : change.startsWith('+') ? `${' '.repeat(Number(change))}${l}` : l.slice(Math.min(-Number(change), l.length - l.trimStart().length));
    return `indent(${i + 1} ${change})`;
  }),
  comment: withLines((rng, lines) => {
    const i = rng.int(lines.length);
    lines[i] = rng.chance(0.5) ? `# ${lines[i]}` : `${lines[i]} # x`;
    return `comment(${i + 1})`;
  }),
  char: (rng, text) => {
    const pos = rng.int(text.length + 1);
    const c = rng.pick(CHARS);
    const replace = rng.chance(0.5);
    return [text.slice(0, pos) + c + text.slice(pos + (replace ? 1 : 0)), `${replace ? 'replaceChar' : 'insertChar'}(${pos} ${JSON.stringify(c)})`];
  },
  scalar: withSlot((rng, lines, slot) => {
    const v = scalar(rng);
    setValue(lines, slot, v);
    return `scalar(${slot.line + 1} ${JSON.stringify(v.slice(0, 30))})`;
  }),
  env: withSlot((rng, lines, slot) => {
    const v = rng.pick(ENVS);
    const old = lines[slot.line]!.slice(slot.prefix.length);
    setValue(lines, slot, rng.chance(0.5) ? v : `"${old.replace(/"/g, '')}${v}"`);
    return `env(${slot.line + 1} ${v})`;
  }),
  alias: withLines((rng, lines) => {
    const slots = valueSlots(lines);
    if (slots.length === 0) return undefined;
    const a = rng.pick(slots);
    const b = rng.pick(slots);
    const name = rng.pick(['a', 'x', 'plugins', 'nope']);
    const mode = rng.int(4);
    if (mode === 0) {
      lines[a.line] = `${a.prefix}&${name} ${lines[a.line]!.slice(a.prefix.length)}`;
      setValue(lines, b, `*${name}`);
    } else if (mode === 1) {
      setValue(lines, b, `*${name}`); // maybe no such anchor
    } else if (mode === 2) {
      setValue(lines, b, `&${name} [*${name}]`);
    } else {
      lines[a.line] = `${a.prefix}&${name} ${lines[a.line]!.slice(a.prefix.length)}`;
      lines.splice(rng.int(lines.length + 1), 0, `*${name}: 1`);
    }
    return `alias(${['anchor+alias', 'alias', 'self', 'alias key'][mode]} ${a.line + 1} ${b.line + 1})`;
  }),
  tag: withSlot((rng, lines, slot) => {
    const t = rng.pick(TAGS);
    setValue(lines, slot, t);
    return `tag(${slot.line + 1} ${t})`;
  }),
  merge: withLines((rng, lines) => {
    const i = rng.int(lines.length);
    const indent = /^\s*/.exec(lines[i]!)![0];
    const v = rng.pick(['*x', '{ a: 1 }', '5', '[*x, 1]', '', '[{ plugin: text }]', '!!omap [a: 1]']);
    lines.splice(i, 0, `${indent}<<: ${v}`);
    if (v.includes('*x')) lines.unshift('x: &x { function: upper }');
    if (rng.chance(0.6)) lines.unshift('%YAML 1.1', '---');
    return `merge(${i + 1} ${v})`;
  }),
  documents: (rng, text) => {
    const d = rng.pick(['%YAML 1.1\n---\n', '%YAML 1.2\n---\n', '%YAML 9.9\n---\n', '%TAG ! tag:x,2000:\n---\n', '---\n', '...\n']);
    return rng.chance(0.6) ? [d + text, `prepend(${JSON.stringify(d)})`] : [`${text}\n---\nname: b\n`, 'second document'];
  },
  nest: withSlot((rng, lines, slot) => {
    const v = deepFlow(rng);
    setValue(lines, slot, v);
    return `nest(${slot.line + 1} ${v.length / 2 | 0} chars)`;
  }),
  nestBlock: withLines((rng, lines) => {
    const n = rng.pick([10, 65, 300, 2000]);
    const at = rng.int(lines.length + 1);
    lines.splice(at, 0, ...Array.from({ length: n }, (_, i) => `${' '.repeat(i)}k${i}:`));
    return `nestBlock(${at + 1} ${n})`;
  }),
  garbage: (rng, text) => {
    const bytes = rng.bytes(rng.range(1, 64));
    const g = String.fromCharCode(...bytes);
    const pos = rng.int(text.length + 1);
    return rng.chance(0.1) ? [g, `garbage(whole ${bytes.length})`] : [text.slice(0, pos) + g + text.slice(pos), `garbage(${pos} +${bytes.length})`];
  },
  truncate: (rng, text) => {
    const n = rng.int(text.length);
    return [text.slice(0, n), `truncate(${n})`];
  },
  lineEndings: (rng, text) => {
    const e = rng.pick(['\r\n', '\r', '\u2028', '\u0085']);
    return [text.replace(/\n/g, e), `lineEndings(${JSON.stringify(e)})`];
  },
  bom: (_, text) => [`\uFEFF${text}`, 'bom'],
  quote: withSlot((rng, lines, slot) => {
    const old = lines[slot.line]!.slice(slot.prefix.length);
    const q = rng.pick(['"', "'"]);
    setValue(lines, slot, rng.chance(0.7) ? `${q}${old}${q}` : `${q}${old}`);
    return `quote(${slot.line + 1} ${q})`;
  }),
};

// --- Structural mutations: on the parsed value, written back as YAML ---

type Value = unknown;
type Key = string | number;

/** Every path in the value, each shared object (an alias to be, or a bomb) entered once. */
function paths(value: Value, prefix: Key[] = [], out: Key[][] = [], seen = new Set<object>()): Key[][] {
  out.push(prefix);
  if (value === null || typeof value !== 'object' || seen.has(value)) return out;
  seen.add(value);
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...prefix, i], out, seen));
  else for (const [k, v] of Object.entries(value)) paths(v, [...prefix, k], out, seen);
  return out;
}

function getAt(value: Value, path: readonly Key[]): Value {
  return path.reduce<Value>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<Key, Value>)[k] : undefined), value);
}

/** Sets an own property, even one named __proto__. */
function setAt(value: Value, path: readonly Key[], v: Value): Value {
  if (path.length === 0) return v;
  const parent = getAt(value, path.slice(0, -1));
  if (parent !== null && typeof parent === 'object') Object.defineProperty(parent, path[path.length - 1]!, { value: v, enumerable: true, writable: true, configurable: true });
  return value;
}

function isObject(v: Value): v is Record<string, Value> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function randomValue(rng: Rng, depth = 0): Value {
  return rng.weighted<() => Value>([
    [2, () => null],
    [2, () => rng.chance(0.5)],
    [3, () => rng.pick([0, 1, -1, 0.5, 2 ** 31, 2 ** 32, 2 ** 53 + 2, 1e300, -1e300, Number.MAX_VALUE, NaN, Infinity, -Infinity, -0])],
    [4, () => rng.pick(['', ' ', 'x', 'a.*.b', 'a b', '>', './text.wasm', './missing.wasm', '/dev/zero', 'upper', 'text', 'worker', 'thread', ...PROTO_NAMES, '${VAR}', '${VAR:-x}'])],
    [1, () => longString(rng)],
    [depth < 3 ? 2 : 0, () => Array.from({ length: rng.int(4) }, () => randomValue(rng, depth + 1))],
    [depth < 3 ? 2 : 0, () => Object.fromEntries(Array.from({ length: rng.int(4) }, () => [rng.pick([...KEYS, 'path', 'size', 'mode', 'subject']), randomValue(rng, depth + 1)]))],
  ])();
}

/** A "billion laughs": `levels` lists of `width` references to the list below, which stringify writes as anchors and aliases. */
function laughs(rng: Rng): Value {
  let level: Value = Array.from({ length: rng.range(2, 10) }, () => 'lol');
  const levels = rng.range(3, 9);
  const width = rng.range(2, 10);
  for (let i = 0; i < levels; i++) level = Array.from({ length: width }, () => level);
  return level;
}

type StructMutation = (rng: Rng, value: Value) => [Value, string] | undefined;

const structMutations: Record<string, StructMutation> = {
  set: (rng, v) => {
    const p = rng.pick(paths(v));
    return [setAt(v, p, randomValue(rng)), `set(${p.join('.')})`];
  },
  delete: (rng, v) => {
    const inner = paths(v).filter((x) => x.length > 0);
    if (inner.length === 0) return undefined;
    const p = rng.pick(inner);
    const parent = getAt(v, p.slice(0, -1));
    if (Array.isArray(parent)) parent.splice(p[p.length - 1] as number, 1);
    else if (parent !== null && typeof parent === 'object') delete (parent as Record<Key, Value>)[p[p.length - 1]!];
    return [v, `delete(${p.join('.')})`];
  },
  addKey: (rng, v) => {
    const objects = paths(v).filter((p) => isObject(getAt(v, p)));
    if (objects.length === 0) return undefined;
    const p = rng.pick(objects);
    const key = rng.pick(KEYS);
    return [setAt(v, [...p, key], randomValue(rng)), `addKey(${p.join('.')} ${JSON.stringify(key)})`];
  },
  wrap: (rng, v) => {
    const p = rng.pick(paths(v));
    const old = getAt(v, p);
    return [setAt(v, p, rng.chance(0.5) ? [old] : { x: old }), `wrap(${p.join('.')})`];
  },
  number: (rng, v) => {
    const numeric = paths(v).filter((p) => ['pool', 'size', 'maxAckPending', 'ackWaitMs', 'memoryLimitPages', 'maxOutputBytes', 'timeoutMs'].includes(String(p[p.length - 1])));
    const p = numeric.length > 0 ? rng.pick(numeric) : ['stages', 0, 'pool'];
    const n = rng.pick([1e300, -1, 0, 0.5, 2 ** 31, 2 ** 53 + 2, NaN, Infinity, Number.MAX_SAFE_INTEGER, 65537]);
    return [setAt(v, p, n), `number(${p.join('.')} = ${n})`];
  },
  protoName: (rng, v) => {
    if (!isObject(v)) return undefined;
    const name = rng.pick(PROTO_NAMES);
    const o = v as { plugins?: Record<string, Value>; stages?: { plugin?: string }[] };
    if (rng.chance(0.5) && o.plugins && typeof o.plugins === 'object' && o.plugins.text !== undefined) {
      setAt(o.plugins, [name], o.plugins.text);
      delete o.plugins.text;
      if (Array.isArray(o.stages)) for (const s of o.stages) if (s && typeof s === 'object' && s.plugin === 'text') s.plugin = name;
      return [v, `protoName(plugin renamed ${name})`];
    }
    if (Array.isArray(o.stages) && o.stages[0] && typeof o.stages[0] === 'object') o.stages[0].plugin = name;
    return [v, `protoName(stage plugin ${name})`];
  },
  duplicateStage: (rng, v) => {
    if (!isObject(v)) return undefined;
    const o = v as { stages?: Value[] };
    if (!Array.isArray(o.stages) || o.stages.length === 0) return undefined;
    o.stages.splice(rng.int(o.stages.length + 1), 0, structuredClone(rng.pick(o.stages)));
    return [v, 'duplicateStage'];
  },
  share: (rng, v) => {
    // the same object in two places: stringify writes an anchor and an alias
    const all = paths(v);
    const from = rng.pick(all);
    const to = rng.pick(all);
    const x = getAt(v, from);
    if (x === null || typeof x !== 'object' || to.length === 0) return undefined;
    return [setAt(v, to, x), `share(${from.join('.')} at ${to.join('.')})`];
  },
  bomb: (rng, v) => {
    const p = rng.chance(0.5) ? ['lol'] : rng.pick(paths(v));
    return [setAt(v, p, laughs(rng)), `bomb(${p.join('.')})`];
  },
  top: (rng) => {
    const v = rng.pick<Value>([null, 42, 'name', [], [1, 2], true, longString(rng)]);
    return [v, `top(${JSON.stringify(v)?.slice(0, 20)})`];
  },
};

const TEXT_WEIGHTS = Object.keys(textMutations).map((k) => [['scalar', 'char', 'alias', 'env'].includes(k) ? 3 : 1, k] as const);
const STRUCT_WEIGHTS = Object.keys(structMutations).map((k) => [['set', 'addKey', 'number', 'share'].includes(k) ? 3 : 1, k] as const);

/** A mutant of one of the pipeline files: text edits, or edits of its parsed value written back (then maybe a text edit). */
export function makeConfig(rng: Rng, bases: readonly ConfigBase[]): Mutant<string> {
  const base = rng.pick(bases);
  let text = base.text;
  const done: string[] = [];
  if (rng.chance(0.4)) {
    let value: Value = parse(base.text);
    for (let n = rng.range(1, 3); n > 0; n--) {
      const out = structMutations[rng.weighted(STRUCT_WEIGHTS)]!(rng, value);
      if (out === undefined) continue;
      [value, done[done.length]] = out;
    }
    try {
      text = stringify(value, { collectionStyle: rng.pick(['any', 'block', 'flow'] as const) });
    } catch (error) {
      done.push(`stringify failed: ${(error as Error).message}`);
    }
  }
  for (let n = done.length > 0 ? rng.int(2) : rng.weighted([[5, 1], [3, 2], [2, 4]] as const); n > 0; n--) {
    const out = textMutations[rng.weighted(TEXT_WEIGHTS)]!(rng, text);
    if (out === undefined) continue;
    [text, done[done.length]] = out;
  }
  return { input: text, description: `${base.name}: ${done.join('; ') || 'unchanged'}` };
}

// --- Running a mutant ---

/** A config or a ConfigError with positions; anything else breaks the contract. */
export async function runConfig(text: string, file = CONFIG_FILE): Promise<Verdict> {
  let config: PipelineConfig;
  try {
    config = await parsePipelineConfig(text, file, { env: {}, checkPlugins: true });
  } catch (error) {
    if (!(error instanceof ConfigError)) {
      return { ok: false, outcome: `threw ${error instanceof Error ? error.name : typeof error}`, detail: describeError(error) };
    }
    if (error.problems.length === 0) return { ok: false, outcome: 'ConfigError without problems', detail: error.message };
    const unplaced = error.problems.filter((p) => !(Number.isInteger(p.line) && p.line >= 1 && Number.isInteger(p.column) && p.column >= 1));
    if (unplaced.length > 0) return { ok: false, outcome: 'ConfigError without a position', detail: JSON.stringify(unplaced.slice(0, 3)) };
    return { ok: true, outcome: 'ConfigError', tally: { [messageClass(error.problems[0]!.message)]: 1 } };
  }
  const odd = inconsistency(config);
  if (odd !== undefined) return { ok: false, outcome: 'config: inconsistent', detail: odd };
  return { ok: true, outcome: 'config' };
}

/** What a config the loader accepted must satisfy for the pipeline to use it. */
function inconsistency(config: PipelineConfig): string | undefined {
  for (const s of config.stages) if (!Object.hasOwn(config.plugins, s.plugin)) return `stage ${s.name} uses plugin ${s.plugin}, which is not declared`;
  for (const [name, p] of Object.entries(config.plugins)) if (!p.path.startsWith('/')) return `plugin ${name} has a relative path ${p.path}`;
  return undefined;
}

/** A problem's message without its particulars, to count kinds of problems. */
function messageClass(message: string): string {
  return message.slice(0, 80).replace(/\d+/g, 'N').replace(/(["'`]).*?\1/g, '…').replace(/\S*\/\S*/g, '<path>').slice(0, 60);
}
