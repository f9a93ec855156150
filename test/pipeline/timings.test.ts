// What a pipeline times for metrics: each stage call, and each input from arrival until settled.
// Readings are shared between steps taken in one run of code (a reading costs as much as the rest
// of what metrics add); these check that what is reported still measures what it says.
import { describe, expect, it } from 'vitest';
import { completeLogger } from '../../src/engine/logger.js';
import { loadPipelineConfig } from '../../src/pipeline/config/load.js';
import { Pipeline, type PipelineTimings } from '../../src/pipeline/pipeline.js';
import { EmbeddedBus, EmbeddedTransport } from '../../src/transport/embedded.js';
import { textPlugin, writeConfig } from '../helpers/pipelines.js';

async function timed(stages: string, native?: Record<string, (data: Uint8Array) => Uint8Array[]>) {
  const config = await loadPipelineConfig(await writeConfig(`name: t\nplugins: { text: { path: ${textPlugin} } }\ninput: { subject: in }\nstages:\n${stages}\noutput: { subject: out }\n`));
  const calls = new Map<string, number[]>();
  const settled: number[] = [];
  const timings: PipelineTimings = {
    stageCall: (stage) => (s) => calls.set(stage, [...(calls.get(stage) ?? []), s]),
    settled: (s) => settled.push(s),
  };
  const bus = new EmbeddedBus();
  const pipeline = await Pipeline.create(config, { transport: new EmbeddedTransport(bus), logger: completeLogger(), timings, native });
  await pipeline.start();
  const big = Buffer.alloc(16_384, 'a');
  for (let i = 0; i < 5; i++) bus.publish('in', big);
  await pipeline.drain();
  return { calls, settled };
}

describe('pipeline timings', () => {
  it('a slow inline call (burn on 16 KiB) is timed, and each input takes at least its calls from arrival to settling', async () => {
    const { calls, settled } = await timed('  - { name: slow, plugin: text, function: burn }\n  - { name: id, plugin: text, function: identity }');
    const slow = calls.get('slow')!;
    expect(slow).toHaveLength(5);
    expect(Math.min(...slow)).toBeGreaterThan(0.0005);
    expect(calls.get('id')).toHaveLength(5);
    expect(settled).toHaveLength(5);
    settled.forEach((s, i) => expect(s).toBeGreaterThanOrEqual(slow[i]! + calls.get('id')![i]!));
  });

  it('the same with the slow call in a worker thread, and with a JavaScript stage after it', async () => {
    const worker = await timed('  - { name: slow, plugin: text, function: burn, pool: { size: 1, mode: worker } }');
    worker.settled.forEach((s, i) => expect(s).toBeGreaterThanOrEqual(worker.calls.get('slow')![i]!));
    expect(Math.min(...worker.calls.get('slow')!)).toBeGreaterThan(0.0005);
    // a JavaScript stage notes no reading: settling reads the clock itself
    const mixed = await timed('  - { name: slow, plugin: text, function: burn }\n  - { name: js, plugin: text, function: identity }', {
      js: (data) => {
        const until = performance.now() + 5;
        while (performance.now() < until);
        return [data];
      },
    });
    mixed.settled.forEach((s, i) => expect(s).toBeGreaterThanOrEqual(mixed.calls.get('slow')![i]! + 0.004));
  });
});
