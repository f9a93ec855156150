// npm run bench (third part): worker pools. Throughput of a CPU-heavy stage
// (~20 us of plugin work per message) with 1 and 2 worker threads, and what
// worker mode adds per message for a trivial stage, as pipeline stages on the
// embedded bus and through the engine's pool API, all in one run.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../src/index.js';
import { completeLogger } from '../src/engine/logger.js';
import type { PluginPool } from '../src/engine/pool/pool.js';
import { loadPipelineConfig } from '../src/pipeline/config/load.js';
import { Pipeline } from '../src/pipeline/pipeline.js';
import { EmbeddedBus, EmbeddedTransport } from '../src/transport/embedded.js';
import { writeResult } from './results-dir.js';
import { explainNegatives, table } from './table.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const plugin = `${root}pipelines/text/text.wasm`;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const HEAVY_N = Number(process.env.BENCH_HEAVY_CALLS ?? 20_000);
const TRIVIAL_N = Number(process.env.BENCH_TRIVIAL_CALLS ?? 300_000);
const HEAVY_US = 20; // the plugin work per message the issue asks for
const WINDOW = 1024; // messages or calls in flight at once, as a pipeline's maxAckPending would allow

type Pool = { size: number; mode: 'inline' | 'worker' };

/** Messages per second through a one-stage pipeline on the embedded bus. */
async function stageRate(fn: string, pool: Pool, data: Uint8Array, n: number): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'wasp-bench-'));
  const file = join(dir, 'bench.yaml');
  await writeFile(
    file,
    `name: bench\nplugins: { text: { path: ${plugin} } }\ninput: { subject: w.in }\n` +
      `stages: [{ name: s, plugin: text, function: ${fn}, pool: { size: ${pool.size}, mode: ${pool.mode} } }]\noutput: { subject: w.out }\n`,
  );
  const bus = new EmbeddedBus();
  const pipeline = await Pipeline.create(await loadPipelineConfig(file), { transport: new EmbeddedTransport(bus), logger: completeLogger() });
  await pipeline.start();
  // Publishes with at most WINDOW messages unanswered, as a JetStream consumer's
  // maxAckPending would: a worker stage queues what it is given, and a flood
  // of a million messages would measure the queue, not the stage.
  let received = 0;
  let sent = 0;
  let target = 0;
  let arrived = (): void => {};
  let filling = false; // an inline stage answers inside publish: the outer loop goes on, no recursion
  const fill = (): void => {
    if (filling) return;
    filling = true;
    while (sent < target && sent - received < WINDOW) {
      sent++;
      bus.publish('w.in', data);
    }
    filling = false;
  };
  bus.subscribe('w.out', () => {
    if (++received === target) arrived();
    else if (sent - received < WINDOW / 2) fill();
  });
  const pass = async (count: number): Promise<number> => {
    received = sent = 0;
    target = count;
    const done = new Promise<void>((resolve) => (arrived = resolve));
    const start = process.hrtime.bigint();
    fill();
    await done;
    return count / (Number(process.hrtime.bigint() - start) / 1e9);
  };
  target = Math.min(n, 2000); // warm-up
  await pass(target);
  const rate = await pass(n);
  await pipeline.drain();
  return rate;
}

/** Calls per second through engine.createPool's promise API, with a window of calls in flight. */
async function poolRate(engine: Engine, fn: string, pool: Pool, data: Uint8Array, n: number): Promise<number> {
  const p: PluginPool = engine.createPool('text', pool);
  const run = async (count: number): Promise<number> => {
    const start = process.hrtime.bigint();
    let sent = 0;
    const lane = async (): Promise<void> => {
      while (sent < count) {
        sent++;
        await p.call(fn, data);
      }
    };
    await Promise.all(Array.from({ length: Math.min(WINDOW, count) }, lane));
    return count / (Number(process.hrtime.bigint() - start) / 1e9);
  };
  await run(Math.min(n, 2000));
  const rate = await run(n);
  await p.close();
  return rate;
}

/** Each variant in every round, interleaved, keeping its best round. */
async function best(variants: Record<string, () => Promise<number>>): Promise<Record<string, number>> {
  const top: Record<string, number> = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, run] of Object.entries(variants)) top[name] = Math.max(top[name] ?? 0, await run());
  }
  return top;
}

/** An input length for `burn` that makes it about HEAVY_US of work here. */
async function heavyInput(engine: Engine): Promise<Uint8Array> {
  const instance = await engine.getInstance('text');
  const probe = new Uint8Array(8).fill(7);
  for (let i = 0; i < 2000; i++) instance.callBytes('burn', probe);
  const start = process.hrtime.bigint();
  for (let i = 0; i < 5000; i++) instance.callBytes('burn', probe);
  const us = Number(process.hrtime.bigint() - start) / 1e3 / 5000;
  instance.remove();
  return new Uint8Array(Math.max(1, Math.round((probe.length * HEAVY_US) / us))).fill(7);
}

export async function runWorkerBench() {
  const engine = new Engine();
  await engine.registerPlugin('text', plugin);
  const heavy = await heavyInput(engine);
  const small = new Uint8Array(64).fill(97);
  const inline1 = { size: 1, mode: 'inline' } as const;
  const worker1 = { size: 1, mode: 'worker' } as const;
  const worker2 = { size: 2, mode: 'worker' } as const;
  const stage = await best({
    heavyInline: () => stageRate('burn', inline1, heavy, HEAVY_N),
    heavyOne: () => stageRate('burn', worker1, heavy, HEAVY_N),
    heavyTwo: () => stageRate('burn', worker2, heavy, HEAVY_N),
    trivialInline: () => stageRate('identity', inline1, small, TRIVIAL_N),
    trivialWorker: () => stageRate('identity', worker1, small, TRIVIAL_N),
  });
  const api = await best({
    heavyOne: () => poolRate(engine, 'burn', worker1, heavy, HEAVY_N),
    heavyTwo: () => poolRate(engine, 'burn', worker2, heavy, HEAVY_N),
    trivialInline: () => poolRate(engine, 'identity', inline1, small, TRIVIAL_N),
    trivialWorker: () => poolRate(engine, 'identity', worker1, small, TRIVIAL_N),
  });
  const summarize = (r: Record<string, number>) => ({
    heavy: {
      inlinePerSec: r.heavyInline === undefined ? undefined : Math.round(r.heavyInline),
      oneWorkerPerSec: Math.round(r.heavyOne!),
      twoWorkersPerSec: Math.round(r.heavyTwo!),
      speedup: round(r.heavyTwo! / r.heavyOne!),
    },
    trivial: {
      inlinePerSec: Math.round(r.trivialInline!),
      workerPerSec: Math.round(r.trivialWorker!),
      workerOverheadUs: round((1 / r.trivialWorker! - 1 / r.trivialInline!) * 1e6),
    },
  });
  const stages = summarize(stage);
  return {
    heavyInputBytes: heavy.length,
    stages,
    poolApi: summarize(api),
    targets: {
      twoWorkers: { target: '>= 1.7x of one worker (CPU-heavy stage)', value: stages.heavy.speedup, met: stages.heavy.speedup >= 1.7 },
      overhead: { target: '<= 2 us per message (trivial stage)', value: stages.trivial.workerOverheadUs, met: stages.trivial.workerOverheadUs <= 2 },
    },
  };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const result = await runWorkerBench();
  const ways = [['pipeline stage', result.stages], ['engine pool API', result.poolApi]] as const;
  console.log(`CPU-heavy stage (burn over ${result.heavyInputBytes} bytes, ~${HEAVY_US} us per call inline), messages per second:`);
  console.log(table(['', 'inline', '1 worker', '2 workers', '2 workers / 1'], ways.map(([way, r]) => [way, r.heavy.inlinePerSec, r.heavy.oneWorkerPerSec, r.heavy.twoWorkersPerSec, r.heavy.speedup])));
  if (ways.some(([, r]) => r.heavy.inlinePerSec === undefined)) console.log('(-: not measured; through the pool API the CPU-heavy stage runs in workers only)');
  console.log('trivial stage (identity, 64 B), messages per second:');
  console.log(table(['', 'inline', '1 worker', 'worker adds, us/msg'], ways.map(([way, r]) => [way, r.trivial.inlinePerSec, r.trivial.workerPerSec, r.trivial.workerOverheadUs])));
  explainNegatives(
    'worker adds, us/msg',
    ways.map(([, r]) => r.trivial.workerOverheadUs),
    'within the noise; the worker took less time per message than inline in this run',
  );
  for (const [name, t] of Object.entries(result.targets)) console.log(`${name}: ${t.value} (target ${t.target}): ${t.met ? 'met' : 'NOT MET'}`);
  await writeResult('worker.json', { date: new Date().toISOString(), node: process.version, cores: cpus().length, rounds: ROUNDS, ...result });
}
