import type { WASI } from '@wasmer/wasi';
import type { AbiCalls, AbiPort } from './abi/abi.js';
import { createAdapter } from './abi/adapters.js';
import { bindCallback, type CallbackHost } from './callbacks.js';
import {
  AllocationError,
  CallbackError,
  CallLimitError,
  InstanceStateError,
  OutputLimitError,
  PluginCallError,
  PluginTimeoutError,
  PluginTrapError,
  SignatureError,
  UnexpectedOutputsError,
  WaspError,
  describe,
  type ErrorContext,
} from './errors.js';
import { DEADLINE_IMPORT } from './deadline/instrument.js';
import { EMIT_ACCEPTED, EMIT_BAD_POINTER, EMIT_INVALID_SUBJECT, EMIT_NO_EMITTER, EMIT_REFUSED, NOT_FOUND } from './host-imports.js';
import { checkTimeout, DEADLINE_STEPS, HOST_WORK_LOOK_BYTES, MAX_LOG_LINE_BYTES, MAX_SUBJECT_BYTES, PAGE_BYTES, RECORD_COST } from './limits.js';
import { LOG_LEVELS, type Logger, type LogLevel } from './logger.js';
import { isPublishSubject, matchesAny } from './subjects.js';
import { guardWasi } from './wasi-guard.js';
import { routeOutput, type OutputStream } from './wasi-output.js';
import { copyOut } from './copy-out.js';
import { outOfBounds, PluginMemory } from './memory.js';
import type { Plugin } from './plugin.js';
import { formatType } from './host-imports.js';
import { createWasi, type WasiOptions } from './wasi.js';
import type { FuncType } from './wasm-binary.js';

/** A value passed to an export: numbers to numeric parameters, strings and bytes as (ptr, len). */
export type Arg = number | bigint | string | Uint8Array;

/** Receives a plugin's side outputs (wasp.emit); return false to refuse one. */
export type EmitHandler = (subject: string, data: Uint8Array) => boolean | void;

/** The headers of the message a call handles, as the plugin sees them through wasp.header. */
export interface MessageHeaders {
  /** The first value of the header, or undefined when absent. */
  get(name: string): string | undefined;
}

export interface InstanceOptions {
  onEmit?: EmitHandler;
  /**
   * Subject patterns side outputs may go to; anything else is refused before
   * onEmit sees it (the plugin gets EMIT_REFUSED). Default: every valid subject.
   */
  emits?: readonly string[];
  /** This instance's deadline in ms, over the plugin's timeoutMs; 0 for none. */
  timeoutMs?: number;
  /** Replaces the plugin's WASI world for this instance. */
  wasi?: WasiOptions;
  /** Fields added to every line the plugin logs (wasp.log, WASI stdout and stderr), e.g. the pipeline stage. */
  logFields?: Record<string, unknown>;
}

export interface RawResult {
  value: number | bigint | undefined;
  outputs: Uint8Array[];
  errorMessage: string | null;
}

/** What a typed handle takes and gives; see Instance.func. */
export type ParamKind = 'string' | 'bytes' | 'i32' | 'i64' | 'f32' | 'f64';
export type ResultKind = 'string' | 'bytes' | 'outputs' | 'number' | 'void';
export interface FuncSpec<R extends ResultKind = ResultKind> {
  params: readonly ParamKind[];
  result: R;
}
type ResultOf<R extends ResultKind> = R extends 'string'
  ? string | null
  : R extends 'bytes'
    ? Uint8Array | null
    : R extends 'outputs'
      ? Uint8Array[]
      : R extends 'number'
        ? number | bigint
        : undefined;

// The hot paths test these flags with `=== true`: the JIT cannot tell that the
// fields hold booleans, and a bare truthiness test compiles to a generic ToBoolean.
interface Entry {
  readonly name: string;
  readonly fn: (...slots: unknown[]) => unknown;
  readonly type: FuncType;
  /** the export returns exactly one i32, so it can be a string/bytes call's status */
  readonly hasStatus: boolean;
  /** the export's parameters are exactly one (ptr, len) pair */
  readonly isBlockCall: boolean;
  /** up to three i32/f32/f64 parameters: numbers pass straight through (see #call0..#call3) */
  readonly isPlain: boolean;
  readonly arity: number;
  /** the fast handle for a numbers-only export (see #numericHandle), null when it has none */
  numeric: ((...args: number[]) => unknown) | null;
}

// The instance's state as bits, so a call checks it with one compare.
const IDLE = 0;
const BUSY = 1;
const REMOVED = 2;

const MODE_NUMBER = 0;
const MODE_BYTES = 1;
const MODE_STRING = 2;
type Mode = typeof MODE_NUMBER | typeof MODE_BYTES | typeof MODE_STRING;
type Output = Uint8Array | string;

/**
 * One sandboxed instance of a plugin: its own memory, WASI world and call
 * state. Calls are synchronous and never recompile; the instance is not
 * re-entrant (a callback cannot call back into the instance that called it).
 * This class calls wasp/1 plugins; ForeignInstance (abi/foreign-instance.ts)
 * the others, through their ABI's adapter. Use createInstance.
 */
export class Instance {
  /** Set after a trap or a throwing callback: the plugin was unwound mid-call and its state may be inconsistent. */
  needsReplacement = false;

  readonly #plugin: Plugin;
  readonly #logger: Logger;
  readonly #onEmit: EmitHandler | undefined;
  readonly #wasi: WASI | undefined;
  readonly #memory: PluginMemory | undefined;
  /** wasp_alloc, when the plugin also exports memory to put the blocks in; see #noAllocator */
  readonly #alloc: ((size: number) => number) | undefined;
  readonly #free: (ptr: number, size: number) => void;
  readonly #exports: WebAssembly.Exports;
  readonly #entries = new Map<string, Entry>();
  #lastEntry: Entry | undefined;
  readonly #maxOutput: number;
  readonly #maxCallBytes: number;
  readonly #maxEmits: number;
  readonly #emits: readonly string[] | undefined;
  readonly #logFields: Record<string, unknown> | undefined;
  readonly #timeoutMs: number;
  readonly #stdio: { flush(): void } | undefined;
  /**
   * The calls of a plugin of another ABI than wasp/1, which ForeignInstance hands its calls to;
   * undefined for wasp/1, whose calls are this class's own and look at nothing else.
   */
  protected readonly abiCalls: AbiCalls | undefined;
  #refusedEmits = 0;
  // The deadline: when the current call first looked at the clock (0: not yet), and whether it ran out.
  #callStart = 0;
  #timedOut = false;

  // Per-call state, reset at the start of each call; kept in fields so the hot path allocates nothing.
  #state = IDLE;
  #function = '';
  #mode: Mode = MODE_NUMBER;
  #first: Output | null = null;
  #rest: Output[] | null = null;
  #count = 0;
  #errorMessage: string | null = null;
  #pending: WaspError | null = null;
  #subject: string | null = null;
  #headers: MessageHeaders | undefined;
  /** bytes the call handed the host (outputs, side outputs, log lines), and side outputs it emitted */
  #spent = 0;
  #emitted = 0;
  // Reused across calls and never truncated (setting an array's length costs more than the call itself).
  readonly #slots: unknown[] = [];
  readonly #blocks: number[] = [];
  #blockCount = 0;

  /** Use engine.getInstance. */
  constructor(plugin: Plugin, logger: Logger, options: InstanceOptions) {
    this.#plugin = plugin;
    this.#logger = logger;
    this.#onEmit = options.onEmit;
    this.#emits = options.emits;
    this.#logFields = options.logFields;
    const limits = plugin.limits;
    this.#maxOutput = limits.maxOutputBytes;
    this.#maxCallBytes = limits.maxCallBytes;
    this.#maxEmits = limits.maxEmitsPerCall;
    this.#timeoutMs = checkTimeout(options.timeoutMs ?? limits.timeoutMs, { plugin: plugin.name });

    const host: CallbackHost = {
      context: { plugin: plugin.name },
      memory: () => this.#requireMemory('a callback'),
      allocate: (size, purpose) => this.#allocateInCall(size, purpose),
      failed: (error) => this.#failedUnder(error),
    };
    Object.defineProperty(host, 'context', { get: () => this.#context() });

    const imports: Record<string, Record<string, unknown>> = {
      wasp: {
        output: (ptr: number, len: number) => this.#output(ptr, len),
        error: (ptr: number, len: number) => this.#error(ptr, len),
        emit: (sp: number, sl: number, dp: number, dl: number) => this.#emit(sp, sl, dp, dl),
        log: (level: number, ptr: number, len: number) => this.#log(level, ptr, len),
        subject: (ptr: number, cap: number) => (this.#subject === null ? NOT_FOUND : this.#copyOut(this.#subject, ptr, cap, 'wasp.subject')),
        header: (np: number, nl: number, ptr: number, cap: number) => this.#header(np, nl, ptr, cap),
      },
    };
    const adapter = createAdapter(plugin, this.#port());
    this.abiCalls = adapter;
    if (adapter !== undefined) Object.assign(imports, adapter.hostImports());
    for (const callback of plugin.callbacks) {
      (imports[callback.namespace] ??= {})[callback.name] = adapter !== undefined ? adapter.bindCallback(callback) : bindCallback(callback, host);
    }
    const module = plugin.moduleFor(this.#timeoutMs);
    if (this.#timeoutMs > 0) imports[DEADLINE_IMPORT.module] = { [DEADLINE_IMPORT.name]: this.#check };
    if (plugin.usesWasi) {
      this.#wasi = createWasi(options.wasi ?? plugin.wasi ?? {}, { plugin: plugin.name });
      const wasi = this.#wasi.getImports(module) as Record<string, Record<string, unknown>>;
      // guarded first: stdout and stderr are then taken by routeOutput before they reach it
      const fileBytes = limits.memoryLimitPages * PAGE_BYTES;
      guardWasi(wasi, {
        memory: () => this.#memory?.bytes(),
        work: this.#hostWork,
        fileBytes,
        exhausted: () => {
          this.needsReplacement = true;
          this.#logger.warn(`plugin ${plugin.name}: its WASI files took ${fileBytes} bytes, as much as memoryLimitPages allows; writes now fail with ENOSPC, and the instance is replaced`, { plugin: plugin.name, function: this.#function || undefined });
        },
      });
      this.#stdio = routeOutput(wasi, () => this.#memory?.bytes(), (stream, line) => this.#logLine('debug', line, stream), this.#hostWork);
      catchExit(wasi);
      Object.assign(imports, wasi);
    }

    let wasm: WebAssembly.Instance;
    try {
      wasm = new WebAssembly.Instance(module, imports as WebAssembly.Imports);
    } catch (cause) {
      throw this.#startFailed('start', 'instantiation failed', cause);
    }
    try {
      this.#wasi?.instantiate(wasm);
    } catch (cause) {
      throw this.#startFailed('start', 'WASI could not be set up', cause);
    }
    this.#exports = wasm.exports;
    const memory = wasm.exports.memory;
    this.#memory = memory instanceof WebAssembly.Memory ? new PluginMemory(memory) : undefined;
    this.#alloc = this.#memory === undefined ? undefined : (asFunction(wasm.exports.wasp_alloc) as ((size: number) => number) | undefined);
    this.#free = (asFunction(wasm.exports.wasp_free) as ((ptr: number, size: number) => void) | undefined) ?? noFree;

    const initialize = asFunction(wasm.exports._initialize);
    // Plugins of other hosts expect their set-up done once: a TinyGo module's _start sets up its
    // runtime (and returns, or exits 0), which Go Wasp never ran, so its plugins corrupted their
    // own heap after some thousands of calls; Extism runs _start for a command module, and
    // hs_init for a Haskell one.
    const start = initialize === undefined && plugin.abi !== 'wasp/1' ? asFunction(wasm.exports._start) : undefined;
    const haskell = plugin.abi === 'extism' ? asFunction(wasm.exports.hs_init) : undefined;
    for (const [fn, setUp] of [[initialize !== undefined ? '_initialize' : '_start', initialize ?? start], ['hs_init', haskell]] as const) {
      if (setUp === undefined) continue;
      this.#callStart = 0;
      try {
        setUp();
      } catch (cause) {
        if (!(cause instanceof WasiExit && cause.code === 0 && fn === '_start')) {
          throw this.#startFailed(fn, cause instanceof WasiExit ? `${fn} exited with code ${cause.code}` : `${fn} trapped`, cause);
        }
      }
    }
    const leftOver = adapter?.afterSetUp?.();
    if (leftOver !== undefined) {
      this.remove();
      throw leftOver;
    }
  }

  /** What an ABI adapter sees of this instance (see AbiPort). */
  #port(): AbiPort {
    const port: AbiPort = {
      context: { plugin: this.#plugin.name },
      memory: () => this.#memory,
      exports: () => this.#exports,
      begin: (fn) => this.#begin(fn, MODE_NUMBER),
      end: () => {
        this.#state &= REMOVED;
        if (this.#pending !== null) throw this.#abort(this.#pending, false);
      },
      fail: (error, inPlugin) => this.#abort(error, inPlugin),
      record: (error) => this.#record(error),
      callbackFailed: (error) => this.#failedUnder(error),
      log: (level, line) => {
        const n = Buffer.byteLength(line, 'utf8');
        this.#logLine(level, n > MAX_LOG_LINE_BYTES ? `${Buffer.from(line, 'utf8').subarray(0, MAX_LOG_LINE_BYTES).toString('utf8')}…` : line, undefined);
      },
      // the logger filters by level itself, and says nothing of its own: plugins send everything
      logLevel: () => 'trace',
      maxOutputBytes: this.#maxOutput,
    };
    Object.defineProperty(port, 'context', { get: () => this.#context() });
    return port;
  }

  /** Why an instance could not be made: its start function or _initialize ran out of time, trapped, or its imports did not fit. */
  #startFailed(fn: string, what: string, cause: unknown): WaspError {
    this.remove();
    const context = { plugin: this.#plugin.name, function: fn, cause };
    if (this.#timedOut) {
      return new PluginTimeoutError(`plugin ${this.#plugin.name}: ${fn === 'start' ? 'the start function' : fn} ran past its ${this.#timeoutMs} ms deadline`, {
        ...context,
        timeoutMs: this.#timeoutMs,
      });
    }
    return new PluginTrapError(`plugin ${this.#plugin.name}: ${what}: ${describe(cause)}`, context);
  }

  /**
   * The instrumented module's look at the clock (deadline/instrument.ts): the
   * deadline runs from the call's first look, so a call that never loops long
   * enough to look costs nothing. Past the deadline it returns 0 and the
   * module traps, which Wasm cannot catch; the trap is then reported as the timeout.
   */
  readonly #check = (): number => {
    const now = performance.now();
    if (this.#callStart === 0) this.#callStart = now;
    else if (now - this.#callStart > this.#timeoutMs) {
      this.#timedOut = true;
      return 0;
    }
    return DEADLINE_STEPS;
  };

  /** Side outputs this instance refused (invalid subject, outside `emits`, refused by onEmit) since it was made. */
  get refusedEmits(): number {
    return this.#refusedEmits;
  }

  /** This instance's deadline in ms (0: none). */
  get timeoutMs(): number {
    return this.#timeoutMs;
  }

  get plugin(): Plugin {
    return this.#plugin;
  }

  /** Current size of the plugin's linear memory in bytes (0 when it exports none). */
  get memoryBytes(): number {
    return this.#memory?.byteLength ?? 0;
  }

  get removed(): boolean {
    return (this.#state & REMOVED) !== 0;
  }

  /** Calls an export and returns its own return value (an i64 as bigint; undefined when it returns nothing). */
  call(name: string, ...args: Arg[]): number | bigint | undefined {
    const entry = this.#entry(name);
    // Spelled out per arity: the private methods are fixed call targets the JIT inlines, where a per-export closure is not.
    if (entry.isPlain === true && args.length === entry.arity) {
      switch (args.length) {
        case 0:
          return this.#call0(entry) as number | undefined;
        case 1:
          return this.#call1(entry, args[0] as number) as number | undefined;
        case 2:
          return this.#call2(entry, args[0] as number, args[1] as number) as number | undefined;
        default:
          return this.#call3(entry, args[0] as number, args[1] as number, args[2] as number) as number | undefined;
      }
    }
    return this.#invoke(entry, args, MODE_NUMBER) as number | bigint | undefined;
  }

  /** Calls an export that hands back its result through wasp.output: the output as text, null when it gave none. */
  callString(name: string, arg?: Arg, ...more: Arg[]): string | null {
    const entry = this.#statusEntry(name);
    if (more.length === 0 && entry.isBlockCall === true && typeof arg === 'string') this.#callWithString(entry, arg, MODE_STRING);
    else this.#callAny(entry, arg, more, MODE_STRING);
    return this.#single() as string | null;
  }

  /** Like callString, for bytes. */
  callBytes(name: string, arg?: Arg, ...more: Arg[]): Uint8Array | null {
    const entry = this.#statusEntry(name);
    if (more.length === 0 && entry.isBlockCall === true && arg instanceof Uint8Array) this.#callWithBytes(entry, arg, MODE_BYTES);
    else this.#callAny(entry, arg, more, MODE_BYTES);
    return this.#single() as Uint8Array | null;
  }

  // The hot paths above stay small because the JIT inlines only so much bytecode into a
  // caller's loop; everything off the common shape goes through here.
  #callAny(entry: Entry, arg: Arg | undefined, more: Arg[], mode: Mode): void {
    if (more.length === 0 && entry.isBlockCall && arg !== undefined) this.#callBlock(entry, arg, mode);
    else this.#invoke(entry, arg === undefined ? more : [arg, ...more], mode);
  }

  /**
   * Calls an export without interpreting its return value: the value itself,
   * every output in order, and the message set with wasp.error, if any.
   */
  callRaw(name: string, ...args: Arg[]): RawResult {
    const value = this.#invoke(this.#entry(name), args, MODE_NUMBER) as RawResult['value'];
    return { value, outputs: this.#all() as Uint8Array[], errorMessage: this.#errorMessage };
  }

  /** Every output of the call, in order: none, one, or several (a flatMap). */
  callOutputs(name: string, ...args: Arg[]): Uint8Array[] {
    this.#invoke(this.#statusEntry(name), args, MODE_BYTES);
    return this.#all() as Uint8Array[];
  }

  /**
   * callOutputs of a (ptr, len) export for a stage's hot path: null for no output, the output
   * itself for one, an array only for several, so the common call allocates nothing but its copy.
   */
  callFlat(name: string, arg: Uint8Array | string): Uint8Array | Uint8Array[] | null {
    const entry = this.#statusEntry(name);
    if (entry.isBlockCall === true && arg instanceof Uint8Array) this.#callWithBytes(entry, arg, MODE_BYTES);
    else this.#callAny(entry, arg, [], MODE_BYTES);
    return this.#count > 1 ? (this.#all() as Uint8Array[]) : (this.#single() as Uint8Array | null);
  }

  /**
   * A typed handle: the export is looked up and its signature checked against
   * `spec` once, so a mismatch fails here rather than on first call, and each
   * call skips the lookup.
   */
  func<R extends ResultKind>(name: string, spec: FuncSpec<R>): (...args: Arg[]) => ResultOf<R> {
    const mode = spec.result === 'string' ? MODE_STRING : spec.result === 'number' || spec.result === 'void' ? MODE_NUMBER : MODE_BYTES;
    const entry = mode === MODE_NUMBER ? this.#entry(name) : this.#statusEntry(name);
    checkSpec(entry, spec, this.#context());
    const result = spec.result;
    if (result === 'number' || result === 'void') {
      if (entry.numeric !== null) return entry.numeric as (...args: Arg[]) => ResultOf<R>;
      return (...args) => this.#invoke(entry, args, mode) as ResultOf<R>;
    }
    if (spec.params.length === 1 && (spec.params[0] === 'string' || spec.params[0] === 'bytes')) {
      if (result === 'outputs') {
        return ((arg: Arg) => {
          this.#callBlock(entry, arg, mode);
          return this.#all();
        }) as (...args: Arg[]) => ResultOf<R>;
      }
      return ((arg: Arg) => {
        this.#callBlock(entry, arg, mode);
        return this.#single();
      }) as (...args: Arg[]) => ResultOf<R>;
    }
    if (result === 'outputs') {
      return (...args) => {
        this.#invoke(entry, args, mode);
        return this.#all() as ResultOf<R>;
      };
    }
    return (...args) => {
      this.#invoke(entry, args, mode);
      return this.#single() as ResultOf<R>;
    };
  }

  /**
   * The message the next calls handle, readable by the plugin through
   * wasp.subject and wasp.header; null clears it.
   */
  setMessage(subject: string | null, headers?: MessageHeaders): void {
    this.#subject = subject;
    this.#headers = headers;
  }

  /** Releases the instance; later calls fail with InstanceStateError. */
  remove(): void {
    if (this.removed) return;
    this.#state |= REMOVED;
    this.#entries.clear();
    this.#lastEntry = undefined;
    this.#first = this.#rest = null;
    this.#stdio?.flush();
    this.#wasi?.free();
  }

  #context(): ErrorContext {
    return { plugin: this.#plugin.name, function: this.#function };
  }

  #entry(name: string): Entry {
    // Callers mostly repeat one function: a pointer compare beats a Map lookup.
    const last = this.#lastEntry;
    return last !== undefined && last.name === name ? last : this.#lookup(name);
  }

  /** An entry for a string or bytes call, whose return value is the status. */
  #statusEntry(name: string): Entry {
    // #entry spelled out: one call level less on the hot path, which the JIT inlines only so deep.
    const last = this.#lastEntry;
    const entry = last !== undefined && last.name === name ? last : this.#lookup(name);
    if (entry.hasStatus !== true) throw this.#noStatus(entry);
    return entry;
  }

  #lookup(name: string): Entry {
    let entry = this.#entries.get(name);
    if (entry === undefined) {
      if (this.removed) throw new InstanceStateError(`plugin ${this.#plugin.name}: instance was removed`, this.#context());
      const type = this.#plugin.functionType(name);
      const params = type.params;
      entry = {
        name,
        fn: this.#exports[name] as Entry['fn'],
        type,
        hasStatus: type.results.length === 1 && type.results[0] === 'i32',
        isBlockCall: params.length === 2 && params[0] === 'i32' && params[1] === 'i32',
        isPlain: params.length <= 3 && params.every((p) => p === 'i32' || p === 'f32' || p === 'f64'),
        arity: params.length,
        numeric: null,
      };
      entry.numeric = this.#numericHandle(entry);
      this.#entries.set(name, entry);
    }
    this.#lastEntry = entry;
    return entry;
  }

  #noStatus(entry: Entry): SignatureError {
    return new SignatureError(
      `plugin ${this.#plugin.name}: ${entry.name} has type ${formatType(entry.type)}; a string or bytes call needs an i32 status result`,
      { plugin: this.#plugin.name, function: entry.name },
    );
  }

  /** For a plain export (see Entry.isPlain): a handle that passes numbers straight through. */
  #numericHandle(entry: Entry): ((...args: number[]) => unknown) | null {
    if (!entry.isPlain) return null;
    switch (entry.arity) {
      case 0:
        return () => this.#call0(entry);
      case 1:
        return (a: number) => this.#call1(entry, a);
      case 2:
        return (a: number, b: number) => this.#call2(entry, a, b);
      default:
        return (a: number, b: number, c: number) => this.#call3(entry, a, b, c);
    }
  }

  // One per arity, with the call bookkeeping and nothing else; one try and no finally (a finally costs more than the call).
  #call0(entry: Entry): unknown {
    this.#enter(entry, MODE_NUMBER);
    let result: unknown;
    try {
      result = entry.fn();
    } catch (error) {
      throw this.#abort(error, true);
    }
    return this.#leave(result, MODE_NUMBER);
  }

  #call1(entry: Entry, a: number): unknown {
    if (typeof a !== 'number') throw this.#badNumbers(entry, [a]);
    this.#enter(entry, MODE_NUMBER);
    let result: unknown;
    try {
      result = entry.fn(a);
    } catch (error) {
      throw this.#abort(error, true);
    }
    return this.#leave(result, MODE_NUMBER);
  }

  #call2(entry: Entry, a: number, b: number): unknown {
    if (typeof a !== 'number' || typeof b !== 'number') throw this.#badNumbers(entry, [a, b]);
    this.#enter(entry, MODE_NUMBER);
    let result: unknown;
    try {
      result = entry.fn(a, b);
    } catch (error) {
      throw this.#abort(error, true);
    }
    return this.#leave(result, MODE_NUMBER);
  }

  #call3(entry: Entry, a: number, b: number, c: number): unknown {
    if (typeof a !== 'number' || typeof b !== 'number' || typeof c !== 'number') throw this.#badNumbers(entry, [a, b, c]);
    this.#enter(entry, MODE_NUMBER);
    let result: unknown;
    try {
      result = entry.fn(a, b, c);
    } catch (error) {
      throw this.#abort(error, true);
    }
    return this.#leave(result, MODE_NUMBER);
  }

  /** The error for the first argument of a plain call that is not a number. */
  #badNumbers(entry: Entry, args: unknown[]): SignatureError {
    const index = args.findIndex((a) => typeof a !== 'number');
    return this.#badArg(entry, index, args[index]);
  }

  // #enter and #begin are the same steps, kept apart on purpose: #begin also runs for the
  // instances of other ABIs (ForeignInstance), and sharing one body would make the property
  // accesses of wasp/1's hot path see two object shapes, which made its calls up to 2x slower.
  #enter(entry: Entry, mode: Mode): void {
    if (this.#state !== IDLE) throw this.#stateError(entry.name);
    this.#state = BUSY;
    this.#function = entry.name;
    this.#mode = mode;
    this.#count = 0;
    this.#errorMessage = null;
    this.#pending = null;
    this.#callStart = 0;
    this.#spent = 0;
    this.#emitted = 0;
  }

  #begin(name: string, mode: Mode): void {
    if (this.#state !== IDLE) throw this.#stateError(name);
    this.#state = BUSY;
    this.#function = name;
    this.#mode = mode;
    this.#count = 0;
    this.#errorMessage = null;
    this.#pending = null;
    this.#callStart = 0;
    this.#spent = 0;
    this.#emitted = 0;
  }

  #leave(result: unknown, mode: Mode): unknown {
    this.#state &= REMOVED; // a callback may have removed the instance during the call
    if (this.#pending !== null) throw this.#abort(this.#pending, false);
    if (mode !== MODE_NUMBER && result !== 0) throw this.#failed(result as number);
    return result;
  }

  #failed(status: number): WaspError {
    return this.#abort(new PluginCallError(status, this.#errorMessage, this.#context()), false);
  }

  /** The common stage shape, one string or bytes as (ptr, len), without the general marshalling loop. */
  #callBlock(entry: Entry, arg: Arg, mode: Mode): void {
    if (typeof arg === 'string') this.#callWithString(entry, arg, mode);
    else if (arg instanceof Uint8Array) this.#callWithBytes(entry, arg, mode);
    else throw this.#badArg(entry, 0, arg);
  }

  // #callWithBytes and #callWithString differ only in how the block is filled. They are
  // kept apart so that each stays small enough for the JIT to inline whole into its caller
  // and reads .length from one kind of object.
  #callWithBytes(entry: Entry, bytes: Uint8Array, mode: Mode): void {
    this.#enter(entry, mode);
    const size = bytes.length;
    let ptr = 0;
    let result: unknown;
    try {
      if (size !== 0) {
        // One view for the bounds check and the copy: each read of a view's length checks for a detached buffer.
        const block = this.#allocate(size);
        const view = this.#memory!.bytes();
        if (block + size > view.length) throw this.#badBlock(block, size);
        view.set(bytes, block);
        ptr = block;
      }
      result = entry.fn(ptr, size);
    } catch (error) {
      throw this.#abortBlock(error, ptr, size);
    }
    if (ptr !== 0) this.#freeBlock(ptr, size);
    this.#leave(result, mode);
  }

  #callWithString(entry: Entry, text: string, mode: Mode): void {
    this.#enter(entry, mode);
    let size = 0;
    let ptr = 0;
    let result: unknown;
    try {
      if (text.length !== 0) {
        size = Buffer.byteLength(text, 'utf8');
        ptr = this.#allocateInput(size);
        this.#memory!.writeUtf8(text, ptr, size);
      }
      result = entry.fn(ptr, size);
    } catch (error) {
      throw this.#abortBlock(error, ptr, size);
    }
    if (ptr !== 0) this.#freeBlock(ptr, size);
    this.#leave(result, mode);
  }

  /**
   * Ends a block call that threw. The block is in place (ptr set) once the
   * copy-in succeeded, so an error with ptr still 0 and a non-empty input came
   * from the copy-in: an AllocationError of ours, or wasp_alloc trapping.
   */
  #abortBlock(error: unknown, ptr: number, size: number): WaspError {
    const inPlugin = ptr !== 0 || size === 0 || !(error instanceof WaspError);
    const failure = this.#abort(error, inPlugin);
    // after the failure is named: wasp_free's own deadline check would otherwise trap first and
    // make a timeout read as a trap; an unwound instance is not called again at all
    if (ptr !== 0 && !this.needsReplacement) this.#freeBlock(ptr, size);
    return failure;
  }

  #invoke(entry: Entry, args: readonly Arg[], mode: Mode): unknown {
    this.#enter(entry, mode);
    let result: unknown;
    let inPlugin = false;
    // One try and no finally: both cost more than the call itself on this path.
    try {
      const count = this.#marshal(entry, args, this.#slots);
      inPlugin = true;
      result = callWith(entry.fn, this.#slots, count);
    } catch (error) {
      throw this.#abort(error, inPlugin || !(error instanceof WaspError));
    }
    if (this.#blockCount !== 0) this.#freeBlocks();
    return this.#leave(result, mode);
  }

  /** Ends a failed call: drops its outputs, frees its inputs, and marks the instance when the plugin was unwound. */
  #abort(error: unknown, inPlugin: boolean): WaspError {
    this.#state &= REMOVED;
    this.#first = this.#rest = null;
    this.#count = 0;
    const failure = inPlugin ? this.#unwound(error) : (error as WaspError);
    if (this.#blockCount !== 0) {
      // an unwound instance is replaced, blocks and all: calling its wasp_free again could only fail too
      if (this.needsReplacement) this.#blockCount = 0;
      else this.#freeBlocks();
    }
    return failure;
  }

  /** Fills slots with the export's parameters and returns how many; input blocks are noted for freeing. */
  #marshal(entry: Entry, args: readonly Arg[], slots: unknown[]): number {
    const params = entry.type.params;
    let at = 0;
    for (let i = 0; i < args.length; i++) {
      const arg = args[i];
      const param = params[at];
      if (typeof arg === 'string' || arg instanceof Uint8Array) {
        if (param !== 'i32' || params[at + 1] !== 'i32') throw this.#badArg(entry, i, arg);
        this.#writeBlock(arg, slots, at);
        at += 2;
      } else if (param === 'i64') {
        if (typeof arg === 'bigint') slots[at++] = arg;
        else if (Number.isSafeInteger(arg)) slots[at++] = BigInt(arg);
        else throw this.#badArg(entry, i, arg);
      } else if ((param === 'i32' || param === 'f32' || param === 'f64') && typeof arg === 'number') {
        slots[at++] = arg;
      } else {
        throw this.#badArg(entry, i, arg);
      }
    }
    if (at !== params.length) {
      throw new SignatureError(
        `plugin ${this.#plugin.name}: ${entry.name} has type ${formatType(entry.type)}; the ${args.length} argument(s) given fill ${at} parameter(s)`,
        this.#context(),
      );
    }
    return at;
  }

  /** Copies a string or bytes into a fresh plugin block, noted for freeing; empty ones pass as (0, 0). */
  #writeBlock(arg: string | Uint8Array, slots: unknown[], at: number): void {
    let ptr = 0;
    let size = 0;
    if (arg.length !== 0) {
      size = typeof arg === 'string' ? Buffer.byteLength(arg, 'utf8') : arg.length;
      ptr = this.#copyIn(arg, size);
      this.#blocks[this.#blockCount++] = ptr;
      this.#blocks[this.#blockCount++] = size;
    }
    slots[at] = ptr;
    slots[at + 1] = size;
  }

  /** A block from wasp_alloc holding the string (UTF-8, `size` bytes) or the bytes. */
  #copyIn(arg: string | Uint8Array, size: number): number {
    return typeof arg === 'string' ? this.#stringIn(arg, size) : this.#bytesIn(arg, size);
  }

  #bytesIn(bytes: Uint8Array, size: number): number {
    const ptr = this.#allocateInput(size);
    this.#memory!.bytes().set(bytes, ptr);
    return ptr;
  }

  #stringIn(text: string, size: number): number {
    const ptr = this.#allocateInput(size);
    this.#memory!.writeUtf8(text, ptr, size);
    return ptr;
  }

  #badArg(entry: Entry, index: number, arg: unknown): SignatureError {
    const kind = arg instanceof Uint8Array ? 'bytes' : typeof arg;
    return new SignatureError(
      `plugin ${this.#plugin.name}: argument ${index + 1} (${kind}) does not fit ${entry.name}'s type ${formatType(entry.type)}`,
      this.#context(),
    );
  }

  /** A block of `size` bytes from wasp_alloc, checked to lie inside memory. */
  #allocateInput(size: number): number {
    const ptr = this.#allocate(size);
    if (ptr + size > this.#memory!.bytes().length) throw this.#badBlock(ptr, size);
    return ptr;
  }

  /** A block from wasp_alloc, not yet checked against memory (the caller does that with the view it writes through). */
  #allocate(size: number): number {
    const alloc = this.#alloc;
    if (alloc === undefined) throw this.#noAllocator();
    // A trap in wasp_alloc propagates: callers treat any non-Wasp error as the plugin unwinding.
    const ptr = alloc(size) >>> 0;
    if (ptr === 0) throw this.#badBlock(ptr, size);
    return ptr;
  }

  #noAllocator(): AllocationError {
    const missing = asFunction(this.#exports.wasp_alloc) === undefined ? 'wasp_alloc' : 'memory';
    return new AllocationError(`plugin ${this.#plugin.name}: cannot pass strings or bytes: the plugin exports no ${missing}`, this.#context());
  }

  #badBlock(ptr: number, size: number): AllocationError {
    const what = ptr === 0 ? 'returned 0' : `returned ${ptr}, outside memory`;
    return new AllocationError(`plugin ${this.#plugin.name}: wasp_alloc(${size}) ${what}`, this.#context());
  }

  /** For a callback's result: a failure is recorded for the call instead of unwinding the plugin. */
  #allocateInCall(size: number, purpose: string): number {
    try {
      return this.#allocateInput(size);
    } catch (error) {
      if (!(error instanceof WaspError)) throw error; // wasp_alloc trapped: unwind
      this.#record(
        new AllocationError(`plugin ${this.#plugin.name}: cannot allocate ${size} bytes for the ${purpose}: ${describe(error)}`, {
          ...this.#context(),
          cause: error,
        }),
      );
      return 0;
    }
  }

  #freeBlocks(): void {
    const blocks = this.#blocks;
    const count = this.#blockCount;
    this.#blockCount = 0;
    for (let i = 0; i < count; i += 2) this.#freeBlock(blocks[i]!, blocks[i + 1]!);
  }

  #freeBlock(ptr: number, size: number): void {
    try {
      this.#free(ptr, size);
    } catch (error) {
      this.#freeTrapped(error);
    }
  }

  #freeTrapped(error: unknown): void {
    // The call's own outcome stands; a plugin that cannot free is not to be trusted with more calls.
    this.needsReplacement = true;
    this.#timedOut = false;
    this.#logger.error('wasp_free trapped', { plugin: this.#plugin.name, function: this.#function, error: describe(error) });
  }

  /** An exception came out of the plugin: a trap, or a host function that threw through it. */
  #unwound(error: unknown): WaspError {
    this.needsReplacement = true;
    if (this.#timedOut) {
      this.#timedOut = false;
      return this.#timeoutError(error);
    }
    if (error instanceof WaspError) return error;
    // An abort handler sets its message with wasp.error and then traps: the message is what went wrong.
    const said = this.#errorMessage;
    // WASI's own proc_exit threw an object that read as [object Object]
    const how = error instanceof WasiExit ? `exited with code ${error.code} (WASI proc_exit)` : `trapped: ${describe(error)}`;
    const message = said === null ? `${this.#function} ${how}` : `${this.#function} failed: ${said} (${how})`;
    return new PluginTrapError(`plugin ${this.#plugin.name}: ${message}`, { ...this.#context(), cause: error, pluginMessage: said });
  }

  #record(error: WaspError): void {
    this.#pending ??= error;
  }

  /** The call ran past its deadline. */
  #timeoutError(cause?: unknown): PluginTimeoutError {
    return new PluginTimeoutError(`plugin ${this.#plugin.name}: ${this.#function} ran past its ${this.#timeoutMs} ms deadline`, {
      ...this.#context(),
      timeoutMs: this.#timeoutMs,
      cause,
    });
  }

  /**
   * A host function failed under the plugin (a callback, or the deadline it looked at): the call
   * fails when it returns, even if the plugin caught what was thrown (a catch_all), and the
   * instance, unwound part way, is not trusted again. Returns the error, to throw.
   */
  #failedUnder<E extends WaspError>(error: E): E {
    this.#record(error);
    this.needsReplacement = true;
    return error;
  }

  #stateError(name: string): InstanceStateError {
    return new InstanceStateError(
      this.removed
        ? `plugin ${this.#plugin.name}: instance was removed`
        : `plugin ${this.#plugin.name}: ${name} called while ${this.#function} is running on the same instance`,
      { plugin: this.#plugin.name, function: name },
    );
  }

  #requireMemory(who: string): PluginMemory {
    if (this.#memory === undefined) {
      throw new AllocationError(`plugin ${this.#plugin.name}: ${who} needs the plugin's memory, and it exports none`, this.#context());
    }
    return this.#memory;
  }

  #single(): Output | null {
    const count = this.#count;
    if (count > 1) throw this.#tooMany(count);
    const out = count === 0 ? null : this.#first;
    this.#first = null;
    return out;
  }

  #tooMany(count: number): UnexpectedOutputsError {
    this.#first = this.#rest = null;
    return new UnexpectedOutputsError(
      `plugin ${this.#plugin.name}: ${this.#function} gave ${count} outputs where one was expected; use callOutputs`,
      this.#context(),
    );
  }

  #all(): Output[] {
    const out = this.#count === 0 ? [] : this.#rest === null ? [this.#first!] : [this.#first!, ...this.#rest];
    this.#first = this.#rest = null;
    return out;
  }

  // --- host imports (module "wasp") ---

  #output(ptr: number, len: number): void {
    if (this.#pending !== null || (this.#state & BUSY) === 0) return;
    const p = ptr >>> 0;
    const n = len >>> 0;
    const memory = this.#memory;
    if (memory === undefined) return this.#badOutput(p, n);
    const bytes = memory.bytes();
    if (n > this.#maxOutput || p + n > bytes.length) return this.#badOutput(p, n);
    if ((this.#spent += n + RECORD_COST) > this.#maxCallBytes) return this.#overBudget();
    const value = this.#mode === MODE_STRING ? memory.readUtf8(p, p + n) : copyOut(bytes, p, n);
    if (this.#count++ === 0) {
      this.#first = value;
      this.#rest = null;
    } else (this.#rest ??= []).push(value);
  }

  /** Records why an output was refused: over the limit, or outside memory. */
  #badOutput(p: number, n: number): void {
    if (n > this.#maxOutput) {
      const message = `plugin ${this.#plugin.name}: ${this.#function} gave a ${n}-byte output, over the ${this.#maxOutput}-byte limit`;
      this.#record(new OutputLimitError(message, this.#context()));
    } else {
      this.#record(outOfBounds(p, n, this.memoryBytes, 'wasp.output', this.#context()));
    }
  }

  #overBudget(): void {
    this.#first = this.#rest = null; // let go of what the call gave so far: it fails anyway
    this.#record(
      new CallLimitError(
        `plugin ${this.#plugin.name}: ${this.#function} handed the host more than its maxCallBytes (${this.#maxCallBytes} bytes in outputs, side outputs and log lines)`,
        'maxCallBytes',
        this.#maxCallBytes,
        this.#context(),
      ),
    );
  }

  #error(ptr: number, len: number): void {
    // like a log line, only the first MAX_LOG_LINE_BYTES are read: the message ends up in a log or a header
    const n = len >>> 0;
    if (this.#memory === undefined || !this.#memory.contains(ptr, n)) {
      this.#record(outOfBounds(ptr >>> 0, n, this.memoryBytes, 'wasp.error', this.#context()));
      return;
    }
    const message = this.#readString(ptr, Math.min(n, MAX_LOG_LINE_BYTES), 'wasp.error');
    if (message !== null) this.#errorMessage = n > MAX_LOG_LINE_BYTES ? `${message}…` : message;
  }

  #emit(subjectPtr: number, subjectLen: number, dataPtr: number, dataLen: number): number {
    if (this.#onEmit === undefined) return EMIT_NO_EMITTER;
    if (this.#pending !== null) return EMIT_REFUSED; // the call has failed already: nothing more goes out
    if ((dataLen >>> 0) > this.#maxOutput) {
      this.#record(
        new OutputLimitError(`plugin ${this.#plugin.name}: a ${dataLen >>> 0}-byte side output is over the limit`, this.#context()),
      );
      return EMIT_REFUSED;
    }
    if ((subjectLen >>> 0) > MAX_SUBJECT_BYTES) {
      this.#refusedEmits++;
      return EMIT_INVALID_SUBJECT;
    }
    const subject = this.#readString(subjectPtr, subjectLen, 'wasp.emit subject');
    const memory = this.#memory;
    if (subject === null || memory === undefined || !memory.contains(dataPtr, dataLen)) {
      if (subject !== null) this.#record(outOfBounds(dataPtr >>> 0, dataLen >>> 0, this.memoryBytes, 'wasp.emit data', this.#context()));
      return EMIT_BAD_POINTER;
    }
    if (!isPublishSubject(subject)) {
      this.#refusedEmits++;
      return EMIT_INVALID_SUBJECT;
    }
    if (this.#emits !== undefined && !matchesAny(this.#emits, subject)) {
      this.#refusedEmits++;
      return EMIT_REFUSED;
    }
    if (++this.#emitted > this.#maxEmits) {
      this.#record(
        new CallLimitError(`plugin ${this.#plugin.name}: ${this.#function} emitted more than its maxEmitsPerCall (${this.#maxEmits}) side outputs`, 'maxEmitsPerCall', this.#maxEmits, this.#context()),
      );
      return EMIT_REFUSED;
    }
    if ((this.#spent += (dataLen >>> 0) + subject.length + RECORD_COST) > this.#maxCallBytes) {
      this.#overBudget();
      return EMIT_REFUSED;
    }
    const data = copyOut(memory.bytes(), dataPtr >>> 0, dataLen >>> 0);
    let accepted: boolean | void;
    try {
      accepted = this.#onEmit(subject, data);
    } catch (cause) {
      throw this.#failedUnder(new CallbackError('wasp.emit', { ...this.#context(), cause }));
    }
    if (accepted !== false) return EMIT_ACCEPTED;
    this.#refusedEmits++;
    return EMIT_REFUSED;
  }

  #log(level: number, ptr: number, len: number): void {
    if (this.#pending !== null) return;
    // Only the first MAX_LOG_LINE_BYTES are read: a plugin cannot make the host copy more per line.
    const n = len >>> 0;
    const message = this.#readString(ptr, Math.min(n, MAX_LOG_LINE_BYTES), 'wasp.log');
    if (message === null) return;
    const name = LOG_LEVELS[Math.min(Math.max(level, 0), LOG_LEVELS.length - 1)]!;
    this.#logLine(name, n > MAX_LOG_LINE_BYTES ? `${message}…` : message, undefined);
  }

  /** A line the plugin logged (wasp.log, or a line of WASI stdout/stderr), charged to the call's budget. */
  #logLine(level: LogLevel, message: string, stream: OutputStream | undefined): void {
    if ((this.#state & BUSY) !== 0) {
      if (this.#pending !== null) return;
      if ((this.#spent += message.length + RECORD_COST) > this.#maxCallBytes) return this.#overBudget();
    }
    const fields: Record<string, unknown> = { plugin: this.#plugin.name, function: this.#function || undefined, ...this.#logFields };
    if (stream !== undefined) fields.stream = stream;
    this.#logger[level](message, fields);
  }

  #header(namePtr: number, nameLen: number, ptr: number, cap: number): number {
    const name = this.#readString(namePtr, nameLen, 'wasp.header name');
    if (name === null || this.#subject === null) return NOT_FOUND;
    const value = this.#headers?.get(name);
    return value === undefined ? NOT_FOUND : this.#copyOut(value, ptr, cap, 'wasp.header');
  }

  /** snprintf-style: writes text into the plugin's buffer when it fits, and returns its UTF-8 length either way. */
  #copyOut(text: string, ptr: number, cap: number, what: string): number {
    const length = Buffer.byteLength(text, 'utf8');
    if (length > (cap >>> 0)) return length;
    const memory = this.#memory;
    if (memory === undefined || !memory.contains(ptr, length)) {
      this.#record(outOfBounds(ptr >>> 0, length, this.memoryBytes, what, this.#context()));
      return NOT_FOUND;
    }
    memory.writeUtf8(text, ptr >>> 0, length);
    return length;
  }

  /** A string the plugin points at, or null after recording a MemoryAccessError for the call. */
  #readString(ptr: number, len: number, what: string): string | null {
    const memory = this.#memory;
    if (memory === undefined || !memory.contains(ptr, len)) {
      this.#record(outOfBounds(ptr >>> 0, len >>> 0, this.memoryBytes, what, this.#context()));
      return null;
    }
    this.#hostWork(len >>> 0);
    return memory.readUtf8(ptr >>> 0, (ptr >>> 0) + (len >>> 0));
  }

  /**
   * A host call about to do work the plugin sized (`bytes` to read, fill or hash) looks at the
   * deadline when the work is large. The module's own checks come every DEADLINE_STEPS loop
   * turns, and a loop whose every turn is such a call would otherwise run that many of them
   * between two looks (hours, for calls over all of memory). Past the deadline the call fails
   * there: recorded, so that a plugin catching the throw still fails, and the instance replaced.
   */
  readonly #hostWork = (bytes: number): void => {
    if (bytes < HOST_WORK_LOOK_BYTES || this.#timeoutMs === 0 || this.#check() !== 0) return;
    throw this.#failedUnder(this.#timeoutError());
  };
}

function noFree(): void {}

function asFunction(value: unknown): ((...args: number[]) => unknown) | undefined {
  return typeof value === 'function' ? (value as (...args: number[]) => unknown) : undefined;
}

// Spreading an array allocates; the common arities are spelled out.
function callWith(fn: (...slots: unknown[]) => unknown, s: unknown[], count: number): unknown {
  switch (count) {
    case 0:
      return fn();
    case 1:
      return fn(s[0]);
    case 2:
      return fn(s[0], s[1]);
    case 3:
      return fn(s[0], s[1], s[2]);
    case 4:
      return fn(s[0], s[1], s[2], s[3]);
    default:
      return fn(...s.slice(0, count));
  }
}

function checkSpec(entry: Entry, spec: FuncSpec, context: ErrorContext): void {
  const params = spec.params.flatMap((k) => (k === 'string' || k === 'bytes' ? ['i32', 'i32'] : [k]));
  const wanted = spec.result === 'number' ? entry.type.results : spec.result === 'void' ? [] : ['i32'];
  const want: FuncType = { params: params as FuncType['params'], results: wanted as FuncType['results'] };
  const fits =
    params.length === entry.type.params.length &&
    params.every((p, i) => p === entry.type.params[i]) &&
    (spec.result === 'number' ? entry.type.results.length === 1 : want.results.length === entry.type.results.length && want.results.every((r, i) => r === entry.type.results[i]));
  if (!fits) {
    throw new SignatureError(
      `plugin ${context.plugin}: ${entry.name} has type ${formatType(entry.type)}, which does not fit ${JSON.stringify(spec)} (needs ${formatType(want)})`,
      { ...context, function: entry.name },
    );
  }
}

/** proc_exit from a plugin of another host: thrown through the plugin, so _start may end with exit code 0. */
class WasiExit extends Error {
  constructor(readonly code: number) {
    super(`proc_exit(${code})`);
  }
}

/** Turns WASI's proc_exit into a WasiExit the instance can tell apart (during _start, exit 0 ends set-up). */
function catchExit(wasi: Record<string, Record<string, unknown>>): void {
  for (const module of Object.values(wasi)) {
    if (typeof module.proc_exit === 'function') {
      module.proc_exit = (code: number) => {
        throw new WasiExit(code);
      };
    }
  }
}
