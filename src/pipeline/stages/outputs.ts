import type { StageStats } from '../stats.js';
import { Branch, type Work } from '../work.js';

/**
 * Sends a stage's outputs downstream with the input's subject and headers.
 * The input's record carries the last output: every earlier one gets a record
 * of its own, emitted before the input's record is touched, and the input's
 * hold on the flight passes to the last output (or is released when there is none).
 */
export function emitOutputs(work: Work, outputs: readonly Uint8Array[], stats: StageStats, emit: (out: Work) => void): void {
  const last = outputs.length - 1;
  if (last < 0) {
    stats.dropped++;
    work.flight.release();
    return;
  }
  for (let i = 0; i < last; i++) {
    stats.out++;
    work.flight.hold();
    emit(new Branch(work.flight, work.subject, work.headers, outputs[i]!));
  }
  stats.out++;
  work.data = outputs[last]!;
  emit(work);
}
