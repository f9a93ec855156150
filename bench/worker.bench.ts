// npm run bench (third part): worker pools. Throughput of a CPU-heavy plugin
// function (~20 us per call) with 1 and 2 worker threads, and what worker mode
// adds per message for a trivial one, against an inline pool, in one run.
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Engine } from '../src/index.js';
import type { PluginPool } from '../src/engine/pool/pool.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const HEAVY_N = Number(process.env.BENCH_HEAVY_CALLS ?? 4000);
const TRIVIAL_N = Number(process.env.BENCH_TRIVIAL_CALLS ?? 100_000);
const WINDOW = 512; // calls in flight at once, as a pipeline's maxAckPending would allow

async function rate(pool: PluginPool, fn: string, data: Uint8Array, n: number): Promise<number> {
  // A sliding window: each finished call starts the next, so no worker waits for a slower one.
  const start = process.hrtime.bigint();
  let sent = 0;
  const lane = async (): Promise<void> => {
    while (sent < n) {
      sent++;
      await pool.call(fn, data);
    }
  };
  await Promise.all(Array.from({ length: Math.min(WINDOW, n) }, lane));
  return n / (Number(process.hrtime.bigint() - start) / 1e9);
}

async function best(make: () => PluginPool, fn: string, data: Uint8Array, n: number): Promise<number> {
  let top = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const pool = make();
    await rate(pool, fn, data, Math.min(n, 500)); // warm-up
    top = Math.max(top, await rate(pool, fn, data, n));
    await pool.close();
  }
  return top;
}

export async function runWorkerBench() {
  const engine = new Engine();
  await engine.registerPlugin('text', `${root}pipelines/text/text.wasm`);
  const heavy = new Uint8Array(7).fill(7);
  const one = await best(() => engine.createPool('text', { mode: 'worker', size: 1 }), 'burn', heavy, HEAVY_N);
  const two = await best(() => engine.createPool('text', { mode: 'worker', size: 2 }), 'burn', heavy, HEAVY_N);
  const inlineHeavy = await best(() => engine.createPool('text', { mode: 'inline', size: 1 }), 'burn', heavy, HEAVY_N);
  const small = new Uint8Array(64).fill(97);
  const inline = await best(() => engine.createPool('text', { mode: 'inline', size: 1 }), 'identity', small, TRIVIAL_N);
  const worker = await best(() => engine.createPool('text', { mode: 'worker', size: 1 }), 'identity', small, TRIVIAL_N);
  const overheadUs = (1 / worker - 1 / inline) * 1e6;
  return {
    heavy: { usPerCallInline: round(1e6 / inlineHeavy), oneWorkerPerSec: Math.round(one), twoWorkersPerSec: Math.round(two), speedup: round(two / one) },
    trivial: { inlinePerSec: Math.round(inline), workerPerSec: Math.round(worker), workerOverheadUs: round(overheadUs) },
    targets: {
      twoWorkers: { target: '>= 1.7x of one worker', value: round(two / one), met: two / one >= 1.7 },
      overhead: { target: '<= 2 us per message', value: round(overheadUs), met: overheadUs <= 2 },
    },
  };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const result = await runWorkerBench();
  console.log('CPU-heavy plugin function (burn), calls per second:');
  console.table(result.heavy);
  console.log('trivial function (identity, 64 B), calls per second:');
  console.table(result.trivial);
  for (const [name, t] of Object.entries(result.targets)) console.log(`${name}: ${t.value} (target ${t.target}): ${t.met ? 'met' : 'NOT MET'}`);
  await mkdir(`${root}bench/results`, { recursive: true });
  await writeFile(`${root}bench/results/worker.json`, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cores: cpus().length, rounds: ROUNDS, ...result }, null, 2)}\n`);
  console.log('written to bench/results/worker.json');
}
