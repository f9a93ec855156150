import type { Headers } from '../transport/headers.js';
import type { Flight } from './flight.js';

/**
 * A message between stages: what a stage reads, and the input it came from.
 *
 * A record belongs to the stage it was last emitted to. A stage with one output
 * puts the output in `data` and passes the same record on (no object per stage
 * per message); an emitter never touches a record after emitting it, so a stage
 * that keeps one (a worker stage awaiting its call) sees it unchanged.
 */
export interface Work {
  readonly flight: Flight;
  /** the input's subject: stages see where the message came from */
  readonly subject: string;
  readonly headers: Headers | undefined;
  data: Uint8Array;
}

/** A further output of one input, from a stage with several: its own record, the same flight. */
export class Branch implements Work {
  constructor(
    readonly flight: Flight,
    readonly subject: string,
    readonly headers: Headers | undefined,
    public data: Uint8Array,
  ) {}
}
