// The calling conventions a plugin may be written against. wasp/1 is the engine's own and lives
// in instance.ts, on the hot path; the others are adapters the instance hands its calls to.
import type { Callback } from '../callbacks.js';
import type { CallbackError, ErrorContext, WaspError } from '../errors.js';
import type { LogLevel } from '../logger.js';
import type { PluginMemory } from '../memory.js';
import type { ExportInfo, ImportInfo } from '../wasm-binary.js';

export type AbiName = 'wasp/1' | 'wasp-go' | 'extism';
export const ABI_NAMES: readonly AbiName[] = ['wasp/1', 'wasp-go', 'extism'];

/**
 * The ABI a module was built for, from what it imports and exports: imports from `wasp` mean
 * wasp/1; Extism's kernel imports mean extism; Go Wasp's allocate and get_string_size without
 * wasp_alloc mean wasp-go; else wasp/1.
 */
export function detectAbi(imports: readonly ImportInfo[], exports: readonly ExportInfo[]): AbiName {
  // a module that imports Wasp's own host functions is wasp/1, whatever else it exports
  if (imports.some((i) => i.module === 'wasp')) return 'wasp/1';
  if (imports.some((i) => i.module === 'extism:host/env' || (i.module === 'env' && i.name.startsWith('extism_')))) return 'extism';
  const exported = (name: string): boolean => exports.some((e) => e.name === name && e.kind === 'function');
  if (exported('allocate') && exported('get_string_size') && !exported('wasp_alloc')) return 'wasp-go';
  return 'wasp/1';
}

/**
 * The Wasm type of a function that can be a pipeline stage, per ABI: wasp/1 takes the message as
 * (ptr, len) and returns a status, its outputs through wasp.output; wasp-go takes a pointer to a
 * length-prefixed block and returns one (0: no output).
 */
export const STAGE_TYPES: Readonly<Record<AbiName, string>> = { 'wasp/1': '(i32, i32) -> i32', 'wasp-go': '(i32) -> i32', extism: '() -> i32' };


/** What an ABI adapter may ask of the instance it serves: its memory and exports, and the call's bookkeeping. */
export interface AbiPort {
  readonly context: ErrorContext;
  /** the plugin's memory (set once instantiated) */
  memory(): PluginMemory | undefined;
  /** the plugin's exports (set once instantiated) */
  exports(): WebAssembly.Exports;
  /** Starts a call of `fn`: the instance becomes busy and the deadline restarts; throws when the instance is busy or removed. */
  begin(fn: string): void;
  /** Ends a call that returned: throws what a host function recorded for it (a callback that failed, say). */
  end(): void;
  /** Ends a call that threw; `inPlugin`: the plugin was unwound (a trap, the deadline), so the instance must be replaced. */
  fail(error: unknown, inPlugin: boolean): WaspError;
  /** Records a failure for the current call without unwinding the plugin; end() throws it. */
  record(error: WaspError): void;
  /** Records a callback's failure for the call and marks the instance for replacement; returns it to throw. */
  callbackFailed(error: CallbackError): CallbackError;
  /** A line the plugin logged, to the engine's logger with the plugin's fields (cut to 4 KiB). */
  log(level: LogLevel, line: string): void;
  /** The least level a plugin should log at (get_log_level). */
  logLevel(): LogLevel;
  readonly maxOutputBytes: number;
}

/** An ABI's side of an instance: the imports it answers, its callbacks, its calls. */
export interface AbiAdapter extends AbiCalls {
  /** The host functions this ABI answers, by module and name, bound to the instance. */
  hostImports(): Record<string, Record<string, unknown>>;
  /** A registered callback as a plugin of this ABI imports it. */
  bindCallback(callback: Callback): (...raw: never[]) => unknown;
  /** After the module's set-up ran: a failure it left (a raised error, say) fails the instantiation. */
  afterSetUp?(): WaspError | undefined;
}

/** The calls of Instance, for a plugin of another ABI. */
export interface AbiCalls {
  call(name: string, args: readonly unknown[]): number | bigint | undefined;
  callString(name: string, args: readonly unknown[]): string | null;
  callBytes(name: string, args: readonly unknown[]): Uint8Array | null;
  /** Every output of a call: none or one for these ABIs. */
  callOutputs(name: string, args: readonly unknown[]): Uint8Array[];
  /** The export's own return value, its outputs and the message it gave for a failure, without interpreting them. */
  callRaw(name: string, args: readonly unknown[]): { value: number | bigint | undefined; outputs: Uint8Array[]; errorMessage: string | null };
}
