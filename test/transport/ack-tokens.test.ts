// A JetStream message's stream, sequence and delivery count read from its reply subject in place
// (acks.ts ackTokens) must be what nats.js's msg.info says, on a real server, redeliveries included.
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ackTokens, JetStreamDelivery } from '../../src/transport/acks.js';
import { NatsServer } from '../helpers/nats-server.js';

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

describe('ack tokens', () => {
  it('reads the three shapes of reply subject, and nothing else', () => {
    expect(ackTokens('$JS.ACK.TEXT.upper.1.123.456.1700000000000000000.789')).toEqual({ stream: 'TEXT', streamSequence: '123', deliveries: 1 });
    expect(ackTokens('$JS.ACK.hub.ACCHASH.TEXT.upper.2.9.4.17.0')).toEqual({ stream: 'TEXT', streamSequence: '9', deliveries: 2 });
    expect(ackTokens('$JS.ACK._.ACCHASH.TEXT.upper.3.123.456.17.789.RANDOM')).toEqual({ stream: 'TEXT', streamSequence: '123', deliveries: 3 });
    // a sequence past 2^53 (a stream that starts there) is kept exact: rounded, two inputs would share an id and one output would be dropped as a duplicate
    expect(ackTokens('$JS.ACK.TEXT.upper.1.9007199254741003.456.17.789')).toEqual({ stream: 'TEXT', streamSequence: '9007199254741003', deliveries: 1 });
    for (const odd of ['', 'x.y', '$JS.ACK.a.b', '$JS.ACK.TEXT.upper.x.123.456.17.789', '$JS.ACK.TEXT.upper.1.12a.456.17.789', '$JS.ACK.TEXT.upper.0.1.2.3.4', '_INBOX.a.b.c.d.e.f.g.h']) {
      expect(ackTokens(odd), odd).toBeUndefined();
    }
  });

  it('gives the id and redeliveries msg.info gives, on first delivery and on a redelivery', async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'TOKENS', subjects: ['tokens.>'] });
    await jsm.consumers.add('TOKENS', { durable_name: 'c', ack_policy: AckPolicy.Explicit, ack_wait: 2_000_000_000 });
    const js = jetstream(nc);
    for (let i = 0; i < 3; i++) await js.publish('tokens.x', `m${i}`);
    const consumer = await js.consumers.get('TOKENS', 'c');
    const seen: { id: string; redeliveries: number; info: string }[] = [];
    for (let round = 0; round < 2; round++) {
      for await (const m of await consumer.fetch({ max_messages: 3, expires: 2000 })) {
        // the fast path is taken: nats.js keeps the reply subject where the delivery looks for it
        expect(ackTokens((m as unknown as { msg: { reply: string } }).msg.reply)).toBeDefined();
        const d = new JetStreamDelivery(m, undefined as never, 5);
        seen.push({ id: d.id, redeliveries: d.redeliveries, info: `${m.info.stream}:${m.info.streamSequence}/${m.info.deliveryCount - 1}` });
        if (round === 0) m.nak();
        else m.ack();
      }
    }
    expect(seen).toHaveLength(6);
    for (const s of seen) expect(`${s.id}/${s.redeliveries}`).toBe(s.info);
    expect(seen.map((s) => s.redeliveries)).toEqual([0, 0, 0, 1, 1, 1]);
  });
});
