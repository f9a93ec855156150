import type { StageStats } from '../stats.js';
import type { Work } from '../work.js';

/** Sends a stage's outputs downstream with the input's subject and headers, and retires the input. */
export function emitOutputs(work: Work, outputs: Uint8Array[], stats: StageStats, emit: (out: Work) => void): void {
  if (outputs.length === 0) stats.dropped++;
  for (let i = 0; i < outputs.length; i++) {
    stats.out++;
    work.flight.hold();
    emit({ flight: work.flight, subject: work.subject, headers: work.headers, data: outputs[i]! });
  }
  work.flight.release();
}
