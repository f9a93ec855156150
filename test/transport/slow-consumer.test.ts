// A core NATS input feeding stages slower than the publisher: the input holds at
// most maxPending messages, drops and counts the rest, and says so; nothing grows
// without bound and "out" counts only what the stages handled.
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completeLogger } from '../../src/engine/logger.js';
import { summary } from '../../src/cli/status.js';
import { loadPipelineConfig } from '../../src/pipeline/config/load.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { connectNats } from '../../src/transport/connect.js';
import { NatsTransport } from '../../src/transport/nats.js';
import { eventually } from '../helpers/cli.js';
import { NatsServer } from '../helpers/nats-server.js';
import { textPlugin, writeConfig } from '../helpers/pipelines.js';

const MAX_PENDING = 40;
const SENT = 3000;

describe('slow consumer on a core NATS input', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  beforeAll(async () => {
    server = await NatsServer.start();
    nc = await connect({ servers: server.url });
  });
  afterAll(async () => {
    await nc?.close();
    await server?.dispose();
  });

  it('holds at most maxPending messages, drops and counts the rest, and reports it', async () => {
    const config = await loadPipelineConfig(
      await writeConfig(`name: slow
nats: { servers: "${server.url}" }
plugins: { text: { path: ${textPlugin} } }
input: { subject: slow.in, maxPending: ${MAX_PENDING} }
stages: [{ name: hash, plugin: text, function: burn, pool: { size: 1, mode: worker } }]
output: { subject: slow.out }
`),
    );
    const warnings: string[] = [];
    const logger = completeLogger({ warn: (m: string) => warnings.push(m) });
    const transport = new NatsTransport(await connectNats(config.nats!, logger), logger);
    const pipeline = await Pipeline.create(config, { transport, logger });
    let delivered = 0;
    const out = nc.subscribe('slow.out', { callback: () => delivered++ });
    await nc.flush();
    let mostInFlight = 0;
    const sampler = setInterval(() => (mostInFlight = Math.max(mostInFlight, pipeline.stats.inFlight)), 1);
    try {
      await pipeline.start();
      const payload = new Uint8Array(256).fill(97); // ~0.3 ms of burn each: far slower than the publisher
      for (let i = 0; i < SENT; i++) nc.publish('slow.in', payload);
      await nc.flush();
      await eventually(() => pipeline.stats.received + pipeline.stats.inputDropped, (n) => n === SENT, 30_000);
      // once the stages caught up the input takes everything again: settled messages gave their places back
      await eventually(() => pipeline.stats.inFlight, (n) => n === 0, 30_000);
      const droppedBefore = pipeline.stats.inputDropped;
      for (let i = 0; i < MAX_PENDING; i++) nc.publish('slow.in', payload);
      await nc.flush();
      await eventually(() => pipeline.stats.received + pipeline.stats.inputDropped, (n) => n === SENT + MAX_PENDING, 30_000);
      expect(pipeline.stats.inputDropped).toBe(droppedBefore);
      await pipeline.drain();
      await nc.flush();
      await eventually(() => delivered, (n) => n === pipeline.stats.published, 10_000);
    } finally {
      clearInterval(sampler);
      out.unsubscribe();
      pipeline.close();
      await transport.close();
    }
    const { received, inputDropped, published } = pipeline.stats;
    expect(inputDropped).toBeGreaterThan(0);
    expect(received + inputDropped).toBe(SENT + MAX_PENDING);
    expect(mostInFlight).toBeLessThanOrEqual(MAX_PENDING);
    expect(published).toBe(received); // every message taken in went out: none lost past the input
    expect(delivered).toBe(published);
    // a line per episode (the burst may arrive in a few), never a line per dropped message
    const episodes = warnings.filter((w) => /slow consumer/.test(w)).length;
    expect(episodes).toBeGreaterThanOrEqual(1);
    expect(episodes).toBeLessThan(Math.min(10, inputDropped));
    expect(summary(pipeline.stats, { acks: false, failed: 'logged' })).toMatch(new RegExp(`input dropped ${inputDropped} message\\(s\\).*slow consumer`));
  });

  it('an inline stage slower than the publisher: the socket is still read, so the server never cuts the connection; drops are counted here', async () => {
    // a server that gives up on a client quickly: 256 KiB buffered for it, or a write blocked for 1 s
    const strict = await NatsServer.start({ jetstream: false, config: 'max_pending: 262144\nmax_payload: 65536\nwrite_deadline: "1s"\n' });
    const pub = await connect({ servers: strict.url });
    const lines: string[] = [];
    const logger = completeLogger({ warn: (m: string) => lines.push(m), info: (m: string) => lines.push(m) });
    const config = await loadPipelineConfig(
      await writeConfig(`name: slow-inline
nats: { servers: "${strict.url}" }
plugins: { text: { path: ${textPlugin} } }
input: { subject: slowi.in, maxPending: 500 }
stages: [{ name: hash, plugin: text, function: burn }]
output: { subject: slowi.out }
`),
    );
    const transport = new NatsTransport(await connectNats(config.nats!, logger), logger);
    const pipeline = await Pipeline.create(config, { transport, logger });
    let delivered = 0;
    const out = pub.subscribe('slowi.out', { callback: () => delivered++ });
    try {
      await pub.flush();
      await pipeline.start();
      // ~1 ms of burn each in the stage, which runs in the connection's own thread: without
      // yielding to the socket the server would see a client that stopped reading
      const payload = new Uint8Array(512).fill(97);
      const sent = 6000;
      for (let i = 0; i < sent; i++) pub.publish('slowi.in', payload);
      await pub.flush();
      // drained while hundreds wait in the input: the drain hands them all on before it ends
      await eventually(() => pipeline.stats.inputDropped, (n) => n > 0, 60_000);
      await pipeline.drain();
      expect(pipeline.stats.received + pipeline.stats.inputDropped).toBe(sent);
      await pub.flush();
      await eventually(() => delivered, (n) => n === pipeline.stats.published, 10_000);
      expect(pipeline.stats.inputDropped).toBeGreaterThan(0);
      expect(pipeline.stats.published).toBe(pipeline.stats.received);
      expect(lines.filter((l) => /disconnected|slow consumer on/.test(l))).toEqual([]);
      expect(lines.some((l) => /slow consumer: more than/.test(l))).toBe(true);
    } finally {
      out.unsubscribe();
      pipeline.close();
      await transport.close().catch(() => {});
      await pub.close();
      await strict.dispose();
    }
  }, 90_000);
});
