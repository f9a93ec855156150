// What bounds a core NATS pipeline against the bare relay: one variant per
// process, to run under the profiler, then summarize by module:
//   node --cpu-prof --cpu-prof-dir=prof dist/bench/core-nats.profile.js wasm
//   node dist/bench/profile-summary.js prof/*.cpuprofile
// Variants: relay (the bare relay), wasm (one Wasm identity stage), native (a JS stage).
// The publisher and receiver share the process, as in the pipeline bench.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { completeLogger } from '../src/engine/logger.js';
import { loadPipelineConfig } from '../src/pipeline/config/load.js';
import { Pipeline } from '../src/pipeline/pipeline.js';
import { NatsTransport } from '../src/transport/nats.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const N = Number(process.env.BENCH_NATS_MESSAGES ?? 200_000);
const variant = process.argv[2] ?? 'wasm';
if (!['relay', 'wasm', 'native'].includes(variant)) throw new Error(`unknown variant ${variant}: relay, wasm or native`);

const publisher = await connect({ servers: NATS_URL });
const worker = await connect({ servers: NATS_URL });
const subject = `profile.${process.pid}`;
let pipeline: Pipeline | undefined;
if (variant === 'relay') worker.subscribe(`${subject}.in`, { callback: (_, m) => worker.publish(`${subject}.out`, m.data) });
else {
  const file = join(await mkdtemp(join(tmpdir(), 'wasp-profile-')), 'pipeline.yaml');
  await writeFile(
    file,
    `name: profile\nnats: { servers: "${NATS_URL}" }\nplugins: { text: { path: ${root}pipelines/text/text.wasm } }\n` +
      `input: { subject: ${subject}.in }\nstages: [{ name: identity, plugin: text, function: identity }]\noutput: { subject: ${subject}.out }\n`,
  );
  const logger = completeLogger();
  const native = variant === 'native' ? { identity: (data: Uint8Array) => [data] } : undefined;
  pipeline = await Pipeline.create(await loadPipelineConfig(file), { transport: new NatsTransport(worker, logger), logger, native });
  await pipeline.start();
}
await worker.flush();
let received = 0;
let done = (): void => {};
const finished = new Promise<void>((resolve) => (done = resolve));
publisher.subscribe(`${subject}.out`, {
  callback: () => {
    if (++received === N) done();
  },
});
await publisher.flush();
const data = new Uint8Array(64).fill(97);
const start = performance.now();
for (let i = 0; i < N; i++) {
  publisher.publish(`${subject}.in`, data);
  if (i % 1000 === 999) await publisher.flush(); // as the bench: keeps the relay from being cut off as a slow consumer
}
await finished;
console.log(`${variant}: ${Math.round((N / (performance.now() - start)) * 1000)} msg/s`);
await pipeline?.drain();
await worker.close();
await publisher.close();
