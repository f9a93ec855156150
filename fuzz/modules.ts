// Module fuzzing: mutants of the committed example modules go through
// registerPlugin, getInstance and a call of every export the harness can call
// without knowing it. Each must succeed or fail with a WaspError.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../src/engine/engine.js';
import { WaspError } from '../src/engine/errors.js';
import type { Instance } from '../src/engine/instance.js';
import type { Plugin, PluginOptions } from '../src/engine/plugin.js';
import { describeError, root, type Mutant, type Verdict } from './cases.js';
import type { Rng } from './rng.js';

export const MODULE_BASES = [
  'plugins/assemblyscript/examples.wasm',
  'plugins/c/examples.wasm',
  'plugins/rust/examples.wasm',
  'plugins/wat/examples.wasm',
  'pipelines/text/text.wasm',
] as const;

export interface Base {
  name: string;
  bytes: Uint8Array;
}

export function loadModuleBases(): Base[] {
  return MODULE_BASES.map((name) => ({ name, bytes: new Uint8Array(readFileSync(join(root, name))) }));
}

// --- The module's framing: sections, LEB128 ---

const HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
const SECTION_NAMES: Record<number, string> = {
  0: 'custom', 1: 'type', 2: 'import', 3: 'function', 4: 'table', 5: 'memory', 6: 'global',
  7: 'export', 8: 'start', 9: 'element', 10: 'code', 11: 'data', 12: 'datacount', 13: 'tag',
};

interface Section {
  id: number;
  content: Uint8Array;
}

function leb(value: number): number[] {
  const out: number[] = [];
  do {
    let b = value % 128;
    value = Math.floor(value / 128);
    if (value !== 0) b |= 0x80;
    out.push(b);
  } while (value !== 0);
  return out;
}

function readLeb(bytes: Uint8Array, pos: number): { value: number; next: number } | undefined {
  let value = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (pos >= bytes.length) return undefined;
    const b = bytes[pos++]!;
    value += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return { value, next: pos };
  }
  return undefined;
}

/** The sections of a well-framed module, or undefined when an earlier mutation broke the framing. */
function split(bytes: Uint8Array): Section[] | undefined {
  if (bytes.length < 8 || HEADER.some((b, i) => bytes[i] !== b)) return undefined;
  const sections: Section[] = [];
  let pos = 8;
  while (pos < bytes.length) {
    const id = bytes[pos]!;
    const size = readLeb(bytes, pos + 1);
    if (size === undefined || size.next + size.value > bytes.length) return undefined;
    sections.push({ id, content: bytes.subarray(size.next, size.next + size.value) });
    pos = size.next + size.value;
  }
  return sections;
}

function assemble(sections: readonly Section[], sizeOf: (s: Section, i: number) => number[] = (s) => leb(s.content.length)): Uint8Array {
  let length = HEADER.length;
  const heads = sections.map((s, i) => [s.id, ...sizeOf(s, i)]);
  for (const [i, s] of sections.entries()) length += heads[i]!.length + s.content.length;
  const out = new Uint8Array(length);
  out.set(HEADER, 0);
  let pos = HEADER.length;
  for (const [i, s] of sections.entries()) {
    out.set(heads[i]!, pos);
    pos += heads[i]!.length;
    out.set(s.content, pos);
    pos += s.content.length;
  }
  return out;
}

function concat(...parts: ArrayLike<number>[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

function sectionLabel(s: Section, i: number): string {
  return `${SECTION_NAMES[s.id] ?? `id ${s.id}`}#${i}`;
}

// --- Mutations ---

const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x40, 0x41, 0x60, 0x0b, 0x0c, 0x0d, 0x10, 0x1a, 0x20];
const INVALID_UTF8 = [[0xff], [0xfe, 0xff], [0xc0, 0x80], [0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]];
const SPECIAL_NAMES = [
  '', '_initialize', '_start', 'memory', 'wasp_alloc', 'wasp_free', '__proto__', 'constructor', 'toString', 'hasOwnProperty',
  'call_me', 'output', 'error', 'emit', 'log', 'subject', 'header', 'wasp', 'env', 'plugin', 'wasi_snapshot_preview1',
  'wasi_unstable', 'proc_exit', 'fd_write', 'sum', 'hello', 'trap', 'grow', 'callback', '\u{1F600}', 'a'.repeat(300),
];
const VALTYPE_BYTES = [0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f, 0x40, 0x60, 0x00];

type Mutation = (rng: Rng, bytes: Uint8Array) => [Uint8Array, string];

/** Byte edits anywhere in the module: the framing may break. */
const raw: Record<string, Mutation> = {
  flip: (rng, b) => {
    const pos = rng.int(b.length);
    const bit = rng.int(8);
    const out = b.slice();
    out[pos]! ^= 1 << bit;
    return [out, `flip(${pos} bit ${bit})`];
  },
  set: (rng, b) => {
    const pos = rng.int(b.length);
    const value = rng.pick(INTERESTING);
    const out = b.slice();
    out[pos] = value;
    return [out, `set(${pos} = 0x${value.toString(16)})`];
  },
  insert: (rng, b) => {
    const pos = rng.int(b.length + 1);
    const add = rng.chance(0.5) ? rng.bytes(rng.range(1, 8)) : Uint8Array.from({ length: rng.range(1, 4) }, () => rng.pick(INTERESTING));
    return [concat(b.subarray(0, pos), add, b.subarray(pos)), `insert(${pos} +${add.length})`];
  },
  delete: (rng, b) => {
    const pos = rng.int(b.length);
    const n = rng.range(1, 8);
    return [concat(b.subarray(0, pos), b.subarray(pos + n)), `delete(${pos} -${n})`];
  },
  truncate: (rng, b) => {
    const n = rng.int(b.length);
    return [b.slice(0, n), `truncate(${n})`];
  },
};

/** Edits that keep the framing: a section's content is changed and its size rewritten. */
const framed: Record<string, (rng: Rng, sections: Section[], bases: readonly Base[]) => [Section[] | Uint8Array, string] | undefined> = {
  inside: (rng, sections) => {
    // mostly the code, where a mutation changes what runs
    const code = sections.findIndex((s) => s.id === 10);
    const i = code >= 0 && rng.chance(0.6) ? code : rng.int(sections.length);
    const s = sections[i]!;
    if (s.content.length === 0) return undefined;
    const op = rng.pick(['flip', 'set', 'insert', 'delete'] as const);
    const label = (what: string): string => what.replace('(', `(${sectionLabel(s, i)}+`);
    if (s.id === 10 && (op === 'insert' || op === 'delete')) {
      // within one function body, whose size is rewritten
      const pos = rng.int(s.content.length);
      const content = op === 'insert' ? editCode(s.content, pos, 0, rng.bytes(rng.range(1, 4))) : editCode(s.content, pos, rng.range(1, 3), []);
      return content === undefined ? undefined : [replace(sections, i, { id: 10, content }), label(`${op}(body at ${pos})`)];
    }
    const [content, what] = raw[op]!(rng, s.content);
    return [replace(sections, i, { id: s.id, content }), label(what)];
  },
  opcode: (rng, sections) => {
    const i = sections.findIndex((s) => s.id === 10);
    if (i < 0) return undefined;
    const c = sections[i]!.content;
    const cls = rng.weighted(OPCODE_CLASSES.map((k, n) => [n === OPCODE_CLASSES.length - 1 ? 1 : 3, k] as const));
    const positions: number[] = [];
    for (let p = 0; p < c.length; p++) if (cls.includes(c[p]!)) positions.push(p);
    if (positions.length === 0) return undefined;
    const pos = rng.pick(positions);
    const content = c.slice();
    content[pos] = rng.pick(cls);
    return [replace(sections, i, { id: 10, content }), `opcode(code#${i}+${pos} 0x${c[pos]!.toString(16)} -> 0x${content[pos]!.toString(16)})`];
  },
  constant: (rng, sections) => {
    // an i32.const immediate (or a byte that only looks like one), body size rewritten
    const i = sections.findIndex((s) => s.id === 10);
    if (i < 0) return undefined;
    const c = sections[i]!.content;
    const positions: number[] = [];
    for (let p = 0; p < c.length - 1; p++) if (c[p] === 0x41) positions.push(p);
    if (positions.length === 0) return undefined;
    const pos = rng.pick(positions);
    let len = 1;
    while (len < 5 && pos + len < c.length && (c[pos + len]! & 0x80) !== 0) len++;
    const value = rng.pick(CONSTANTS);
    const content = editCode(c, pos + 1, len, sleb(value));
    if (content === undefined) return undefined;
    return [replace(sections, i, { id: 10, content }), `constant(code#${i}+${pos} = ${value})`];
  },
  data: (rng, sections) => {
    const i = sections.findIndex((s) => s.id === 11);
    if (i < 0 || sections[i]!.content.length === 0) return undefined;
    const content = sections[i]!.content.slice();
    const pos = rng.int(content.length);
    content[pos] = rng.chance(0.5) ? rng.pick(INTERESTING) : rng.u32() & 0xff;
    return [replace(sections, i, { id: 11, content }), `data(data#${i}+${pos} = 0x${content[pos]!.toString(16)})`];
  },
  duplicate: (rng, sections) => {
    const i = rng.int(sections.length);
    const at = rng.chance(0.5) ? i + 1 : rng.int(sections.length + 1);
    return [[...sections.slice(0, at), sections[i]!, ...sections.slice(at)], `duplicate(${sectionLabel(sections[i]!, i)} at ${at})`];
  },
  drop: (rng, sections) => {
    const i = rng.int(sections.length);
    return [sections.filter((_, j) => j !== i), `drop(${sectionLabel(sections[i]!, i)})`];
  },
  swap: (rng, sections) => {
    const i = rng.int(sections.length);
    const j = rng.int(sections.length);
    const out = sections.slice();
    [out[i], out[j]] = [out[j]!, out[i]!];
    return [out, `swap(${sectionLabel(sections[i]!, i)}, ${sectionLabel(sections[j]!, j)})`];
  },
  transplant: (rng, sections, bases) => {
    const base = rng.pick(bases);
    const donor = split(base.bytes);
    if (donor === undefined || donor.length === 0) return undefined;
    const d = rng.pick(donor);
    const i = sections.findIndex((s) => s.id === d.id);
    const out = i >= 0 ? replace(sections, i, d) : [...sections, d];
    return [out, `transplant(${SECTION_NAMES[d.id] ?? d.id} from ${base.name})`];
  },
  count: (rng, sections) => {
    // the vector count at the start of a section
    const candidates = sections.map((_, i) => i).filter((i) => [1, 2, 3, 5, 6, 7, 9, 10, 11].includes(sections[i]!.id));
    if (candidates.length === 0) return undefined;
    const i = rng.pick(candidates);
    const s = sections[i]!;
    const old = readLeb(s.content, 0);
    if (old === undefined) return undefined;
    const value = rng.pick([0, old.value + 1, Math.max(0, old.value - 1), 0xffffffff, 2 ** 32 + old.value, 2 ** 35 - 1, 0x7fffffff]);
    return [replace(sections, i, { id: s.id, content: concat(leb(value), s.content.subarray(old.next)) }), `count(${sectionLabel(s, i)} ${old.value} -> ${value})`];
  },
  name: (rng, sections) => {
    const candidates = sections.map((_, i) => i).filter((i) => sections[i]!.id === 2 || sections[i]!.id === 7);
    if (candidates.length === 0) return undefined;
    const i = rng.pick(candidates);
    const s = sections[i]!;
    const spans = nameSpans(s);
    if (spans.length === 0) return undefined;
    const span = rng.pick(spans);
    const old = s.content.subarray(span.bytes, span.end);
    let name: Uint8Array;
    let what: string;
    const mode = rng.int(3);
    if (mode === 0) {
      const bad = rng.pick(INVALID_UTF8);
      const at = rng.int(old.length + 1);
      name = concat(old.subarray(0, at), bad, old.subarray(at));
      what = `invalid UTF-8 ${bad.map((x) => x.toString(16)).join(' ')} at ${at}`;
    } else if (mode === 1) {
      const text = rng.pick(SPECIAL_NAMES);
      name = new TextEncoder().encode(text);
      what = JSON.stringify(text.length > 20 ? `${text.slice(0, 20)}...` : text);
    } else {
      name = rng.bytes(rng.int(12));
      what = `random ${name.length} bytes`;
    }
    const content = concat(s.content.subarray(0, span.start), leb(name.length), name, s.content.subarray(span.end));
    return [replace(sections, i, { id: s.id, content }), `name(${sectionLabel(s, i)} "${new TextDecoder().decode(old).slice(0, 20)}" -> ${what})`];
  },
  kind: (rng, sections) => {
    // an export's kind or index
    const i = sections.findIndex((s) => s.id === 7);
    if (i < 0) return undefined;
    const s = sections[i]!;
    const spans = nameSpans(s);
    if (spans.length === 0) return undefined;
    const span = rng.pick(spans);
    const content = s.content.slice();
    if (span.end >= content.length) return undefined;
    const kindByte = rng.chance(0.5);
    if (kindByte) content[span.end] = rng.pick([0, 1, 2, 3, 4, 5, 0x7f]);
    else if (span.end + 1 < content.length) content[span.end + 1] = rng.pick([0, 1, 2, 0x3f, 0x7f]);
    return [replace(sections, i, { id: 7, content }), `${kindByte ? 'kind' : 'index'}(export at ${span.start})`];
  },
  memory: (rng, sections) => {
    const limits = rng.pick([
      [1, 0x00, 0], [1, 0x01, 0, 0], [1, 0x00, ...leb(65536)], [1, 0x00, ...leb(65537)], [1, 0x01, 2, 1], [1, 0x02, 1],
      [1, 0x03, 1, 2], [1, 0x04, 1], [1, 0x05, 1, 2], [1, 0x01, 70, 80], [1, 0x01, 64, ...leb(0xffffffff)], [2, 0, 1, 0, 1], [0],
    ]);
    const i = sections.findIndex((s) => s.id === 5);
    const section = { id: 5, content: Uint8Array.from(limits) };
    const out = i >= 0 ? replace(sections, i, section) : insertInOrder(sections, section);
    return [out, `memory(${limits.map((x) => x.toString(16)).join(' ')})`];
  },
  start: (rng, sections) => {
    const index = rng.pick([0, 1, 2, 3, 5, 8, 13, 21, 40, 100, 0xffff]);
    return [insertInOrder(sections, { id: 8, content: Uint8Array.from(leb(index)) }), `start(${index})`];
  },
  custom: (rng, sections) => {
    const name = rng.chance(0.5) ? rng.pick(INVALID_UTF8) : rng.pick([[0x6e, 0x61, 0x6d, 0x65] /* name */, [...rng.bytes(rng.int(8))]]);
    const content = concat(leb(name.length), name, rng.bytes(rng.int(32)));
    const at = rng.int(sections.length + 1);
    return [[...sections.slice(0, at), { id: 0, content }, ...sections.slice(at)], `custom(at ${at}, name ${[...name].map((x) => x.toString(16)).join(' ')})`];
  },
  valtype: (rng, sections) => {
    const i = sections.findIndex((s) => s.id === 1);
    if (i < 0 || sections[i]!.content.length < 2) return undefined;
    const s = sections[i]!;
    const positions = [...s.content.keys()].filter((p) => VALTYPE_BYTES.includes(s.content[p]!));
    if (positions.length === 0) return undefined;
    const pos = rng.pick(positions);
    const content = s.content.slice();
    content[pos] = rng.pick(VALTYPE_BYTES);
    return [replace(sections, i, { id: 1, content }), `valtype(type+${pos} 0x${s.content[pos]!.toString(16)} -> 0x${content[pos]!.toString(16)})`];
  },
  sizeLeb: (rng, sections) => {
    // a section's own size, encoded wrongly: the framing breaks on purpose
    const i = rng.int(sections.length);
    const n = sections[i]!.content.length;
    const choices: [string, number[]][] = [
      ['+1', leb(n + 1)], ['-1', leb(Math.max(0, n - 1))], ['0', [0]], ['0xffffffff', leb(0xffffffff)],
      ['2^32+n', leb(2 ** 32 + n)], ['overlong 5', [...padLeb(n, 5)]], ['overlong 6', [...padLeb(n, 6)]], ['unterminated', [0x80, 0x80]],
    ];
    const [what, size] = rng.pick(choices);
    return [assemble(sections, (s, j) => (j === i ? size : leb(s.content.length))), `sizeLeb(${sectionLabel(sections[i]!, i)} ${what})`];
  },
};

/** Opcodes of one Wasm type each: swapping one for another keeps the code valid and changes what it does. */
const OPCODE_CLASSES = [
  [0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f], // i32 comparisons
  [0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78], // i32 binary arithmetic
  [0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a], // i64 comparisons
  [0x7c, 0x7d, 0x7e, 0x7f, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a], // i64 binary arithmetic
  [0x28, 0x2c, 0x2d, 0x2e, 0x2f], // i32 loads
  [0x36, 0x3a, 0x3b], // i32 stores
  [0x0c, 0x0d], // br, br_if: changes the stack, often invalid, sometimes a loop that never ends
];
const CONSTANTS = [0, 1, -1, 2, 7, 8, 63, -64, 255, 256, 1024, 0xffff, 65536, 0x7fffffff, -0x80000000, 0x10000000];

function sleb(value: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = value & 0x7f;
    value >>= 7;
    if ((value === 0 && (b & 0x40) === 0) || (value === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

/**
 * Replaces `remove` bytes at `pos` of a code section's content with `insert`,
 * rewriting the size of the function body that holds them, so the framing
 * stays valid whatever the lengths.
 */
function editCode(content: Uint8Array, pos: number, remove: number, insert: ArrayLike<number>): Uint8Array | undefined {
  const count = readLeb(content, 0);
  if (count === undefined) return undefined;
  let at = count.next;
  for (let n = 0; n < count.value; n++) {
    const size = readLeb(content, at);
    if (size === undefined) return undefined;
    const end = size.next + size.value;
    if (pos >= size.next && pos + remove <= end) {
      const body = concat(content.subarray(size.next, pos), insert, content.subarray(pos + remove, end));
      return concat(content.subarray(0, at), leb(body.length), body, content.subarray(end));
    }
    at = end;
  }
  return undefined;
}

/** n as an LEB128 of exactly `width` bytes (padded with continuation bits). */
function padLeb(n: number, width: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < width; i++) {
    const b = n % 128;
    n = Math.floor(n / 128);
    out.push(i < width - 1 ? b | 0x80 : b);
  }
  return out;
}

function replace(sections: readonly Section[], i: number, section: Section): Section[] {
  return sections.map((s, j) => (j === i ? section : s));
}

/** Where the spec's section order puts a known section: after the last section that must precede it. */
function insertInOrder(sections: readonly Section[], section: Section): Section[] {
  const order = [1, 2, 3, 4, 5, 13, 6, 7, 8, 9, 12, 10, 11];
  const rank = (id: number): number => order.indexOf(id);
  let at = 0;
  for (const [i, s] of sections.entries()) if (s.id !== 0 && rank(s.id) <= rank(section.id)) at = i + 1;
  return [...sections.slice(0, at), section, ...sections.slice(at)];
}

/** The names in an import or export section: where each length starts, where its bytes start and end. */
function nameSpans(s: Section): { start: number; bytes: number; end: number }[] {
  const c = s.content;
  const spans: { start: number; bytes: number; end: number }[] = [];
  const name = (pos: number): number | undefined => {
    const len = readLeb(c, pos);
    if (len === undefined || len.next + len.value > c.length) return undefined;
    spans.push({ start: pos, bytes: len.next, end: len.next + len.value });
    return len.next + len.value;
  };
  const count = readLeb(c, 0);
  if (count === undefined) return spans;
  let pos: number | undefined = count.next;
  for (let n = 0; n < count.value && pos !== undefined && pos < c.length; n++) {
    if (s.id === 7) {
      pos = name(pos);
      if (pos === undefined) break;
      pos = readLeb(c, pos + 1)?.next;
      continue;
    }
    pos = name(pos);
    if (pos === undefined) break;
    pos = name(pos);
    if (pos === undefined) break;
    const kind = c[pos++];
    if (kind === 0) pos = readLeb(c, pos)?.next;
    else if (kind === 1) pos = skipLimits(c, pos + 1);
    else if (kind === 2) pos = skipLimits(c, pos);
    else if (kind === 3) pos += 2;
    else break;
  }
  return spans;
}

function skipLimits(c: Uint8Array, pos: number): number | undefined {
  const flags = c[pos];
  if (flags === undefined) return undefined;
  const min = readLeb(c, pos + 1);
  if (min === undefined) return undefined;
  return flags & 1 ? readLeb(c, min.next)?.next : min.next;
}

const FRAMED_WEIGHTS: readonly (readonly [number, string])[] = [
  [12, 'inside'], [20, 'opcode'], [12, 'constant'], [6, 'data'], [3, 'duplicate'], [3, 'drop'], [2, 'swap'], [4, 'transplant'], [3, 'count'],
  [10, 'name'], [4, 'kind'], [5, 'memory'], [1, 'start'], [3, 'custom'], [4, 'valtype'], [4, 'sizeLeb'],
];
const RAW_WEIGHTS: readonly (readonly [number, string])[] = [[4, 'flip'], [3, 'set'], [2, 'insert'], [2, 'delete'], [1, 'truncate']];

/** A mutant of one of the bases: one to a few mutations, mostly framing-preserving so more of them reach the engine's later phases. */
export function makeModule(rng: Rng, bases: readonly Base[]): Mutant<Uint8Array> {
  const base = rng.pick(bases);
  let bytes = base.bytes;
  const done: string[] = [];
  const count = rng.weighted([[6, 1], [3, 2], [2, 3], [1, 5]] as const);
  for (let n = 0; n < count; n++) {
    const sections = rng.chance(0.85) ? split(bytes) : undefined;
    let result: [Uint8Array, string] | undefined;
    if (sections !== undefined && sections.length > 0) {
      const op = rng.weighted(FRAMED_WEIGHTS);
      const out = framed[op]!(rng, sections, bases);
      if (out !== undefined) result = [out[0] instanceof Uint8Array ? out[0] : assemble(out[0]), out[1]];
    }
    if (result === undefined && bytes.length > 0) result = raw[rng.weighted(RAW_WEIGHTS)]!(rng, bytes);
    if (result === undefined) continue;
    [bytes, done[done.length]] = result;
  }
  return { input: bytes, description: `${base.name}: ${done.join('; ') || 'unchanged'}` };
}

// --- Running a mutant ---

const INPUT = new Uint8Array([1, 2, 3]);

/**
 * registerPlugin, getInstance, then each export of type () -> * or
 * (i32, i32) -> i32 once. Any outcome but success or a WaspError breaks the
 * contract. A trapped instance is replaced, as a pool would.
 */
export async function runModule(bytes: Uint8Array, step: (what: string) => Promise<void> = async () => {}): Promise<Verdict> {
  const engine = new Engine();
  // the example plugins import this callback (see plugins/README.md); without it they would all stop at registration
  engine.addCallback('plugin', 'call_me', (name: string) => `Hello ${name}`, { params: ['string'], result: 'string' });
  // timeoutMs: a looping mutant ends in PluginTimeoutError; the harness's watchdog is for what the deadline misses
  const options: PluginOptions = { memoryLimitPages: 64, timeoutMs: 500 };
  let plugin: Plugin;
  await step('registerPlugin');
  try {
    plugin = await engine.registerPlugin('m', bytes, options);
  } catch (error) {
    return judge('register', error);
  }
  let instance: Instance;
  await step('getInstance');
  try {
    instance = await engine.getInstance('m');
  } catch (error) {
    return judge('instantiate', error);
  }
  const calls: Record<string, number> = {};
  for (const e of plugin.exports) {
    if (e.type === undefined) continue;
    const { params, results } = e.type;
    const nullary = params.length === 0;
    const block = params.length === 2 && params[0] === 'i32' && params[1] === 'i32' && results.length === 1 && results[0] === 'i32';
    if (!nullary && !block) continue;
    await step(`call ${JSON.stringify(e.name)}`);
    try {
      if (nullary) instance.call(e.name);
      else instance.callBytes(e.name, INPUT);
      calls.ok = (calls.ok ?? 0) + 1;
    } catch (error) {
      if (!(error instanceof WaspError)) return { ...judge(`call ${JSON.stringify(e.name)}`, error), tally: calls };
      calls[error.name] = (calls[error.name] ?? 0) + 1;
    }
    if (instance.needsReplacement) {
      instance.remove();
      await step('getInstance again');
      try {
        instance = await engine.getInstance('m');
      } catch (error) {
        return { ...judge('re-instantiate', error), tally: calls };
      }
    }
  }
  instance.remove();
  return { ok: true, outcome: 'ran', tally: calls };
}

function judge(phase: string, error: unknown): Verdict {
  if (error instanceof WaspError) return { ok: true, outcome: `${phase}: ${error.name}` };
  return { ok: false, outcome: `${phase}: ${error instanceof Error ? error.name : typeof error}`, detail: describeError(error) };
}
