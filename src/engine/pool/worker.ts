// A worker thread of a WorkerPool: one instance of the plugin, made from the
// module compiled once on the main thread, running batches of calls.
import { parentPort, workerData } from 'node:worker_threads';
import { completeLogger } from '../logger.js';
import { Instance } from '../instance.js';
import { Plugin } from '../plugin.js';
import { initWasi } from '../wasi.js';
import { matchesAny } from '../../transport/subjects.js';
import { Packer, serializeError, type CallResult, type FromWorker, type Span, type ToWorker, type WorkerSetup } from './protocol.js';

const setup = workerData as WorkerSetup;
const port = parentPort!;
// [0]: calls finished in the current batch, so the pool knows which call overran its deadline
const progress = new Int32Array(setup.progress);
let emits: [string, Span][] = [];
let packer = new Packer();

const plugin = new Plugin(setup.name, setup.module, setup.sha256, { exports: [...setup.exports], imports: [...setup.imports] }, [], setup.options);
const make = (): Instance =>
  new Instance(plugin, completeLogger(), {
    // Side outputs travel back with the call's result; the allow-list is checked here, where the plugin waits for the answer.
    onEmit: (subject, data) => {
      if (!matchesAny(setup.emits, subject)) return false;
      emits.push([subject, packer.add(data)]);
      return true;
    },
  });

async function main(): Promise<void> {
  if (plugin.usesWasi) await initWasi();
  let instance = make();
  port.on('message', (message: ToWorker) => {
    const results: CallResult[] = [];
    const input = new Uint8Array(message.buffer);
    packer = new Packer();
    Atomics.store(progress, 0, 0);
    for (const call of message.calls) {
      emits = [];
      instance.setMessage(call.subject ?? null, call.headers ? new Map(call.headers) : undefined);
      try {
        const outputs = instance.callOutputs(call.fn, input.subarray(call.data[0], call.data[0] + call.data[1]));
        results.push({ outputs: outputs.map((o) => packer.add(o)), emits });
      } catch (error) {
        results.push({ error: serializeError(error), emits });
        if (instance.needsReplacement) {
          instance.remove();
          instance = make();
        }
      }
      Atomics.add(progress, 0, 1);
    }
    const buffer = packer.finish();
    const reply: FromWorker = { type: 'results', id: message.id, results, buffer };
    port.postMessage(reply, [buffer]);
  });
  port.postMessage({ type: 'ready' } satisfies FromWorker);
}

main().catch((error: unknown) => port.postMessage({ type: 'failed', error: serializeError(error) } satisfies FromWorker));
