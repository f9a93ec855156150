// ABI wasp-go: the conventions of the Go Wasp project (github.com/nicholasjackson/wasp, go-abi/),
// so that its plugins run unmodified. Every parameter and result is one value: a string is a
// pointer to NUL-terminated UTF-8 in a block from the plugin's allocate(size); bytes are a pointer
// to a block holding a little-endian u32 length and then the data; a string result's length comes
// from the plugin's get_string_size(ptr). The host frees, with deallocate(ptr, size) when the
// plugin exports it, every block it allocated and every block it was handed, once per call.
// env.raise_error(ptr) fails the call with the plugin's message.
//
// Fixed rather than copied from Go Wasp: strings are written as UTF-8 (it wrote one byte per code
// point) with the NUL inside the block (it wrote one past it), and a block is freed with its own
// size, NUL or length prefix included.
import { bindOneValueCallback, type Callback, type CallbackSignature } from '../callbacks.js';
import {
  AllocationError,
  FunctionNotFoundError,
  OutputLimitError,
  PluginRaisedError,
  SignatureError,
  WaspError,
} from '../errors.js';
import { formatType } from '../host-imports.js';
import { copyOut } from '../copy-out.js';
import type { PluginMemory } from '../memory.js';
import { outOfBounds } from '../memory.js';
import type { FuncType, ValType } from '../wasm-binary.js';
import type { AbiAdapter, AbiPort } from './abi.js';

/** The host functions a wasp-go plugin may import, by module and name. */
export const WASP_GO_HOST_IMPORTS: Readonly<Record<string, Readonly<Record<string, FuncType>>>> = {
  env: { raise_error: { params: ['i32'], results: [] } },
};

/** The Wasm type a wasp-go plugin imports a callback with: a string or bytes is one pointer. */
export function waspGoCallbackType(signature: CallbackSignature): FuncType {
  const one = (t: string): ValType => (t === 'string' || t === 'bytes' ? 'i32' : (t as ValType));
  const r = signature.result ?? 'void';
  return { params: signature.params.map(one), results: r === 'void' ? [] : [one(r)] };
}

/** An export, looked up and checked once. */
interface Entry {
  readonly name: string;
  readonly fn: (...args: unknown[]) => unknown;
  readonly type: FuncType;
  /** every parameter an i32 or f64-compatible number: numbers pass straight through */
  readonly numeric: boolean;
  readonly returnsPointer: boolean;
  /** one i32 parameter: a single string or bytes argument goes straight in */
  readonly onePointer: boolean;
}

/** Noted blocks (pointer and size: two slots each) scanned for a repeat before an index takes over. */
const NOTE_SCAN = 32;

const NUMBER = 0;
const STRING = 1;
const BYTES = 2;
type Kind = typeof NUMBER | typeof STRING | typeof BYTES;

/** A plugin's allocate/deallocate/get_string_size, read from its exports once it is instantiated. */
interface Kernel {
  allocate: ((size: number) => number) | undefined;
  deallocate: ((ptr: number, size: number) => void) | undefined;
  stringSize: ((ptr: number) => number) | undefined;
}

export class WaspGoCalls implements AbiAdapter {
  // Blocks to deallocate when the call ends: pointer, size, pointer, size... A block handed back
  // and forth (a callback's result returned as the export's) is noted once. Reused, never truncated.
  readonly #frees: number[] = [];
  #freeCount = 0;
  /** the pointers noted, once a call has noted more than a scan is worth */
  #noted: Set<number> | undefined;
  #raised: string | null = null;
  #kernel: Kernel | undefined;
  readonly #entries = new Map<string, Entry>();
  #last: Entry | undefined;

  constructor(
    readonly port: AbiPort,
    readonly functionType: (name: string) => FuncType,
  ) {}

  /** The imports this ABI answers (env.raise_error), bound to this instance. */
  hostImports(): Record<string, Record<string, unknown>> {
    return {
      env: {
        raise_error: (ptr: number) => {
          const message = this.#readString(ptr, 'the message of env.raise_error');
          this.#raised ??= message;
        },
      },
    };
  }

  /** A callback as a wasp-go plugin imports it: pointers in, a pointer (or number) out. */
  bindCallback(callback: Callback): (...raw: unknown[]) => unknown {
    return bindOneValueCallback(
      callback,
      () => this.port.context,
      (type, raw, what) => (type === 'string' ? this.#readString(raw as number, what) : this.#readBytes(raw as number, what)),
      (value) => this.#write(value),
      0,
      (error) => this.port.callbackFailed(error),
    );
  }

  call(name: string, args: readonly unknown[]): number | bigint | undefined {
    return this.#run(name, args, NUMBER) as number | bigint | undefined;
  }

  callString(name: string, args: readonly unknown[]): string | null {
    return this.#run(name, args, STRING) as string | null;
  }

  callBytes(name: string, args: readonly unknown[]): Uint8Array | null {
    return this.#run(name, args, BYTES) as Uint8Array | null;
  }

  callOutputs(name: string, args: readonly unknown[]): Uint8Array[] {
    const out = this.#run(name, args, BYTES) as Uint8Array | null;
    return out === null ? [] : [out];
  }

  #entry(name: string): Entry {
    const last = this.#last;
    if (last !== undefined && last.name === name) return last;
    let entry = this.#entries.get(name);
    if (entry === undefined) {
      const fn = this.port.exports()[name];
      if (typeof fn !== 'function') {
        throw new FunctionNotFoundError(`plugin ${this.port.context.plugin} exports no function ${name}`, { ...this.port.context, function: name });
      }
      const type = this.functionType(name);
      entry = {
        name,
        fn: fn as (...args: unknown[]) => unknown,
        type,
        numeric: type.params.every((p) => p === 'i32' || p === 'f32' || p === 'f64'),
        returnsPointer: type.results.length === 1 && type.results[0] === 'i32',
        onePointer: type.params.length === 1 && type.params[0] === 'i32',
      };
      this.#entries.set(name, entry);
    }
    this.#last = entry;
    return entry;
  }

  #run(name: string, args: readonly unknown[], kind: Kind): unknown {
    const entry = this.#entry(name);
    if (kind !== NUMBER && !entry.returnsPointer) throw this.#signature(name, entry.type, `returns ${formatType(entry.type)}, not a pointer`);
    const port = this.port;
    port.begin(name);
    // where it failed: while copying in, in the plugin (unwound: it must be replaced), or while reading the result
    let phase = 0;
    let out: unknown;
    try {
      let result: unknown;
      // the common shapes without an array of values: one string or bytes, or numbers only
      if (entry.onePointer && args.length === 1 && (typeof args[0] === 'string' || args[0] instanceof Uint8Array)) {
        const ptr = this.#write(args[0] as string | Uint8Array);
        phase = 1;
        result = entry.fn(ptr);
      } else if (entry.numeric && args.length === entry.type.params.length && allNumbers(args)) {
        phase = 1;
        result = args.length === 0 ? entry.fn() : args.length === 1 ? entry.fn(args[0]) : args.length === 2 ? entry.fn(args[0], args[1]) : entry.fn(...args);
      } else {
        const values = this.#marshal(name, entry.type, args);
        phase = 1;
        result = entry.fn(...values);
      }
      phase = 2;
      out = kind === NUMBER ? result : result === 0 ? null : kind === STRING ? this.#resultString(result as number) : this.#readBytes(result as number, `the result of ${name}`);
    } catch (error) {
      this.#raised = null;
      const unwound = phase === 1 || !(error instanceof WaspError);
      // A call that failed without unwinding the plugin still gives its blocks back, or the
      // plugin's heap fills up; after a trap the instance is replaced, blocks and all.
      throw port.fail(error, unwound || !this.#freeAfterFailure());
    }
    if (this.#freeCount !== 0) {
      try {
        this.#freeAll();
      } catch (error) {
        this.#raised = null;
        throw port.fail(error, true);
      }
    }
    const raised = this.#raised;
    if (raised !== null) {
      this.#raised = null;
      throw port.fail(new PluginRaisedError(raised, { ...port.context, function: name }), false);
    }
    port.end();
    return out;
  }

  /** The call's arguments as the export's parameters: numbers as they are, a string or bytes as a pointer to a fresh block. */
  #marshal(name: string, type: FuncType, args: readonly unknown[]): unknown[] {
    if (args.length !== type.params.length) {
      throw this.#signature(name, type, `takes ${type.params.length} argument(s), ${args.length} given`);
    }
    return args.map((arg, i) => {
      const param = type.params[i];
      if (typeof arg === 'string' || arg instanceof Uint8Array) {
        if (param !== 'i32') throw this.#signature(name, type, `argument ${i + 1} (${typeof arg === 'string' ? 'string' : 'bytes'}) needs an i32 parameter`);
        return this.#write(arg);
      }
      if (param === 'i64') {
        if (typeof arg === 'bigint') return arg;
        if (typeof arg === 'number' && Number.isSafeInteger(arg)) return BigInt(arg);
      } else if (typeof arg === 'number') {
        return arg;
      }
      throw this.#signature(name, type, `argument ${i + 1} (${typeof arg}) does not fit`);
    });
  }

  #signature(name: string, type: FuncType, what: string): SignatureError {
    return new SignatureError(`plugin ${this.port.context.plugin}: ${name} has type ${formatType(type)}: ${what}`, { ...this.port.context, function: name });
  }

  /** A string (UTF-8 and a NUL) or bytes (u32 length and the data) in a block from the plugin's allocate, freed when the call ends. */
  #write(value: string | Uint8Array): number {
    const isString = typeof value === 'string';
    const length = isString ? Buffer.byteLength(value, 'utf8') : value.length;
    const size = isString ? length + 1 : length + 4;
    const ptr = this.#allocate(size);
    const memory = this.#memory();
    if (isString) {
      memory.writeUtf8(value, ptr, length);
      memory.bytes()[ptr + length] = 0;
    } else {
      const u8 = memory.bytes();
      u8[ptr] = length;
      u8[ptr + 1] = length >>> 8;
      u8[ptr + 2] = length >>> 16;
      u8[ptr + 3] = length >>> 24;
      u8.set(value, ptr + 4);
    }
    this.#note(ptr, size);
    return ptr;
  }

  #allocate(size: number): number {
    const allocate = this.#kernelOf().allocate;
    if (allocate === undefined) {
      throw new AllocationError(`plugin ${this.port.context.plugin}: cannot pass strings or bytes: the plugin exports no allocate (ABI wasp-go)`, this.port.context);
    }
    const ptr = allocate(size) >>> 0;
    if (ptr === 0 || ptr + size > this.#memory().bytes().length) {
      throw new AllocationError(`plugin ${this.port.context.plugin}: allocate(${size}) returned ${ptr === 0 ? '0' : `${ptr}, outside memory`}`, this.port.context);
    }
    return ptr;
  }

  /** An export's string result: its length from get_string_size, as Go Wasp asks it. */
  #resultString(ptr: number): string {
    const stringSize = this.#kernelOf().stringSize;
    if (stringSize === undefined) return this.#readString(ptr, 'the result');
    const p = ptr >>> 0;
    const length = stringSize(p) >>> 0;
    const memory = this.#memory();
    const size = memory.bytes().length;
    // handed over, so freed even when it is refused (a block that lies in memory, that is)
    if (p < size) this.#note(p, length + 1);
    this.#limit(length, 'the result');
    // the context (an object) is made only for the error
    if (p + length > size) throw outOfBounds(p, length, size, 'the result', this.port.context);
    return memory.readUtf8(p, p + length);
  }

  /** A NUL-terminated string the plugin handed over, noted for freeing. */
  #readString(ptr: number, what: string): string {
    const p = ptr >>> 0;
    const u8 = this.#memory().bytes();
    if (p >= u8.length) throw outOfBounds(p, 1, u8.length, what, this.port.context);
    const end = u8.indexOf(0, p);
    if (end < 0) throw outOfBounds(p, u8.length - p, u8.length, `${what} (no NUL before the end of memory)`, this.port.context);
    this.#note(p, end - p + 1);
    this.#limit(end - p, what);
    return this.#memory().readUtf8(p, end);
  }

  /** A length-prefixed block the plugin handed over, copied out and noted for freeing. */
  #readBytes(ptr: number, what: string): Uint8Array {
    const p = ptr >>> 0;
    const memory = this.#memory();
    const u8 = memory.bytes();
    if (p + 4 > u8.length) throw outOfBounds(p, 4, u8.length, what, this.port.context);
    const length = (u8[p]! | (u8[p + 1]! << 8) | (u8[p + 2]! << 16) | (u8[p + 3]! << 24)) >>> 0;
    this.#note(p, length + 4);
    this.#limit(length, what);
    if (p + 4 + length > u8.length) throw outOfBounds(p + 4, length, u8.length, what, this.port.context);
    return copyOut(u8, p + 4, length);
  }

  #limit(length: number, what: string): void {
    const max = this.port.maxOutputBytes;
    if (length > max) {
      throw new OutputLimitError(`plugin ${this.port.context.plugin}: ${what} is ${length} bytes, over maxOutputBytes ${max}`, this.port.context);
    }
  }

  /** Frees what the failed call noted; false when deallocate itself trapped (the instance is then replaced). */
  #freeAfterFailure(): boolean {
    try {
      this.#freeAll();
      return true;
    } catch {
      this.#freeCount = 0;
      this.#noted?.clear();
      return false;
    }
  }

  /**
   * After the module's set-up (_start): what it raised fails the instantiation, and the blocks
   * it handed over are freed, so the first call starts clean.
   */
  afterSetUp(): WaspError | undefined {
    try {
      this.#freeAll();
    } catch (error) {
      this.#raised = null;
      return error instanceof WaspError ? error : new PluginRaisedError(`deallocate trapped after _start: ${String(error)}`, { ...this.port.context, function: '_start' });
    }
    const raised = this.#raised;
    this.#raised = null;
    return raised === null ? undefined : new PluginRaisedError(raised, { ...this.port.context, function: '_start' });
  }

  callRaw(name: string, args: readonly unknown[]): { value: number | bigint | undefined; outputs: Uint8Array[]; errorMessage: string | null } {
    try {
      return { value: this.call(name, args), outputs: [], errorMessage: null };
    } catch (error) {
      if (error instanceof PluginRaisedError) return { value: undefined, outputs: [], errorMessage: error.pluginMessage };
      throw error;
    }
  }

  #note(ptr: number, size: number): void {
    const frees = this.#frees;
    const count = this.#freeCount;
    if (count < NOTE_SCAN) {
      for (let i = 0; i < count; i += 2) if (frees[i] === ptr) return;
    } else {
      // a call handing over many blocks (callbacks in a loop): an index, not a scan per block
      const seen = (this.#noted ??= new Set());
      if (seen.size === 0) for (let i = 0; i < count; i += 2) seen.add(frees[i]!);
      if (seen.has(ptr)) return;
      seen.add(ptr);
    }
    frees[count] = ptr;
    frees[count + 1] = size;
    this.#freeCount = count + 2;
  }

  #freeAll(): void {
    const count = this.#freeCount;
    if (count === 0) return;
    this.#freeCount = 0;
    this.#noted?.clear();
    const deallocate = this.#kernelOf().deallocate;
    if (deallocate === undefined) return;
    const frees = this.#frees;
    for (let i = 0; i < count; i += 2) deallocate(frees[i]!, frees[i + 1]!);
  }

  #memory(): PluginMemory {
    const memory = this.port.memory();
    if (memory === undefined) throw new AllocationError(`plugin ${this.port.context.plugin}: strings and bytes need the plugin's memory, and it exports none`, this.port.context);
    return memory;
  }

  #kernelOf(): Kernel {
    if (this.#kernel !== undefined) return this.#kernel;
    const exports = this.port.exports();
    const fn = <T>(name: string): T | undefined => (typeof exports[name] === 'function' ? (exports[name] as T) : undefined);
    return (this.#kernel = { allocate: fn('allocate'), deallocate: fn('deallocate'), stringSize: fn('get_string_size') });
  }
}

function allNumbers(args: readonly unknown[]): boolean {
  for (let i = 0; i < args.length; i++) if (typeof args[i] !== 'number') return false;
  return true;
}
