// A JetStream input is acked only once the stream acked everything it caused, whatever the order
// the acks come in; a publish ack that never comes (the server frozen) times out and the input is
// nak'ed and redelivered, every output still stored once. Against a real nats-server.
import { AckPolicy, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { completeLogger } from '../../src/engine/logger.js';
import { loadPipelineConfig } from '../../src/pipeline/config/load.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { connectNats } from '../../src/transport/connect.js';
import { PublishFailedError } from '../../src/transport/errors.js';
import { NatsTransport } from '../../src/transport/nats.js';
import { throughPublishes } from '../../src/transport/through.js';
import type { Publisher, PublishKind } from '../../src/transport/transport.js';
import { eventually } from '../helpers/cli.js';
import { NatsServer } from '../helpers/nats-server.js';
import { textPlugin, writeConfig } from '../helpers/pipelines.js';

type Publish = Publisher['publish'];

const pipeline = (url: string, extra = '', input = '') => `
name: acks
nats: { servers: "${url}"${extra} }
plugins:
  text: { path: ${textPlugin} }
input: { stream: IN, consumer: acks, subject: acks.in, ackWaitMs: 3000, maxDeliver: 20${input} }
stages:
  - { name: audit, plugin: text, function: audit, emits: [audit.>] }
output: { subject: acks.out }
deadLetter: { subject: acks.dlq }
`;

describe('JetStream input acks wait for the publish acks', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const cleanup: (() => Promise<void> | void)[] = [];

  beforeAll(async () => {
    server = await NatsServer.start();
    nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    jsm = await jetstreamManager(nc);
  });
  afterEach(async () => {
    for (const undo of cleanup.splice(0).reverse()) await undo();
    server.resume();
  });
  afterAll(async () => {
    await nc?.close();
    await server?.dispose();
  });

  async function freshStreams(): Promise<void> {
    for (const name of ['IN', 'OUT', 'AUDIT', 'DLQ']) await jsm.streams.delete(name).catch(() => {});
    await jsm.streams.add({ name: 'IN', subjects: ['acks.in'] });
    await jsm.streams.add({ name: 'OUT', subjects: ['acks.out'] });
    await jsm.streams.add({ name: 'AUDIT', subjects: ['audit.>'] });
    await jsm.streams.add({ name: 'DLQ', subjects: ['acks.dlq'] });
  }

  /**
   * The pipeline in process on a real NatsTransport whose publishes pass through `through` on
   * their way out: it sees each publish before it is made, and gives the pipeline its result.
   */
  async function startThrough(yaml: string, through: (publish: Publish) => Publish): Promise<Pipeline> {
    const logger = completeLogger();
    const config = await loadPipelineConfig(await writeConfig(yaml));
    const inner = new NatsTransport(await connectNats(config.nats!, logger), logger);
    const run = await Pipeline.create(config, { transport: throughPublishes(inner, through), logger });
    cleanup.push(async () => {
      run.close();
      await inner.close().catch(() => {});
    });
    await run.start();
    return run;
  }

  /** As startThrough, with `hook` seeing each publish's kind and result, and giving the pipeline its own. */
  function startWithPublishHook(yaml: string, hook: (kind: PublishKind | undefined, result: Promise<void> | void) => Promise<void> | void): Promise<Pipeline> {
    return startThrough(yaml, (publish) => (subject, data, h, id, kind, holder) => hook(kind, publish(subject, data, h, id, kind, holder)));
  }

  it('an input whose side output\'s ack comes late stays unacked until it comes, its output stored long before', { timeout: 60_000 }, async () => {
    await freshStreams();
    let release!: () => void;
    const late = new Promise<void>((resolve) => (release = resolve));
    cleanup.push(() => release());
    // the side output's publish ack reaches the pipeline only on release()
    const run = await startWithPublishHook(pipeline(server.url), (kind, result) => (kind === 'emit' ? Promise.resolve(result).then(() => late) : result));
    await jsm.jetstream().publish('acks.in', 'hello');
    // the output and the side output are stored; the input is not acked while one ack is held back
    await eventually(async () => (await jsm.streams.info('OUT')).state.messages + (await jsm.streams.info('AUDIT')).state.messages, (n) => n === 2, 10_000);
    await new Promise((r) => setTimeout(r, 500));
    expect((await jsm.consumers.info('IN', 'acks')).num_ack_pending).toBe(1);
    expect(run.stats.acked).toBe(0);
    release();
    await eventually(async () => (await jsm.consumers.info('IN', 'acks')).num_ack_pending, (n) => n === 0, 10_000);
    expect(run.stats.acked).toBe(1);
    expect((await jsm.consumers.info('IN', 'acks')).num_redelivered).toBe(0);
  });

  it('a publish ack that never comes (the server frozen as an output is published): the input is nak\'ed, redelivered when it thaws, every output stored once', { timeout: 120_000 }, async () => {
    await freshStreams();
    const js = jsm.jetstream();
    const total = 2000;
    await Promise.all(Array.from({ length: total }, (_, i) => js.publish('acks.in', `m${i}`)));
    let outputs = 0;
    let timedOut = 0;
    let frozen: Promise<void> | undefined;
    // Publishes are not retried in place here: a timeout naks the input at once. The server is
    // frozen (and stopped, not only signalled) before the 500th output is published, so that
    // publish surely waits for its ack past the timeout: frozen after it, the server could have
    // stored and acked it already, and nothing later been published while it was frozen.
    const run = await startThrough(pipeline(server.url, ', publishAckTimeoutMs: 300, publishRetryMs: 0'), (publish) => (subject, data, h, id, kind, holder) => {
      if (kind === 'out' && ++outputs === 500) {
        server.pause();
        frozen = new Promise((r) => setTimeout(r, 1500)).then(() => server.resume());
      }
      const result = publish(subject, data, h, id, kind, holder);
      result?.catch((error: unknown) => {
        if (error instanceof PublishFailedError && error.reason === 'timeout') timedOut++;
      });
      return result;
    });
    await eventually(() => outputs, (n) => n >= 500, 30_000);
    await frozen;
    await eventually(async () => (await jsm.streams.info('OUT').catch(() => undefined))?.state.messages ?? -1, (n) => n >= total, 60_000);
    await eventually(async () => (await jsm.consumers.info('IN', 'acks')).num_ack_pending, (n) => n === 0, 30_000);
    expect(timedOut).toBeGreaterThan(0);
    expect(run.stats.naked).toBeGreaterThan(0);
    // each output once: the redelivered inputs' outputs carried the same message ids
    const consumer = await jsm.consumers.add('OUT', { ack_policy: AckPolicy.None });
    const seen = new Map<string, number>();
    for await (const m of await (await js.consumers.get('OUT', consumer.name)).fetch({ max_messages: total + 100, expires: 3000 })) {
      seen.set(m.string(), (seen.get(m.string()) ?? 0) + 1);
      if (seen.size === total) break;
    }
    expect(seen.size).toBe(total);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    expect((await jsm.streams.info('OUT')).state.messages).toBe(total);
    expect((await jsm.streams.info('DLQ')).state.messages).toBe(0);
  });
});
