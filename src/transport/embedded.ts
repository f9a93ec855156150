import { Observable } from 'rxjs';
import { FireAndForget } from './delivery.js';
import { UnsupportedInputError } from './errors.js';
import type { Headers } from './headers.js';
import { subjectMatches } from '../engine/subjects.js';
import type { Delivery, InputSpec, Publisher, Source, Transport } from './transport.js';

// Handlers get a Delivery, settled with no-ops: the embedded source passes the bus's one object
// per message straight on to its pipeline instead of wrapping it in another.
type Handler = (message: Delivery) => void;
interface Subscription {
  pattern: string;
  queue: string | undefined;
  handler: Handler;
}

/**
 * An in-process bus with NATS subject semantics: wildcards, and queue groups
 * that hand each message to one member. Delivery is synchronous, so a
 * pipeline on it runs without a server and without a hop through the event loop.
 */
export class EmbeddedBus {
  readonly #subs = new Set<Subscription>();
  // subject -> the plain subscribers and the queue groups that match it; dropped when subscriptions change
  readonly #routes = new Map<string, { plain: Subscription[]; groups: { turn: { next: number }; members: Subscription[] }[] }>();
  // queue group -> whose turn it is; shared by every subject the group receives, as in NATS
  readonly #turns = new Map<string, { next: number }>();

  subscribe(pattern: string, handler: Handler, queue?: string): () => void {
    const sub: Subscription = { pattern, queue, handler };
    this.#subs.add(sub);
    this.#routes.clear();
    return () => {
      this.#subs.delete(sub);
      this.#routes.clear();
    };
  }

  publish(subject: string, data: Uint8Array, headers?: Headers): void {
    const route = this.#routes.get(subject) ?? this.#route(subject);
    if (route.plain.length === 0 && route.groups.length === 0) return;
    const message = new FireAndForget(subject, data, headers); // immutable, so every subscriber shares it
    // Indexed loops: for-of allocates an iterator and a result per step until the optimizer removes them.
    const { plain, groups } = route;
    for (let i = 0; i < plain.length; i++) plain[i]!.handler(message);
    for (let i = 0; i < groups.length; i++) {
      const group = groups[i]!;
      group.members[group.turn.next++ % group.members.length]!.handler(message);
    }
  }

  #route(subject: string) {
    const plain: Subscription[] = [];
    const byQueue = new Map<string, Subscription[]>();
    for (const sub of this.#subs) {
      if (!subjectMatches(sub.pattern, subject)) continue;
      if (sub.queue === undefined) plain.push(sub);
      else byQueue.set(sub.queue, [...(byQueue.get(sub.queue) ?? []), sub]);
    }
    const groups = [...byQueue].map(([queue, members]) => {
      let turn = this.#turns.get(queue);
      if (turn === undefined) this.#turns.set(queue, (turn = { next: 0 }));
      return { turn, members };
    });
    const route = { plain, groups };
    this.#routes.set(subject, route);
    return route;
  }
}

/** The transport of a pipeline without `nats:`. */
export class EmbeddedTransport implements Transport {
  readonly name = 'embedded bus';

  constructor(readonly bus: EmbeddedBus = new EmbeddedBus()) {}

  async source(input: InputSpec): Promise<Source> {
    if (input.kind !== 'subject') throw new UnsupportedInputError(`the embedded bus has no ${input.kind} input`, this.name, input.kind);
    let unsubscribe: (() => void) | undefined;
    let complete: (() => void) | undefined;
    const deliveries = new Observable<Delivery>((subscriber) => {
      unsubscribe = this.bus.subscribe(input.subject, (m) => subscriber.next(m), input.queue);
      complete = () => subscriber.complete();
      return () => unsubscribe?.();
    });
    return {
      deliveries,
      stop: async () => {
        unsubscribe?.();
        complete?.();
      },
    };
  }

  /** Delivery is a function call: no size limit, nothing to confirm (subjects are checked where they come from). */
  async publisher(): Promise<Publisher> {
    return { publish: (subject, data, headers) => this.bus.publish(subject, data, headers) };
  }

  async close(): Promise<void> {}
}
