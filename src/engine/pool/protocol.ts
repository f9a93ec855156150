// What a worker thread of a pool is started with, and how typed errors
// cross the thread boundary.
import type { MessagePort } from 'node:worker_threads';
import * as errors from '../errors.js';
import type { ExportInfo, ImportInfo } from '../wasm-binary.js';
import type { PluginOptions } from '../plugin.js';
import type { RingBuffers } from './ring.js';
import type { CallbackSpec } from './remote-callbacks.js';

export interface WorkerSetup {
  name: string;
  module: WebAssembly.Module;
  sha256: string;
  exports: readonly ExportInfo[];
  imports: readonly ImportInfo[];
  options: PluginOptions;
  emits: readonly string[];
  /** calls in, results out */
  calls: RingBuffers;
  results: RingBuffers;
  /** payloads too big for a ring record, both ways */
  bulk: MessagePort;
  callbacks: readonly CallbackSpec[];
  /** callback requests out, answers in; `answered` counts answers so the worker can block on it */
  callbackPort: MessagePort;
  answered: SharedArrayBuffer;
  /** two counters: calls started, calls finished (for deadlines) */
  progress: SharedArrayBuffer;
}

/** Worker to pool, outside the rings: start-up failed. */
export type FromWorker = { type: 'failed'; error: SerializedError };

export interface SerializedError {
  name: string;
  message: string;
  plugin?: string;
  function?: string;
  status?: number;
  pluginMessage?: string | null;
  callback?: string;
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof errors.PluginCallError) {
    return { name: error.name, message: error.message, plugin: error.plugin, function: error.function, status: error.status, pluginMessage: error.pluginMessage };
  }
  if (error instanceof errors.CallbackError) return { name: error.name, message: error.message, plugin: error.plugin, function: error.function, callback: error.callback };
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
  if (e.name === 'CallbackError') {
    const error = new errors.CallbackError(e.callback ?? 'unknown', context);
    error.message = e.message;
    return error;
  }
  const Class = SIMPLE_ERRORS[e.name];
  if (Class !== undefined) return new Class(e.message, context);
  return new errors.WaspError(e.message, context);
}

