import { Observable, type OperatorFunction } from 'rxjs';
import type { Engine } from '../../engine/engine.js';
import type { WaspError } from '../../engine/errors.js';
import { Fifo } from '../../engine/pool/fifo.js';
import type { PoolResult } from '../../engine/pool/pool.js';
import type { StageStats } from '../stats.js';
import type { Work } from '../work.js';
import { emitOutputs } from './outputs.js';
import type { StageHost, WasmStageSpec } from './wasm-stage.js';

/** A message out at a worker, and what came back for it. */
interface Outcome {
  work: Work;
  result: PoolResult | undefined;
  error: WaspError | undefined;
  done: boolean;
}

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
      const queue = new Fifo<Outcome>(); // ordered: the calls out, in input order
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
      const completeIfDone = (): void => {
        if (sourceDone && inFlight === 0) subscriber.complete();
      };
      // One function for every call; the outcome travels as the pool's ticket.
      const answered = (o: Outcome, result: PoolResult | undefined, error: WaspError | undefined): void => {
        o.result = result;
        o.error = error;
        o.done = true;
        inFlight--;
        if (!ordered) finish(o);
        else {
          while (queue.peek()?.done === true) finish(queue.shift()!);
        }
        completeIfDone();
      };
      const subscription = source.subscribe({
        next: (work) => {
          stats.in++;
          inFlight++;
          const outcome: Outcome = { work, result: undefined, error: undefined, done: false };
          if (ordered) queue.push(outcome);
          pool.submit(spec.function, work.data, work, outcome, answered); // a Work is the message the pool reads subject and headers from
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          sourceDone = true;
          completeIfDone();
        },
      });
      return () => subscription.unsubscribe();
    });
  return { operator, close: () => void pool.close() };
}
