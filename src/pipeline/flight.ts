// imported rather than the global, which is an accessor on globalThis: about 10 ns less a reading, on the message path
import { performance } from 'node:perf_hooks';
import type { Headers } from '../transport/headers.js';
import type { Delivery, PublishFor } from '../transport/transport.js';
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
export class Flight implements Work, PublishFor {
  subject = '';
  headers: Headers | undefined = undefined;
  data: Uint8Array = EMPTY;
  #delivery: Delivery | undefined = undefined;
  #pending = 1; // the delivery itself, until the first stage has taken it
  #outcome: 'ack' | 'nak' | 'term' = 'ack'; // nak (a publish failed) wins over term (dead-lettered)
  #sequence = 0;
  #publishFailureDeadLettered = false;
  /** performance.now() when the input arrived, when the pipeline times its messages */
  startedAt = 0;
  /**
   * The last clock reading taken for this input (its arrival, then each timed call's end), which
   * the next step taken in the same run of code reuses: a reading costs 80-100 ns on some
   * machines, as much as the rest of what metrics add to a message.
   */
  clock = 0;
  /** a publish for this input answered later (JetStream), so its settling is not where `clock` was read */
  settlesLater = false;
  /**
   * The context the input's spans start under, kept by observe/tracing.ts when the stages are
   * traced (opaque here): a slot on the reused record rather than a map, which cost the traced
   * path as much again in garbage collection.
   */
  traceContext: unknown = undefined;

  constructor(readonly home: Flights) {}

  get delivery(): Delivery {
    return this.#delivery!;
  }

  /** Starts the flight of an input (a new one, or a settled one reused). */
  begin(delivery: Delivery): this {
    this.#delivery = delivery;
    this.subject = delivery.subject;
    this.headers = delivery.headers;
    this.data = delivery.data;
    this.#pending = 1;
    this.#outcome = 'ack';
    this.#sequence = 0;
    this.#publishFailureDeadLettered = false;
    this.settlesLater = false;
    if (this.home.timed) this.startedAt = this.clock = delivery.takenAt || performance.now();
    return this;
  }

  get flight(): Flight {
    return this;
  }

  hold(): void {
    this.#pending++;
  }

  /** A publish for this input is being retried: the input's source must not redeliver it meanwhile. */
  keepAlive(): void {
    this.#delivery?.working?.();
  }

  /** The pipeline drains: a publish being retried gives up, and the input is nak'ed for whoever runs next. */
  get giveUp(): boolean {
    return this.home.draining;
  }

  release(): void {
    if (--this.#pending === 0) this.#settle();
  }

  deadLettered(): void {
    if (this.#outcome === 'ack') this.#outcome = 'term';
  }

  /**
   * The first of the input's failed publishes that dead-letters the input (true once): one dead
   * letter per input for its publishes, however many of them fail.
   */
  claimPublishFailure(): boolean {
    if (this.#publishFailureDeadLettered) return false;
    this.#publishFailureDeadLettered = true;
    return true;
  }

  /**
   * Keeps the flight open until an asynchronous publish is accepted. A failure asks for a
   * redelivery, unless `onError` took care of it (dead-lettered the input) and returns true; it
   * runs before the flight is released, so what it publishes is awaited too.
   */
  track(result: Promise<void> | void, onError: (error: unknown, flight: Flight) => unknown): void {
    if (result === undefined) return;
    this.#pending++;
    this.settlesLater = true;
    result.then(this.#released, this.#failure(onError));
  }

  // A publish per output, for the life of a pipeline: its handlers are made once per flight (which
  // is reused) and per onError (the pipeline has two), not per publish.
  readonly #released = (): void => this.release();
  readonly #failures = new Map<(error: unknown, flight: Flight) => unknown, (error: unknown) => void>();

  #failure(onError: (error: unknown, flight: Flight) => unknown): (error: unknown) => void {
    let failed = this.#failures.get(onError);
    if (failed === undefined) {
      failed = (error: unknown): void => {
        if (onError(error, this) !== true) this.#outcome = 'nak';
        this.release();
      };
      this.#failures.set(onError, failed);
    }
    return failed;
  }

  /** An id for the next thing this input causes, stable across redeliveries when the input has one. */
  nextId(kind: 'out' | 'emit' | 'dlq'): string | undefined {
    const n = this.#sequence++;
    const id = this.#delivery!.id;
    return id === undefined ? undefined : `${id}:${kind}:${n}`;
  }

  #settle(): void {
    const outcome = this.#outcome;
    const delivery = this.#delivery!;
    if (outcome === 'nak') delivery.nak(backoffMs(delivery.redeliveries));
    else if (outcome === 'term') delivery.term('dead-lettered');
    else delivery.ack();
    this.home.settled(this, outcome);
  }

  /** Lets go of the input's data once settled, so a flight kept for reuse pins nothing. */
  clear(): void {
    this.#delivery = undefined;
    this.headers = undefined;
    this.data = EMPTY;
    this.traceContext = undefined;
  }
}

const EMPTY = new Uint8Array(0);
const KEPT = 4096;

/**
 * Where a pipeline's flights come from and go back to. A flight is settled
 * only when nothing holds it any more (every stage, output and publish has
 * released it), so it can carry the next input: the inline path allocates no
 * record per message once as many flights exist as are ever in the air at once.
 */
export class Flights {
  readonly #free: Flight[] = [];
  /** set when the pipeline drains (see Flight.giveUp) */
  draining = false;
  /** whether flights note when their input arrived (metrics are on) */
  timed = false;

  constructor(readonly onSettled: (flight: Flight, outcome: 'ack' | 'nak' | 'term') => void) {}

  take(delivery: Delivery): Flight {
    return (this.#free.pop() ?? new Flight(this)).begin(delivery);
  }

  settled(flight: Flight, outcome: 'ack' | 'nak' | 'term'): void {
    this.onSettled(flight, outcome);
    flight.clear();
    if (this.#free.length < KEPT) this.#free.push(flight);
  }
}
