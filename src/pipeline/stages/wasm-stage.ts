import type { OperatorFunction } from 'rxjs';
import type { Engine } from '../../engine/engine.js';
import { asWaspError, type WaspError } from '../../engine/errors.js';
import { matchesAny } from '../../transport/subjects.js';
import { operate } from '../operate.js';
import { emitResult } from './outputs.js';
import { InlinePool } from '../pool.js';
import type { StageStats } from '../stats.js';
import type { Work } from '../work.js';

export interface WasmStageSpec {
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
  fail(work: Work, stage: WasmStageSpec, error: WaspError): void;
}

/**
 * A Wasm plugin function as an RxJS operator: each message is one call on an
 * instance from the stage's pool; its outputs (none, one or several) go on
 * downstream with the input's subject and headers. A single output travels on
 * in the input's record: per message and stage, the output's copy is the only allocation.
 */
export function wasmStage(engine: Engine, spec: WasmStageSpec, stats: StageStats, host: StageHost): { operator: OperatorFunction<Work, Work>; close(): void } {
  let current: Work | null = null;
  const onEmit = (subject: string, data: Uint8Array): boolean => {
    if (current === null || !matchesAny(spec.emits, subject)) {
      stats.refusedEmits++;
      return false;
    }
    stats.emitted++;
    host.sideOutput(current, subject, data);
    return true;
  };
  const pool = new InlinePool(engine, spec.plugin, spec.function, spec.pool.size, { onEmit });

  const operator = operate<Work, Work>((work, emit) => {
    stats.in++;
    const slot = pool.take();
    let result: Uint8Array | Uint8Array[] | null;
    current = work;
    slot.instance.setMessage(work.subject, work.headers);
    try {
      result = slot.call(work.data);
    } catch (error) {
      current = null;
      stats.failed++;
      host.fail(work, spec, asWaspError(error));
      if (pool.renew(slot)) stats.replacedInstances++;
      work.flight.release();
      return;
    }
    current = null;
    emitResult(work, result, stats, emit);
  });
  return { operator, close: () => pool.close() };
}
