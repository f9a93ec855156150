import type { Headers } from '../transport/headers.js';
import type { Flight } from './flight.js';

/** A message between stages: what a stage reads, and the input it came from. */
export interface Work {
  readonly flight: Flight;
  /** the input's subject: stages see where the message came from */
  readonly subject: string;
  readonly headers: Headers | undefined;
  readonly data: Uint8Array;
}
