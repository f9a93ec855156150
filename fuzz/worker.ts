// A fuzz worker process, forked by harness.ts: runs the cases it is sent one
// at a time, telling the parent when each starts and how it ended, so the
// parent can name the case that hangs or kills the process.
import type { CaseResult, Kind } from './cases.js';
import { runCase, watchStrayErrors } from './run-case.js';

export interface Batch {
  kind: Kind;
  seed: number;
  indices: number[];
}

export type FromWorker =
  | { type: 'start'; index: number; description: string }
  | { type: 'step'; index: number; step: string }
  | { type: 'done'; result: CaseResult }
  | { type: 'idle' };

if (process.send === undefined) throw new Error('fuzz/worker.js runs as a child of the fuzz harness (node dist/fuzz/run.js)');
// Resolves once the message is written: a case that then blocks the event loop forever cannot keep its name from the parent.
const send = (m: FromWorker): Promise<void> => new Promise((resolve) => process.send!(m, undefined, undefined, () => resolve()));
watchStrayErrors();
process.on('message', (batch: Batch) => {
  void (async () => {
    for (const index of batch.indices) {
      const result = await runCase(batch.kind, batch.seed, index, {
        start: (description) => send({ type: 'start', index, description }),
        step: (step) => send({ type: 'step', index, step }),
      });
      await send({ type: 'done', result });
    }
    await send({ type: 'idle' });
  })();
});
