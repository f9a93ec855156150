import type { Engine } from '../engine.js';
import { asWaspError, type WaspError } from '../errors.js';
import type { Instance, MessageHeaders } from '../instance.js';
import { matchesAny } from '../../transport/subjects.js';
import { firstValue, type PoolHeaders } from './wire.js';
import { WorkerPluginPool } from './worker-pool.js';

/** The message a pooled call handles, readable by the plugin through wasp.subject / wasp.header. */
export interface PoolMessage {
  subject: string;
  /** a header may carry one value or several; the plugin reads the first */
  headers?: PoolHeaders;
}

/** How submit hands back a call's outcome: the caller's ticket and a result or a typed error. */
export type PoolDone<T> = (ticket: T, result: PoolResult | undefined, error: WaspError | undefined) => void;

export interface PoolResult {
  outputs: Uint8Array[];
  /** side outputs the plugin emitted (wasp.emit) to subjects `emits` allows */
  emits: { subject: string; data: Uint8Array }[];
}

export interface PoolOptions {
  /** instances (inline) or worker threads (worker); default 1 */
  size?: number;
  /** inline: in this thread, synchronously; worker: in worker threads, in batches; default inline */
  mode?: 'inline' | 'worker';
  /** worker mode: a call that runs longer is stopped (its worker is replaced) and fails with PluginTimeoutError */
  timeoutMs?: number;
  /** subject patterns side outputs may go to; anything else is refused (the plugin gets -2) */
  emits?: string[];
}

/**
 * A pool of instances of one plugin behind one async call, the same whether
 * the instances run inline or in worker threads.
 */
export interface PluginPool {
  readonly mode: 'inline' | 'worker';
  readonly size: number;
  call(fn: string, data: Uint8Array | string, message?: PoolMessage): Promise<PoolResult>;
  /**
   * call without a promise per call, for callers that handle many (a
   * pipeline stage): `done` gets `ticket` back with the outcome, at once
   * inline or when the worker answers.
   */
  submit<T>(fn: string, data: Uint8Array | string, message: PoolMessage | undefined, ticket: T, done: PoolDone<T>): void;
  close(): Promise<void>;
}

export function createPool(engine: Engine, plugin: string, options: PoolOptions = {}): PluginPool {
  const size = options.size ?? 1;
  if (!Number.isInteger(size) || size < 1) throw new RangeError('pool size must be a positive integer');
  return options.mode === 'worker' ? new WorkerPluginPool(engine.plugin(plugin), size, options) : new InlinePluginPool(engine, plugin, size, options.emits ?? []);
}

class InlinePluginPool implements PluginPool {
  readonly mode = 'inline';
  readonly #instances: Instance[] = [];
  #next = 0;
  #emitted: { subject: string; data: Uint8Array }[] = [];
  readonly #onEmit: (subject: string, data: Uint8Array) => boolean;

  constructor(
    readonly engine: Engine,
    readonly plugin: string,
    readonly size: number,
    emits: readonly string[],
  ) {
    this.#onEmit = (subject, data) => {
      if (!matchesAny(emits, subject)) return false;
      this.#emitted.push({ subject, data });
      return true;
    };
    for (let i = 0; i < size; i++) this.#instances.push(engine.getInstanceSync(plugin, { onEmit: this.#onEmit }));
  }

  async call(fn: string, data: Uint8Array | string, message?: PoolMessage): Promise<PoolResult> {
    return this.#call(fn, data, message);
  }

  submit<T>(fn: string, data: Uint8Array | string, message: PoolMessage | undefined, ticket: T, done: PoolDone<T>): void {
    let result: PoolResult;
    try {
      result = this.#call(fn, data, message);
    } catch (error) {
      done(ticket, undefined, asWaspError(error));
      return;
    }
    done(ticket, result, undefined);
  }

  #call(fn: string, data: Uint8Array | string, message?: PoolMessage): PoolResult {
    const i = this.#next;
    this.#next = (i + 1) % this.#instances.length;
    const instance = this.#instances[i]!;
    instance.setMessage(message?.subject ?? null, message?.headers ? firstValues(message.headers) : undefined);
    this.#emitted = [];
    try {
      const outputs = instance.callOutputs(fn, data);
      return { outputs, emits: this.#emitted };
    } finally {
      if (instance.needsReplacement) {
        instance.remove();
        this.#instances[i] = this.engine.getInstanceSync(this.plugin, { onEmit: this.#onEmit });
      }
    }
  }

  async close(): Promise<void> {
    for (const instance of this.#instances) instance.remove();
  }
}

function firstValues(headers: PoolHeaders): MessageHeaders {
  const map = new Map<string, string>();
  for (const [name, value] of headers) map.set(name, firstValue(value));
  return map;
}
