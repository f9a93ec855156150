// Waiting for the workers: a revision has rolled out when every worker whose pattern takes the
// pipeline reports it running, so anything published after that is handled by it.
import type { NatsConnection } from '@nats-io/nats-core';
import { findWorkers, type WorkerReport } from './discovery.js';
import { RolloutError } from './errors.js';
import { namePattern } from './worker.js';

/** How long each round of asking the workers waits for their answers. */
const ASK_MS = 500;

/**
 * Resolves with the workers running `revision` of the pipeline (or, for undefined, running it no
 * more) once every worker that takes the pipeline says so; rejects with RolloutError when one
 * refused the revision, or at the timeout (naming who is behind).
 */
export async function waitForRollout(nc: NatsConnection, pipeline: string, revision: number | undefined, timeoutMs: number): Promise<WorkerReport[]> {
  const deadline = Date.now() + timeoutMs;
  const what = revision === undefined ? 'undeploy' : `revision ${revision}`;
  for (;;) {
    const takers = (await findWorkers(nc, ASK_MS)).filter((w) => namePattern(w.pipelines)(pipeline));
    const states = takers.map((w) => ({ worker: w, report: w.running.find((p) => p.name === pipeline) }));
    if (revision !== undefined) {
      const refused = states.find((s) => s.report?.failed?.revision === revision);
      if (refused) {
        throw new RolloutError(
          `pipeline ${pipeline} revision ${revision} failed on worker ${refused.worker.host}:${refused.worker.pid}: ${refused.report!.failed!.error}`,
          pipeline,
          revision,
          'failed',
        );
      }
    }
    const done = (s: (typeof states)[number]): boolean =>
      revision === undefined ? s.report?.state !== 'running' : s.report?.revision === revision && s.report.state === 'running';
    if (takers.length > 0 && states.every(done)) return takers;
    if (takers.length === 0 && revision === undefined) return [];
    if (Date.now() >= deadline) {
      if (takers.length === 0) throw new RolloutError(`no worker takes pipeline ${pipeline} (none answered, or none's --pipelines matches it)`, pipeline, revision ?? 0, 'no-worker');
      const behind = states.filter((s) => !done(s)).map((s) => `${s.worker.host}:${s.worker.pid} (${s.report?.revision !== undefined ? `revision ${s.report.revision}` : 'not running it'})`);
      throw new RolloutError(`pipeline ${pipeline}: ${what} not on every worker after ${timeoutMs / 1000} s: ${behind.join(', ')}`, pipeline, revision ?? 0, 'timeout');
    }
  }
}
