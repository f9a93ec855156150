// The fuzz harness's parent side: cases run in batches in forked worker
// processes, with a watchdog on each case. A batch whose worker stops making
// progress (a hang) or dies (a crash) is split until the case that did it runs
// alone, so the report names it.
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { root, type CaseResult, type Kind } from './cases.js';
import type { Batch, FromWorker } from './worker.js';

export const WORKER = join(root, 'dist', 'fuzz', 'worker.js');

export interface FuzzOptions {
  kind: Kind;
  seed: number;
  /** cases 0 .. count-1 (default 10,000), unless `indices` names them */
  count?: number;
  indices?: readonly number[];
  /** worker processes (default: one per core) */
  workers?: number;
  /** cases per batch (default 50) */
  batchSize?: number;
  /** a case making no progress this long (for modules: no new step, e.g. the next export call) is a hang (default 5000 ms) */
  caseTimeoutMs?: number;
  /** a case that finishes but takes longer is reported as slow (default 2000 ms for configs, none for modules) */
  slowMs?: number;
  /** a time (Date.now()) after which no batch starts; the report says how many cases ran */
  stopAt?: number;
  onResult?: (result: CaseResult) => void;
}

export interface FuzzReport {
  kind: Kind;
  seed: number;
  planned: number;
  ran: number;
  ms: number;
  /** cases by outcome class, e.g. "register: PluginCompileError" */
  outcomes: Record<string, number>;
  /** the workers' finer counts (module calls by outcome, config problems by kind) */
  tally: Record<string, number>;
  failures: CaseResult[];
  /** the case that took longest, for a sense of the time bound */
  slowest: { index: number; ms: number } | undefined;
}

interface Job {
  indices: number[];
  /** run alone to confirm a hang or a crash */
  solo: boolean;
}

type BatchEnd = { finished: true } | { finished: false; reason: string; started: number | undefined; done: Set<number> };

export async function fuzz(options: FuzzOptions): Promise<FuzzReport> {
  if (!existsSync(WORKER)) throw new Error(`${WORKER} is missing: run npm run build first`);
  const { kind, seed } = options;
  const indices = options.indices ?? Array.from({ length: options.count ?? 10_000 }, (_, i) => i);
  const caseTimeoutMs = options.caseTimeoutMs ?? 5000;
  const slowMs = options.slowMs ?? (kind === 'configs' ? 2000 : Infinity);
  const batchSize = options.batchSize ?? 50;
  const t0 = performance.now();
  const report: FuzzReport = { kind, seed, planned: indices.length, ran: 0, ms: 0, outcomes: {}, tally: {}, failures: [], slowest: undefined };
  const descriptions = new Map<number, string>();

  const record = (result: CaseResult): void => {
    if (result.ok && result.ms > slowMs) Object.assign(result, { ok: false, outcome: 'slow', detail: `took ${Math.round(result.ms)} ms (over ${slowMs} ms)` });
    report.ran++;
    if (report.slowest === undefined || result.ms > report.slowest.ms) report.slowest = { index: result.index, ms: result.ms };
    report.outcomes[result.outcome] = (report.outcomes[result.outcome] ?? 0) + 1;
    for (const [k, n] of Object.entries(result.tally ?? {})) report.tally[k] = (report.tally[k] ?? 0) + n;
    if (!result.ok) report.failures.push(result);
    options.onResult?.(result);
  };

  const queue: Job[] = [];
  for (let i = 0; i < indices.length; i += batchSize) queue.push({ indices: indices.slice(i, i + batchSize), solo: false });
  let busy = 0;
  let waiting: (() => void)[] = [];
  const wake = (): void => {
    const w = waiting;
    waiting = [];
    for (const f of w) f();
  };

  /** After a batch's worker hung or died: the cases it did not finish go back, split so the culprit ends up alone. */
  const retry = (job: Job, end: Exclude<BatchEnd, { finished: true }>): void => {
    const left = job.indices.filter((i) => !end.done.has(i));
    if (left.length === 0) return;
    if (left.length === 1 && job.solo) {
      const index = left[0]!;
      const hang = end.reason.startsWith('no progress');
      record({ kind, seed, index, description: descriptions.get(index) ?? '(its input was never generated: the harness itself is at fault)', ms: 0, ok: false, outcome: hang ? 'hang' : 'crash', detail: end.reason });
      return;
    }
    const suspect = end.started !== undefined && left.includes(end.started) ? end.started : undefined;
    if (suspect !== undefined) {
      const rest = left.filter((i) => i !== suspect);
      queue.unshift({ indices: [suspect], solo: true }, ...(rest.length > 0 ? [{ indices: rest, solo: false }] : []));
    } else {
      const half = Math.ceil(left.length / 2);
      const parts = [left.slice(0, half), left.slice(half)].filter((p) => p.length > 0);
      queue.unshift(...parts.map((p) => ({ indices: p, solo: p.length === 1 })));
    }
  };

  const slot = async (): Promise<void> => {
    let worker: Worker | undefined;
    for (;;) {
      if (options.stopAt !== undefined && Date.now() > options.stopAt) queue.length = 0;
      const job = queue.shift();
      if (job === undefined) {
        if (busy === 0) break;
        await new Promise<void>((resolve) => waiting.push(resolve));
        continue;
      }
      busy++;
      worker ??= new Worker();
      const end = await worker.run({ kind, seed, indices: job.indices }, caseTimeoutMs, descriptions, record);
      if (!end.finished) {
        worker = undefined;
        retry(job, end);
      }
      busy--;
      wake();
    }
    worker?.stop();
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.workers ?? availableParallelism(), Math.ceil(indices.length / batchSize) || 1)) }, slot));
  report.failures.sort((a, b) => a.index - b.index);
  report.ms = performance.now() - t0;
  return report;
}

/** A forked worker process, reused batch after batch until it hangs or dies. */
class Worker {
  readonly #child: ChildProcess;
  #stderr = '';
  #exited: string | undefined;

  constructor() {
    this.#child = fork(WORKER, [], { execArgv: [], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    this.#child.stderr!.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-2000);
    });
    this.#child.once('exit', (code, signal) => {
      this.#exited = `worker exited with ${signal ?? `code ${code}`}`;
    });
  }

  run(batch: Batch, caseTimeoutMs: number, descriptions: Map<number, string>, record: (r: CaseResult) => void): Promise<BatchEnd> {
    return new Promise((resolve) => {
      let started: number | undefined;
      let step = '';
      const done = new Set<number>();
      let timer: NodeJS.Timeout | undefined;
      const finish = (end: BatchEnd): void => {
        clearTimeout(timer);
        this.#child.off('message', onMessage);
        this.#child.off('exit', onExit);
        if (!end.finished) this.stop();
        resolve(end);
      };
      const arm = (): void => {
        clearTimeout(timer);
        timer = setTimeout(() => finish({ finished: false, reason: `no progress for ${caseTimeoutMs} ms${step ? ` in ${step}` : ''}: killed`, started, done }), caseTimeoutMs);
      };
      const onMessage = (m: FromWorker): void => {
        if (m.type === 'start') {
          started = m.index;
          step = '';
          descriptions.set(m.index, m.description);
        } else if (m.type === 'step') {
          step = m.step;
        } else if (m.type === 'done') {
          started = undefined;
          done.add(m.result.index);
          record(m.result);
        } else {
          finish({ finished: true });
          return;
        }
        arm();
      };
      const onExit = (): void => {
        const tail = this.#stderr.trim().split('\n').slice(-6).join('\n');
        finish({ finished: false, reason: `${this.#exited ?? 'worker exited'}${tail ? `; stderr: ${tail}` : ''}`, started, done });
      };
      this.#child.on('message', onMessage);
      this.#child.once('exit', onExit);
      if (this.#exited !== undefined) return onExit();
      arm();
      this.#child.send(batch);
    });
  }

  stop(): void {
    if (this.#exited === undefined) this.#child.kill('SIGKILL');
  }
}

/** A failure as the report prints it, with the command that replays it. */
export function formatFailure(r: CaseResult): string {
  const detail = (r.detail ?? '').split('\n').map((l) => `      ${l}`).join('\n');
  return (
    `FAIL ${r.kind} seed ${r.seed} case ${r.index}: ${r.outcome}\n` +
    `      ${r.description}\n${detail ? `${detail}\n` : ''}` +
    `      replay: node dist/fuzz/run.js --only ${r.kind} --seed ${r.seed} --case ${r.index}`
  );
}
