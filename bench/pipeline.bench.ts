// npm run bench (second part): per-message cost of a pipeline with a Wasm
// stage, the same with a native JS stage, and a bare relay as the floor, on
// the embedded bus, core NATS and JetStream, all in one run.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { completeLogger } from '../src/engine/logger.js';
import { loadPipelineConfig } from '../src/pipeline/config/load.js';
import { Pipeline } from '../src/pipeline/pipeline.js';
import { EmbeddedBus, EmbeddedTransport } from '../src/transport/embedded.js';
import { NatsTransport } from '../src/transport/nats.js';
import type { Transport } from '../src/transport/transport.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const plugin = `${root}pipelines/text/text.wasm`;
const SIZE = 64;
const EMBEDDED_N = Number(process.env.BENCH_EMBEDDED_MESSAGES ?? 1_000_000);
const NATS_N = Number(process.env.BENCH_NATS_MESSAGES ?? 100_000);
const JS_N = Number(process.env.BENCH_JS_MESSAGES ?? 20_000);
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const payload = new Uint8Array(SIZE).fill(97);
const identity = (data: Uint8Array): Uint8Array[] => [data];
// Server-bound runs vary a lot from one run to the next on a small machine: each variant runs in
// every round, interleaved with the others, and keeps its best round.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

async function bestOf<T extends { variant: string; rate: number }>(variants: (() => Promise<T>)[]): Promise<T[]> {
  const best: T[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, run] of variants.entries()) {
      const result = await run();
      if (best[i] === undefined || result.rate > best[i]!.rate) best[i] = result;
    }
  }
  return best;
}
const silent = completeLogger();

interface Row {
  transport: string;
  variant: string;
  messages: number;
  msgPerSec: number;
  ofBareRelay: number;
}

async function pipelineFor(transport: Transport, input: string, output: string, native: boolean, stageCount = 1): Promise<Pipeline> {
  const dir = await mkdtemp(join(tmpdir(), 'wasp-bench-'));
  const file = join(dir, 'bench.yaml');
  const nats = transport instanceof NatsTransport ? `nats: { servers: "${NATS_URL}" }\n` : '';
  const names = Array.from({ length: stageCount }, (_, i) => (i === 0 ? 'identity' : `identity${i}`));
  const stages = names.map((name) => `{ name: ${name}, plugin: text, function: identity }`).join(', ');
  await writeFile(file, `name: bench\n${nats}plugins: { text: { path: ${plugin} } }\ninput: ${input}\nstages: [${stages}]\noutput: ${output}\n`);
  const config = await loadPipelineConfig(file);
  const pipeline = await Pipeline.create(config, { transport, logger: silent, native: native ? Object.fromEntries(names.map((n) => [n, identity])) : undefined });
  await pipeline.start();
  return pipeline;
}

async function embedded(): Promise<Row[]> {
  const measure = async (variant: string, setup: (bus: EmbeddedBus) => Promise<() => Promise<void>>) => {
    const bus = new EmbeddedBus();
    let received = 0;
    bus.subscribe('bench.out', () => received++);
    const teardown = await setup(bus);
    for (let i = 0; i < 10_000; i++) bus.publish('bench.in', payload); // warm-up
    received = 0;
    const start = process.hrtime.bigint();
    for (let i = 0; i < EMBEDDED_N; i++) bus.publish('bench.in', payload);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    await teardown();
    if (received !== EMBEDDED_N) throw new Error(`${variant}: ${received} of ${EMBEDDED_N} arrived`);
    return { variant, rate: EMBEDDED_N / seconds };
  };
  const bareRelay = () =>
    measure('bare relay', async (bus) => {
      const off = bus.subscribe('bench.in', (m) => bus.publish('bench.out', m.data));
      return async () => off();
    });
  const stage = (native: boolean) => async (bus: EmbeddedBus) => {
    const p = await pipelineFor(new EmbeddedTransport(bus), '{ subject: bench.in }', '{ subject: bench.out }', native);
    return () => p.drain();
  };
  const [bare, wasm, js] = await bestOf([bareRelay, () => measure('Wasm stage', stage(false)), () => measure('native JS stage', stage(true))]);
  return [bare!, wasm!, js!].map((r) => row('embedded bus', r.variant, EMBEDDED_N, r.rate, bare!.rate));
}

interface MatrixRow {
  bytes: number;
  stages: number;
  variant: string;
  msgPerSec: number;
  nsPerMessage: number;
  nsPerMessageStage: number;
}

/**
 * Cost per message by message size and number of stages on the embedded bus
 * (no network in the way): it should grow linearly in both, with nothing
 * quadratic anywhere.
 */
async function embeddedMatrix(): Promise<MatrixRow[]> {
  const rows: MatrixRow[] = [];
  for (const bytes of [64, 1024, 65536]) {
    const data = new Uint8Array(bytes).fill(97);
    const n = Math.max(2000, Math.min(300_000, Math.floor((64 * 1024 * 1024) / bytes)));
    for (const stages of [1, 2, 4, 8]) {
      for (const native of [false, true]) {
        let best = Infinity;
        for (let round = 0; round < ROUNDS; round++) {
          const bus = new EmbeddedBus();
          let received = 0;
          bus.subscribe('m.out', () => received++);
          const p = await pipelineFor(new EmbeddedTransport(bus), '{ subject: m.in }', '{ subject: m.out }', native, stages);
          for (let i = 0; i < 1000; i++) bus.publish('m.in', data);
          const start = process.hrtime.bigint();
          for (let i = 0; i < n; i++) bus.publish('m.in', data);
          best = Math.min(best, Number(process.hrtime.bigint() - start) / n);
          await p.drain();
          if (received !== n + 1000) throw new Error(`matrix: ${received} of ${n + 1000} arrived`);
        }
        rows.push({
          bytes,
          stages,
          variant: native ? 'native JS stages' : 'Wasm stages',
          msgPerSec: Math.round(1e9 / best),
          nsPerMessage: Math.round(best),
          nsPerMessageStage: Math.round(best / stages),
        });
      }
    }
  }
  return rows;
}

/** Publishes N messages to bench.in and times until N arrive on bench.out. */
async function coreRun(nc: NatsConnection, variant: string, setup: () => Promise<() => Promise<void>>): Promise<{ variant: string; rate: number }> {
  let received = 0;
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  const sub = nc.subscribe('bench.out', {
    callback: () => {
      if (++received === NATS_N) done();
    },
  });
  await nc.flush();
  const teardown = await setup();
  const start = process.hrtime.bigint();
  for (let i = 0; i < NATS_N; i++) {
    nc.publish('bench.in', payload);
    if (i % 1000 === 999) await nc.flush(); // keep the publisher from outrunning the relay's slow-consumer limit
  }
  await Promise.race([all, new Promise((r) => setTimeout(r, 60_000))]);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  sub.unsubscribe();
  await teardown();
  if (received !== NATS_N) throw new Error(`${variant}: ${received} of ${NATS_N} arrived`);
  return { variant, rate: NATS_N / seconds };
}

async function coreNats(nc: NatsConnection): Promise<Row[]> {
  const bareRelay = () =>
    coreRun(nc, 'bare relay', async () => {
      const relay = await connect({ servers: NATS_URL });
      relay.subscribe('bench.in', { callback: (_, m) => relay.publish('bench.out', m.data) });
      await relay.flush();
      return () => relay.close();
    });
  const stage = (native: boolean) => async () => {
    const conn = await connect({ servers: NATS_URL });
    const p = await pipelineFor(new NatsTransport(conn, silent), '{ subject: bench.in }', '{ subject: bench.out }', native);
    await conn.flush();
    return async () => {
      await p.drain();
      await conn.close();
    };
  };
  const [bare, wasm, js] = await bestOf([bareRelay, () => coreRun(nc, 'Wasm stage', stage(false)), () => coreRun(nc, 'native JS stage', stage(true))]);
  return [bare!, wasm!, js!].map((r) => row('core NATS', r.variant, NATS_N, r.rate, bare!.rate));
}

async function jetStream(nc: NatsConnection): Promise<Row[]> {
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const prepare = async () => {
    for (const name of ['BENCHIN', 'BENCHOUT']) await jsm.streams.delete(name).catch(() => {});
    await jsm.streams.add({ name: 'BENCHIN', subjects: ['benchjs.in'] });
    await jsm.streams.add({ name: 'BENCHOUT', subjects: ['benchjs.out'] });
    for (let i = 0; i < JS_N; i += 1000) {
      await Promise.all(Array.from({ length: Math.min(1000, JS_N - i) }, () => js.publish('benchjs.in', payload)));
    }
  };
  const until = async () => {
    for (;;) {
      if ((await jsm.streams.info('BENCHOUT')).state.messages >= JS_N) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const timed = async (variant: string, start: () => Promise<() => Promise<void>>) => {
    await prepare();
    const t0 = process.hrtime.bigint();
    const stop = await start();
    await until();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    await stop();
    return { variant, rate: JS_N / seconds };
  };
  // The floor: consume, publish with a JetStream ack and a message id, then ack the input, with as many in flight as the pipeline allows.
  const bareRelay = () => timed('bare relay', async () => {
    const conn = await connect({ servers: NATS_URL });
    const cjsm = await jetstreamManager(conn);
    await cjsm.consumers.add('BENCHIN', { durable_name: 'relay', ack_policy: AckPolicy.Explicit, max_ack_pending: 256 });
    const cjs = jetstream(conn);
    const messages = await (await cjs.consumers.get('BENCHIN', 'relay')).consume({ max_messages: 256 });
    void (async () => {
      for await (const m of messages) {
        void cjs.publish('benchjs.out', m.data, { msgID: `BENCHIN:${m.info.streamSequence}:out:0` }).then(() => m.ack());
      }
    })();
    return async () => {
      messages.stop();
      await conn.close();
    };
  });
  const stage = (native: boolean) => async () => {
    const conn = await connect({ servers: NATS_URL });
    const p = await pipelineFor(new NatsTransport(conn, silent), '{ stream: BENCHIN, consumer: wasp, maxAckPending: 256 }', '{ subject: benchjs.out }', native);
    return async () => {
      await p.drain();
      await conn.close();
    };
  };
  const [bare, wasm, native] = await bestOf([bareRelay, () => timed('Wasm stage', stage(false)), () => timed('native JS stage', stage(true))]);
  for (const name of ['BENCHIN', 'BENCHOUT']) await jsm.streams.delete(name).catch(() => {});
  return [bare!, wasm!, native!].map((r) => row('JetStream', r.variant, JS_N, r.rate, bare!.rate));
}

function row(transport: string, variant: string, messages: number, rate: number, bare: number): Row {
  return { transport, variant, messages, msgPerSec: Math.round(rate), ofBareRelay: Math.round((rate / bare) * 1000) / 1000 };
}

export async function runPipelineBench(): Promise<{ rows: Row[]; matrix: MatrixRow[]; skipped: string[]; targets: Record<string, { target: string; value: number; met: boolean }> }> {
  const rows: Row[] = await embedded();
  const matrix = await embeddedMatrix();
  const skipped: string[] = [];
  let nc: NatsConnection | undefined;
  try {
    nc = await connect({ servers: NATS_URL, timeout: 2000 });
  } catch (error) {
    skipped.push(`core NATS and JetStream: no server at ${NATS_URL} (${(error as Error).message}); start one with nats-server -js or set NATS_URL`);
  }
  if (nc) {
    rows.push(...(await coreNats(nc)));
    rows.push(...(await jetStream(nc)));
    await nc.close();
  }
  const pick = (t: string, v: string) => rows.find((r) => r.transport === t && r.variant === v);
  const targets: Record<string, { target: string; value: number; met: boolean }> = {};
  const embeddedWasm = pick('embedded bus', 'Wasm stage')!;
  targets.embedded = { target: '>= 1,000,000 msg/s (64 B, one Wasm stage)', value: embeddedWasm.msgPerSec, met: embeddedWasm.msgPerSec >= 1_000_000 };
  const core = pick('core NATS', 'Wasm stage');
  if (core) targets.coreNats = { target: '>= 0.85 of the bare relay', value: core.ofBareRelay, met: core.ofBareRelay >= 0.85 };
  const jsRow = pick('JetStream', 'Wasm stage');
  if (jsRow) targets.jetStream = { target: '>= 0.80 of the bare relay with the same acks', value: jsRow.ofBareRelay, met: jsRow.ofBareRelay >= 0.8 };
  return { rows, matrix, skipped, targets };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const result = await runPipelineBench();
  console.table(result.rows);
  console.log('cost per message by size and stages, embedded bus (best of the rounds):');
  console.table(result.matrix);
  for (const s of result.skipped) console.log(`skipped ${s}`);
  for (const [name, t] of Object.entries(result.targets)) console.log(`${name}: ${t.value} (target ${t.target}): ${t.met ? 'met' : 'NOT MET'}`);
  await mkdir(`${root}bench/results`, { recursive: true });
  const out = { date: new Date().toISOString(), node: process.version, messageBytes: SIZE, rounds: ROUNDS, note: 'best of the rounds per variant, variants interleaved', ...result };
  await writeFile(`${root}bench/results/pipeline.json`, `${JSON.stringify(out, null, 2)}\n`);
  console.log('written to bench/results/pipeline.json');

}
