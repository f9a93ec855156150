// A worker thread of a pool: one instance of the plugin, made from the module
// compiled once on the pool's thread, taking calls from its ring in order and
// writing each result back. Between calls it sleeps in Atomics.wait. The
// instance's own deadline stops a looping call (and a looping start-up) here;
// the pool's watchdog terminates the thread when a call is stuck where the
// deadline cannot see it (a host callback that never answers).
import { parentPort, workerData } from 'node:worker_threads';
import { asWaspError, PluginUnavailableError } from '../errors.js';
import { LOG_LEVELS, type Logger, type LogLevel } from '../logger.js';
import type { Instance } from '../instance.js';
import { createInstance } from '../abi/foreign-instance.js';
import { Plugin } from '../plugin.js';
import { initWasi } from '../wasi.js';
import { serializeError, type FromWorker, type LogRecord, type WorkerSetup } from './protocol.js';
import { Retry } from './retry.js';
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
// This side needs only the module variant the pool chose (instrumented for the deadline, or plain).
const variant = setup.limits.timeoutMs > 0 ? { timed: setup.module } : { plain: setup.module };
const plugin = new Plugin(setup.name, setup.sha256, { exports: setup.exports, imports: setup.imports }, callbacks, setup.limits, setup.wasi, variant, undefined, setup.abi, setup.config);

// What the plugin logs goes back to the pool's thread, with the result of the call it logged in.
let logs: LogRecord[] | undefined;
const keep =
  (level: LogLevel) =>
  (message: string, fields?: Record<string, unknown>): void => {
    (logs ??= []).push({ level, message, fields });
  };
const logger = Object.fromEntries(LOG_LEVELS.map((level) => [level, keep(level)])) as unknown as Logger;

const make = (): Instance =>
  createInstance(plugin, logger, {
    // Side outputs travel back with the call's result; the instance checks subjects and the allow-list here, where the plugin waits for the answer.
    onEmit: (subject, data) => {
      emits.push({ subject, data });
    },
    emits: setup.emits,
    timeoutMs: setup.limits.timeoutMs,
    wasi: setup.wasi,
    logFields: setup.logFields,
  });

function takeLogs(): LogRecord[] | undefined {
  const out = logs;
  logs = undefined;
  return out;
}

async function main(): Promise<void> {
  if (plugin.usesWasi) await initWasi();
  let instance: Instance | undefined;
  try {
    instance = make();
  } catch (error) {
    parentPort!.postMessage({ type: 'failed', error: serializeError(error), logs: takeLogs() ?? [] } satisfies FromWorker);
    return;
  }
  parentPort!.postMessage({ type: 'ready', logs: takeLogs() ?? [] } satisfies FromWorker);
  // A replacement that cannot be made is retried with backoff; calls meanwhile fail with PluginUnavailableError.
  const retry = new Retry();
  let refusedBefore = 0;
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
    let outputs = NONE;
    let error;
    let refused = 0;
    let replaced = false;
    if (instance === undefined && retry.due) {
      try {
        instance = make();
        refusedBefore = 0;
        retry.succeeded();
      } catch (failure) {
        retry.failed(asWaspError(failure));
      }
    }
    if (instance === undefined) {
      const cause = retry.lastError;
      error = serializeError(
        new PluginUnavailableError(`plugin ${setup.name}: no instance is available: a replacement failed to instantiate${cause ? `: ${cause.message}` : ''}`, { plugin: setup.name, cause }),
      );
    } else {
      instance.setMessage(call.subject, call.headers);
      try {
        outputs = instance.callOutputs(functions[call.fn]!, call.data);
      } catch (failure) {
        error = serializeError(failure);
        emits = []; // a failed call's side outputs are dropped (the pool would drop them too): they need not cross
      }
      refused = instance.refusedEmits - refusedBefore;
      refusedBefore = instance.refusedEmits;
      if (instance.needsReplacement) {
        replaced = true;
        instance.remove();
        instance = undefined;
        try {
          instance = make();
          refusedBefore = 0;
        } catch (failure) {
          retry.failed(asWaspError(failure));
        }
      }
    }
    Atomics.add(progress, 1, 1);
    calls.release();
    writeResult(results, setup.bulk, { outputs, emits, error, logs: takeLogs(), refused, replaced });
    announce(started);
  }
}

main().catch((error: unknown) => parentPort!.postMessage({ type: 'failed', error: serializeError(error), logs: takeLogs() ?? [] } satisfies FromWorker));
