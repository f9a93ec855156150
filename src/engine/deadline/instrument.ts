// Rewrites a Wasm module so that a running call can be stopped at a deadline.
//
// JavaScript cannot interrupt a synchronous WebAssembly call, so the module is
// made to ask: it counts work in a counter and, when the counter runs out,
// calls the host import `wasp:deadline`.`check`, which looks at the clock and
// returns the next allowance, or a value below 1 when the deadline has passed,
// upon which the inserted code executes `unreachable`. That trap is not an
// exception, so no catch_all in the plugin can swallow it; the host knows it
// said no and turns the trap into its own error.
//
// Check points, each "counter -= cost; if (counter < 1) { counter = check();
// if (counter < 1) unreachable }":
//   - the entry of every function that has a loop, lies on a cycle of the
//     call graph, or could otherwise run too much unchecked work through its
//     calls (a global counter, cost 1; call-graph.ts decides which):
//     recursion cannot run unchecked, nor can loops called from loops
//     multiply. Functions that only call, off every cycle, are left alone;
//   - the start of every loop body (a function-local counter, initialised to
//     `steps` at entry, cost 1): a local stays in a register in V8's
//     optimising tier, where a global would be a load and a store. The loop
//     is wrapped in blocks (see WRAPPER_LABELS) so that the call asking for
//     more sits after it rather than in it;
//   - before a `call` followed by `unreachable` (an abort or a panic: the
//     global counter, cost 1), which the call graph leaves out;
//   - before memory.fill/copy/init and table.fill/copy/init (the global
//     counter, cost (size >>> 16) + 1, size being the operand on top of the
//     stack).
// Functions with neither loops, bulk operations nor aborting calls, and off
// every cycle, are left byte for byte as they were, but for the index of
// the functions they call.
//
// The check import is appended after the module's function imports, so every
// defined function's index goes up by one: calls, return calls, ref.func (in
// code and constant expressions), exports, the start function, element
// segments and the function and local names of the `name` section follow.
// The counter global and the new locals are appended last, so no other index
// changes.
//
// Between two checks a function can still run up to `steps` iterations of its
// loops per call, and up to `steps` checked calls are counted before the
// global runs out, each of which, and each of its loop iterations, can run
// at most MAX_UNCHECKED_WEIGHT instructions per call site in unchecked
// functions: about steps^2 loop iterations in the worst case, which the
// choice of `steps` bounds.

import { CallGraph } from './call-graph.js';
import { I32, type Instruction, InstrumentError, Reader, Writer, blockTypeIndex, op, opensBlock, readInstruction } from './opcodes.js';

export { InstrumentError } from './opcodes.js';

/** The import the instrumented module calls when its counter runs out: `() -> i32`, the next allowance or < 1 to stop. */
export const DEADLINE_IMPORT = { module: 'wasp:deadline', name: 'check' } as const;

export interface InstrumentOptions {
  /** The counter's starting value, which `check` is expected to hand back while time remains. */
  steps: number;
}

export const DEFAULT_STEPS = 10_000;

const SECTION = {
  custom: 0,
  type: 1,
  import: 2,
  function: 3,
  table: 4,
  memory: 5,
  global: 6,
  export: 7,
  start: 8,
  element: 9,
  code: 10,
  data: 11,
  dataCount: 12,
  tag: 13,
} as const;

/** Non-custom sections in the order a module must have them. */
const ORDER: readonly number[] = [1, 2, 3, 4, 5, 13, 6, 7, 8, 9, 12, 10, 11];
const rank = (id: number): number => ORDER.indexOf(id) + 1;

/** V8's limit on a function's locals (parameters included). */
const MAX_LOCALS = 50_000;

/**
 * A loop is wrapped so that the call asking for more steps sits outside it
 * (a call inside a loop costs the optimising tier registers and spills on
 * every turn):
 *   block (the loop's type)   ;; where a normal exit goes, with the results
 *     loop                    ;; where the loop starts again after asking
 *       block                 ;; where a run-out counter exits
 *         loop ... end        ;; the original, counting down at its start
 *         br 2
 *       end
 *       ask; br 0
 *     end
 *     unreachable
 *   end
 * Branches from inside the loop to labels outside it pass three more.
 */
const WRAPPER_LABELS = 3;

const MAGIC = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]); // and version 1
const FUNC_FORM = 0x60;
const EMPTY_BLOCK = 0x40;
const NAME = [0x6e, 0x61, 0x6d, 0x65]; // "name"
const encoder = new TextEncoder();
const DEADLINE_MODULE = encoder.encode(DEADLINE_IMPORT.module);

/**
 * Returns `bytes` rewritten so that every call can be stopped through
 * DEADLINE_IMPORT (see the top of this file). Throws InstrumentError for a
 * malformed module, memory64, memory.atomic.wait (which would block the host's
 * thread), an import from DEADLINE_IMPORT.module, and a local or global index
 * past the input's (invalid anyway, it would name a counter once
 * instrumented). It checks the structure, not the types: a module that
 * WebAssembly.validate accepts gives one it accepts, others may give anything.
 */
export function instrumentModule(bytes: Uint8Array, options: InstrumentOptions = { steps: DEFAULT_STEPS }): Uint8Array<ArrayBuffer> {
  const { steps } = options;
  if (!Number.isInteger(steps) || steps < 1 || steps > 0x7fff_ffff) {
    throw new RangeError(`steps must be an integer from 1 to 2^31-1, got ${steps}`);
  }
  return new Instrumenter(bytes, steps).run();
}

/** Copies a byte range while letting the caller replace or insert bytes at increasing positions. */
class Patcher {
  /** made at the first edit: most function bodies have none */
  private out: Writer | undefined;
  edited = false;
  private copied: number;

  constructor(
    private readonly bytes: Uint8Array,
    from: number,
  ) {
    this.copied = from;
  }

  /** Copies the input up to `pos`; what is written to the returned writer goes in there. */
  at(pos: number): Writer {
    this.out ??= new Writer();
    if (pos > this.copied) this.out.bytes(this.bytes.subarray(this.copied, pos));
    this.copied = pos;
    this.edited = true;
    return this.out;
  }

  /** Leaves out the input up to `pos` (what `at` just replaced). */
  skipTo(pos: number): void {
    this.copied = pos;
  }

  finish(end: number): Uint8Array {
    return this.at(end).view();
  }
}

/** What the walk of one function body found and where its new locals are. */
interface FunctionState {
  counterLocal: number;
  scratchLocal: number;
  loops: boolean;
  bulk: boolean;
  loopCheck?: Uint8Array;
  loopExit?: Uint8Array;
  paramLoopCheck?: Uint8Array;
  bulkCheck?: Uint8Array;
}

/** One function body once walked: its instructions with the loop and bulk check points, waiting for the call graph to say whether its entry needs one. */
interface WalkedBody {
  fn: FunctionState;
  /** where the body's size, its local declarations and their end are in the input */
  at: number;
  declsAt: number;
  declsEnd: number;
  end: number;
  groups: number;
  /** the instructions, rewritten when `edited`, else the input's */
  code: Uint8Array;
  edited: boolean;
}

class Instrumenter {
  private readonly parts: (Uint8Array | (() => Uint8Array | undefined))[] = [MAGIC];
  private readonly ins: Instruction = { start: 0, op: 0, index: -1, indexStart: 0 };
  /** parameter count of every type */
  private readonly params: number[] = [];
  /** type index of every defined function */
  private readonly functionTypes: number[] = [];
  private checkType = -1;
  private importedFunctions = 0;
  /** the input's globals known so far: imported ones, then defined ones too */
  private globals = 0;
  private counterGlobal = -1;
  private codeCount = 0;
  private dataCount: number | undefined;
  private dataSegments = 0;
  private done = new Set<number>();
  private callCheck: Uint8Array | undefined;
  /** entry check points by the local they go through */
  private readonly entryChecks = new Map<number, Uint8Array>();
  private graph: CallGraph | undefined;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly steps: number,
  ) {}

  run(): Uint8Array<ArrayBuffer> {
    const { bytes } = this;
    if (bytes.length < 8 || MAGIC.some((b, i) => bytes[i] !== b)) {
      throw new InstrumentError('not a WebAssembly module (no \\0asm magic number and version 1)');
    }
    const r = new Reader(bytes, 8, bytes.length);
    let last = 0;
    while (r.pos < r.end) {
      const headerAt = r.pos;
      const id = r.byte();
      const size = r.u32();
      if (size > r.remaining) throw new InstrumentError(`section ${id} at byte ${headerAt} runs past the end of the module`);
      const s = new Reader(bytes, r.pos, r.pos + size);
      r.pos += size;
      if (id === SECTION.custom) {
        this.custom(s);
        continue;
      }
      const order = rank(id);
      if (order === 0) throw new InstrumentError(`unknown section id ${id} at byte ${headerAt}`);
      if (order <= last) throw new InstrumentError(`section ${id} at byte ${headerAt} is out of order or repeated`);
      last = order;
      this.addMissingBefore(order);
      const content = this.section(id, s);
      if (s.pos !== s.end) throw new InstrumentError(`section ${id} at byte ${headerAt} has ${s.end - s.pos} bytes after its content`);
      this.done.add(id);
      this.emit(id, content);
    }
    this.addMissingBefore(ORDER.length + 1);
    if (this.codeCount !== this.functionTypes.length) {
      throw new InstrumentError(`${this.functionTypes.length} functions declared but ${this.codeCount} bodies`);
    }
    if (this.dataCount !== undefined && this.dataCount !== this.dataSegments) {
      throw new InstrumentError(`data count ${this.dataCount} but ${this.dataSegments} data segments`);
    }
    return concat(this.parts);
  }

  private emit(id: number, content: Uint8Array): void {
    const header = new Writer(6);
    header.byte(id);
    header.u32(content.length);
    this.parts.push(header.view(), content);
  }

  /** Creates the type, import and global sections the module lacks, where they belong. */
  private addMissingBefore(order: number): void {
    if (order > rank(SECTION.type) && !this.done.has(SECTION.type)) {
      this.done.add(SECTION.type);
      this.checkType = 0;
      this.emit(SECTION.type, new Uint8Array([1, FUNC_FORM, 0, 1, I32]));
    }
    if (order > rank(SECTION.import) && !this.done.has(SECTION.import)) {
      this.done.add(SECTION.import);
      const w = new Writer();
      w.u32(1);
      this.checkImport(w);
      this.emit(SECTION.import, w.view());
    }
    if (order > rank(SECTION.global) && !this.done.has(SECTION.global)) {
      this.done.add(SECTION.global);
      const w = new Writer();
      w.u32(1);
      this.counter(w);
      this.counterGlobal = this.globals;
      this.emit(SECTION.global, w.view());
    }
  }

  private section(id: number, s: Reader): Uint8Array {
    const start = s.pos;
    switch (id) {
      case SECTION.type:
        return this.typeSection(s);
      case SECTION.import:
        return this.importSection(s);
      case SECTION.function:
        for (let n = s.count(); n > 0; n--) {
          const at = s.pos;
          const type = s.u32();
          if (type >= this.params.length) throw new InstrumentError(`function type ${type} at byte ${at} does not exist`);
          this.functionTypes.push(type);
        }
        break;
      case SECTION.table:
        return this.tableSection(s);
      case SECTION.memory:
        for (let n = s.count(); n > 0; n--) s.limits(true);
        break;
      case SECTION.tag:
        for (let n = s.count(2); n > 0; n--) this.tagType(s);
        break;
      case SECTION.global:
        return this.globalSection(s);
      case SECTION.export:
        return this.exportSection(s);
      case SECTION.start: {
        const p = new Patcher(this.bytes, s.pos);
        this.functionIndex(s, p);
        return p.finish(s.end);
      }
      case SECTION.element:
        return this.elementSection(s);
      case SECTION.dataCount:
        this.dataCount = s.u32();
        break;
      case SECTION.code:
        return this.codeSection(s);
      case SECTION.data:
        return this.dataSection(s);
    }
    return this.bytes.subarray(start, s.pos);
  }

  private typeSection(s: Reader): Uint8Array {
    const n = s.count(3);
    const entries = s.pos;
    for (let i = 0; i < n; i++) {
      const at = s.pos;
      const form = s.byte();
      if (form !== FUNC_FORM) throw new InstrumentError(`unsupported type form 0x${form.toString(16)} at byte ${at}`);
      const params = s.count();
      for (let k = 0; k < params; k++) s.valtype();
      const results = s.count();
      const resultAt = s.pos;
      for (let k = 0; k < results; k++) s.valtype();
      if (params === 0 && results === 1 && this.bytes[resultAt] === I32 && this.checkType < 0) this.checkType = i;
      this.params.push(params);
    }
    const w = new Writer(s.pos - entries + 8);
    w.u32(this.checkType < 0 ? n + 1 : n);
    w.bytes(this.bytes.subarray(entries, s.pos));
    if (this.checkType < 0) {
      this.checkType = n;
      this.params.push(0);
      w.bytes([FUNC_FORM, 0, 1, I32]);
    }
    return w.view();
  }

  private importSection(s: Reader): Uint8Array {
    const n = s.count(4);
    const entries = s.pos;
    for (let i = 0; i < n; i++) {
      const moduleAt = s.pos;
      s.skipVec();
      if (this.isDeadlineModule(moduleAt, s.pos)) {
        throw new InstrumentError(`the module imports from ${DEADLINE_IMPORT.module} itself (byte ${moduleAt})`);
      }
      s.skipVec();
      const at = s.pos;
      const kind = s.byte();
      if (kind === 0) {
        s.u32();
        this.importedFunctions++;
      } else if (kind === 1) {
        s.reftype();
        s.limits(false);
        this.callGraph().tableShared();
      } else if (kind === 2) {
        s.limits(true);
      } else if (kind === 3) {
        this.globalType(s);
        this.globals++;
      } else if (kind === 4) {
        this.tagType(s);
      } else {
        throw new InstrumentError(`unknown import kind ${kind} at byte ${at}`);
      }
    }
    const w = new Writer(s.pos - entries + 32);
    w.u32(n + 1);
    w.bytes(this.bytes.subarray(entries, s.pos));
    this.checkImport(w);
    return w.view();
  }

  /** Whether the name vector at [from, to) is DEADLINE_IMPORT.module. */
  private isDeadlineModule(from: number, to: number): boolean {
    const name = this.bytes.subarray(to - DEADLINE_MODULE.length, to);
    return to - from === DEADLINE_MODULE.length + 1 && name.every((b, k) => b === DEADLINE_MODULE[k]);
  }

  private checkImport(w: Writer): void {
    for (const name of [DEADLINE_IMPORT.module, DEADLINE_IMPORT.name]) {
      const b = encoder.encode(name);
      w.u32(b.length);
      w.bytes(b);
    }
    w.byte(0); // a function
    w.u32(this.checkType);
  }

  private tableSection(s: Reader): Uint8Array {
    const p = new Patcher(this.bytes, s.pos);
    for (let n = s.count(2); n > 0; n--) {
      if (s.peek() === 0x40) {
        // a table with an initialiser (typed function references)
        s.byte();
        if (s.byte() !== 0) throw new InstrumentError(`bad table at byte ${s.pos - 1}`);
        s.reftype();
        s.limits(false);
        this.constExpr(s, p);
      } else {
        s.reftype();
        s.limits(false);
      }
    }
    return p.finish(s.end);
  }

  private globalSection(s: Reader): Uint8Array {
    const n = s.count(3);
    this.globals += n;
    const p = new Patcher(this.bytes, s.pos); // the entries; the count is rewritten
    for (let i = 0; i < n; i++) {
      this.globalType(s);
      this.constExpr(s, p);
    }
    const entries = p.finish(s.pos);
    const w = new Writer(entries.length + 16);
    w.u32(n + 1);
    w.bytes(entries);
    this.counter(w);
    this.counterGlobal = this.globals;
    return w.view();
  }

  /** The counter global: (mut i32) initialised to `steps`. */
  private counter(w: Writer): void {
    w.bytes([I32, 1, op.i32Const]);
    w.s32(this.steps);
    w.byte(op.end);
  }

  private globalType(s: Reader): void {
    s.valtype();
    const at = s.pos;
    if (s.byte() > 1) throw new InstrumentError(`bad global mutability at byte ${at}`);
  }

  private tagType(s: Reader): void {
    const at = s.pos;
    if (s.byte() !== 0) throw new InstrumentError(`bad tag attribute at byte ${at}`);
    s.u32();
  }

  private exportSection(s: Reader): Uint8Array {
    const p = new Patcher(this.bytes, s.pos);
    for (let n = s.count(3); n > 0; n--) {
      s.skipVec();
      const at = s.pos;
      const kind = s.byte();
      if (kind > 4) throw new InstrumentError(`unknown export kind ${kind} at byte ${at}`);
      if (kind === 0) this.callGraph().escapes(this.functionIndex(s, p));
      else if (kind === 3) this.globalIndex(s.u32(), at + 1);
      else if (kind === 1) {
        s.u32();
        this.callGraph().tableShared();
      } else s.u32();
    }
    return p.finish(s.end);
  }

  private elementSection(s: Reader): Uint8Array {
    const p = new Patcher(this.bytes, s.pos);
    for (let n = s.count(2); n > 0; n--) {
      const at = s.pos;
      const flags = s.u32();
      if (flags > 7) throw new InstrumentError(`unknown element segment flags ${flags} at byte ${at}`);
      // bit 0: passive or declarative; bit 1: an explicit table (active) or declarative; bit 2: expressions
      const active = (flags & 1) === 0;
      if (active && flags & 2) s.u32();
      if (active) this.constExpr(s, p);
      if (flags & 4) {
        if (flags !== 4) s.reftype();
        for (let k = s.count(); k > 0; k--) this.constExpr(s, p);
      } else {
        if (flags !== 0 && s.byte() !== 0) throw new InstrumentError(`unknown element kind at byte ${s.pos - 1}`);
        for (let k = s.count(); k > 0; k--) this.callGraph().escapes(this.functionIndex(s, p));
      }
    }
    return p.finish(s.end);
  }

  private dataSection(s: Reader): Uint8Array {
    const p = new Patcher(this.bytes, s.pos);
    const n = s.count();
    for (let i = 0; i < n; i++) {
      const at = s.pos;
      const flags = s.u32();
      if (flags > 2) throw new InstrumentError(`unknown data segment flags ${flags} at byte ${at}`);
      if (flags === 2) s.u32();
      if (flags !== 1) this.constExpr(s, p);
      s.skipVec();
    }
    this.dataSegments = n;
    return p.finish(s.end);
  }

  /** A function index: shifted past the check import when it names a defined function. Returns the input's index. */
  private functionIndex(s: Reader, p: Patcher): number {
    const at = s.pos;
    const index = s.u32();
    if (index >= this.importedFunctions) {
      p.at(at).u32(index + 1);
      p.skipTo(s.pos);
    }
    return index;
  }

  /** The call graph, made once the function imports are known (the import section comes before all that feeds it). */
  private callGraph(): CallGraph {
    return (this.graph ??= new CallGraph(this.importedFunctions));
  }

  /**
   * Refuses an index past the input's globals. The input would be invalid
   * anyway, but once instrumented it would name the counter.
   */
  private globalIndex(index: number, at: number): void {
    if (index >= this.globals) throw new InstrumentError(`global ${index} at byte ${at} does not exist`);
  }

  private constExpr(s: Reader, p: Patcher): void {
    this.walk(s, p, undefined);
  }

  private codeSection(s: Reader): Uint8Array {
    const p = new Patcher(this.bytes, s.pos);
    const n = s.count();
    if (n !== this.functionTypes.length) throw new InstrumentError(`${this.functionTypes.length} functions declared but ${n} bodies`);
    this.codeCount = n;
    const graph = this.callGraph();
    this.callCheck = this.callCheckPoint();
    const walked: WalkedBody[] = [];
    for (let i = 0; i < n; i++) {
      const at = s.pos;
      const size = s.u32();
      if (size > s.remaining) throw new InstrumentError(`function body at byte ${at} runs past its section`);
      const body = new Reader(this.bytes, s.pos, s.pos + size);
      s.pos += size;
      graph.beginFunction();
      walked.push(this.walkBody(at, body, this.params[this.functionTypes[i]!]!));
    }
    const entryChecks = graph.entryChecks();
    for (let i = 0; i < n; i++) {
      const rewritten = this.functionBody(walked[i]!, entryChecks[i] === 1);
      if (rewritten !== undefined) {
        const w = p.at(walked[i]!.at);
        w.u32(rewritten.length);
        w.bytes(rewritten);
        p.skipTo(walked[i]!.end);
      }
    }
    return p.finish(s.end);
  }

  /** Walks one body (`r` after its size, `at` where the size starts), placing the loop and bulk check points. */
  private walkBody(at: number, r: Reader, params: number): WalkedBody {
    const groupsAt = r.pos;
    const groups = r.count(2);
    const declsAt = r.pos;
    let locals = params;
    for (let g = 0; g < groups; g++) {
      locals += r.u32();
      if (locals > MAX_LOCALS) throw new InstrumentError(`function body at byte ${groupsAt} has more than ${MAX_LOCALS} locals`);
      r.valtype();
    }
    const declsEnd = r.pos;
    const p = new Patcher(this.bytes, declsEnd);
    const fn: FunctionState = { counterLocal: locals, scratchLocal: locals + 1, loops: false, bulk: false };
    this.walk(r, p, fn);
    if (r.pos !== r.end) throw new InstrumentError(`function body at byte ${groupsAt} goes on after its end`);
    const edited = p.edited;
    const code = edited ? p.finish(r.end) : this.bytes.subarray(declsEnd, r.end);
    return { fn, at, declsAt, declsEnd, end: r.end, groups, code, edited };
  }

  /** The body with its check points, or undefined when it needs none and no index in it moved. */
  private functionBody(body: WalkedBody, entry: boolean): Uint8Array | undefined {
    const { fn, groups, declsAt, declsEnd, code } = body;
    if (!entry && !fn.loops && !fn.bulk && !body.edited) return undefined;
    // the loop counter, the bulk operations' scratch; an entry check without loops borrows the counter's
    // place, if V8 leaves room for it, rather than read the global back
    const extra = fn.bulk ? 2 : fn.loops || (entry && fn.counterLocal < MAX_LOCALS) ? 1 : 0;
    if (fn.counterLocal + extra > MAX_LOCALS) throw new InstrumentError(`function body at byte ${body.at} has too many locals to add a counter`);
    const w = new Writer(code.length + declsEnd - declsAt + 64);
    w.u32(extra > 0 ? groups + 1 : groups);
    w.bytes(this.bytes.subarray(declsAt, declsEnd));
    if (extra > 0) {
      w.u32(extra);
      w.byte(I32);
    }
    if (entry && extra === 0) {
      w.bytes(this.callCheck!);
    } else if (entry) {
      let check = this.entryChecks.get(fn.counterLocal);
      if (check === undefined) this.entryChecks.set(fn.counterLocal, (check = this.entryCheckPoint(fn.counterLocal)));
      w.bytes(check);
    }
    if (fn.loops) {
      w.byte(op.i32Const);
      w.s32(this.steps);
      w.byte(op.localSet);
      w.u32(fn.counterLocal);
    }
    w.bytes(code);
    return w.view();
  }

  /**
   * Walks instructions up to the `end` that closes the expression. In a
   * function body (`fn` given) it inserts the check points and notes what it
   * saw; in a constant expression it only moves function indices.
   */
  private walk(r: Reader, p: Patcher, fn: FunctionState | undefined): void {
    const ins = this.ins;
    let depth = 0;
    let count = 0;
    // the depths of the open loops that got wrapped (see WRAPPER_LABELS), innermost last
    const wrapped: number[] = [];
    // a label `label` at `at` that resolves to the block at depth `target` (0: the function) moves out by the wrappers in between
    const relabel = (at: number, label: number, target: number): void => {
      let crossed = 0;
      for (let k = wrapped.length - 1; k >= 0 && wrapped[k]! > target; k--) crossed++;
      if (crossed > 0) {
        const end = new Reader(this.bytes, at, r.end);
        end.u32();
        p.at(at).u32(label + WRAPPER_LABELS * crossed);
        p.skipTo(end.pos);
      }
    };
    for (;;) {
      readInstruction(r, ins);
      count++;
      switch (ins.op) {
        case op.br:
        case op.brIf:
        case op.rethrow:
        case op.brOnNull:
        case op.brOnNonNull:
          if (wrapped.length > 0) relabel(ins.indexStart, ins.index, depth - ins.index);
          break;
        case op.brTable:
          if (wrapped.length > 0) {
            const t = new Reader(this.bytes, ins.start + 1, r.pos);
            for (let n = t.u32(); n >= 0; n--) {
              const at = t.pos;
              const label = t.u32();
              relabel(at, label, depth - label);
            }
          }
          break;
        case op.call:
        case op.returnCall:
        case op.refFunc:
          if (ins.op === op.refFunc) {
            this.callGraph().escapes(ins.index);
          } else if (fn && ins.op === op.call && ins.index >= this.importedFunctions && r.pos < r.end && this.bytes[r.pos] === op.unreachable) {
            // `call; unreachable`, an abort or a panic: the caller cannot go on once it returns, so the
            // call is checked where it is made and left out of the call graph (whose cycles it would join)
            p.at(ins.start).bytes(this.callCheck!);
          } else if (fn) {
            this.graph!.call(ins.index);
          }
          if (ins.index >= this.importedFunctions) {
            p.at(ins.indexStart).u32(ins.index + 1);
            p.skipTo(r.pos);
          }
          break;
        case op.localGet:
        case op.localSet:
        case op.localTee:
          // past the input's locals are the counters (the input would be invalid anyway)
          if (fn && ins.index >= fn.counterLocal) throw new InstrumentError(`local ${ins.index} at byte ${ins.start} does not exist`);
          break;
        case op.globalGet:
        case op.globalSet:
          this.globalIndex(ins.index, ins.indexStart);
          break;
        case op.callIndirect:
        case op.returnCallIndirect:
        case op.callRef:
        case op.returnCallRef:
          if (fn) this.graph!.callIndirect();
          break;
        case op.loop:
          if (fn) {
            this.graph!.loop();
            fn.loops = true;
            const type = blockTypeIndex(this.bytes, ins.start + 1, r.pos);
            if (type >= 0 && this.params[type] !== 0) {
              // the loop takes parameters, which a branch out at its start would have to carry: check in place
              fn.paramLoopCheck ??= this.loopCheckPoint(fn.counterLocal);
              p.at(r.pos).bytes(fn.paramLoopCheck);
            } else {
              fn.loopCheck ??= this.loopCountDown(fn.counterLocal);
              fn.loopExit ??= this.loopExhausted(fn.counterLocal);
              const w = p.at(ins.start);
              w.byte(op.block);
              w.bytes(this.bytes.subarray(ins.start + 1, r.pos));
              w.bytes([op.loop, EMPTY_BLOCK, op.block, EMPTY_BLOCK]);
              p.at(r.pos).bytes(fn.loopCheck);
              wrapped.push(depth + 1);
            }
          }
          break;
        case op.memoryInit:
        case op.memoryCopy:
        case op.memoryFill:
        case op.tableInit:
        case op.tableCopy:
        case op.tableFill:
          if (fn) {
            fn.bulk = true;
            fn.bulkCheck ??= this.bulkCheckPoint(fn.scratchLocal);
            p.at(ins.start).bytes(fn.bulkCheck);
          }
          break;
        case op.atomicWait32:
        case op.atomicWait64:
          throw new InstrumentError(`memory.atomic.wait at byte ${ins.start}: a plugin may not block the host's thread`);
        case op.end:
          if (depth === 0) {
            if (fn) this.graph!.endFunction(count);
            return;
          }
          if (wrapped.length > 0 && wrapped[wrapped.length - 1] === depth) {
            wrapped.pop();
            p.at(r.pos).bytes(fn!.loopExit!);
          }
          depth--;
          break;
        case op.delegate:
          if (depth === 0) throw new InstrumentError(`delegate outside a try at byte ${ins.start}`);
          // its label is resolved outside the try it closes
          if (wrapped.length > 0) relabel(ins.indexStart, ins.index, depth - 1 - ins.index);
          depth--;
          break;
      }
      if (opensBlock(ins.op)) depth++;
    }
  }

  /**
   * `if (counter < 1) { counter = check(); if (counter < 1) unreachable }`,
   * after `decrement` left the decremented counter on the stack. `store`
   * saves the value on top of the stack into the counter and leaves it there.
   */
  private checkPoint(decrement: number[], store: number[]): Uint8Array {
    const below1 = [op.i32Const, 1, op.i32LtS];
    // prettier-ignore
    return new Uint8Array([
      ...decrement, ...store, ...below1,
      op.if, EMPTY_BLOCK,
        op.call, ...u32(this.importedFunctions), ...store, ...below1,
        op.if, EMPTY_BLOCK, op.unreachable, op.end,
      op.end,
    ]);
  }

  /** Function entry: the global counter pays 1, the new value going through `temp` (the loop counter, not yet set) rather than read back. */
  private entryCheckPoint(temp: number): Uint8Array {
    const g = u32(this.counterGlobal);
    const t = u32(temp);
    return this.checkPoint([op.globalGet, ...g, op.i32Const, 1, op.i32Sub], [op.localTee, ...t, op.globalSet, ...g, op.localGet, ...t]);
  }

  /**
   * Before a call that aborts (and at the entry of a function with no room
   * for another local): the global counter pays 1. The global is read back,
   * which needs no local; this one is cold.
   */
  private callCheckPoint(): Uint8Array {
    const g = u32(this.counterGlobal);
    return this.checkPoint([op.globalGet, ...g, op.i32Const, 1, op.i32Sub], [op.globalSet, ...g, op.globalGet, ...g]);
  }

  /**
   * The start of a wrapped loop's body: the counter pays 1 and, run out,
   * leaves the loop for the check after it (see WRAPPER_LABELS), so that the
   * loop itself calls nothing.
   */
  private loopCountDown(counter: number): Uint8Array {
    const c = u32(counter);
    return new Uint8Array([op.localGet, ...c, op.i32Const, 1, op.i32Sub, op.localTee, ...c, op.i32Eqz, op.brIf, 1]);
  }

  /**
   * What follows a wrapped loop's `end`: a normal exit leaves the wrapper
   * with the loop's results; one at a run-out counter asks, then starts the
   * loop again, which is where it left it. The counter is set to the answer
   * plus one (wrapping at 2^31-1 and back) since the start pays again.
   */
  private loopExhausted(counter: number): Uint8Array {
    const c = u32(counter);
    // prettier-ignore
    return new Uint8Array([
        op.br, 2,
      op.end,
      op.call, ...u32(this.importedFunctions), op.localTee, ...c, op.i32Const, 1, op.i32LtS,
      op.if, EMPTY_BLOCK, op.unreachable, op.end,
      op.localGet, ...c, op.i32Const, 1, op.i32Add, op.localSet, ...c,
      op.br, 0,
      op.end,
      op.unreachable,
      op.end,
    ]);
  }

  /** Loop body, for a loop with parameters: the function's local counter pays 1, asking in place. */
  private loopCheckPoint(counter: number): Uint8Array {
    const c = u32(counter);
    return this.checkPoint([op.localGet, ...c, op.i32Const, 1, op.i32Sub], [op.localTee, ...c]);
  }

  /** Bulk operation: the size on top of the stack is stashed in `scratch` and stays; the global pays (size >>> 16) + 1. */
  private bulkCheckPoint(scratch: number): Uint8Array {
    const s = u32(scratch);
    const g = u32(this.counterGlobal);
    // prettier-ignore
    const decrement = [
      op.localTee, ...s,
      op.globalGet, ...g, op.localGet, ...s, op.i32Const, 16, op.i32ShrU, op.i32Sub, op.i32Const, 1, op.i32Sub,
    ];
    return this.checkPoint(decrement, [op.localTee, ...s, op.globalSet, ...g, op.localGet, ...s]);
  }

  /** A custom section: the `name` section is rewritten once the function indices are known; others are copied. */
  private custom(s: Reader): void {
    const start = s.pos;
    const nameLength = s.u32();
    s.skip(nameLength);
    const isName = nameLength === NAME.length && NAME.every((b, k) => this.bytes[s.pos - NAME.length + k] === b);
    if (!isName) {
      this.emit(SECTION.custom, this.bytes.subarray(start, s.end));
      return;
    }
    const names = new Reader(this.bytes, s.pos, s.end);
    this.parts.push(() => {
      const content = this.nameSection(names);
      if (content === undefined) return undefined;
      const w = new Writer(content.length + 16);
      w.byte(SECTION.custom);
      w.u32(NAME.length + 1 + content.length);
      w.u32(NAME.length);
      w.bytes(NAME);
      w.bytes(content);
      return w.view();
    });
  }

  /**
   * The name section with function indices moved: module (0), function (1)
   * and local (2) names, and the names of types, tables, memories, globals,
   * segments, fields and tags, whose indices do not change. Label names (3)
   * are dropped, since the inserted blocks renumber labels, and so are
   * subsections this does not know. A malformed name section, which engines
   * ignore, is dropped as a whole.
   */
  private nameSection(s: Reader): Uint8Array | undefined {
    const w = new Writer(s.remaining + 16);
    try {
      while (s.pos < s.end) {
        const id = s.byte();
        const size = s.u32();
        if (size > s.remaining) return undefined;
        const sub = new Reader(this.bytes, s.pos, s.pos + size);
        s.pos += size;
        if (id === 1 || id === 2) {
          const p = new Patcher(this.bytes, sub.pos);
          for (let n = sub.count(2); n > 0; n--) {
            this.functionIndex(sub, p);
            if (id === 1) {
              sub.skipVec();
            } else {
              for (let m = sub.count(2); m > 0; m--) {
                sub.u32();
                sub.skipVec();
              }
            }
          }
          if (sub.pos !== sub.end) return undefined;
          const content = p.finish(sub.end);
          w.byte(id);
          w.u32(content.length);
          w.bytes(content);
        } else if (id === 0 || (id >= 4 && id <= 11)) {
          w.byte(id);
          w.u32(size);
          w.bytes(this.bytes.subarray(sub.pos, sub.end));
        }
      }
    } catch (e) {
      if (e instanceof InstrumentError) return undefined;
      throw e;
    }
    return w.view();
  }
}

function u32(value: number): number[] {
  const w = new Writer(5);
  w.u32(value);
  return Array.from(w.view());
}

/** The parts in order; a function stands for a section that could only be written at the end, undefined to leave it out. */
function concat(parts: (Uint8Array | (() => Uint8Array | undefined))[]): Uint8Array<ArrayBuffer> {
  const resolved = parts.map((part) => (typeof part === 'function' ? part() : part)).filter((b) => b !== undefined);
  const out = new Uint8Array(resolved.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of resolved) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}
