// Core NATS input: a subscription, optionally in a queue group (at most once, as core NATS).
// imported rather than the global, which is an accessor on globalThis: about 10 ns less a reading, on the message path
import { performance } from 'node:perf_hooks';
import type { NatsConnection } from '@nats-io/nats-core';
import { Observable } from 'rxjs';
import { FireAndForget } from './delivery.js';
import type { Logger } from '../engine/logger.js';
import type { Headers } from './headers.js';
import { fromNatsHeaders } from './nats-headers.js';
import type { Delivery, InputSpec, Source } from './transport.js';

/** The pending limits of a core subscription when its input does not set them (the config's defaults). */
export const DEFAULT_MAX_PENDING = 65536;
export const DEFAULT_MAX_PENDING_BYTES = 64 * 1024 * 1024;

/**
 * What a core subscription holds: messages received and not yet settled. Core
 * NATS cannot be told to slow down, so past the limits a message is dropped
 * here and counted, as the NATS clients of other languages do for a slow
 * consumer, instead of growing the process without bound (or the server
 * cutting the connection, which loses more).
 */
class Pending {
  messages = 0;
  bytes = 0;
  dropped = 0;
  #dropping = false;

  constructor(
    readonly maxMessages: number,
    readonly maxBytes: number,
    readonly subject: string,
    readonly logger: Logger,
  ) {}

  /** Whether a message of `size` bytes may go in; counts and reports it when not. */
  admit(size: number): boolean {
    if (this.messages < this.maxMessages && this.bytes + size <= this.maxBytes) {
      this.messages++;
      this.bytes += size;
      return true;
    }
    this.dropped++;
    if (!this.#dropping) {
      this.#dropping = true;
      this.logger.warn(`slow consumer: more than ${this.messages} messages (${this.bytes} bytes) from ${this.subject} are waiting; dropping messages until the stages catch up`, {
        maxPending: this.maxMessages,
        maxPendingBytes: this.maxBytes,
      });
    }
    return false;
  }

  settled(size: number): void {
    this.messages--;
    this.bytes -= size;
    if (this.#dropping && this.messages <= this.maxMessages / 2 && this.bytes <= this.maxBytes / 2) {
      this.#dropping = false;
      this.logger.info(`slow consumer: caught up on ${this.subject}; ${this.dropped} message(s) dropped so far`);
    }
  }
}

/** A core message that gives its place back when the pipeline settles it. */
class CoreDelivery extends FireAndForget {
  #pending: Pending | undefined;
  takenAt = 0;

  constructor(subject: string, data: Uint8Array, headers: Headers | undefined, pending: Pending) {
    super(subject, data, headers);
    this.#pending = pending;
  }

  override ack(): void {
    this.#release();
  }

  override nak(): void {
    this.#release();
  }

  override term(): void {
    this.#release();
  }

  #release(): void {
    this.#pending?.settled(this.data.length);
    this.#pending = undefined;
  }
}

/**
 * How long the pipeline may run on one socket read's messages before it yields so that the
 * connection reads again. nats.js hands a read's messages over one after another in one
 * synchronous run; a stage slower than the publisher would otherwise keep the socket unread, the
 * server's buffer for this client would grow to its limit, and the server would cut the
 * connection (a slow consumer that loses everything it buffered, uncounted). Yielding keeps the
 * socket read: what the stages cannot keep up with waits here, within the pending limits, and
 * past them is dropped and counted.
 */
// 20 ms: long enough that a fast pipeline goes through a whole read straight away (4 ms cost a
// core NATS bench ~8% in queueing), short enough that a server's buffer for this client holds
// only 20 ms of traffic while the stages fall behind.
const SLICE_MS = 20;

export function coreSource(nc: NatsConnection, input: Extract<InputSpec, { kind: 'subject' }>, logger: Logger): Source {
  const pending = new Pending(input.maxPending ?? DEFAULT_MAX_PENDING, input.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES, input.subject, logger);
  let stop: (() => Promise<void>) | undefined;
  let completed!: () => void;
  // stop() resolves once what was received is handed on: nothing taken from the server is left behind
  const emptied = new Promise<void>((resolve) => (completed = resolve));
  let confirmed!: () => void;
  let refused!: (error: unknown) => void;
  // the subscription reaches the server with the next flush's PING, and is in place when its PONG is back
  const ready = new Promise<void>((resolve, reject) => {
    confirmed = resolve;
    refused = reject;
  });
  ready.catch(() => {}); // observed by whoever awaits it
  const deliveries = new Observable<Delivery>((subscriber) => {
    // Messages wait here only once a slice is used up; until then each goes straight on.
    const waiting: CoreDelivery[] = [];
    let head = 0;
    let sliceStart = 0;
    let drainScheduled = false;
    let closed = false;
    const endSlice = (): void => {
      sliceStart = 0;
    };
    // A look at the clock per message: a few tens of ns, where a message through NATS takes
    // microseconds. The delivery keeps the reading (takenAt), which metrics use as its arrival.
    let now = 0;
    const sliceOver = (): boolean => {
      now = performance.now();
      if (sliceStart === 0) {
        sliceStart = now;
        setImmediate(endSlice); // the event loop turned: the next read starts a new slice
      }
      return now - sliceStart >= SLICE_MS;
    };
    const drain = (): void => {
      drainScheduled = false;
      const start = performance.now();
      let at = start;
      while (head < waiting.length) {
        const delivery = waiting[head]!;
        waiting[head++] = undefined as unknown as CoreDelivery;
        delivery.takenAt = at;
        subscriber.next(delivery);
        at = performance.now();
        if (at - start >= SLICE_MS) break;
      }
      if (head < waiting.length) {
        drainScheduled = true;
        setImmediate(drain);
        return;
      }
      waiting.length = 0;
      head = 0;
      if (closed) end();
    };
    const end = (): void => {
      subscriber.complete();
      completed();
    };
    const sub = nc.subscribe(input.subject, {
      queue: input.queue,
      callback: (error, msg) => {
        if (error) {
          subscriber.error(error);
          return;
        }
        if (!pending.admit(msg.data.length)) return;
        const delivery = new CoreDelivery(msg.subject, msg.data, fromNatsHeaders(msg.headers), pending);
        if (head === waiting.length && !sliceOver()) {
          delivery.takenAt = now;
          subscriber.next(delivery);
          return;
        }
        waiting.push(delivery);
        if (!drainScheduled) {
          drainScheduled = true;
          setImmediate(drain);
        }
      },
    });
    void sub.closed.then(() => {
      closed = true;
      if (head === waiting.length) end();
    });
    confirm(nc).then(confirmed, refused);
    stop = async () => {
      if (!sub.isClosed()) await sub.drain();
      await emptied;
    };
    return () => {
      sub.unsubscribe();
      // closed without a drain: what waits is let go (the pipeline is gone)
      waiting.length = 0;
      head = 0;
      completed();
    };
  });
  return { deliveries, ready, dropped: () => pending.dropped, stop: async () => stop?.() };
}

/** A flush that waits out a disconnect (the SUB is sent again on reconnect): fails only once the connection is closed. */
async function confirm(nc: NatsConnection): Promise<void> {
  for (;;) {
    try {
      await nc.flush();
      return;
    } catch (error) {
      if (nc.isClosed()) throw error;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
