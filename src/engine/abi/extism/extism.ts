// ABI extism: plugins built with Extism's PDKs (Rust, Go, Haskell, JavaScript, Zig, C, .NET,
// AssemblyScript) run unmodified. An export is `() -> i32`: it reads its input and writes its
// output through Extism's kernel ("extism:host/env"), and a non-zero return fails the call with
// the message it gave error_set. The kernel's byte-moving functions are Wasm (kernel.wat), linked
// straight into the plugin; config, vars and logs are answered here. The older `env.extism_*`
// names of early Go PDK builds are the same functions. User host functions live in
// "extism:host/user" and take and return i64 kernel offsets.
import { bindOneValueCallback, type Callback, type CallbackSignature } from '../../callbacks.js';
import { AllocationError, CallLimitError, FunctionNotFoundError, HostFunctionRefusedError, OutputLimitError, PluginCallError, SignatureError, WaspError } from '../../errors.js';
import { formatType } from '../../host-imports.js';
import type { LogLevel } from '../../logger.js';
import { copyOut } from '../../copy-out.js';
import { MAX_LOG_LINE_BYTES } from '../../limits.js';
import { outOfBounds, PluginMemory } from '../../memory.js';
import type { FuncType, ValType } from '../../wasm-binary.js';
import type { AbiAdapter, AbiPort } from '../abi.js';
import { KeyNames } from './key-names.js';
import { KERNEL_WASM_BASE64 } from './kernel-wasm.js';

export const EXTISM_ENV = 'extism:host/env';
export const EXTISM_USER = 'extism:host/user';
/** The prefix of the same functions' older names, in module "env". */
export const EXTISM_OLD_PREFIX = 'extism_';

const i64 = 'i64' as const;
const i32 = 'i32' as const;
/** Every function of extism:host/env that Wasp offers, and its type. */
export const EXTISM_IMPORTS: Readonly<Record<string, FuncType>> = {
  alloc: { params: [i64], results: [i64] },
  free: { params: [i64], results: [] },
  length: { params: [i64], results: [i64] },
  length_unsafe: { params: [i64], results: [i64] },
  load_u8: { params: [i64], results: [i32] },
  load_u64: { params: [i64], results: [i64] },
  store_u8: { params: [i64, i32], results: [] },
  store_u64: { params: [i64, i64], results: [] },
  input_length: { params: [], results: [i64] },
  input_offset: { params: [], results: [i64] },
  input_load_u8: { params: [i64], results: [i32] },
  input_load_u64: { params: [i64], results: [i64] },
  output_set: { params: [i64, i64], results: [] },
  error_set: { params: [i64], results: [] },
  config_get: { params: [i64], results: [i64] },
  var_get: { params: [i64], results: [i64] },
  var_set: { params: [i64, i64], results: [] },
  log_trace: { params: [i64], results: [] },
  log_debug: { params: [i64], results: [] },
  log_info: { params: [i64], results: [] },
  log_warn: { params: [i64], results: [] },
  log_error: { params: [i64], results: [] },
  get_log_level: { params: [], results: [i32] },
};
/**
 * Extism's HTTP functions. Wasp links them so that plugins importing them run (the JavaScript
 * PDK imports http_request whether the plugin uses it or not), but a call to one fails the plugin
 * call with HostFunctionRefusedError: a plugin reaches the network only through host functions
 * the user adds.
 */
export const EXTISM_REFUSED: Readonly<Record<string, FuncType>> = {
  http_request: { params: [i64, i64], results: [i64] },
  http_status_code: { params: [], results: [i32] },
  http_headers: { params: [], results: [i64] },
};

/** The Wasm type an Extism plugin imports a host function with: a string or bytes is one i64 kernel offset. */
export function extismCallbackType(signature: CallbackSignature): FuncType {
  const one = (t: string): ValType => (t === 'string' || t === 'bytes' ? 'i64' : (t as ValType));
  const r = signature.result ?? 'void';
  return { params: signature.params.map(one), results: r === 'void' ? [] : [one(r)] };
}

/** Extism's log levels, as get_log_level answers them. */
const LEVEL_NUMBER: Record<LogLevel, number> = { trace: 0, debug: 1, info: 2, warn: 3, error: 4 };
const LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error'];

/** The kernel's memory is at most 1 GiB, or the plugin's memoryLimitPages when lower. */
const KERNEL_MAX_PAGES = 16_384;
/** What an instance's vars may hold in all, keys and values (Extism's own default). */
export const MAX_VAR_BYTES = 1 << 20;

let kernelModule: WebAssembly.Module | undefined;
function kernelOf(): WebAssembly.Module {
  return (kernelModule ??= new WebAssembly.Module(Buffer.from(KERNEL_WASM_BASE64, 'base64')));
}

interface KernelExports {
  host_reset(): void;
  host_begin(n: number): number;
  host_alloc(n: number): number;
  host_length(p: number): number;
  host_input_set(p: number, n: number): void;
  host_output_offset(): number;
  host_output_length(): number;
  host_error(): number;
}

interface Entry {
  readonly name: string;
  readonly fn: () => number | undefined;
}

const NUMBER = 0;
const STRING = 1;
const BYTES = 2;
const RAW = 3;
type Kind = typeof NUMBER | typeof STRING | typeof BYTES | typeof RAW;

export class ExtismCalls implements AbiAdapter {
  readonly #kernel: WebAssembly.Instance;
  readonly #k: KernelExports;
  readonly #vars = new Map<string, Uint8Array>();
  #varBytes = 0;
  /** config values as UTF-8, encoded once */
  readonly #config = new Map<string, Uint8Array>();
  readonly #memory: PluginMemory;
  readonly #keys: KeyNames;
  #last: Entry | undefined;

  constructor(
    readonly port: AbiPort,
    readonly functionType: (name: string) => FuncType,
    readonly config: Readonly<Record<string, string>>,
    /** the plugin's memoryLimitPages: the kernel's memory is bounded by it too */
    memoryLimitPages: number,
  ) {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: Math.min(memoryLimitPages, KERNEL_MAX_PAGES) });
    this.#kernel = new WebAssembly.Instance(kernelOf(), {
      host: {
        memory,
        config_get: (p: number, n: number) => this.#configGet(p, n),
        var_get: (p: number, n: number) => this.#varGet(p, n),
        var_set: (kp: number, kn: number, vp: number, vn: number) => this.#varSet(kp, kn, vp, vn),
        // only the first MAX_LOG_LINE_BYTES are read, as for wasp.log: the port cuts the line there anyway
        log: (level: number, p: number, n: number) => {
          const at = p >>> 0;
          const len = n >>> 0;
          this.#checked(at, len, 'a log line');
          const line = this.#memory.readUtf8(at, at + Math.min(len, MAX_LOG_LINE_BYTES));
          this.port.log(LEVELS[level] ?? 'info', len > MAX_LOG_LINE_BYTES ? `${line}…` : line);
        },
        log_level: () => LEVEL_NUMBER[this.port.logLevel()],
      },
    });
    this.#k = this.#kernel.exports as unknown as KernelExports;
    this.#memory = new PluginMemory(memory);
    this.#keys = new KeyNames((at, n) => this.#memory.readUtf8(at, at + n));
    for (const [key, value] of Object.entries(config)) this.#config.set(key, Buffer.from(value, 'utf8'));
  }

  hostImports(): Record<string, Record<string, unknown>> {
    const k = this.#kernel.exports;
    const env: Record<string, unknown> = {};
    for (const name of Object.keys(EXTISM_IMPORTS)) env[name] = k[name];
    for (const name of Object.keys(EXTISM_REFUSED)) env[name] = () => this.#refuse(name);
    const old = Object.fromEntries(Object.entries(env).map(([name, fn]) => [`${EXTISM_OLD_PREFIX}${name}`, fn]));
    return { [EXTISM_ENV]: env, env: old };
  }

  /** The call fails, even if the plugin catches what is thrown here (recorded first). */
  #refuse(name: string): never {
    const error = new HostFunctionRefusedError(
      `plugin ${this.port.context.plugin}: ${this.port.context.function} called ${EXTISM_ENV}.${name}, Extism's HTTP host function, which Wasp does not offer: a plugin reaches the network only through host functions you add`,
      EXTISM_ENV,
      name,
      this.port.context,
    );
    this.port.record(error);
    throw error;
  }

  /** A host function in extism:host/user: strings and bytes as kernel blocks (one i64 offset each). */
  bindCallback(callback: Callback): (...raw: unknown[]) => unknown {
    return bindOneValueCallback(
      callback,
      () => this.port.context,
      (type, raw, what) => (type === 'string' ? this.#text(raw as bigint, what) : this.#block(raw as bigint, what)),
      (value, what) => BigInt(this.#put(typeof value === 'string' ? Buffer.from(value, 'utf8') : value, what)),
      0n,
      (error) => this.port.callbackFailed(error),
    );
  }

  call(name: string, args: readonly unknown[]): number | bigint | undefined {
    return this.#run(name, args, NUMBER) as number;
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

  /** The return code, the output if one was set, and the error_set message, none of them interpreted. */
  callRaw(name: string, args: readonly unknown[]): { value: number; outputs: Uint8Array[]; errorMessage: string | null } {
    return this.#run(name, args, RAW) as { value: number; outputs: Uint8Array[]; errorMessage: string | null };
  }

  #entry(name: string): Entry {
    const last = this.#last;
    if (last !== undefined && last.name === name) return last;
    const fn = this.port.exports()[name];
    if (typeof fn !== 'function') {
      throw new FunctionNotFoundError(`plugin ${this.port.context.plugin} exports no function ${name}`, { ...this.port.context, function: name });
    }
    const type = this.functionType(name);
    if (type.params.length !== 0 || type.results.length > 1 || (type.results.length === 1 && type.results[0] !== 'i32')) {
      throw this.#signature(name, type, 'an Extism export takes nothing and returns an i32');
    }
    return (this.#last = { name, fn: fn as () => number | undefined });
  }

  /** Input in, the export called, its output (or the return code, for call) out. */
  #run(name: string, args: readonly unknown[], kind: Kind): unknown {
    const entry = this.#entry(name);
    const input = args.length === 0 ? undefined : args[0];
    if (args.length > 1 || (input !== undefined && typeof input !== 'string' && !(input instanceof Uint8Array))) {
      throw this.#signature(name, this.functionType(name), 'an Extism call takes one input, a string or bytes');
    }
    const port = this.port;
    port.begin(name);
    const k = this.#k;
    let phase = 0;
    let rc: number;
    try {
      if (input === undefined || input.length === 0) k.host_begin(0);
      else {
        const isString = typeof input === 'string';
        const size = isString ? Buffer.byteLength(input, 'utf8') : input.length;
        const p = k.host_begin(size);
        if (p === 0) throw new AllocationError(`plugin ${port.context.plugin}: the kernel cannot hold an input of ${size} bytes`, port.context);
        if (isString) this.#memory.writeUtf8(input, p, size);
        else this.#bytes().set(input, p);
      }
      phase = 1;
      rc = (entry.fn() ?? 0) | 0;
    } catch (error) {
      throw port.fail(error, phase === 1 || !(error instanceof WaspError));
    }
    if (kind === NUMBER) {
      port.end();
      return rc;
    }
    // output_set and error_set leave their values at 0, 4 and 8 of the kernel's memory
    const u8 = this.#bytes();
    if (kind === RAW) return this.#raw(rc, name);
    if (rc !== 0) {
      const e = (u8[8]! | (u8[9]! << 8) | (u8[10]! << 16) | (u8[11]! << 24)) >>> 0;
      let message: string | null = null;
      try {
        message = e === 0 ? null : this.#text(e, 'the message given error_set');
      } catch (error) {
        throw port.fail(error, false);
      }
      throw port.fail(new PluginCallError(rc, message, { ...port.context, function: name }), false);
    }
    const p = (u8[0]! | (u8[1]! << 8) | (u8[2]! << 16) | (u8[3]! << 24)) >>> 0;
    const n = (u8[4]! | (u8[5]! << 8) | (u8[6]! << 16) | (u8[7]! << 24)) >>> 0;
    let out: string | Uint8Array | null = null;
    if (p !== 0 || n !== 0) {
      if (n > port.maxOutputBytes) {
        throw port.fail(new OutputLimitError(`plugin ${port.context.plugin}: the output of ${name} is ${n} bytes, over maxOutputBytes ${port.maxOutputBytes}`, port.context), false);
      }
      if (p + n > u8.length) throw port.fail(new AllocationError(`plugin ${port.context.plugin}: ${name} set an output outside the kernel's memory`, port.context), false);
      out = kind === STRING ? this.#memory.readUtf8(p, p + n) : copyOut(u8, p, n);
    }
    port.end();
    return out;
  }

  #raw(rc: number, name: string): { value: number; outputs: Uint8Array[]; errorMessage: string | null } {
    const port = this.port;
    const u8 = this.#bytes();
    const word = (at: number): number => (u8[at]! | (u8[at + 1]! << 8) | (u8[at + 2]! << 16) | (u8[at + 3]! << 24)) >>> 0;
    let result;
    try {
      const e = word(8);
      const p = word(0);
      const n = word(4);
      const outputs: Uint8Array[] = [];
      if (p !== 0 || n !== 0) {
        if (n > port.maxOutputBytes) {
          throw new OutputLimitError(`plugin ${port.context.plugin}: the output of ${name} is ${n} bytes, over maxOutputBytes ${port.maxOutputBytes}`, port.context);
        }
        this.#checked(p, n, `the output of ${name}`);
        outputs.push(copyOut(u8, p, n));
      }
      result = { value: rc, outputs, errorMessage: rc !== 0 && e !== 0 ? this.#text(e, 'the message given error_set') : null };
    } catch (error) {
      throw port.fail(error, false);
    }
    port.end();
    return result;
  }

  #signature(name: string, type: FuncType, what: string): SignatureError {
    return new SignatureError(`plugin ${this.port.context.plugin}: ${name} has type ${formatType(type)}: ${what}`, { ...this.port.context, function: name });
  }

  /** The kernel's memory, as it is now (a grow detaches the old view, which PluginMemory notices). */
  #bytes(): Uint8Array {
    return this.#memory.bytes();
  }

  /**
   * The block at kernel offset p: its offset and length, checked against the kernel's memory (a
   * plugin can overwrite a block's length). An offset that names no block is empty.
   */
  #range(p: bigint | number, what: string): number {
    const at = Number(p);
    if (at > 0xffffffff) throw outOfBounds(at, 0, this.#bytes().length, what, this.port.context);
    const n = this.#k.host_length(at) >>> 0;
    this.#checked(at, n, what);
    return n;
  }

  #checked(at: number, n: number, what: string): void {
    const size = this.#bytes().length;
    if (at + n > size) throw outOfBounds(at, n, size, what, this.port.context);
  }

  /** A copy of the block at kernel offset p (empty for an offset that names none). */
  #block(p: bigint | number, what: string): Uint8Array {
    const at = Number(p);
    const n = this.#range(at, what);
    return n === 0 ? new Uint8Array(0) : this.#bytes().slice(at, at + n);
  }

  /** The block at kernel offset p as UTF-8 text, decoded in place. */
  #text(p: bigint | number, what: string): string {
    const at = Number(p);
    const n = this.#range(at, what);
    return n === 0 ? '' : this.#memory.readUtf8(at, at + n);
  }

  /** [p, p + n) as text, after checking it (offsets and lengths from the kernel's trampolines). */
  #textIn(p: number, n: number, what: string): string {
    const at = p >>> 0;
    const len = n >>> 0;
    this.#checked(at, len, what);
    return this.#memory.readUtf8(at, at + len);
  }

  /** A new kernel block holding the bytes; its offset, or 0 after recording an AllocationError for the call (the kernel is full). */
  #put(bytes: Uint8Array, what: string): number {
    const p = this.#k.host_alloc(bytes.length);
    if (p === 0) {
      this.port.record(new AllocationError(`plugin ${this.port.context.plugin}: the kernel cannot hold ${what} (${bytes.length} bytes)`, this.port.context));
      return 0;
    }
    this.#bytes().set(bytes, p);
    return p;
  }

  /** A config or var key at [p, p + n), checked, as a string (the same few keys come every call). */
  #key(p: number, n: number, what: string): string {
    const at = p >>> 0;
    const len = n >>> 0;
    this.#checked(at, len, what);
    return this.#keys.name(this.#bytes(), at, len);
  }

  // Values are copied out of the kernel (which starts empty every call) into vars.
  #configGet(p: number, n: number): number {
    if (this.#config.size === 0) return 0;
    const value = this.#config.get(this.#key(p, n, 'a config_get key'));
    return value === undefined ? 0 : this.#put(value, 'a config value');
  }

  #varGet(p: number, n: number): number {
    const value = this.#vars.get(this.#key(p, n, 'a var_get key'));
    return value === undefined ? 0 : this.#put(value, 'a var');
  }

  #varSet(kp: number, kn: number, vp: number, vn: number): void {
    const name = this.#key(kp, kn, 'a var_set key');
    // by the name kept: keys of different bytes can decode to one name (invalid UTF-8 as U+FFFD),
    // and counting the bytes given let a set under one and a delete under another drive the count down
    const keyBytes = Buffer.byteLength(name, 'utf8');
    const before = this.#vars.get(name);
    const freed = before === undefined ? 0 : keyBytes + before.length;
    if (vp === 0) {
      this.#vars.delete(name);
      this.#varBytes -= freed;
      return;
    }
    const at = vp >>> 0;
    const len = vn >>> 0;
    this.#checked(at, len, 'a var_set value');
    // counted by what is kept, never by a length the plugin could forge
    const total = this.#varBytes - freed + keyBytes + len;
    if (total > MAX_VAR_BYTES) {
      // the var is not kept, and the call fails when it returns
      this.port.record(
        new CallLimitError(`plugin ${this.port.context.plugin}: vars would hold ${total} bytes, over ${MAX_VAR_BYTES}`, 'maxVarBytes', MAX_VAR_BYTES, this.port.context),
      );
      return;
    }
    const u8 = this.#bytes();
    if (before !== undefined && before.length === len) {
      // a counter or a flag set every call: its bytes change, its size does not
      if (len <= 64) for (let i = 0; i < len; i++) before[i] = u8[at + i]!;
      else before.set(u8.subarray(at, at + len));
    } else this.#vars.set(name, u8.slice(at, at + len));
    this.#varBytes = total;
  }

}
