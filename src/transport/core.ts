// Core NATS input: a subscription, optionally in a queue group (at most once, as core NATS).
import type { NatsConnection } from '@nats-io/nats-core';
import { Observable } from 'rxjs';
import { FireAndForget } from './delivery.js';
import { fromNatsHeaders } from './nats-headers.js';
import type { Delivery, Source } from './transport.js';

export function coreSource(nc: NatsConnection, subject: string, queue: string | undefined): Source {
  let stop: (() => Promise<void>) | undefined;
  const deliveries = new Observable<Delivery>((subscriber) => {
    const sub = nc.subscribe(subject, {
      queue,
      callback: (error, msg) => {
        if (error) subscriber.error(error);
        else subscriber.next(new FireAndForget(msg.subject, msg.data, fromNatsHeaders(msg.headers)));
      },
    });
    void sub.closed.then(() => subscriber.complete());
    stop = async () => {
      if (!sub.isClosed()) await sub.drain();
    };
    return () => sub.unsubscribe();
  });
  return { deliveries, stop: async () => stop?.() };
}
