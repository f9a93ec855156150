import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { InstanceStateError, PluginTimeoutError, PluginTrapError, type WaspError } from '../errors.js';
import type { Plugin } from '../plugin.js';
import type { PluginPool, PoolMessage, PoolOptions, PoolResult } from './pool.js';
import { Packer, reviveError, type CallRequest, type FromWorker, type Span, type ToWorker, type WorkerSetup } from './protocol.js';

interface Pending {
  fn: string;
  data: Uint8Array;
  message: PoolMessage | undefined;
  resolve(result: PoolResult): void;
  reject(error: WaspError): void;
}

interface Slot {
  worker: Worker;
  progress: Int32Array;
  queue: Pending[];
  /** batches sent and not answered, oldest first: the worker runs them in order, the head is the one running */
  batches: { id: number; calls: Pending[] }[];
  /** watchdog: the progress seen last and when it last moved */
  seen: number;
  movedAt: number;
}

const encoder = new TextEncoder();
// Two batches in flight per worker: it starts the next while this thread handles the last one's results.
const IN_FLIGHT = 2;

/** The compiled worker entry; under the TypeScript sources (tests) it is the one in dist/. */
function workerUrl(): URL {
  const here = new URL('./worker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  return new URL(here.href.replace('/src/engine/pool/', '/dist/src/engine/pool/'));
}

/**
 * Instances in worker threads, so a CPU-heavy plugin uses several cores. Calls
 * queue per worker and cross in batches (one postMessage and one transferred
 * buffer each way per batch). A call past timeoutMs gets its worker
 * terminated and replaced; the other calls of its batch run again on the new
 * worker, which is safe because a worker's side outputs only reach the caller
 * with its results.
 */
export class WorkerPluginPool implements PluginPool {
  readonly mode = 'worker';
  readonly #slots: Slot[] = [];
  readonly #batchSize: number;
  readonly #timeoutMs: number | undefined;
  readonly #watchdog: NodeJS.Timeout | undefined;
  #nextId = 1;
  #closed = false;

  constructor(
    readonly plugin: Plugin,
    readonly size: number,
    readonly options: PoolOptions,
  ) {
    if (plugin.callbacks.length > 0) {
      throw new InstanceStateError(`plugin ${plugin.name}: host callbacks are not available to worker pools yet`, { plugin: plugin.name });
    }
    this.#batchSize = options.batchSize ?? 64;
    this.#timeoutMs = options.timeoutMs;
    for (let i = 0; i < size; i++) this.#slots.push(this.#spawn());
    if (this.#timeoutMs !== undefined) {
      this.#watchdog = setInterval(() => this.#checkDeadlines(), Math.max(5, Math.floor(this.#timeoutMs / 4)));
      this.#watchdog.unref();
    }
  }

  call(fn: string, data: Uint8Array | string, message?: PoolMessage): Promise<PoolResult> {
    if (this.#closed) return Promise.reject(new InstanceStateError(`plugin ${this.plugin.name}: the pool is closed`, { plugin: this.plugin.name }));
    return new Promise((resolve, reject) => {
      const slot = this.#slots.reduce((a, b) => (b.queue.length + b.batches.length < a.queue.length + a.batches.length ? b : a));
      slot.queue.push({ fn, data: typeof data === 'string' ? encoder.encode(data) : data, message, resolve, reject });
      // one dispatch per turn of the event loop gathers the calls made meanwhile into a batch
      if (slot.queue.length === 1) queueMicrotask(() => this.#dispatch(slot));
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#watchdog) clearInterval(this.#watchdog);
    for (const slot of this.#slots) {
      const stranded = [...slot.batches.flatMap((b) => b.calls), ...slot.queue];
      for (const p of stranded) p.reject(new InstanceStateError(`plugin ${this.plugin.name}: the pool was closed`, { plugin: this.plugin.name }));
      await slot.worker.terminate();
    }
  }

  #spawn(): Slot {
    const progress = new SharedArrayBuffer(4);
    const setup: WorkerSetup = {
      name: this.plugin.name,
      module: this.plugin.module,
      sha256: this.plugin.sha256,
      exports: this.plugin.exports,
      imports: this.plugin.imports,
      options: { maxOutputBytes: this.plugin.maxOutputBytes, wasi: this.plugin.options.wasi },
      progress,
      emits: this.options.emits ?? [],
    };
    const slot: Slot = { worker: new Worker(workerUrl(), { workerData: setup }), progress: new Int32Array(progress), queue: [], batches: [], seen: 0, movedAt: 0 };
    slot.worker.on('message', (message: FromWorker) => this.#onMessage(slot, message));
    slot.worker.on('error', (error) => this.#replace(slot, -1, new PluginTrapError(`plugin ${this.plugin.name}: worker failed: ${error.message}`, { plugin: this.plugin.name, cause: error })));
    return slot;
  }

  #dispatch(slot: Slot): void {
    if (slot.batches.length >= IN_FLIGHT || slot.queue.length === 0 || this.#closed) return;
    const calls = slot.queue.splice(0, this.#batchSize);
    const packer = new Packer();
    const requests: CallRequest[] = calls.map((p) => ({
      fn: p.fn,
      data: packer.add(p.data),
      subject: p.message?.subject,
      headers: p.message?.headers ? [...p.message.headers] : undefined,
    }));
    const buffer = packer.finish();
    const batch = { id: this.#nextId++, calls };
    slot.batches.push(batch);
    if (slot.batches.length === 1) {
      slot.seen = 0;
      slot.movedAt = performance.now();
    }
    slot.worker.postMessage({ type: 'batch', id: batch.id, calls: requests, buffer } satisfies ToWorker, [buffer]);
    this.#dispatch(slot);
  }

  #onMessage(slot: Slot, message: FromWorker): void {
    if (message.type === 'failed') {
      this.#replace(slot, -1, reviveError(message.error));
      return;
    }
    if (message.type !== 'results' || slot.batches[0]?.id !== message.id) return;
    const bytes = new Uint8Array(message.buffer);
    const view = (span: Span): Uint8Array => bytes.subarray(span[0], span[0] + span[1]);
    const calls = slot.batches.shift()!.calls;
    // the next batch starts now: its deadline clock too
    slot.seen = 0;
    slot.movedAt = performance.now();
    message.results.forEach((result, i) => {
      const pending = calls[i]!;
      if ('error' in result) pending.reject(reviveError(result.error));
      else pending.resolve({ outputs: result.outputs.map(view), emits: result.emits.map(([subject, span]) => ({ subject, data: view(span) })) });
    });
    this.#dispatch(slot);
  }

  #checkDeadlines(): void {
    const now = performance.now();
    for (const slot of this.#slots) {
      const running = slot.batches[0];
      if (running === undefined) continue;
      const done = Atomics.load(slot.progress, 0);
      if (done !== slot.seen) {
        slot.seen = done;
        slot.movedAt = now;
      } else if (now - slot.movedAt > this.#timeoutMs!) {
        const call = running.calls[done];
        const error = new PluginTimeoutError(`plugin ${this.plugin.name}: ${call?.fn ?? 'a call'} ran past its ${this.#timeoutMs} ms deadline; its worker was stopped`, {
          plugin: this.plugin.name,
          function: call?.fn,
        });
        this.#replace(slot, done, error);
      }
    }
  }

  /** Terminates a slot's worker: the call at `culprit` fails with `error` (all of the batch when -1), the rest run again on a fresh worker. */
  #replace(slot: Slot, culprit: number, error: WaspError): void {
    if (!this.#slots.includes(slot)) return; // replaced already
    const [running, ...waiting] = slot.batches;
    const calls = running?.calls ?? [];
    slot.batches = [];
    slot.worker.removeAllListeners();
    void slot.worker.terminate();
    const again: Pending[] = [];
    calls.forEach((p, i) => (culprit === -1 || i === culprit ? p.reject(error) : again.push(p)));
    for (const batch of waiting) again.push(...batch.calls);
    const fresh = this.#spawn();
    fresh.queue.push(...again, ...slot.queue);
    slot.queue = [];
    this.#slots[this.#slots.indexOf(slot)] = fresh;
    if (!this.#closed) this.#dispatch(fresh);
  }
}
