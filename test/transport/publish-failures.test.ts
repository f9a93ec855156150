// Publish failures at the NATS transport, on a real nats-server with a 64 KiB max_payload: every
// failure comes back as a typed error (never thrown into the caller), sizes are checked as
// nats.js encodes them, stream lookups are retried and never cached as failures, a deleted
// stream is reported as that once per state change, and durable consumers follow the file.
import { AckPolicy, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { completeLogger } from '../../src/engine/logger.js';
import { connectNats } from '../../src/transport/connect.js';
import { PublishRejectedError, TransientPublishError } from '../../src/transport/errors.js';
import { Headers } from '../../src/transport/headers.js';
import { NatsTransport } from '../../src/transport/nats.js';
import type { Publisher, Source } from '../../src/transport/transport.js';
import { eventually } from '../helpers/cli.js';
import { LimitedNatsServer } from '../helpers/limited-nats.js';

const MAX = 65_536;

/** Calls publish and turns a synchronous throw into a failed test, not a rejection. */
function publishNoThrow(publisher: Publisher, ...args: Parameters<Publisher['publish']>): Promise<void> {
  let result: Promise<void> | void;
  expect(() => (result = publisher.publish(...args))).not.toThrow();
  return Promise.resolve(result!);
}

/** Waits until a connection is back (a flush while it is down fails at once). */
const reconnected = (c: NatsConnection) => eventually(() => c.flush().then(() => true, () => false), (ok) => ok, 10_000);

describe('publish failures (real nats-server, max_payload 64 KiB)', () => {
  let server: LimitedNatsServer;
  let transport: NatsTransport;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const logs: { level: string; message: string }[] = [];
  const logged = (level: string, pattern: RegExp) => logs.filter((l) => l.level === level && pattern.test(l.message)).length;

  beforeAll(async () => {
    server = await LimitedNatsServer.start(MAX);
    const logger = completeLogger({
      info: (message: string) => logs.push({ level: 'info', message }),
      warn: (message: string) => logs.push({ level: 'warn', message }),
      error: (message: string) => logs.push({ level: 'error', message }),
    });
    transport = new NatsTransport(await connectNats({ servers: [server.url] }, logger), logger);
    nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    jsm = await jetstreamManager(nc);
  });
  const sources: Source[] = [];
  afterEach(async () => {
    for (const source of sources.splice(0)) await source.stop().catch(() => {});
  });
  afterAll(async () => {
    await transport?.close().catch(() => {});
    await nc?.close().catch(() => {});
    await server?.dispose();
  });

  it('core: a payload over max_payload, counting the headers as encoded, is a PublishRejectedError, never a throw', async () => {
    const core = await transport.publisher({ atLeastOnce: false });
    await expect(publishNoThrow(core, 'big.out', new Uint8Array(MAX + 1), undefined, undefined)).rejects.toMatchObject({
      name: 'PublishRejectedError',
      reason: 'too-large',
      subject: 'big.out',
      size: MAX + 1,
      limit: MAX,
    });
    // fits alone, not with its headers, counted as nats.js encodes them
    const headers = new Headers().set('X-Tag', 'blue').append('X-Tag', 'grün');
    const encoded = natsHeaders();
    encoded.append('X-Tag', 'blue');
    encoded.append('X-Tag', 'grün');
    const room = MAX - encoded.encode().length;
    expect(core.room!(headers, undefined)).toBe(room);
    await expect(publishNoThrow(core, 'big.out', new Uint8Array(room + 1), headers, undefined)).rejects.toBeInstanceOf(PublishRejectedError);
    expect(await publishNoThrow(core, 'big.out', new Uint8Array(room), headers, undefined)).toBeUndefined();
    await expect(publishNoThrow(core, 'bad..subject', new Uint8Array(1), undefined, undefined)).rejects.toMatchObject({ reason: 'invalid-subject' });
  });

  it('JetStream: too large (the message id header counted), an invalid subject, and a side output no stream captures are permanent', async () => {
    await jsm.streams.add({ name: 'JSOUT', subjects: ['js.out'] });
    const js = await transport.publisher({ atLeastOnce: true });
    const id = 'IN:1:out:0'; // "NATS/1.0\r\nNats-Msg-Id: IN:1:out:0\r\n\r\n" is 37 bytes
    expect(js.room!(undefined, id)).toBe(MAX - 37);
    await expect(publishNoThrow(js, 'js.out', new Uint8Array(MAX - 36), undefined, id)).rejects.toMatchObject({ name: 'PublishRejectedError', reason: 'too-large' });
    await publishNoThrow(js, 'js.out', new Uint8Array(MAX - 37), undefined, id);
    expect((await jsm.streams.info('JSOUT')).state.messages).toBe(1);
    await expect(publishNoThrow(js, 'js.*', new Uint8Array(1), undefined, id)).rejects.toMatchObject({ reason: 'invalid-subject' });
    await expect(publishNoThrow(js, 'nowhere.side', new Uint8Array(1), undefined, 'IN:1:emit:1', 'emit')).rejects.toMatchObject({
      name: 'PublishRejectedError',
      reason: 'no-stream',
      subject: 'nowhere.side',
    });
  });

  it('reports a deleted output stream as that, once per state change, as a transient failure', async () => {
    await jsm.streams.add({ name: 'GONE', subjects: ['gone.out'] });
    const js = await transport.publisher({ atLeastOnce: true });
    await publishNoThrow(js, 'gone.out', Buffer.from('1'), undefined, 'a');
    await jsm.streams.delete('GONE');
    for (let i = 0; i < 5; i++) {
      const failure = await publishNoThrow(js, 'gone.out', Buffer.from('2'), undefined, `b${i}`).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(TransientPublishError);
      expect(failure).toMatchObject({ reason: 'stream-deleted', subject: 'gone.out' });
    }
    expect(logged('warn', /the stream capturing gone\.out was deleted/)).toBe(1);
    expect(logs.some((l) => /jetstream is not enabled/i.test(l.message))).toBe(false);
    await jsm.streams.add({ name: 'GONE', subjects: ['gone.out'] });
    await eventually(
      () => publishNoThrow(js, 'gone.out', Buffer.from('3'), undefined, 'c').then(() => true, () => false),
      (ok) => ok,
      10_000,
    );
    expect(logged('info', /a stream captures gone\.out again/)).toBe(1);
  });

  it('retries a stream lookup that fails while JetStream is away, and never keeps the failure', async () => {
    await jsm.streams.add({ name: 'LOOK', subjects: ['look.out'] });
    await server.restart({ jetstream: false });
    await reconnected(transport.nc); // to a server that has no JetStream
    try {
      await expect(transport.checkCaptured(['look.out'])).rejects.toMatchObject({ name: 'TransientPublishError', reason: 'jetstream-unavailable' });
    } finally {
      await server.restart({ jetstream: true });
      await reconnected(transport.nc);
      await reconnected(nc);
    }
    await eventually(() => transport.checkCaptured(['look.out']).catch(() => ['failed']), (uncaptured) => uncaptured.length === 0, 20_000);
  });

  it('sets maxDeliver on the consumer it creates, and updates one that exists with other settings', async () => {
    await jsm.streams.add({ name: 'CONS', subjects: ['cons.in'] });
    const created = await transport.source({ kind: 'stream', stream: 'CONS', consumer: 'fresh', maxAckPending: 10, ackWaitMs: 5000, maxDeliver: 4 });
    sources.push(created);
    expect((await jsm.consumers.info('CONS', 'fresh')).config.max_deliver).toBe(4);

    await jsm.consumers.add('CONS', { durable_name: 'old', ack_policy: AckPolicy.Explicit, max_ack_pending: 1000, ack_wait: 60_000_000_000, max_deliver: -1 });
    const updated = await transport.source({ kind: 'stream', stream: 'CONS', consumer: 'old', maxAckPending: 16, ackWaitMs: 2000, maxDeliver: 3 });
    sources.push(updated);
    const { config } = await jsm.consumers.info('CONS', 'old');
    expect([config.max_ack_pending, config.ack_wait, config.max_deliver]).toEqual([16, 2_000_000_000, 3]);
    expect(logged('info', /updated durable consumer old on stream CONS to the file's settings: .*max_deliver -1 -> 3/)).toBe(1);
  });

  it('warns at start-up when a stream capturing an output drops duplicates for less than the ack wait', async () => {
    await jsm.streams.add({ name: 'SHORT', subjects: ['short.out'], duplicate_window: 1_000_000_000 });
    await transport.publisher({ atLeastOnce: true, output: 'short.out', ackWaitMs: 30_000 });
    expect(logged('warn', /SHORT .*duplicate window \(1 s\) is shorter than the consumer's ack wait \(30 s\)/)).toBe(1);
  });

  it('refuses a dead-letter subject no stream captures, unless dead letters are published with core NATS knowingly', async () => {
    await expect(transport.publisher({ atLeastOnce: true, deadLetter: { subject: 'void.dlq', core: false, discard: false } })).rejects.toMatchObject({
      name: 'UnsafeDeadLetterError',
      message: expect.stringMatching(/no stream captures void\.dlq.*create a stream.*core: true/s),
    });
    await expect(transport.publisher({ atLeastOnce: true, deadLetter: { subject: 'void.dlq', core: true, discard: false } })).resolves.toBeDefined();
  });

  it('a core subscription is confirmed by the server before the source says it is ready', async () => {
    const source = await transport.source({ kind: 'subject', subject: 'ready.in' });
    sources.push(source);
    const got: string[] = [];
    const subscription = source.deliveries.subscribe((d) => got.push(Buffer.from(d.data).toString()));
    expect(source.ready).toBeInstanceOf(Promise);
    await source.ready;
    nc.publish('ready.in', Buffer.from('first'));
    await eventually(() => got, (g) => g.length === 1, 5_000);
    subscription.unsubscribe();
  });
});
