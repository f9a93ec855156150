import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { FunctionNotFoundError, InstanceStateError, PluginTimeoutError, PluginTrapError, PluginUnavailableError, type WaspError } from '../errors.js';
import { checkTimeout } from '../limits.js';
import type { Logger } from '../logger.js';
import type { Plugin } from '../plugin.js';
import type { PluginPool, PoolCounters, PoolDone, PoolMessage, PoolOptions, PoolResult } from './pool.js';
import { reviveError, type FromWorker, type LogRecord, type WorkerSetup } from './protocol.js';
import { serveCallbacks } from './remote-callbacks.js';
import { Fifo } from './fifo.js';
import { Retry } from './retry.js';
import { createRing, RingReader, RingWriter } from './ring.js';
import { readResult, writeCall, type PoolHeaders } from './wire.js';

interface Pending {
  fn: number;
  data: Uint8Array;
  subject: string | undefined;
  headers: PoolHeaders | undefined;
  ticket: unknown;
  done: PoolDone<unknown>;
}

class Slot {
  /** written to the worker's ring and not answered yet, oldest first */
  readonly sent = new Fifo<Pending>();
  /** waiting for room in the ring */
  readonly unsent = new Fifo<Pending>();
  pumping = false;
  waiting = false;
  dead = false;
  /** the worker said its instance is up */
  up = false;
  /** watchdog: the worker's count of calls started, as seen last, and when it last moved */
  seen = 0;
  movedAt = 0;
  readonly wake: () => void;

  constructor(
    readonly worker: Worker,
    readonly calls: RingWriter,
    readonly results: RingReader,
    readonly bulk: MessagePort,
    readonly callbackPort: MessagePort,
    /** [started, finished]: calls the worker began and ended, so a deadline runs from a call's start, not its queueing */
    readonly progress: Int32Array,
    pump: (slot: Slot) => void,
  ) {
    this.wake = () => pump(this);
  }

  get outstanding(): number {
    return this.sent.length;
  }

  get load(): number {
    return this.sent.length + this.unsent.length;
  }
}

const RING_BYTES = 1 << 20;

/** The compiled worker entry; under the TypeScript sources (tests) it is the one in dist/. */
function workerUrl(): URL {
  const here = new URL('./worker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  return new URL(here.href.replace('/src/engine/pool/', '/dist/src/engine/pool/'));
}

/**
 * Instances in worker threads, so a CPU-heavy plugin uses several cores.
 * Calls and results cross in SharedArrayBuffer rings, one pair per worker:
 * no postMessage per call, and one wake-up of this thread serves every result
 * that is ready. The instance in a worker keeps the same limits and deadline
 * as an inline one and replaces itself after a trap; a call stuck past
 * timeoutMs where the deadline cannot reach gets its worker terminated and
 * replaced, and the calls queued behind it run on the new worker (nothing of
 * theirs has been seen: side outputs travel with results). A worker that
 * cannot start again is retried with backoff. Host callbacks run on this
 * thread and may be async; plugin logs are replayed to the engine's logger here.
 */
export class WorkerPluginPool implements PluginPool {
  readonly mode = 'worker';
  readonly counters: PoolCounters = { replacedInstances: 0, refusedEmits: 0 };
  readonly #slots: Slot[] = [];
  readonly #functions: Map<string, number>;
  readonly #timeoutMs: number;
  readonly #watchdog: NodeJS.Timeout | undefined;
  readonly #pump = (slot: Slot): void => this.#pumpSlot(slot);
  readonly #ready: Promise<void>;
  readonly #retry = new Retry();
  #respawn: NodeJS.Timeout | undefined;
  #starting: number;
  #started = false;
  #startFailed: ((error: WaspError) => void) | undefined;
  #startDone: (() => void) | undefined;
  #closed = false;

  constructor(
    readonly plugin: Plugin,
    readonly logger: Logger,
    readonly size: number,
    readonly options: PoolOptions,
  ) {
    this.#functions = new Map(plugin.exports.map((e, i) => [e.name, i]));
    this.#timeoutMs = checkTimeout(options.timeoutMs ?? plugin.timeoutMs, { plugin: plugin.name });
    this.#starting = size;
    this.#ready = new Promise<void>((resolve, reject) => {
      this.#startDone = resolve;
      this.#startFailed = reject;
    });
    this.#ready.catch(() => {}); // observed through ready(); a caller that never asks must not see an unhandled rejection
    for (let i = 0; i < size; i++) this.#slots.push(this.#spawn());
    if (this.#timeoutMs > 0) {
      this.#watchdog = setInterval(() => this.#checkDeadlines(), Math.max(5, Math.floor(this.#timeoutMs / 4)));
      this.#watchdog.unref();
    }
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  call(fn: string, data: Uint8Array | string, message?: PoolMessage): Promise<PoolResult> {
    return new Promise((resolve, reject) => this.submit(fn, data, message, undefined, (_, result, error) => (error ? reject(error) : resolve(result!))));
  }

  submit<T>(fn: string, data: Uint8Array | string, message: PoolMessage | undefined, ticket: T, done: PoolDone<T>): void {
    if (this.#closed) return done(ticket, undefined, new InstanceStateError(`plugin ${this.plugin.name}: the pool is closed`, { plugin: this.plugin.name }));
    const index = this.#functions.get(fn);
    if (index === undefined) {
      return done(ticket, undefined, new FunctionNotFoundError(`plugin ${this.plugin.name} exports no function ${fn}`, { plugin: this.plugin.name, function: fn }));
    }
    let slot: Slot | undefined;
    for (const candidate of this.#slots) if (!candidate.dead && (slot === undefined || candidate.load < slot.load)) slot = candidate;
    if (slot === undefined) return done(ticket, undefined, this.#unavailable());
    // Buffer.from, not TextEncoder: on Node 20 encode() costs an ArrayBuffer of its own per call (~1 us); the bytes are copied into the ring
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    this.#send(slot, { fn: index, data: bytes, subject: message?.subject, headers: message?.headers, ticket, done: done as PoolDone<unknown> });
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#watchdog) clearInterval(this.#watchdog);
    if (this.#respawn) clearTimeout(this.#respawn);
    const error = new InstanceStateError(`plugin ${this.plugin.name}: the pool was closed`, { plugin: this.plugin.name });
    this.#startFailed?.(error);
    await Promise.all(this.#slots.map((slot) => this.#retire(slot, (p) => this.#settle(p, undefined, error))));
  }

  #spawn(): Slot {
    const calls = createRing(RING_BYTES);
    const results = createRing(RING_BYTES);
    const bulk = new MessageChannel();
    const callbackChannel = new MessageChannel();
    const answered = new SharedArrayBuffer(4);
    const progress = new SharedArrayBuffer(8);
    const setup: WorkerSetup = {
      name: this.plugin.name,
      module: this.plugin.moduleFor(this.#timeoutMs),
      sha256: this.plugin.sha256,
      abi: this.plugin.abi,
      config: this.plugin.config,
      exports: this.plugin.exports,
      imports: this.plugin.imports,
      limits: { ...this.plugin.limits, timeoutMs: this.#timeoutMs },
      wasi: this.plugin.wasi,
      emits: this.options.emits ?? [],
      logFields: this.options.logFields,
      calls,
      results,
      bulk: bulk.port2,
      callbacks: this.plugin.callbacks.map(({ namespace, name, signature }) => ({ namespace, name, signature })),
      callbackPort: callbackChannel.port2,
      answered,
      progress,
    };
    const worker = new Worker(workerUrl(), { workerData: setup, transferList: [bulk.port2, callbackChannel.port2] });
    serveCallbacks(this.plugin.callbacks, callbackChannel.port1, answered);
    const slot = new Slot(worker, new RingWriter(calls), new RingReader(results), bulk.port1, callbackChannel.port1, new Int32Array(progress), this.#pump);
    worker.on('message', (message: FromWorker) => {
      this.#replay(message.logs);
      if (message.type === 'ready') this.#up(slot);
      else this.#down(slot, reviveError(message.error));
    });
    const crashed = (cause: unknown): void => {
      const detail = cause instanceof Error ? cause.message : `exit code ${String(cause)}`;
      this.#replace(slot, new PluginTrapError(`plugin ${this.plugin.name}: its worker failed: ${detail}`, { plugin: this.plugin.name, cause }));
    };
    worker.on('error', crashed);
    worker.on('exit', crashed);
    return slot;
  }

  #up(slot: Slot): void {
    slot.up = true;
    this.#retry.succeeded();
    if (!this.#started && --this.#starting === 0) {
      this.#started = true;
      this.#startDone?.();
    }
  }

  /**
   * A worker could not make its instance. At start-up the pool fails to start;
   * later (a replacement), the slot's calls fail and the worker is tried again with backoff.
   */
  #down(slot: Slot, error: WaspError): void {
    if (!this.#started) {
      this.#retry.failed(error);
      this.#startFailed?.(error);
      for (const other of this.#slots) void this.#retire(other, (p) => this.#settle(p, undefined, error));
      return;
    }
    this.#retry.failed(error);
    const failure = this.#unavailable();
    void this.#retire(slot, (p) => this.#settle(p, undefined, failure));
    this.logger.warn(`plugin ${this.plugin.name}: cannot start a replacement worker; retrying in ${Math.round(this.#retry.delay)} ms`, {
      plugin: this.plugin.name,
      error: error.message,
    });
    this.#scheduleRespawn();
  }

  #scheduleRespawn(): void {
    if (this.#respawn !== undefined || this.#closed) return;
    this.#respawn = setTimeout(() => {
      this.#respawn = undefined;
      if (this.#closed) return;
      for (let i = 0; i < this.#slots.length; i++) if (this.#slots[i]!.dead) this.#slots[i] = this.#spawn();
    }, this.#retry.delay);
    this.#respawn.unref();
  }

  #unavailable(): WaspError {
    const cause = this.#retry.lastError;
    return new PluginUnavailableError(`plugin ${this.plugin.name}: no worker is available: a replacement failed to start${cause ? `: ${cause.message}` : ''}`, {
      plugin: this.plugin.name,
      cause,
    });
  }

  #replay(logs: readonly LogRecord[] | undefined): void {
    if (logs === undefined) return;
    for (const { level, message, fields } of logs) this.logger[level](message, fields);
  }

  #send(slot: Slot, pending: Pending): void {
    slot.unsent.push(pending);
    this.#refill(slot);
    if (!slot.waiting && !slot.pumping) this.#pumpSlot(slot);
  }

  /** Hands out every result that is ready, refills the ring, and waits for more while calls are out. */
  #pumpSlot(slot: Slot): void {
    if (slot.dead) return;
    slot.waiting = false;
    slot.pumping = true;
    slot.results.awake();
    try {
      for (;;) {
        // refill first: the worker goes on with new calls while this thread hands out results
        this.#refill(slot);
        this.#drain(slot);
        this.#refill(slot);
        if (slot.outstanding === 0) return;
        const wait = slot.results.waitAsync();
        if (wait !== false) {
          slot.waiting = true;
          void wait.then(slot.wake);
          return;
        }
      }
    } finally {
      slot.pumping = false;
    }
  }

  #drain(slot: Slot): void {
    let at: number;
    while ((at = slot.results.next()) >= 0) {
      const record = readResult(slot.results, at, slot.bulk);
      slot.results.release();
      const pending = slot.sent.shift()!;
      this.#replay(record.logs);
      if (record.refused !== 0) this.counters.refusedEmits += record.refused;
      if (record.replaced) this.counters.replacedInstances++;
      if (record.error === undefined) this.#settle(pending, record, undefined);
      else this.#settle(pending, undefined, reviveError(record.error));
    }
  }

  #refill(slot: Slot): void {
    let pending: Pending | undefined;
    while ((pending = slot.unsent.peek()) !== undefined && writeCall(slot.calls, slot.bulk, pending.fn, pending.data, pending.subject, pending.headers)) {
      slot.sent.push(slot.unsent.shift()!);
    }
  }

  #checkDeadlines(): void {
    const now = performance.now();
    for (const slot of this.#slots) {
      if (slot.dead) continue;
      const started = Atomics.load(slot.progress, 0);
      if (started !== slot.seen) {
        slot.seen = started;
        slot.movedAt = now;
        continue;
      }
      const finished = Atomics.load(slot.progress, 1);
      if (started === finished || now - slot.movedAt <= this.#timeoutMs) continue;
      this.#drain(slot); // results written just now are good
      // It finished after all, just now: the call at the head of the queue is the next one, which has had no time to run long.
      if (Atomics.load(slot.progress, 1) !== finished) continue;
      const culprit = slot.sent.peek();
      if (culprit === undefined) continue;
      const name = this.plugin.exports[culprit.fn]?.name;
      this.#replace(
        slot,
        new PluginTimeoutError(`plugin ${this.plugin.name}: ${name} ran past its ${this.#timeoutMs} ms deadline; its worker was stopped`, {
          plugin: this.plugin.name,
          function: name,
          timeoutMs: this.#timeoutMs,
        }),
      );
    }
  }

  /** The worker is gone or stuck: its oldest unanswered call fails with `error`, the rest go to a fresh worker. */
  #replace(slot: Slot, error: WaspError): void {
    if (slot.dead || this.#closed) return;
    if (!slot.up) return this.#down(slot, error); // it died starting: that is a start-up failure
    this.#drain(slot);
    const again: Pending[] = [];
    let culprit = slot.sent.length > 0;
    void this.#retire(slot, (p) => {
      if (culprit) this.#settle(p, undefined, error);
      else again.push(p);
      culprit = false;
    });
    this.counters.replacedInstances++;
    const fresh = this.#spawn();
    this.#slots[this.#slots.indexOf(slot)] = fresh;
    for (const p of again) this.#send(fresh, p);
  }

  /** Stops a slot's worker and hands each call it still held, oldest first, to `each`. */
  #retire(slot: Slot, each: (pending: Pending) => void): Promise<number> {
    if (slot.dead) return Promise.resolve(0);
    slot.dead = true;
    slot.worker.removeAllListeners();
    slot.results.interrupt();
    const held = [...slot.sent.takeAll(), ...slot.unsent.takeAll()];
    for (const p of held) each(p);
    slot.bulk.close();
    slot.callbackPort.close();
    return slot.worker.terminate();
  }

  #settle(pending: Pending, result: PoolResult | undefined, error: WaspError | undefined): void {
    try {
      pending.done(pending.ticket, result, error);
    } catch (thrown) {
      // A caller's callback failing must neither leave the pool half way through its results nor take the process down.
      this.logger.error(`plugin ${this.plugin.name}: a pool caller's done callback threw`, { plugin: this.plugin.name, error: thrown instanceof Error ? thrown.message : String(thrown) });
    }
  }
}
