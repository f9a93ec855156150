// A reader for the few sections of a Wasm binary the engine needs and the
// runtime does not expose: export signatures (WebAssembly.Module.exports gives
// only names and kinds), import signatures, and the memory limits, which the
// engine rewrites to enforce memoryLimitPages.

export type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128' | 'funcref' | 'externref';

export interface FuncType {
  params: ValType[];
  results: ValType[];
}

export interface MemoryLimits {
  min: number;
  max: number | undefined;
  shared: boolean;
}

export type ExternKind = 'function' | 'table' | 'memory' | 'global' | 'tag';

export interface ImportInfo {
  module: string;
  name: string;
  kind: ExternKind;
  /** for functions */
  type?: FuncType;
  /** for memories */
  limits?: MemoryLimits;
}

export interface ExportInfo {
  name: string;
  kind: ExternKind;
  /** for functions */
  type?: FuncType;
}

export interface ModuleInfo {
  imports: ImportInfo[];
  exports: ExportInfo[];
  /** the module's own memory, when it defines one */
  memory: MemoryLimits | undefined;
  /** byte range of the memory section's contents, for rewriting */
  memorySection: { headerStart: number; start: number; end: number } | undefined;
}

/** Thrown for bytes that are not a well-formed module; the engine wraps it in PluginCompileError. */
export class WasmFormatError extends Error {
  override name = 'WasmFormatError';
}

const VALTYPES: Record<number, ValType> = {
  0x7f: 'i32',
  0x7e: 'i64',
  0x7d: 'f32',
  0x7c: 'f64',
  0x7b: 'v128',
  0x70: 'funcref',
  0x6f: 'externref',
};
const KINDS: ExternKind[] = ['function', 'table', 'memory', 'global', 'tag'];
const MAGIC = [0x00, 0x61, 0x73, 0x6d];
const utf8 = new TextDecoder('utf-8', { fatal: true });

class Reader {
  pos: number;
  constructor(
    readonly bytes: Uint8Array,
    start = 0,
    readonly end = bytes.length,
  ) {
    this.pos = start;
  }
  byte(): number {
    if (this.pos >= this.end) throw new WasmFormatError(`unexpected end of module at byte ${this.pos}`);
    return this.bytes[this.pos++]!;
  }
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) break;
      shift += 7;
      if (shift > 28) throw new WasmFormatError(`LEB128 integer too long at byte ${this.pos}`);
    }
    return result;
  }
  name(): string {
    const len = this.u32();
    if (this.pos + len > this.end) throw new WasmFormatError(`name runs past its section at byte ${this.pos}`);
    let s: string;
    try {
      s = utf8.decode(this.bytes.subarray(this.pos, this.pos + len));
    } catch {
      throw new WasmFormatError(`name at byte ${this.pos} is not valid UTF-8`);
    }
    this.pos += len;
    return s;
  }
  valtype(): ValType {
    const b = this.byte();
    const t = VALTYPES[b];
    if (t === undefined) throw new WasmFormatError(`unknown value type 0x${b.toString(16)} at byte ${this.pos - 1}`);
    return t;
  }
  /** A vector of value types; its count cannot exceed the bytes left, one per type. */
  valtypes(): ValType[] {
    const count = this.u32();
    if (count > this.end - this.pos) throw new WasmFormatError(`${count} value types run past their section at byte ${this.pos}`);
    return Array.from({ length: count }, () => this.valtype());
  }
  limits(): MemoryLimits {
    const flags = this.byte();
    if (flags > 3) throw new WasmFormatError(`unsupported limits flags 0x${flags.toString(16)} (memory64?)`);
    const min = this.u32();
    const max = flags & 1 ? this.u32() : undefined;
    return { min, max, shared: (flags & 2) !== 0 };
  }
}

export function readModuleInfo(bytes: Uint8Array): ModuleInfo {
  if (bytes.length < 8 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new WasmFormatError('not a WebAssembly module (missing the \\0asm magic number)');
  }
  if (bytes[4] !== 1 || bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0) {
    throw new WasmFormatError('unsupported WebAssembly binary version');
  }
  const types: FuncType[] = [];
  const funcTypes: number[] = []; // type index of every function, imported ones first
  const imports: ImportInfo[] = [];
  const rawExports: { name: string; kind: ExternKind; index: number }[] = [];
  let memory: MemoryLimits | undefined;
  let memorySection: ModuleInfo['memorySection'];

  const r = new Reader(bytes, 8);
  while (r.pos < bytes.length) {
    const headerStart = r.pos;
    const id = r.byte();
    const size = r.u32();
    const start = r.pos;
    const end = start + size;
    if (end > bytes.length) throw new WasmFormatError(`section ${id} runs past the end of the module`);
    const s = new Reader(bytes, start, end);
    switch (id) {
      case 1: {
        for (let n = s.u32(); n > 0; n--) {
          const form = s.byte();
          if (form !== 0x60) throw new WasmFormatError(`unsupported type form 0x${form.toString(16)}`);
          const params = s.valtypes();
          const results = s.valtypes();
          types.push({ params, results });
        }
        break;
      }
      case 2: {
        for (let n = s.u32(); n > 0; n--) {
          const module = s.name();
          const name = s.name();
          const kind = s.byte();
          if (kind === 0) {
            const index = s.u32();
            funcTypes.push(index);
            imports.push({ module, name, kind: 'function', type: typeAt(types, index) });
          } else if (kind === 1) {
            s.valtype();
            s.limits();
            imports.push({ module, name, kind: 'table' });
          } else if (kind === 2) {
            imports.push({ module, name, kind: 'memory', limits: s.limits() });
          } else if (kind === 3) {
            s.valtype();
            s.byte();
            imports.push({ module, name, kind: 'global' });
          } else if (kind === 4) {
            s.byte();
            s.u32();
            imports.push({ module, name, kind: 'tag' });
          } else {
            throw new WasmFormatError(`unknown import kind ${kind}`);
          }
        }
        break;
      }
      case 3:
        for (let n = s.u32(); n > 0; n--) funcTypes.push(s.u32());
        break;
      case 5: {
        const count = s.u32();
        if (count > 1) throw new WasmFormatError('more than one memory is not supported');
        if (count === 1) memory = s.limits();
        memorySection = { headerStart, start, end };
        break;
      }
      case 7:
        for (let n = s.u32(); n > 0; n--) {
          const name = s.name();
          const kind = KINDS[s.byte()];
          if (kind === undefined) throw new WasmFormatError(`unknown export kind in export ${name}`);
          rawExports.push({ name, kind, index: s.u32() });
        }
        break;
      default:
        break;
    }
    r.pos = end;
  }

  const exports = rawExports.map(({ name, kind, index }): ExportInfo => {
    if (kind !== 'function') return { name, kind };
    const typeIndex = funcTypes[index];
    if (typeIndex === undefined) throw new WasmFormatError(`export ${name} names function ${index}, which does not exist`);
    return { name, kind, type: typeAt(types, typeIndex) };
  });
  return { imports, exports, memory, memorySection };
}

function typeAt(types: FuncType[], index: number): FuncType {
  const t = types[index];
  if (t === undefined) throw new WasmFormatError(`type index ${index} out of range`);
  return t;
}

function u32leb(value: number): number[] {
  const out: number[] = [];
  do {
    let b = value & 0x7f;
    value = Math.floor(value / 128);
    if (value !== 0) b |= 0x80;
    out.push(b);
  } while (value !== 0);
  return out;
}

/**
 * Returns the module with its memory's maximum lowered to `maxPages`, so
 * memory.grow past it fails inside the plugin (returns -1) instead of the host
 * having to notice after the fact. The section is re-encoded in place.
 */
export function capMemory(bytes: Uint8Array, info: ModuleInfo, maxPages: number): Uint8Array {
  const { memory, memorySection } = info;
  if (memory === undefined || memorySection === undefined) return bytes;
  const max = memory.max === undefined ? maxPages : Math.min(memory.max, maxPages);
  if (max === memory.max) return bytes;
  const flags = 1 | (memory.shared ? 2 : 0);
  const content = [1, flags, ...u32leb(memory.min), ...u32leb(max)];
  const { headerStart } = memorySection;
  const section = [5, ...u32leb(content.length), ...content];
  const out = new Uint8Array(bytes.length - (memorySection.end - headerStart) + section.length);
  out.set(bytes.subarray(0, headerStart), 0);
  out.set(section, headerStart);
  out.set(bytes.subarray(memorySection.end), headerStart + section.length);
  return out;
}
