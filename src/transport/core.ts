// Core NATS input: a subscription, optionally in a queue group (at most once, as core NATS).
import type { NatsConnection } from '@nats-io/nats-core';
import { Observable } from 'rxjs';
import { FireAndForget } from './delivery.js';
import { fromNatsHeaders } from './nats-headers.js';
import type { Delivery, Source } from './transport.js';

export function coreSource(nc: NatsConnection, subject: string, queue: string | undefined): Source {
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
    const sub = nc.subscribe(subject, {
      queue,
      callback: (error, msg) => {
        if (error) subscriber.error(error);
        else subscriber.next(new FireAndForget(msg.subject, msg.data, fromNatsHeaders(msg.headers)));
      },
    });
    void sub.closed.then(() => subscriber.complete());
    confirm(nc).then(confirmed, refused);
    stop = async () => {
      if (!sub.isClosed()) await sub.drain();
    };
    return () => sub.unsubscribe();
  });
  return { deliveries, ready, stop: async () => stop?.() };
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
