import type { PoolCounters } from '../engine/pool/pool.js';

/** Counters of one stage; what its pool counts (in this thread or in workers) is read through. */
export class StageStats {
  in = 0;
  out = 0;
  dropped = 0;
  failed = 0;
  emitted = 0;
  #pool: Readonly<PoolCounters> = { refusedEmits: 0, replacedInstances: 0 };
  constructor(readonly name: string) {}

  /** Reads refused side outputs and replaced instances from the stage's pool. */
  count(pool: Readonly<PoolCounters>): void {
    this.#pool = pool;
  }

  get refusedEmits(): number {
    return this.#pool.refusedEmits;
  }

  get replacedInstances(): number {
    return this.#pool.replacedInstances;
  }

  toJSON(): Record<string, unknown> {
    const { name, in: received, out, dropped, failed, emitted, refusedEmits, replacedInstances } = this;
    return { name, in: received, out, dropped, failed, emitted, refusedEmits, replacedInstances };
  }
}

/** Counters of a running pipeline, read by the status line and the summary. */
export class PipelineStats {
  received = 0;
  published = 0;
  deadLettered = 0;
  acked = 0;
  naked = 0;
  termed = 0;
  /** publishes that failed, whatever became of their input */
  publishErrors = 0;
  /** publishes refused for good (too large, invalid subject, no stream): their inputs dead-lettered at once */
  publishRejected = 0;
  /** inputs dead-lettered because a transient failure outlasted their deliveries (input.maxDeliver) */
  outOfDeliveries = 0;
  /** dead letters the server did not take (JetStream: their inputs are nak'ed, not terminated) */
  deadLetterErrors = 0;
  /** dead letters whose payload was cut to fit max_payload (Wasp-Payload-Truncated) */
  truncatedDeadLetters = 0;
  readonly startedAt = Date.now();
  #inputDropped: () => number = () => 0;
  constructor(readonly stages: StageStats[]) {}

  /** Messages the input dropped for being over its pending limits (a slow consumer on core NATS). */
  get inputDropped(): number {
    return this.#inputDropped();
  }

  countInputDrops(dropped: () => number): void {
    this.#inputDropped = dropped;
  }

  get inFlight(): number {
    return this.received - this.acked - this.naked - this.termed;
  }
}
