import type { OperatorFunction } from 'rxjs';
import { WaspError } from '../../engine/errors.js';
import { operate } from '../operate.js';
import { emitOutputs } from './outputs.js';
import type { StageStats } from '../stats.js';
import type { Work } from '../work.js';
import type { Stage, StageHost, StageSpec, StageTracer } from './plugin-stage.js';

/** A stage written in JavaScript: the same contract as a plugin function, zero, one or several outputs. */
export type NativeStageFunction = (data: Uint8Array, subject: string) => Uint8Array[];

/**
 * A JavaScript function in a stage's place, for embedding applications and for measuring what the
 * Wasm boundary costs. `traced` makes each call a span, as for a plugin stage.
 */
export function nativeStage(fn: NativeStageFunction, spec: StageSpec, stats: StageStats, host: StageHost, traced?: StageTracer): Stage {
  const operator = operate<Work, Work>((work, emit) => {
    stats.in++;
    const span = traced?.begin(work);
    let outputs: Uint8Array[];
    try {
      outputs = fn(work.data, work.subject);
    } catch (error) {
      stats.failed++;
      const failure = new WaspError(`stage ${spec.name}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      traced?.end(span, 0, 0, failure);
      host.fail(work, spec, failure);
      work.flight.release();
      return;
    }
    traced?.end(span, outputs.length, 0, undefined);
    emitOutputs(work, outputs, stats, emit);
  });
  return { operator, ready: () => Promise.resolve(), close: () => {} };
}
