// npm run bench (fault part): what a failure costs, measured on real nats-servers this bench
// starts itself.
//  - JetStream on a three-node cluster (R3 streams): the pipeline's throughput and its longest
//    stall when the node leading the output stream is killed mid-run and restarted 5 s later,
//    against the same run without a fault, in alternating rounds. Every run must deliver every
//    input's output exactly once (distinct outputs seen = inputs = messages the stream holds).
//  - Core NATS under a slow stage: a burst into a Wasm stage that takes ~0.1 ms a message, inline
//    and in a worker. The input's pending limit drops what does not fit, counted; the run checks that
//    handled + counted drops = sent and that every handled message came out.
import { fileURLToPath } from 'node:url';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { completeLogger } from '../src/engine/logger.js';
import { parsePipelineConfig } from '../src/pipeline/config/load.js';
import { Pipeline } from '../src/pipeline/pipeline.js';
import { connectNats } from '../src/transport/connect.js';
import { NatsTransport } from '../src/transport/nats.js';
import { NatsCluster } from '../test/helpers/nats-cluster.js';
import { NatsServer } from '../test/helpers/nats-server.js';
import { messageSet } from './pipeline-runs.js';
import { writeResult } from './results-dir.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const plugin = `${root}pipelines/text/text.wasm`;
const JS_MESSAGES = Number(process.env.BENCH_FAULT_MESSAGES ?? 30_000);
const ROUNDS = Number(process.env.BENCH_FAULT_ROUNDS ?? 2);
const RESTART_AFTER_MS = 5_000;
const CORE_MESSAGES = 50_000;
const CORE_MAX_PENDING = 5_000;
const BYTES = 64;
const silent = completeLogger();

export interface FaultRow {
  run: 'no fault' | 'output leader killed';
  /** nats.publishAckTimeoutMs: a publish to the dead leader waits this long before it is retried */
  publishAckTimeoutMs: number;
  messages: number;
  msgPerSec: number;
  /** the longest time without a new output, in ms */
  longestStallMs: number;
  /** what the pipeline's summary counts */
  naked: number;
  deadLettered: number;
}

export interface SlowConsumerRow {
  mode: 'inline' | 'worker';
  sent: number;
  handled: number;
  droppedCounted: number;
  outputs: number;
}

/** One JetStream run: fresh R3 streams, every input published first, the pipeline started and timed until all are out. */
async function jetStreamRun(cluster: NatsCluster, jsm: JetStreamManager, observer: NatsConnection, fault: boolean, ackTimeoutMs: number): Promise<FaultRow> {
  for (const name of ['FIN', 'FOUT', 'FDLQ']) await NatsCluster.deleteStream(jsm, name);
  await NatsCluster.addStream(jsm, { name: 'FIN', subjects: ['fault.in'], num_replicas: 3 });
  await NatsCluster.addStream(jsm, { name: 'FOUT', subjects: ['fault.out'], num_replicas: 3 });
  await NatsCluster.addStream(jsm, { name: 'FDLQ', subjects: ['fault.dlq'], num_replicas: 3 });
  const js = jsm.jetstream();
  const messages = messageSet(BYTES, JS_MESSAGES);
  for (let i = 0; i < messages.length; i += 1000) await Promise.all(messages.slice(i, i + 1000).map((m) => js.publish('fault.in', m)));

  // Every publish the pipeline makes reaches a plain subscriber too, retries included: distinct
  // sequence numbers say every input came out; the stream's count says none came out twice.
  const seen = new Uint8Array(JS_MESSAGES);
  let distinct = 0;
  let last = 0;
  let longestStall = 0;
  let started = 0;
  const sub = observer.subscribe('fault.out', {
    callback: (_, m) => {
      const now = performance.now();
      if (started === 0) started = now;
      else longestStall = Math.max(longestStall, now - last);
      last = now;
      const seq = (m.data[0]! | (m.data[1]! << 8) | (m.data[2]! << 16) | (m.data[3]! << 24)) >>> 0;
      if (seq < JS_MESSAGES && seen[seq] === 0) {
        seen[seq] = 1;
        distinct++;
      }
    },
  });
  await observer.flush();

  const config = await parsePipelineConfig(
    `name: fault
nats: { servers: "${cluster.url}", publishAckTimeoutMs: ${ackTimeoutMs} }
plugins: { text: { path: ${plugin} } }
input: { stream: FIN, consumer: bench, maxAckPending: 256, ackWaitMs: 5000 }
stages: [{ name: identity, plugin: text, function: identity }]
output: { subject: fault.out }
deadLetter: { subject: fault.dlq }
`,
    'fault.yaml',
  );
  const transport = new NatsTransport(await connectNats(config.nats!, silent), silent);
  const pipeline = await Pipeline.create(config, { transport, logger: silent });
  await pipeline.start();
  let restarted: Promise<void> = Promise.resolve();
  try {
    if (fault) {
      await until(() => distinct >= JS_MESSAGES / 3, 60_000, 'a third of the outputs');
      const leader = await NatsCluster.streamReady(jsm, 'FOUT');
      await cluster.node(leader).kill();
      restarted = new Promise((r) => setTimeout(r, RESTART_AFTER_MS)).then(() => cluster.node(leader).start());
    }
    await until(() => distinct >= JS_MESSAGES, 120_000, 'every output');
    const seconds = (last - started) / 1000;
    await restarted;
    await NatsCluster.streamReady(jsm, 'FOUT');
    const stored = (await jsm.streams.info('FOUT')).state.messages;
    if (stored !== JS_MESSAGES) throw new Error(`the output stream holds ${stored} messages for ${JS_MESSAGES} inputs`);
    await pipeline.drain();
    return {
      run: fault ? 'output leader killed' : 'no fault',
      publishAckTimeoutMs: ackTimeoutMs,
      messages: JS_MESSAGES,
      msgPerSec: Math.round(JS_MESSAGES / seconds),
      longestStallMs: Math.round(longestStall),
      naked: pipeline.stats.naked,
      deadLettered: pipeline.stats.deadLettered,
    };
  } finally {
    pipeline.close();
    await restarted;
    await transport.close().catch(() => {});
    sub.unsubscribe();
  }
}

/** A burst into a slow stage on core NATS: what the input drops is counted, and the rest comes out. */
async function slowConsumerRun(mode: 'inline' | 'worker'): Promise<SlowConsumerRow> {
  const server = await NatsServer.start({ jetstream: false });
  const nc = await connect({ servers: server.url });
  try {
    const outputs = { count: 0 };
    nc.subscribe('slow.out', {
      callback: () => {
        outputs.count++;
      },
    });
    await nc.flush();
    const config = await parsePipelineConfig(
      `name: slow
nats: { servers: "${server.url}" }
plugins: { text: { path: ${plugin} } }
input: { subject: slow.in, maxPending: ${CORE_MAX_PENDING} }
stages: [{ name: slow, plugin: text, function: burn, pool: { size: 1, mode: ${mode} } }]
output: { subject: slow.out }
`,
      'slow.yaml',
    );
    const transport = new NatsTransport(await connectNats(config.nats!, silent), silent);
    const pipeline = await Pipeline.create(config, { transport, logger: silent });
    await pipeline.start();
    for (const m of messageSet(BYTES, CORE_MESSAGES)) nc.publish('slow.in', m);
    await nc.flush();
    const stats = pipeline.stats;
    await until(() => stats.received + stats.inputDropped >= CORE_MESSAGES && outputs.count >= stats.received, 120_000, 'the burst to settle');
    await pipeline.drain();
    await transport.close();
    const row = { mode, sent: CORE_MESSAGES, handled: stats.received, droppedCounted: stats.inputDropped, outputs: outputs.count };
    if (row.handled + row.droppedCounted !== row.sent) throw new Error(`handled ${row.handled} + dropped ${row.droppedCounted} != sent ${row.sent}`);
    if (row.outputs !== row.handled) throw new Error(`${row.outputs} outputs for ${row.handled} handled`);
    return row;
  } finally {
    await nc.close();
    await server.dispose();
  }
}

async function until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function main(): Promise<void> {
  console.log(`fault bench: JetStream on a three-node cluster (R3), ${JS_MESSAGES} x ${BYTES} B, ${ROUNDS} round(s); core NATS, ${CORE_MESSAGES} x ${BYTES} B into a slow stage`);
  const cluster = await NatsCluster.start(3);
  const rows: FaultRow[] = [];
  try {
    const observer = await cluster.connect();
    const jsm = await jetstreamManager(observer, { timeout: 10_000 });
    for (let round = 0; round < ROUNDS; round++) {
      for (const [fault, ackTimeoutMs] of [[false, 5000], [true, 5000], [true, 1000]] as const) {
        const row = await jetStreamRun(cluster, jsm, observer, fault, ackTimeoutMs);
        console.log(
          `  ${row.run.padEnd(22)} ack timeout ${String(ackTimeoutMs).padStart(4)} ms ${String(row.msgPerSec).padStart(7)} msg/s  longest stall ${String(row.longestStallMs).padStart(6)} ms  nak'ed ${row.naked}  dead-lettered ${row.deadLettered}`,
        );
        rows.push(row);
      }
    }
    await observer.close();
  } finally {
    await cluster.dispose();
  }
  const slow: SlowConsumerRow[] = [];
  for (const mode of ['inline', 'worker'] as const) {
    const row = await slowConsumerRun(mode);
    console.log(`  core NATS, slow stage (${mode}): sent ${row.sent}, handled ${row.handled}, dropped ${row.droppedCounted} (counted), outputs ${row.outputs}`);
    slow.push(row);
  }
  await writeResult('fault.json', { date: new Date().toISOString(), jetstream: rows, slowConsumer: slow });
}

await main();
