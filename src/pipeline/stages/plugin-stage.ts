// imported rather than the global, which is an accessor on globalThis: about 10 ns less a reading, on the message path
import { performance } from 'node:perf_hooks';
import { Observable, type OperatorFunction } from 'rxjs';
import type { Engine } from '../../engine/engine.js';
import { SignatureError, type WaspError } from '../../engine/errors.js';
import { Fifo } from '../../engine/pool/fifo.js';
import type { PoolResult } from '../../engine/pool/pool.js';
import { STAGE_TYPES } from '../../engine/abi/abi.js';
import { formatType } from '../../engine/host-imports.js';
import type { StageStats } from '../stats.js';
import type { Work } from '../work.js';
import { emitOutputs } from './outputs.js';

export interface StageSpec {
  name: string;
  plugin: string;
  function: string;
  pool: { size: number; mode: 'inline' | 'worker' };
  emits: string[];
  ordered?: boolean;
  timeoutMs?: number;
}

/** What a stage hands back to its pipeline: side outputs to publish, failures to dead-letter. */
export interface StageHost {
  sideOutput(work: Work, subject: string, data: Uint8Array): void;
  fail(work: Work, stage: StageSpec, error: WaspError): void;
}

/**
 * A stage's calls as spans (observe/tracing.ts), given only when a tracing SDK is registered: a
 * stage without one spends nothing on tracing. `S` is the span, which the stage only hands back.
 */
export interface StageTracer<S = unknown> {
  /** just before the call on `work` is made */
  begin(work: Work): S;
  /** as soon as it answered: how many outputs and side outputs it gave, or why it failed */
  end(span: S, outputs: number, emits: number, error: WaspError | undefined): void;
}

/** A stage as the pipeline runs it: an operator, a start-up to await, and a close. */
export interface Stage {
  operator: OperatorFunction<Work, Work>;
  ready(): Promise<void>;
  close(): void;
}

/** A call out at a worker, and what came back for it (ordered stages hold answers until every earlier one is in). */
interface Outcome {
  work: Work;
  outputs: Uint8Array[] | undefined;
  emits: PoolResult['emits'] | undefined;
  error: WaspError | undefined;
  done: boolean;
  /** performance.now() at submit, when calls are timed */
  submittedAt: number;
  /** the call's span, when calls are traced */
  span: unknown;
}


/**
 * A plugin function as an RxJS operator: each message is one call on the
 * stage's pool of instances (inline or in workers, the same pool either way);
 * its outputs (none, one or several) go on downstream with the input's
 * subject and headers, its side outputs to the pipeline, a failure to the
 * dead-letter path. Inline, a call answers before the next message arrives
 * and a single output travels on in the input's record (no allocation but the
 * output's copy). In workers, calls go out as messages arrive and answer
 * later; with `ordered` (the default) outputs leave in input order. The
 * operator completes only when its last call has.
 */
/**
 * `timed`, when given, takes each call's duration in seconds (metrics); `traced` makes each call a
 * span. Without them nothing is timed or traced, for one check per call.
 */
export function pluginStage(
  engine: Engine,
  spec: StageSpec,
  stats: StageStats,
  host: StageHost,
  timed?: (seconds: number) => void,
  traced?: StageTracer,
  /** the first stage: an inline call starts in the run of code the input arrived in, so its arrival reading is the call's start */
  first = false,
): Stage {
  const plugin = engine.plugin(spec.plugin);
  const type = plugin.functionType(spec.function);
  const wanted = STAGE_TYPES[plugin.abi];
  if (formatType(type) !== wanted) {
    throw new SignatureError(`stage ${spec.name}: function ${spec.function} has type ${formatType(type)}; a stage of a ${plugin.abi} plugin needs ${wanted}`, {
      plugin: spec.plugin,
      function: spec.function,
    });
  }
  const pool = engine.createPool(spec.plugin, {
    mode: spec.pool.mode,
    size: spec.pool.size,
    timeoutMs: spec.timeoutMs,
    emits: spec.emits,
    logFields: { stage: spec.name },
  });
  stats.count(pool.counters);
  const inline = pool.mode === 'inline';
  const ordered = spec.ordered ?? true;
  const fn = spec.function;

  const operator: OperatorFunction<Work, Work> = (source) =>
    new Observable<Work>((subscriber) => {
      const emit = (out: Work): void => subscriber.next(out);
      const finish = (work: Work, outputs: Uint8Array[] | undefined, emits: PoolResult['emits'] | undefined, error: WaspError | undefined): void => {
        if (error !== undefined) {
          stats.failed++;
          host.fail(work, spec, error);
          work.flight.release();
          return;
        }
        for (let i = 0; i < emits!.length; i++) {
          stats.emitted++;
          host.sideOutput(work, emits![i]!.subject, emits![i]!.data);
        }
        emitOutputs(work, outputs!, stats, emit);
      };
      const queue = new Fifo<Outcome>(); // ordered worker stages: the calls out, in input order
      let inFlight = 0;
      let sourceDone = false;
      const completeIfDone = (): void => {
        if (sourceDone && inFlight === 0) subscriber.complete();
      };
      // Inline: the pool answers before submit returns; the work itself is the ticket.
      const answeredInline = (work: Work, result: PoolResult | undefined, error: WaspError | undefined): void => {
        finish(work, result?.outputs, result?.emits, error);
      };
      const observed = timed !== undefined || traced !== undefined;
      let span: unknown;
      // The span ends before finish(), which on the embedded bus runs the next stages at once: their calls are not this one's.
      // An inline call starts at the flight's last reading (see next), kept there rather than in a variable of this closure,
      // where every new double would be an allocation.
      const answeredInlineObserved = (work: Work, result: PoolResult | undefined, error: WaspError | undefined): void => {
        if (timed !== undefined) {
          const flight = work.flight;
          const end = performance.now();
          timed((end - flight.clock) / 1000);
          flight.clock = end;
        }
        if (traced !== undefined) traced.end(span, result?.outputs.length ?? 0, result?.emits.length ?? 0, error);
        finish(work, result?.outputs, result?.emits, error);
      };
      // In workers: one function for every call; the outcome travels as the pool's ticket.
      const answered = (o: Outcome, result: PoolResult | undefined, error: WaspError | undefined): void => {
        inFlight--;
        if (timed !== undefined) {
          const end = performance.now();
          timed((end - o.submittedAt) / 1000);
          o.work.flight.clock = end;
        }
        if (traced !== undefined) traced.end(o.span, result?.outputs.length ?? 0, result?.emits.length ?? 0, error);
        if (!ordered || queue.peek() === o) {
          if (ordered) queue.shift();
          finish(o.work, result?.outputs, result?.emits, error);
          while (queue.peek()?.done === true) {
            const next = queue.shift()!;
            finish(next.work, next.outputs, next.emits, next.error);
          }
        } else {
          // held until every earlier message is through (a worker pool's result arrays are fresh for each call, so they can be kept)
          o.outputs = result?.outputs;
          o.emits = result?.emits;
          o.error = error;
          o.done = true;
        }
        completeIfDone();
      };
      const subscription = source.subscribe({
        next: (work) => {
          stats.in++;
          // A Work is the message the pool reads subject and headers from.
          if (inline) {
            if (!observed) return pool.submit(fn, work.data, work, work, answeredInline);
            if (traced !== undefined) span = traced.begin(work);
            // the first stage's call starts in the run of code the input arrived in: its arrival reading is the start
            if (timed !== undefined && !first) work.flight.clock = performance.now();
            return pool.submit(fn, work.data, work, work, answeredInlineObserved);
          }
          inFlight++;
          const outcome: Outcome = {
            work,
            outputs: undefined,
            emits: undefined,
            error: undefined,
            done: false,
            submittedAt: timed === undefined ? 0 : performance.now(),
            span: traced?.begin(work),
          };
          if (ordered) queue.push(outcome);
          pool.submit(fn, work.data, work, outcome, answered);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          sourceDone = true;
          completeIfDone();
        },
      });
      return () => subscription.unsubscribe();
    });
  return { operator, ready: () => pool.ready(), close: () => void pool.close() };
}
