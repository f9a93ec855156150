/** Counters of one stage. */
export class StageStats {
  in = 0;
  out = 0;
  dropped = 0;
  failed = 0;
  emitted = 0;
  refusedEmits = 0;
  replacedInstances = 0;
  constructor(readonly name: string) {}
}

/** Counters of a running pipeline, read by the status line and the summary. */
export class PipelineStats {
  received = 0;
  published = 0;
  deadLettered = 0;
  acked = 0;
  naked = 0;
  termed = 0;
  publishErrors = 0;
  readonly startedAt = Date.now();
  constructor(readonly stages: StageStats[]) {}

  get inFlight(): number {
    return this.received - this.acked - this.naked - this.termed;
  }
}
