// A worker thread of a pool: one instance of the plugin, made from the module
// compiled once on the pool's thread, taking calls from its ring in order and
// writing each result back. Between calls it sleeps in Atomics.wait; a
// deadline stops it by terminating the thread.
import { parentPort, workerData } from 'node:worker_threads';
import { completeLogger } from '../logger.js';
import { Instance } from '../instance.js';
import { Plugin } from '../plugin.js';
import { initWasi } from '../wasi.js';
import { matchesAny } from '../../transport/subjects.js';
import { serializeError, type FromWorker, type WorkerSetup } from './protocol.js';
import { remoteCallbacks } from './remote-callbacks.js';
import { RingReader, RingWriter } from './ring.js';
import { readCall, writeResult, type ResultRecord } from './wire.js';

const setup = workerData as WorkerSetup;
const calls = new RingReader(setup.calls);
const results = new RingWriter(setup.results);
const functions = setup.exports.map((e) => e.name);
const progress = new Int32Array(setup.progress);
const NONE: Uint8Array[] = [];
let emits: ResultRecord['emits'] = [];

// Waking the pool's thread costs it several microseconds, as much as a short
// call: results of short calls are announced together, at most this long or
// this many after the first, and at once when the worker runs out of calls or
// a call was long enough that waiting for the next would delay its result.
const ANNOUNCE_AFTER_MS = 0.2;
const ANNOUNCE_EVERY = 64;
let unannounced = 0;
let firstUnannounced = 0;

function announce(callStarted: number): void {
  if (!results.consumerSleeps()) {
    unannounced = 0; // the pool is awake and reads the ring until it is empty
    return;
  }
  const now = performance.now();
  if (unannounced++ === 0) firstUnannounced = now;
  if (!calls.hasRecord() || unannounced >= ANNOUNCE_EVERY || now - firstUnannounced >= ANNOUNCE_AFTER_MS || now - callStarted >= ANNOUNCE_AFTER_MS) {
    unannounced = 0;
    results.wake();
  }
}

const callbacks = remoteCallbacks(setup.callbacks, setup.callbackPort, setup.answered);
const plugin = new Plugin(setup.name, setup.module, setup.sha256, { exports: [...setup.exports], imports: [...setup.imports] }, callbacks, setup.options);
const make = (): Instance =>
  new Instance(plugin, completeLogger(), {
    // Side outputs travel back with the call's result; the allow-list is checked here, where the plugin waits for the answer.
    onEmit: (subject, data) => {
      if (!matchesAny(setup.emits, subject)) return false;
      emits.push({ subject, data });
      return true;
    },
  });

async function main(): Promise<void> {
  if (plugin.usesWasi) await initWasi();
  let instance = make();
  for (;;) {
    const at = calls.next();
    if (at < 0) {
      calls.waitForRecord();
      continue;
    }
    const started = performance.now();
    Atomics.add(progress, 0, 1);
    const call = readCall(calls, at, setup.bulk);
    emits = [];
    instance.setMessage(call.subject, call.headers);
    let outputs = NONE;
    let error;
    try {
      outputs = instance.callOutputs(functions[call.fn]!, call.data);
    } catch (failure) {
      error = serializeError(failure);
      if (instance.needsReplacement) {
        instance.remove();
        instance = make();
      }
    }
    Atomics.add(progress, 1, 1);
    calls.release();
    writeResult(results, setup.bulk, { outputs, emits, error });
    announce(started);
  }
}

main().catch((error: unknown) => parentPort!.postMessage({ type: 'failed', error: serializeError(error) } satisfies FromWorker));
