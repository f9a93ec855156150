import type { Engine } from '../engine.js';
import { asWaspError, InstanceStateError, PluginUnavailableError, type WaspError } from '../errors.js';
import type { Instance, InstanceOptions, MessageHeaders } from '../instance.js';
import type { PluginPool, PoolCounters, PoolDone, PoolMessage, PoolOptions, PoolResult } from './pool.js';
import { Retry } from './retry.js';
import { firstValue, type PoolHeaders } from './wire.js';

interface Slot {
  /** undefined while a replacement could not be made (see retry) */
  instance: Instance | undefined;
  /** the instance's refusedEmits as last counted */
  refused: number;
  readonly retry: Retry;
}

type Emit = PoolResult['emits'][number];
const NO_OUTPUTS: Uint8Array[] = [];
const NO_EMITS: Emit[] = [];

/**
 * Instances in this thread, taken in turn; a call runs synchronously and
 * `done` is called before submit returns. An instance that trapped, timed out
 * or failed in wasp_free is replaced right after the call; a replacement that
 * cannot be made leaves the slot empty, retried with backoff while calls go
 * to other slots or fail with PluginUnavailableError. Side outputs are held
 * until the call succeeds: a failed call's are dropped (its dead letter is its record).
 */
export class InlinePluginPool implements PluginPool {
  readonly mode = 'inline';
  readonly counters: PoolCounters = { replacedInstances: 0, refusedEmits: 0 };
  readonly #slots: Slot[] = [];
  readonly #options: InstanceOptions;
  #next = 0;
  #emits: Emit[] | null = null;
  #startError: WaspError | undefined;
  #closed = false;
  // Reused for every call whose done is not itself inside a done (a stage can publish synchronously into its own input).
  readonly #result: PoolResult = { outputs: NO_OUTPUTS, emits: NO_EMITS };
  readonly #one: Uint8Array[] = [];
  #inDone = false;

  constructor(
    readonly engine: Engine,
    readonly plugin: string,
    readonly size: number,
    options: PoolOptions,
  ) {
    this.#options = { onEmit: this.#onEmit, emits: options.emits ?? [], timeoutMs: options.timeoutMs, logFields: options.logFields };
    try {
      for (let i = 0; i < size; i++) this.#slots.push({ instance: this.#make(), refused: 0, retry: new Retry() });
    } catch (error) {
      this.#startError = asWaspError(error);
      for (const slot of this.#slots) slot.instance?.remove();
      this.#slots.length = 0;
    }
  }

  ready(): Promise<void> {
    return this.#startError === undefined ? Promise.resolve() : Promise.reject(this.#startError);
  }

  async call(fn: string, data: Uint8Array | string, message?: PoolMessage): Promise<PoolResult> {
    let out: PoolResult | undefined;
    let failure: WaspError | undefined;
    this.submit(fn, data, message, undefined, (_, result, error) => {
      out = result && { outputs: [...result.outputs], emits: result.emits };
      failure = error;
    });
    if (failure !== undefined) throw failure;
    return out!;
  }

  submit<T>(fn: string, data: Uint8Array | string, message: PoolMessage | undefined, ticket: T, done: PoolDone<T>): void {
    const slot = this.#take();
    if (slot === undefined) return done(ticket, undefined, this.#unavailable());
    const instance = slot.instance!;
    instance.setMessage(message === undefined ? null : message.subject, message?.headers === undefined ? undefined : readable(message.headers));
    let flat: Uint8Array | Uint8Array[] | null;
    try {
      flat = instance.callFlat(fn, data);
    } catch (error) {
      this.#emits = null;
      this.#after(slot, instance);
      return done(ticket, undefined, asWaspError(error));
    }
    const nested = this.#inDone;
    const result = nested ? { outputs: NO_OUTPUTS, emits: NO_EMITS } : this.#result;
    if (flat instanceof Uint8Array) {
      const one = nested ? [] : this.#one;
      one[0] = flat;
      result.outputs = one;
    } else {
      result.outputs = flat ?? NO_OUTPUTS;
    }
    result.emits = this.#emits ?? NO_EMITS;
    this.#emits = null;
    this.#after(slot, instance);
    this.#inDone = true;
    try {
      done(ticket, result, undefined);
    } finally {
      this.#inDone = nested;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const slot of this.#slots) slot.instance?.remove();
  }

  readonly #onEmit = (subject: string, data: Uint8Array): void => {
    (this.#emits ??= []).push({ subject, data });
  };

  #make(): Instance {
    return this.engine.getInstanceSync(this.plugin, this.#options);
  }

  /** The next slot with an instance (reviving an empty one whose retry is due), or undefined when none has one. */
  #take(): Slot | undefined {
    const slots = this.#slots;
    for (let tries = 0; tries < slots.length; tries++) {
      const slot = slots[this.#next]!;
      this.#next = this.#next + 1 === slots.length ? 0 : this.#next + 1;
      if (slot.instance !== undefined || this.#revive(slot)) return slot;
    }
    return undefined;
  }

  /** Counts what the call refused, and replaces an instance the call left untrustworthy. */
  #after(slot: Slot, instance: Instance): void {
    const refused = instance.refusedEmits;
    if (refused !== slot.refused) {
      this.counters.refusedEmits += refused - slot.refused;
      slot.refused = refused;
    }
    if (instance.needsReplacement !== true) return;
    instance.remove();
    slot.instance = undefined;
    slot.refused = 0;
    this.counters.replacedInstances++;
    this.#revive(slot);
  }

  #revive(slot: Slot): boolean {
    if (this.#closed || !slot.retry.due) return false;
    try {
      slot.instance = this.#make();
      slot.retry.succeeded();
      return true;
    } catch (error) {
      const failure = asWaspError(error);
      slot.retry.failed(failure);
      this.engine.logger.warn(`plugin ${this.plugin}: cannot make a replacement instance; retrying in ${Math.round(slot.retry.delay)} ms`, {
        plugin: this.plugin,
        error: failure.message,
      });
      return false;
    }
  }

  #unavailable(): WaspError {
    if (this.#closed) return new InstanceStateError(`plugin ${this.plugin}: the pool is closed`, { plugin: this.plugin });
    if (this.#startError !== undefined) {
      return new PluginUnavailableError(`plugin ${this.plugin}: the pool did not start: ${this.#startError.message}`, { plugin: this.plugin, cause: this.#startError });
    }
    const cause = this.#slots.find((s) => s.retry.lastError !== undefined)?.retry.lastError;
    return new PluginUnavailableError(`plugin ${this.plugin}: no instance is available: a replacement failed to instantiate${cause ? `: ${cause.message}` : ''}`, {
      plugin: this.plugin,
      cause,
    });
  }
}

/** Headers the plugin can read: a Headers object as it is, other iterables as a map of first values. */
function readable(headers: PoolHeaders): MessageHeaders {
  if (!(headers instanceof Map) && typeof (headers as Partial<MessageHeaders>).get === 'function') return headers as unknown as MessageHeaders;
  const map = new Map<string, string>();
  for (const [name, value] of headers) map.set(name, firstValue(value));
  return map;
}
