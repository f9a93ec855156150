import type { Engine } from '../engine.js';
import { InvalidOptionError, type WaspError } from '../errors.js';
import { MAX_INLINE_POOL_SIZE, MAX_WORKER_POOL_SIZE } from '../limits.js';
import { InlinePluginPool } from './inline-pool.js';
import type { PoolHeaders } from './wire.js';
import { WorkerPluginPool } from './worker-pool.js';

/** The message a pooled call handles, readable by the plugin through wasp.subject / wasp.header. */
export interface PoolMessage {
  subject: string;
  /** a header may carry one value or several; the plugin reads the first (headers with a get(name) are read through it) */
  headers?: PoolHeaders;
}

/**
 * How submit hands back a call's outcome: the caller's ticket and a result or
 * a typed error. The result is valid until `done` returns (an inline pool
 * reuses it and its arrays): keep what you need, not the object.
 */
export type PoolDone<T> = (ticket: T, result: PoolResult | undefined, error: WaspError | undefined) => void;

export interface PoolResult {
  outputs: Uint8Array[];
  /** side outputs the plugin emitted (wasp.emit) to subjects `emits` allows; none when the call failed */
  emits: { subject: string; data: Uint8Array }[];
}

export interface PoolOptions {
  /** instances (inline) or worker threads (worker); default 1, at most 256 inline and 64 workers */
  size?: number;
  /** inline: in this thread, synchronously; worker: in worker threads, in batches; default inline */
  mode?: 'inline' | 'worker';
  /** a call or instantiation running longer fails with PluginTimeoutError and its instance is replaced; default the plugin's timeoutMs, 0 for none */
  timeoutMs?: number;
  /** subject patterns side outputs may go to; anything else is refused (the plugin gets -2) */
  emits?: string[];
  /** fields added to every line the plugin logs, e.g. `{ stage: 'upper' }` */
  logFields?: Record<string, unknown>;
}

/** What a pool counts over its life, in either mode. */
export interface PoolCounters {
  /** instances (or workers) replaced after a trap, a timeout or a trapping wasp_free */
  replacedInstances: number;
  /** side outputs refused: invalid subject, outside `emits` */
  refusedEmits: number;
}

/**
 * A pool of instances of one plugin behind one async call, the same whether
 * the instances run inline or in worker threads: the same limits, deadline,
 * replacement of broken instances (retried with backoff when a replacement
 * cannot be made), logging and counters.
 */
export interface PluginPool {
  readonly mode: 'inline' | 'worker';
  readonly size: number;
  readonly counters: Readonly<PoolCounters>;
  /** Resolves once every instance is up; rejects with the reason when the module cannot be instantiated. */
  ready(): Promise<void>;
  call(fn: string, data: Uint8Array | string, message?: PoolMessage): Promise<PoolResult>;
  /**
   * call without a promise per call, for callers that handle many (a
   * pipeline stage): `done` gets `ticket` back with the outcome, before
   * submit returns inline, when the worker answers in worker mode.
   */
  submit<T>(fn: string, data: Uint8Array | string, message: PoolMessage | undefined, ticket: T, done: PoolDone<T>): void;
  close(): Promise<void>;
}

export function createPool(engine: Engine, plugin: string, options: PoolOptions = {}): PluginPool {
  const size = options.size ?? 1;
  const worker = options.mode === 'worker';
  const max = worker ? MAX_WORKER_POOL_SIZE : MAX_INLINE_POOL_SIZE;
  if (!Number.isInteger(size) || size < 1 || size > max) {
    throw new InvalidOptionError('size', `plugin ${plugin}: pool size must be a whole number from 1 to at most ${max} ${worker ? 'workers' : 'instances'}`, { plugin });
  }
  return worker ? new WorkerPluginPool(engine.plugin(plugin), engine.logger, size, options) : new InlinePluginPool(engine, plugin, size, options);
}
