import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { firstValueFrom, take, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completeLogger } from '../../src/engine/logger.js';
import { Headers } from '../../src/transport/headers.js';
import { connectNats, NatsTransport } from '../../src/transport/nats.js';
import { NatsServer } from '../helpers/nats-server.js';

const text = (d: Uint8Array) => Buffer.from(d).toString();

describe('NATS transport (real nats-server)', () => {
  let server: NatsServer;
  let transport: NatsTransport;
  const warnings: string[] = [];

  beforeAll(async () => {
    server = await NatsServer.start();
    const logger = completeLogger({ warn: (m: string) => warnings.push(m) });
    transport = new NatsTransport(await connectNats({ servers: [server.url] }, logger), logger);
  });
  afterAll(async () => {
    await transport?.close();
    await server?.dispose();
  });

  it('subscribes and publishes core subjects with headers', async () => {
    const source = await transport.source({ kind: 'subject', subject: 'core.*' });
    const got = firstValueFrom(source.deliveries.pipe(take(2), toArray()));
    await transport.nc.flush();
    const publisher = await transport.publisher({ atLeastOnce: false });
    publisher.publish('core.a', Buffer.from('one'), new Headers().set('X-Tag', 'blue').append('X-Tag', 'green'), undefined);
    publisher.publish('core.b', Buffer.from('two'), undefined, undefined);
    const [a, b] = await got;
    expect([a!.subject, text(a!.data), a!.headers?.values('X-Tag')]).toEqual(['core.a', 'one', ['blue', 'green']]);
    expect([b!.subject, text(b!.data), b!.headers, b!.id]).toEqual(['core.b', 'two', undefined, undefined]);
    await source.stop();
  });

  it('creates a stream and a durable consumer, and delivers with stable ids', async () => {
    const source = await transport.source({ kind: 'stream', stream: 'T1', consumer: 'c1', subject: 't1.in', maxAckPending: 10, ackWaitMs: 5000 });
    const jsm = await jetstreamManager(transport.nc);
    expect((await jsm.consumers.info('T1', 'c1')).config.max_ack_pending).toBe(10);
    const js = jsm.jetstream();
    await js.publish('t1.in', Buffer.from('a'));
    await js.publish('t1.in', Buffer.from('b'));
    const deliveries = await firstValueFrom(source.deliveries.pipe(take(2), toArray()));
    expect(deliveries.map((d) => [d.id, text(d.data), d.redeliveries])).toEqual([
      ['T1:1', 'a', 0],
      ['T1:2', 'b', 0],
    ]);
    for (const d of deliveries) d.ack();
    await source.stop();
  });

  it('refuses a missing stream without a subject to create it', async () => {
    await expect(transport.source({ kind: 'stream', stream: 'NOPE', consumer: 'c', maxAckPending: 1, ackWaitMs: 1000 })).rejects.toThrow(
      /stream NOPE does not exist, and input.subject is not set/,
    );
  });

  it('publishes with JetStream acks and message ids where a stream captures the subject, core elsewhere', async () => {
    const jsm = await jetstreamManager(transport.nc);
    await jsm.streams.add({ name: 'OUT', subjects: ['out.>'] });
    const publisher = await transport.publisher({ atLeastOnce: true });
    await publisher.publish('out.x', Buffer.from('1'), undefined, 'id-1');
    await publisher.publish('out.x', Buffer.from('1 again'), undefined, 'id-1');
    await publisher.publish('out.x', Buffer.from('2'), undefined, 'id-2');
    expect((await jsm.streams.info('OUT')).state.messages).toBe(2);

    const plain = await connect({ servers: server.url });
    const sub = plain.subscribe('loose.subject', { max: 1 });
    await plain.flush();
    await publisher.publish('loose.subject', Buffer.from('core'), undefined, 'id-3');
    for await (const m of sub) expect(text(m.data)).toBe('core');
    expect(warnings.some((w) => w.includes('no stream captures loose.subject'))).toBe(true);
    expect(await transport.checkCaptured(['out.y', 'loose.subject'])).toEqual(['loose.subject']);
    await plain.close();
  });
});
