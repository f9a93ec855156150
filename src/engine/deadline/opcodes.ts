// The byte-level half of the deadline instrumenter: a bounds-checked reader
// with strict LEB128, a growable writer, and a decoder that knows the
// immediates of every instruction Node 20 (V8 11.3) compiles by default: the
// MVP, sign extension, non-trapping float-to-int, multi-value, bulk memory,
// reference types, SIMD, threads, exception handling (try/catch/delegate) and
// tail calls; plus a few that later V8s add (call_ref and the other typed
// function reference instructions, relaxed SIMD), so that counting them as
// calls stays right when Node catches up. The tables follow the binary format
// of the WebAssembly specification and its proposals.
//
// Everything that reads bytes throws InstrumentError and nothing else, so
// malformed input never surfaces as a RangeError or TypeError.

/** The module is malformed, or uses something the instrumenter refuses; the engine wraps it. */
export class InstrumentError extends Error {
  override name = 'InstrumentError';
}

export class Reader {
  pos: number;

  constructor(
    readonly bytes: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  byte(): number {
    if (this.pos >= this.end) throw new InstrumentError(`unexpected end at byte ${this.pos}`);
    return this.bytes[this.pos++]!;
  }

  peek(): number {
    if (this.pos >= this.end) throw new InstrumentError(`unexpected end at byte ${this.pos}`);
    return this.bytes[this.pos]!;
  }

  skip(n: number): void {
    if (n > this.end - this.pos) throw new InstrumentError(`unexpected end at byte ${this.end}`);
    this.pos += n;
  }

  /** An unsigned LEB128 of at most 32 bits. */
  u32(): number {
    const at = this.pos;
    let result = 0;
    for (let shift = 0; ; shift += 7) {
      const b = this.byte();
      if (shift === 28 && (b & 0xf0) !== 0) throw new InstrumentError(`bad LEB128 u32 at byte ${at}`);
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
    }
  }

  /** A signed LEB128 of `bits` (32, 33 or 64) bits; the value for 32 and 33, NaN for 64 (only checked). */
  signed(bits: 32 | 33 | 64): number {
    const at = this.pos;
    const last = Math.floor((bits - 1) / 7) * 7; // shift of the last byte allowed
    let result = 0;
    for (let shift = 0; ; shift += 7) {
      const b = this.byte();
      if (shift === last) {
        // the bits above the value's width must all repeat its sign bit, and nothing may follow
        const used = bits - last; // bits of this byte that belong to the value
        const high = (b & 0x7f) >> (used - 1); // the sign bit and the unused bits above it
        if ((b & 0x80) !== 0 || (high !== 0 && high !== 0x7f >> (used - 1))) {
          throw new InstrumentError(`bad LEB128 s${bits} at byte ${at}`);
        }
      }
      if (bits !== 64) result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        if (bits === 64) return Number.NaN;
        return b & 0x40 ? result - 2 ** (shift + 7) : result;
      }
    }
  }

  /** A vector length, refused when the vector could not fit in what is left (each item takes at least `minItemSize` bytes). */
  count(minItemSize = 1): number {
    const at = this.pos;
    const n = this.u32();
    if (n * minItemSize > this.end - this.pos) throw new InstrumentError(`count ${n} at byte ${at} runs past its section`);
    return n;
  }

  /** A value type: a number type, v128, a reference type by its one-byte shorthand or (ref null? heaptype). */
  valtype(): void {
    const at = this.pos;
    const b = this.byte();
    if (SIMPLE_VALTYPES.has(b)) return;
    if (b === REF || b === REF_NULL) return this.heaptype();
    throw new InstrumentError(`unknown value type 0x${b.toString(16)} at byte ${at}`);
  }

  /** funcref or externref, or (ref null? heaptype). */
  reftype(): void {
    const at = this.pos;
    const b = this.byte();
    if (b === FUNCREF || b === EXTERNREF) return;
    if (b === REF || b === REF_NULL) return this.heaptype();
    throw new InstrumentError(`unknown reference type 0x${b.toString(16)} at byte ${at}`);
  }

  heaptype(): void {
    const at = this.pos;
    const t = this.signed(33);
    if (t < 0 && !(this.pos === at + 1 && (this.bytes[at] === FUNCREF || this.bytes[at] === EXTERNREF))) {
      throw new InstrumentError(`unknown heap type at byte ${at}`);
    }
  }

  blocktype(): void {
    const b = this.peek();
    if (b === EMPTY_BLOCK || SIMPLE_VALTYPES.has(b) || b === REF || b === REF_NULL) return this.valtypeOrEmpty();
    const at = this.pos;
    if (this.signed(33) < 0) throw new InstrumentError(`unknown block type at byte ${at}`);
  }

  private valtypeOrEmpty(): void {
    if (this.peek() === EMPTY_BLOCK) this.pos++;
    else this.valtype();
  }

  /** Limits; `memory` allows the shared flag. memory64 and table64 are refused. */
  limits(memory: boolean): void {
    const at = this.pos;
    const flags = this.byte();
    if (flags & 4) throw new InstrumentError(`64-bit ${memory ? 'memory' : 'table'} at byte ${at} is not supported`);
    if (flags > (memory ? 3 : 1)) throw new InstrumentError(`bad limits flags 0x${flags.toString(16)} at byte ${at}`);
    this.u32();
    if (flags & 1) this.u32();
  }

  /** A name or byte vector, skipped. */
  skipVec(): void {
    this.skip(this.u32());
  }
}

/** A growable byte buffer. */
export class Writer {
  private buf: Uint8Array;
  length = 0;

  constructor(capacity = 256) {
    this.buf = new Uint8Array(capacity);
  }

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  byte(b: number): void {
    this.reserve(1);
    this.buf[this.length++] = b;
  }

  bytes(bytes: Uint8Array | readonly number[]): void {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }

  u32(value: number): void {
    do {
      let b = value & 0x7f;
      value = Math.floor(value / 128);
      if (value !== 0) b |= 0x80;
      this.byte(b);
    } while (value !== 0);
  }

  s32(value: number): void {
    for (;;) {
      const b = value & 0x7f;
      value >>= 7;
      if ((value === 0 && (b & 0x40) === 0) || (value === -1 && (b & 0x40) !== 0)) return this.byte(b);
      this.byte(b | 0x80);
    }
  }

  /** The content so far with its length as a u32 prefix, as sections and function bodies are stored. */
  sized(): Uint8Array {
    const out = new Writer(this.length + 5);
    out.u32(this.length);
    out.bytes(this.view());
    return out.view();
  }

  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

export const I32 = 0x7f;
export const FUNCREF = 0x70;
export const EXTERNREF = 0x6f;
const REF = 0x64;
const REF_NULL = 0x63;
const EMPTY_BLOCK = 0x40;
const SIMPLE_VALTYPES = new Set([0x7f, 0x7e, 0x7d, 0x7c, 0x7b, FUNCREF, EXTERNREF]);

// Opcodes the instrumenter looks at. Prefixed ones are (prefix << 16) | sub-opcode.
export const op = {
  unreachable: 0x00,
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  try: 0x06,
  rethrow: 0x09,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  brTable: 0x0e,
  call: 0x10,
  callIndirect: 0x11,
  returnCall: 0x12,
  returnCallIndirect: 0x13,
  callRef: 0x14,
  returnCallRef: 0x15,
  delegate: 0x18,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  globalGet: 0x23,
  globalSet: 0x24,
  i32Const: 0x41,
  i32Eqz: 0x45,
  i32LtS: 0x48,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32ShrU: 0x76,
  refFunc: 0xd2,
  brOnNull: 0xd5,
  brOnNonNull: 0xd6,
  memoryInit: 0xfc0008,
  memoryCopy: 0xfc000a,
  memoryFill: 0xfc000b,
  tableInit: 0xfc000c,
  tableCopy: 0xfc000e,
  tableFill: 0xfc0011,
  atomicWait32: 0xfe0001,
  atomicWait64: 0xfe0002,
} as const;

// What follows an opcode.
const Imm = {
  None: 0,
  Block: 1, // a block type
  Index: 2, // one u32: an index of some kind (function, label, type, memory...)
  Index2: 3, // two u32
  BrTable: 4,
  MemArg: 5,
  I32: 6,
  I64: 7,
  F32: 8,
  F64: 9,
  HeapType: 10,
  SelectTypes: 11,
  MemArgLane: 12,
  Lane: 13,
  Bytes16: 14,
  Zero: 15, // one 0x00 byte (atomic.fence)
} as const;

const UNKNOWN = -1;

function table(size: number, entries: [from: number, to: number, imm: number][]): Int8Array {
  const t = new Int8Array(size).fill(UNKNOWN);
  for (const [from, to, imm] of entries) t.fill(imm, from, to + 1);
  return t;
}

const SINGLE = table(256, [
  [0x00, 0x01, Imm.None], // unreachable, nop
  [0x02, 0x04, Imm.Block], // block, loop, if
  [0x05, 0x05, Imm.None], // else
  [0x06, 0x06, Imm.Block], // try
  [0x07, 0x09, Imm.Index], // catch tag, throw tag, rethrow label
  [0x0b, 0x0b, Imm.None], // end
  [0x0c, 0x0d, Imm.Index], // br, br_if
  [0x0e, 0x0e, Imm.BrTable],
  [0x0f, 0x0f, Imm.None], // return
  [0x10, 0x10, Imm.Index], // call
  [0x11, 0x11, Imm.Index2], // call_indirect type table
  [0x12, 0x12, Imm.Index], // return_call
  [0x13, 0x13, Imm.Index2], // return_call_indirect
  [0x14, 0x15, Imm.Index], // call_ref type, return_call_ref type
  [0x18, 0x18, Imm.Index], // delegate label
  [0x19, 0x19, Imm.None], // catch_all
  [0x1a, 0x1b, Imm.None], // drop, select
  [0x1c, 0x1c, Imm.SelectTypes],
  [0x20, 0x26, Imm.Index], // local.get/set/tee, global.get/set, table.get/set
  [0x28, 0x3e, Imm.MemArg], // loads and stores
  [0x3f, 0x40, Imm.Index], // memory.size, memory.grow (memory index)
  [0x41, 0x41, Imm.I32],
  [0x42, 0x42, Imm.I64],
  [0x43, 0x43, Imm.F32],
  [0x44, 0x44, Imm.F64],
  [0x45, 0xc4, Imm.None], // numeric, sign extension
  [0xd0, 0xd0, Imm.HeapType], // ref.null
  [0xd1, 0xd1, Imm.None], // ref.is_null
  [0xd2, 0xd2, Imm.Index], // ref.func
  [0xd4, 0xd4, Imm.None], // ref.as_non_null
  [0xd5, 0xd6, Imm.Index], // br_on_null, br_on_non_null
]);

const MISC = table(18, [
  [0, 7, Imm.None], // trunc_sat
  [8, 8, Imm.Index2], // memory.init data memory
  [9, 9, Imm.Index], // data.drop
  [10, 10, Imm.Index2], // memory.copy memory memory
  [11, 11, Imm.Index], // memory.fill memory
  [12, 12, Imm.Index2], // table.init elem table
  [13, 13, Imm.Index], // elem.drop
  [14, 14, Imm.Index2], // table.copy table table
  [15, 17, Imm.Index], // table.grow, table.size, table.fill
]);

const SIMD = table(0x114, [
  [0x00, 0x0b, Imm.MemArg], // v128.load*, v128.store
  [0x0c, 0x0d, Imm.Bytes16], // v128.const, i8x16.shuffle
  [0x0e, 0x14, Imm.None], // swizzle, splats
  [0x15, 0x22, Imm.Lane], // extract_lane, replace_lane
  [0x23, 0x53, Imm.None], // comparisons, bitwise, any_true
  [0x54, 0x5b, Imm.MemArgLane], // v128.load*_lane, v128.store*_lane
  [0x5c, 0x5d, Imm.MemArg], // v128.load32_zero, v128.load64_zero
  [0x5e, 0xff, Imm.None], // arithmetic and conversions (gaps below)
  [0x100, 0x113, Imm.None], // relaxed SIMD
]);
// opcodes the SIMD proposal left unassigned
for (const gap of [0x9a, 0xa2, 0xa5, 0xa6, 0xaf, 0xb0, 0xb2, 0xb3, 0xb4, 0xbb, 0xc2, 0xc5, 0xc6, 0xcf, 0xd0, 0xd2, 0xd3, 0xd4, 0xe2, 0xee]) {
  SIMD[gap] = UNKNOWN;
}

const ATOMIC = table(0x4f, [
  [0x00, 0x02, Imm.MemArg], // memory.atomic.notify, wait32, wait64
  [0x03, 0x03, Imm.Zero], // atomic.fence
  [0x10, 0x4e, Imm.MemArg], // atomic loads, stores, read-modify-write, cmpxchg
]);

const PREFIXED: Record<number, Int8Array> = { 0xfc: MISC, 0xfd: SIMD, 0xfe: ATOMIC };

/** One decoded instruction: its opcode, where it starts and, for those with one, its first u32 immediate. */
export interface Instruction {
  start: number;
  /** one byte, or (prefix << 16) | sub-opcode for the 0xfc, 0xfd and 0xfe prefixes */
  op: number;
  /** the first immediate when it is an index (function, label, type...), else -1 */
  index: number;
  /** where that index's bytes start */
  indexStart: number;
}

/** Reads one instruction, leaving `r` after its last immediate. */
export function readInstruction(r: Reader, into: Instruction): void {
  const start = r.pos;
  const first = r.byte();
  let opcode = first;
  let imm: number;
  const prefixed = PREFIXED[first];
  if (prefixed !== undefined) {
    const sub = r.u32();
    imm = sub < prefixed.length ? prefixed[sub]! : UNKNOWN;
    opcode = (first << 16) | sub;
    if (imm === UNKNOWN) throw new InstrumentError(`unknown opcode 0x${first.toString(16)} ${sub} at byte ${start}`);
  } else {
    imm = SINGLE[first]!;
    if (imm === UNKNOWN) throw new InstrumentError(`unknown opcode 0x${first.toString(16)} at byte ${start}`);
  }
  into.start = start;
  into.op = opcode;
  into.index = -1;
  switch (imm) {
    case Imm.None:
      break;
    case Imm.Block:
      r.blocktype();
      break;
    case Imm.Index:
      into.indexStart = r.pos;
      into.index = r.u32();
      break;
    case Imm.Index2:
      into.indexStart = r.pos;
      into.index = r.u32();
      r.u32();
      break;
    case Imm.BrTable:
      for (let n = r.count(); n >= 0; n--) r.u32(); // the labels, then the default
      break;
    case Imm.MemArg:
      memarg(r);
      break;
    case Imm.MemArgLane:
      memarg(r);
      r.byte();
      break;
    case Imm.I32:
      r.signed(32);
      break;
    case Imm.I64:
      r.signed(64);
      break;
    case Imm.F32:
      r.skip(4);
      break;
    case Imm.F64:
      r.skip(8);
      break;
    case Imm.HeapType:
      r.heaptype();
      break;
    case Imm.SelectTypes:
      for (let n = r.count(); n > 0; n--) r.valtype();
      break;
    case Imm.Lane:
      r.byte();
      break;
    case Imm.Bytes16:
      r.skip(16);
      break;
    case Imm.Zero:
      if (r.byte() !== 0) throw new InstrumentError(`atomic.fence at byte ${start} needs a 0x00 byte`);
      break;
  }
}

/** Alignment (bit 6 set: a memory index follows, multi-memory), then offset. */
function memarg(r: Reader): void {
  const align = r.u32();
  if (align & 0x40) r.u32();
  r.u32();
}

/** The type index of the block type at `at` (as readInstruction left it valid), or -1 for none or a single value type. */
export function blockTypeIndex(bytes: Uint8Array, at: number, end: number): number {
  const b = bytes[at]!;
  if (b === EMPTY_BLOCK || SIMPLE_VALTYPES.has(b) || b === REF || b === REF_NULL) return -1;
  return new Reader(bytes, at, end).signed(33);
}

/** Whether `opcode` opens a block that an `end` (or `delegate`) closes. */
export function opensBlock(opcode: number): boolean {
  return opcode === op.block || opcode === op.loop || opcode === op.if || opcode === op.try;
}

/** Every opcode the decoder accepts, for tests that hold it against the runtime. */
export function knownOpcodes(): number[] {
  const out: number[] = [];
  SINGLE.forEach((imm, code) => imm !== UNKNOWN && PREFIXED[code] === undefined && out.push(code));
  for (const [prefix, t] of Object.entries(PREFIXED)) {
    t.forEach((imm, sub) => imm !== UNKNOWN && out.push((Number(prefix) << 16) | sub));
  }
  return out;
}
