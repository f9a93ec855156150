import { Observable, type OperatorFunction } from 'rxjs';
import type { Engine } from '../../engine/engine.js';
import { WaspError } from '../../engine/errors.js';
import type { PoolResult } from '../../engine/pool/pool.js';
import type { StageStats } from '../stats.js';
import type { Work } from '../work.js';
import { emitOutputs } from './outputs.js';
import type { StageHost, WasmStageSpec } from './wasm-stage.js';

type Outcome = { work: Work; result?: PoolResult; error?: WaspError; done: boolean };

/**
 * A stage whose instances run in worker threads (`pool: { mode: worker }`).
 * Calls go out as messages arrive and return asynchronously; with `ordered`
 * (the default) outputs leave in input order, held until every earlier
 * message is through. The stage completes only when its last call has.
 */
export function workerStage(engine: Engine, spec: WasmStageSpec, stats: StageStats, host: StageHost): { operator: OperatorFunction<Work, Work>; close(): void } {
  const pool = engine.createPool(spec.plugin, { mode: 'worker', size: spec.pool.size, timeoutMs: spec.timeoutMs, emits: spec.emits });
  const ordered = spec.ordered ?? true;

  const operator: OperatorFunction<Work, Work> = (source) =>
    new Observable<Work>((subscriber) => {
      const queue: Outcome[] = [];
      let inFlight = 0;
      let sourceDone = false;
      const emit = (out: Work): void => subscriber.next(out);
      const finish = (o: Outcome): void => {
        if (o.error !== undefined) {
          stats.failed++;
          host.fail(o.work, spec, o.error);
          o.work.flight.release();
          return;
        }
        for (const e of o.result!.emits) {
          stats.emitted++;
          host.sideOutput(o.work, e.subject, e.data);
        }
        emitOutputs(o.work, o.result!.outputs, stats, emit);
      };
      const drainQueue = (): void => {
        while (queue.length > 0 && queue[0]!.done) finish(queue.shift()!);
        if (sourceDone && inFlight === 0) subscriber.complete();
      };
      const subscription = source.subscribe({
        next: (work) => {
          stats.in++;
          inFlight++;
          const outcome: Outcome = { work, done: false };
          if (ordered) queue.push(outcome);
          const headers = work.headers ? [...work.headers.entries()].map(([k, v]) => [k, v[0]!] as [string, string]) : undefined;
          pool.call(spec.function, work.data, { subject: work.subject, headers }).then(
            (result) => (outcome.result = result),
            (error: unknown) => (outcome.error = error instanceof WaspError ? error : new WaspError(String(error), { cause: error })),
          ).finally(() => {
            outcome.done = true;
            inFlight--;
            if (ordered) drainQueue();
            else {
              finish(outcome);
              if (sourceDone && inFlight === 0) subscriber.complete();
            }
          });
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          sourceDone = true;
          if (inFlight === 0) subscriber.complete();
        },
      });
      return () => subscription.unsubscribe();
    });
  return { operator, close: () => void pool.close() };
}
