// Worker-pool stages fed by JetStream: input order kept through two workers,
// in-flight work bounded by the consumer's maxAckPending, every input once.
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completeLogger } from '../../../src/engine/logger.js';
import { loadPipelineConfig } from '../../../src/pipeline/config/load.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { connectNats } from '../../../src/transport/connect.js';
import { NatsTransport } from '../../../src/transport/nats.js';
import { NatsServer } from '../../helpers/nats-server.js';
import { textPlugin, writeConfig } from '../../helpers/pipelines.js';

const MAX_ACK_PENDING = 32;

describe('worker stage on JetStream', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    server = await NatsServer.start();
    nc = await connect({ servers: server.url });
    jsm = await jetstreamManager(nc);
  });
  afterAll(async () => {
    await nc?.close();
    await server?.dispose();
  });

  it('keeps input order through two workers while maxAckPending bounds what is in flight', async () => {
    await jsm.streams.add({ name: 'IN', subjects: ['w.in'] });
    await jsm.streams.add({ name: 'OUT', subjects: ['w.out'] });
    const js = jsm.jetstream();
    const inputs = Array.from({ length: 2000 }, (_, i) => `message ${i}`);
    await Promise.all(inputs.map((m) => js.publish('w.in', Buffer.from(m))));

    const config = await loadPipelineConfig(
      await writeConfig(`name: workers
nats: { servers: "${server.url}" }
plugins: { text: { path: ${textPlugin} } }
input: { stream: IN, consumer: workers, subject: w.in, maxAckPending: ${MAX_ACK_PENDING} }
stages:
  - { name: upper, plugin: text, function: upper, pool: { size: 2, mode: worker } }
output: { subject: w.out }
deadLetter: { discard: true }
`),
    );
    const logger = completeLogger();
    const transport = new NatsTransport(await connectNats(config.nats, logger), logger);
    const pipeline = await Pipeline.create(config, { transport, logger });
    let mostInFlight = 0;
    const sampler = setInterval(() => (mostInFlight = Math.max(mostInFlight, pipeline.stats.inFlight)), 1);
    await pipeline.start();
    const deadline = Date.now() + 30_000;
    while ((await jsm.streams.info('OUT')).state.messages < inputs.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    clearInterval(sampler);
    await pipeline.drain();
    await transport.close();

    const out: string[] = [];
    const batch = await (await js.consumers.get('OUT')).fetch({ max_messages: inputs.length, expires: 2000 });
    for await (const m of batch) {
      out.push(Buffer.from(m.data).toString());
      if (out.length === inputs.length) break;
    }
    expect(out).toEqual(inputs.map((m) => m.toUpperCase()));
    expect(mostInFlight).toBeGreaterThan(1);
    expect(mostInFlight).toBeLessThanOrEqual(MAX_ACK_PENDING);
    expect((await jsm.consumers.info('IN', 'workers')).num_ack_pending).toBe(0);
  });
});
