import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { firstValueFrom, take, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completeLogger } from '../../src/engine/logger.js';
import { Headers } from '../../src/transport/headers.js';
import { connectNats } from '../../src/transport/connect.js';
import { ConsumerDeletedError } from '../../src/transport/errors.js';
import { NatsTransport } from '../../src/transport/nats.js';
import { termTakesReason } from '../../src/transport/acks.js';
import type { Delivery } from '../../src/transport/transport.js';
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

  it('hands each core message on with the clock reading it took for it (takenAt), which metrics use as its arrival', async () => {
    const source = await transport.source({ kind: 'subject', subject: 'taken.in' });
    const seen: { takenAt: number; handedAt: number }[] = [];
    const sub = source.deliveries.subscribe((d) => seen.push({ takenAt: d.takenAt ?? 0, handedAt: performance.now() }));
    await source.ready;
    const before = performance.now();
    for (let i = 0; i < 200; i++) transport.nc.publish('taken.in', Buffer.from(String(i)));
    await transport.nc.flush();
    const deadline = Date.now() + 5000;
    while (seen.length < 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    sub.unsubscribe();
    expect(seen).toHaveLength(200);
    for (const [i, { takenAt, handedAt }] of seen.entries()) {
      // read for this message, not once per socket read: after the one before it was handed on
      expect(takenAt).toBeGreaterThanOrEqual(i === 0 ? before : seen[i - 1]!.handedAt);
      expect(takenAt).toBeLessThanOrEqual(handedAt);
    }
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

  it('ends the input with ConsumerDeletedError when its durable consumer, or its stream, is deleted while it runs', { timeout: 30_000 }, async () => {
    const jsm = await jetstreamManager(transport.nc);
    for (const [stream, remove] of [
      ['TD1', () => jsm.consumers.delete('TD1', 'gone')],
      ['TD2', () => jsm.streams.delete('TD2')],
    ] as const) {
      const source = await transport.source({ kind: 'stream', stream, consumer: 'gone', subject: `${stream.toLowerCase()}.in`, maxAckPending: 10, ackWaitMs: 5000 });
      const ended = new Promise<unknown>((resolve) => source.deliveries.subscribe({ error: resolve, complete: () => resolve('completed') }));
      await remove();
      const error = await ended;
      expect(error).toBeInstanceOf(ConsumerDeletedError);
      expect(error).toMatchObject({ stream, consumer: 'gone', message: expect.stringMatching(/was deleted while the pipeline ran: stopping/) });
      await source.stop();
    }
  });

  it('settles each message on its own though acks of a batch share a socket write', async () => {
    const source = await transport.source({ kind: 'stream', stream: 'T2', consumer: 'c2', subject: 't2.in', maxAckPending: 10, ackWaitMs: 5000 });
    const jsm = await jetstreamManager(transport.nc);
    const js = jsm.jetstream();
    for (const word of ['ack', 'nak', 'term', 'ack too']) await js.publish('t2.in', Buffer.from(word));
    const protocol = (transport.nc as unknown as { protocol: { transport: { send(d: Uint8Array): void } } }).protocol;
    const writes: string[] = [];
    const send = protocol.transport.send.bind(protocol.transport);
    protocol.transport.send = (d) => {
      writes.push(Buffer.from(d).toString('latin1'));
      send(d);
    };
    const got: Delivery[] = [];
    let redelivered!: (d: Delivery) => void;
    const again = new Promise<Delivery>((r) => (redelivered = r));
    const subscription = source.deliveries.subscribe((d) => {
      got.push(d);
      if (got.length === 5) redelivered(d);
      if (got.length !== 4) return;
      // settled a microtask apart, as a pipeline settles messages a fetch hands over one by one
      void (async () => {
        got[0]!.ack();
        await null;
        got[1]!.nak(0);
        await null;
        got[2]!.term('dead-lettered');
        await null;
        got[3]!.ack();
      })();
    });
    // only the nak'ed message comes back: the acks after it did not ack it, and the term held
    expect(await again.then((d) => [d.id, text(d.data), d.redeliveries])).toEqual(['T2:2', 'nak', 1]);
    protocol.transport.send = send;
    const settled = writes.filter((w) => /\+ACK|-NAK|\+TERM/.test(w));
    expect(settled).toHaveLength(1);
    const term = termTakesReason(transport.nc.info?.version) ? '+TERM dead-lettered' : '+TERM';
    expect(settled[0]!.match(/\+ACK|-NAK|\+TERM[ a-z-]*/g)).toEqual(['+ACK', '-NAK', term, '+ACK']);
    got[4]!.ack();
    await source.stop();
    subscription.unsubscribe();
    await new Promise((r) => setImmediate(r));
    await transport.nc.flush();
    const info = await jsm.consumers.info('T2', 'c2');
    // nothing left to deliver or awaiting an ack: the term'ed message will not come back after ack_wait
    expect([info.num_ack_pending, info.num_pending]).toEqual([0, 0]);
  });

  it('sends a term reason only to servers that read one', () => {
    expect(['2.9.10', '2.10.0', '2.11.3', '3.0.0', undefined].map(termTakesReason)).toEqual([false, true, true, true, false]);
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
