// The latency bench's publisher, in a worker thread so that the thread timing arrivals is never
// held up behind a burst of publishes. It paces itself by sleeping in Atomics.wait, which costs no
// CPU (a spinning loop would take a core from the system under test on a two-core machine) and
// wakes every ~0.1 ms, where a timer cannot wake sooner than every millisecond: the system under
// test sees a small batch every tenth of a millisecond, not a burst every millisecond.
import { once } from 'node:events';
import { parentPort, workerData } from 'node:worker_threads';
import { connect } from '@nats-io/transport-node';
import { nowNs, stampedMessage } from './latency-message.js';

export interface PublisherJob {
  url: string;
  subject: string;
  bytes: number;
  run: number;
  seconds: number;
  /** open loop: this many messages a second, whatever comes back */
  rate?: number;
  /** closed loop (the maximum rate): at most this many published and not yet received */
  window?: number;
  /** Int32Array: [0] counts what the receiver took in this run (read for the window); [1] stays 0, a place to sleep on */
  shared: SharedArrayBuffer;
}

export interface PublisherReport {
  sent: number;
  seconds: number;
}

/** Shortest pause between batches; with the kernel's timer slack a wait lasts 0.1-0.15 ms. */
const TICK_MS = Number(process.env.BENCH_LATENCY_TICK_MS ?? 0.1);
/** Longest pause: at a low rate a message is sent at most this late. */
const MAX_PAUSE_MS = 1;

async function publish(job: PublisherJob): Promise<PublisherReport> {
  const nc = await connect({ servers: job.url });
  const shared = new Int32Array(job.shared);
  parentPort!.postMessage('ready');
  await once(parentPort!, 'message');
  const start = nowNs();
  const end = start + job.seconds * 1e9;
  let sent = 0;
  const due = (now: number): number => (job.rate !== undefined ? Math.floor(((now - start) / 1e9) * job.rate) - sent : job.window! - (sent - Atomics.load(shared, 0)));
  const pause = (now: number): void => {
    const untilNext = job.rate !== undefined ? (start + ((sent + 1) / job.rate) * 1e9 - now) / 1e6 : 0;
    const ms = Math.min(MAX_PAUSE_MS, Math.max(TICK_MS, untilNext));
    // the window waits on the receiver's count, so a receipt ends the pause early only when notified; it is not, to keep batches
    if (job.rate === undefined) Atomics.wait(shared, 0, Atomics.load(shared, 0), ms);
    else Atomics.wait(shared, 1, 0, ms);
  };
  await new Promise<void>((resolve) => {
    const step = (): void => {
      const now = nowNs();
      if (now >= end) return resolve();
      for (let n = due(now); n > 0; n--) nc.publish(job.subject, stampedMessage(job.bytes, job.run, sent++));
      // nats.js writes the batch in a microtask, before the next macrotask: the pause comes after it
      setImmediate(() => {
        pause(nowNs());
        step();
      });
    };
    step();
  });
  const seconds = (nowNs() - start) / 1e9;
  await nc.flush();
  await nc.close();
  return { sent, seconds };
}

if (parentPort && workerData) {
  parentPort.postMessage(await publish(workerData as PublisherJob));
  // stays until terminated: a worker that ended at once could have its 'exit' seen before its report
  parentPort.once('message', () => {});
}
