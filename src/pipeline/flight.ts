import type { Headers } from '../transport/headers.js';
import type { Delivery } from '../transport/transport.js';
import type { Work } from './work.js';

/** Redelivery delay after a transient failure: 250 ms doubling per redelivery, at most 30 s. */
export function backoffMs(redeliveries: number): number {
  return Math.min(250 * 2 ** Math.min(redeliveries, 10), 30_000);
}

/**
 * One input message on its way through the pipeline. It counts what is still
 * outstanding for it (messages between stages, publishes awaiting their ack)
 * and settles the delivery when nothing is: ack when all went out, term when
 * something was dead-lettered, nak with backoff when a publish failed and a
 * redelivery should try again (the message ids keep that from duplicating).
 *
 * It is also the input's record between stages (see Work): one object per
 * input, which a stage with one output passes on with the output in `data`.
 */
export class Flight implements Work {
  readonly subject: string;
  readonly headers: Headers | undefined;
  data: Uint8Array;
  #pending = 1; // the delivery itself, until the first stage has taken it
  #outcome: 'ack' | 'nak' | 'term' = 'ack'; // nak (a publish failed) wins over term (dead-lettered)
  #sequence = 0;

  constructor(
    readonly delivery: Delivery,
    readonly onSettled: (flight: Flight, outcome: 'ack' | 'nak' | 'term') => void,
  ) {
    this.subject = delivery.subject;
    this.headers = delivery.headers;
    this.data = delivery.data;
  }

  get flight(): Flight {
    return this;
  }

  hold(): void {
    this.#pending++;
  }

  release(): void {
    if (--this.#pending === 0) this.#settle();
  }

  deadLettered(): void {
    if (this.#outcome === 'ack') this.#outcome = 'term';
  }

  /** Keeps the flight open until an asynchronous publish is accepted; a failure asks for a redelivery. */
  track(result: Promise<void> | void, onError: (error: unknown) => void): void {
    if (result === undefined) return;
    this.#pending++;
    result.then(
      () => this.release(),
      (error: unknown) => {
        this.#outcome = 'nak';
        onError(error);
        this.release();
      },
    );
  }

  /** An id for the next thing this input causes, stable across redeliveries when the input has one. */
  nextId(kind: 'out' | 'emit' | 'dlq'): string | undefined {
    const n = this.#sequence++;
    return this.delivery.id === undefined ? undefined : `${this.delivery.id}:${kind}:${n}`;
  }

  #settle(): void {
    const outcome = this.#outcome;
    if (outcome === 'nak') this.delivery.nak(backoffMs(this.delivery.redeliveries));
    else if (outcome === 'term') this.delivery.term('dead-lettered');
    else this.delivery.ack();
    this.onSettled(this, outcome);
  }
}
