// A publish that fails for a reason that passes on its own (here: no publish ack in time) is held
// and retried in place, its input kept alive past its ack wait, so an outage costs no input a
// delivery and reads as two log lines; a drain ends the retries at once. Real nats-server, the
// pipeline in this process.
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { completeLogger } from '../../src/engine/logger.js';
import { loadPipelineConfig } from '../../src/pipeline/config/load.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { connectNats } from '../../src/transport/connect.js';
import { NatsTransport } from '../../src/transport/nats.js';
import { eventually } from '../helpers/cli.js';
import { NatsServer } from '../helpers/nats-server.js';
import { textPlugin, writeConfig } from '../helpers/pipelines.js';

const INPUTS = 20;

describe('publishes retried in place (real nats-server)', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let logs: { level: string; message: string }[] = [];
  const running: { pipeline: Pipeline; transport: NatsTransport }[] = [];
  const subs: Subscription[] = [];
  const logger = completeLogger({
    info: (message: string) => logs.push({ level: 'info', message }),
    warn: (message: string) => logs.push({ level: 'warn', message }),
    error: (message: string) => logs.push({ level: 'error', message }),
  });

  beforeAll(async () => {
    server = await NatsServer.start();
    nc = await connect({ servers: server.url });
    jsm = await jetstreamManager(nc);
  });
  afterEach(async () => {
    for (const s of subs.splice(0)) s.unsubscribe();
    for (const { pipeline, transport } of running.splice(0)) {
      pipeline.close();
      await transport.close().catch(() => {});
    }
    logs = [];
  });
  afterAll(async () => {
    await nc?.close().catch(() => {});
    await server?.dispose();
  });

  /**
   * A pipeline whose output stream then goes silent: OUT is deleted and a subscriber that never
   * answers takes its place, so every publish to it waits out its ack timeout (300 ms), while the
   * consumer redelivers an input after 1 s without word of it.
   */
  async function stalled(n: string) {
    await jsm.streams.add({ name: `RIN${n}`, subjects: [`rin${n}.x`] });
    await jsm.streams.add({ name: `ROUT${n}`, subjects: [`rout${n}.x`] });
    await jsm.streams.add({ name: `RDLQ${n}`, subjects: [`rdlq${n}.x`] });
    const config = await loadPipelineConfig(
      await writeConfig(`name: retry-${n}
nats: { servers: "${server.url}", publishAckTimeoutMs: 300 }
plugins: { text: { path: ${textPlugin} } }
input: { stream: RIN${n}, consumer: c, ackWaitMs: 1000 }
stages: [{ name: upper, plugin: text, function: upper }]
output: { subject: rout${n}.x }
deadLetter: { subject: rdlq${n}.x }
`),
    );
    const transport = new NatsTransport(await connectNats(config.nats!, logger), logger);
    const pipeline = await Pipeline.create(config, { transport, logger });
    running.push({ pipeline, transport });
    await pipeline.start();
    const js = jsm.jetstream();
    await js.publish(`rin${n}.x`, Buffer.from('warm'));
    await eventually(async () => (await jsm.streams.info(`ROUT${n}`)).state.messages, (c) => c === 1, 10_000);

    await jsm.streams.delete(`ROUT${n}`);
    let asked = 0;
    subs.push(nc.subscribe(`rout${n}.x`, { callback: () => asked++ }));
    await nc.flush();
    for (let i = 0; i < INPUTS; i++) await js.publish(`rin${n}.x`, Buffer.from(`m${i}`));
    return { pipeline, asked: () => asked };
  }

  it('holds the input and retries until the stream answers again: no redelivery, no dead letter, two log lines', async () => {
    const { pipeline, asked } = await stalled('1');
    // each input asked at least four times: over 1.9 s of retrying, well past its 1 s ack wait
    await eventually(asked, (k) => k >= INPUTS * 4, 20_000);
    subs.splice(0).forEach((s) => s.unsubscribe());
    await jsm.streams.add({ name: 'ROUT1', subjects: ['rout1.x'] });
    await eventually(async () => (await jsm.streams.info('ROUT1')).state.messages, (c) => c === INPUTS, 20_000);

    const consumer = await jsm.consumers.info('RIN1', 'c');
    // every input delivered once: keeping them alive held off the redelivery after ack wait
    expect(consumer.delivered.consumer_seq).toBe(INPUTS + 1);
    await eventually(async () => (await jsm.consumers.info('RIN1', 'c')).ack_floor.stream_seq, (s) => s === INPUTS + 1, 5_000);
    expect((await jsm.streams.info('RDLQ1')).state.messages).toBe(0);
    expect(pipeline.stats.naked).toBe(0);
    expect(pipeline.stats.deadLettered).toBe(0);

    const warnings = logs.filter((l) => l.level !== 'info');
    expect(warnings.map((l) => l.message)).toEqual([expect.stringMatching(/^publishing to JetStream is failing: publish to rout1\.x failed: no publish ack in time/)]);
    const recovered = logs.filter((l) => /recovered/.test(l.message));
    expect(recovered).toHaveLength(1);
    expect(recovered[0]!.message).toMatch(new RegExp(`^publishing to JetStream recovered after \\d+\\.\\d s: \\d+ failed attempt\\(s\\) \\(timeout x\\d+\\); ${INPUTS} held and retried$`));
  }, 40_000);

  it('a drain ends the retries at once: the inputs are nak\'ed for the next process, none dead-lettered', async () => {
    const { pipeline, asked } = await stalled('2');
    await eventually(asked, (k) => k >= INPUTS * 2, 20_000);
    const began = Date.now();
    await pipeline.drain();
    // at most one ack timeout and one pause between attempts (2 s), never the 30 s retry budget
    expect(Date.now() - began).toBeLessThan(5_000);
    // (an input nak'ed just before the drain may come back while the last pull ends, and is nak'ed again)
    expect(pipeline.stats.naked).toBeGreaterThanOrEqual(INPUTS);
    expect(pipeline.stats.deadLettered).toBe(0);
    expect((await jsm.streams.info('RDLQ2')).state.messages).toBe(0);
    const consumer = await jsm.consumers.info('RIN2', 'c');
    // only the warm-up message is settled; the rest wait for whoever runs next
    expect(consumer.ack_floor.stream_seq).toBe(1);
  }, 40_000);
});
