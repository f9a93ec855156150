// What a worker thread of a pool is started with, and how typed errors
// cross the thread boundary.
import type { MessagePort } from 'node:worker_threads';
import type { AbiName } from '../abi/abi.js';
import * as errors from '../errors.js';
import type { ExportInfo, ImportInfo } from '../wasm-binary.js';
import type { LogLevel } from '../logger.js';
import type { PluginLimits } from '../limits.js';
import type { WasiOptions } from '../wasi.js';
import type { RingBuffers } from './ring.js';
import type { CallbackSpec } from './remote-callbacks.js';

export interface WorkerSetup {
  name: string;
  /** the variant for `timeoutMs`: instrumented for the deadline, or plain when it is 0 */
  module: WebAssembly.Module;
  sha256: string;
  abi: AbiName;
  config: Readonly<Record<string, string>> | undefined;
  exports: readonly ExportInfo[];
  imports: readonly ImportInfo[];
  limits: PluginLimits;
  wasi: WasiOptions | undefined;
  emits: readonly string[];
  /** fields added to every line the plugin logs (the stage, in a pipeline) */
  logFields: Record<string, unknown> | undefined;
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

/** Worker to pool, outside the rings: the instance is up, or start-up failed; with what the plugin logged meanwhile. */
export type FromWorker = { type: 'ready'; logs: LogRecord[] } | { type: 'failed'; error: SerializedError; logs: LogRecord[] };

/** A line a plugin logged in a worker, replayed to the engine's logger on the pool's thread. */
export interface LogRecord {
  level: LogLevel;
  message: string;
  fields: Record<string, unknown> | undefined;
}

/** A typed error as it crosses the thread boundary: its class by name, its own fields, its cause. */
export interface SerializedError {
  name: string;
  message: string;
  fields: Record<string, string | number | boolean | null>;
  cause?: SerializedError;
}

export function serializeError(error: unknown, depth = 0): SerializedError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error), fields: {} };
  const fields: SerializedError['fields'] = {};
  for (const [key, value] of Object.entries(error)) {
    if (key === 'name' || key === 'cause') continue;
    if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') fields[key] = value;
  }
  const out: SerializedError = { name: error.name, message: error.message, fields };
  if (error.cause !== undefined && depth < 4) out.cause = serializeError(error.cause, depth + 1);
  return out;
}

const WASP_ERRORS = new Map<string, typeof errors.WaspError>(
  Object.values(errors)
    .filter((value): value is typeof errors.WaspError => typeof value === 'function' && value.prototype instanceof Error && (value === errors.WaspError || value.prototype instanceof errors.WaspError))
    .map((Class) => [Class.name, Class]),
);

/** The same typed error on this side of the thread boundary: same class, message, fields and cause. */
export function reviveError(e: SerializedError): errors.WaspError {
  const revived = revive(e);
  return revived instanceof errors.WaspError ? revived : new errors.WaspError(e.message, { cause: revived });
}

function revive(e: SerializedError): Error {
  const Class = WASP_ERRORS.get(e.name);
  let error: Error;
  if (Class === undefined) {
    error = e.name === 'RuntimeError' ? new WebAssembly.RuntimeError(e.message) : Object.assign(new Error(e.message), { name: e.name });
  } else {
    // The constructors take different arguments; the fields carry everything they would set.
    error = Object.create(Class.prototype) as Error;
    Object.defineProperty(error, 'message', { value: e.message, writable: true, configurable: true });
    Error.captureStackTrace(error, revive);
    Object.assign(error, e.fields, { name: e.name });
  }
  if (e.cause !== undefined) Object.defineProperty(error, 'cause', { value: revive(e.cause), writable: true, configurable: true });
  return error;
}
