// What crosses between the pool and its worker threads: batches of calls one
// way, batches of results the other, one postMessage each.
import * as errors from '../errors.js';
import type { FuncType, ExportInfo, ImportInfo } from '../wasm-binary.js';
import type { PluginOptions } from '../plugin.js';

export interface WorkerSetup {
  name: string;
  module: WebAssembly.Module;
  sha256: string;
  exports: readonly ExportInfo[];
  imports: readonly ImportInfo[];
  options: PluginOptions;
  /** [index into the progress array] where this worker reports the call it is in */
  progress: SharedArrayBuffer;
  emits: readonly string[];
}

/** A byte range in the batch's one buffer. */
export type Span = [offset: number, length: number];

export interface CallRequest {
  fn: string;
  data: Span;
  subject?: string;
  headers?: [string, string][];
}

export type CallResult = { outputs: Span[]; emits: [string, Span][] } | { error: SerializedError; emits: [string, Span][] };

export interface SerializedError {
  name: string;
  message: string;
  plugin?: string;
  function?: string;
  status?: number;
  pluginMessage?: string | null;
}

// Every payload of a batch travels in one transferred ArrayBuffer: one copy in, one out, no per-message clone.
export type ToWorker = { type: 'batch'; id: number; calls: CallRequest[]; buffer: ArrayBuffer };
export type FromWorker =
  | { type: 'results'; id: number; results: CallResult[]; buffer: ArrayBuffer }
  | { type: 'ready' }
  | { type: 'failed'; error: SerializedError };

/** Packs byte arrays into one buffer and records where each went. */
export class Packer {
  #parts: Uint8Array[] = [];
  #size = 0;
  add(bytes: Uint8Array): Span {
    const span: Span = [this.#size, bytes.length];
    this.#parts.push(bytes);
    this.#size += bytes.length;
    return span;
  }
  finish(): ArrayBuffer {
    const out = new Uint8Array(this.#size);
    let at = 0;
    for (const part of this.#parts) {
      out.set(part, at);
      at += part.length;
    }
    return out.buffer;
  }
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof errors.PluginCallError) {
    return { name: error.name, message: error.message, plugin: error.plugin, function: error.function, status: error.status, pluginMessage: error.pluginMessage };
  }
  if (error instanceof errors.WaspError) return { name: error.name, message: error.message, plugin: error.plugin, function: error.function };
  return { name: 'Error', message: error instanceof Error ? error.message : String(error) };
}

// The errors a call can raise whose constructor is (message, context).
const SIMPLE_ERRORS: Record<string, new (message: string, context: errors.ErrorContext) => errors.WaspError> = {
  PluginTrapError: errors.PluginTrapError,
  PluginTimeoutError: errors.PluginTimeoutError,
  MemoryAccessError: errors.MemoryAccessError,
  OutputLimitError: errors.OutputLimitError,
  AllocationError: errors.AllocationError,
  SignatureError: errors.SignatureError,
  FunctionNotFoundError: errors.FunctionNotFoundError,
  UnexpectedOutputsError: errors.UnexpectedOutputsError,
  InstanceStateError: errors.InstanceStateError,
};

/** The same typed error on this side of the thread boundary. */
export function reviveError(e: SerializedError): errors.WaspError {
  const context = { plugin: e.plugin, function: e.function };
  if (e.name === 'PluginCallError') {
    const error = new errors.PluginCallError(e.status ?? 1, e.pluginMessage ?? null, context);
    return error;
  }
  const Class = SIMPLE_ERRORS[e.name];
  if (Class !== undefined) return new Class(e.message, context);
  return new errors.WaspError(e.message, context);
}

export type { FuncType };
