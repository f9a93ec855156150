// Core NATS input: a subscription, optionally in a queue group (at most once, as core NATS).
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

export function coreSource(nc: NatsConnection, input: Extract<InputSpec, { kind: 'subject' }>, logger: Logger): Source {
  const pending = new Pending(input.maxPending ?? DEFAULT_MAX_PENDING, input.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES, input.subject, logger);
  let stop: (() => Promise<void>) | undefined;
  let confirmed!: () => void;
  let refused!: (error: unknown) => void;
  // the subscription reaches the server with the next flush's PING, and is in place when its PONG is back
  const ready = new Promise<void>((resolve, reject) => {
    confirmed = resolve;
    refused = reject;
  });
  ready.catch(() => {}); // observed by whoever awaits it
  const deliveries = new Observable<Delivery>((subscriber) => {
    const sub = nc.subscribe(input.subject, {
      queue: input.queue,
      callback: (error, msg) => {
        if (error) subscriber.error(error);
        else if (pending.admit(msg.data.length)) subscriber.next(new CoreDelivery(msg.subject, msg.data, fromNatsHeaders(msg.headers), pending));
      },
    });
    void sub.closed.then(() => subscriber.complete());
    confirm(nc).then(confirmed, refused);
    stop = async () => {
      if (!sub.isClosed()) await sub.drain();
    };
    return () => sub.unsubscribe();
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
