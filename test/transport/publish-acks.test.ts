// JetStream publish acks on one inbox of our own (publish-acks.ts), against a real nats-server:
// a stream's ack resolves the publish; an ack that never comes times it out; an ack a stream
// refuses with is the same typed failure as nats.js's; stray and late acks are ignored; each
// process listens on an inbox of its own.
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reasonOf } from '../../src/transport/failures.js';
import { isStoredAck, PublishAcks } from '../../src/transport/publish-acks.js';
import { NatsServer } from '../helpers/nats-server.js';

let server: NatsServer;
let nc: NatsConnection;
let other: NatsConnection;

beforeAll(async () => {
  server = await NatsServer.start();
  nc = await connect({ servers: server.url });
  other = await connect({ servers: server.url });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'ACKS', subjects: ['acks.>'], max_msg_size: 1024 });
});
afterAll(async () => {
  await nc?.close();
  await other?.close();
  await server?.dispose();
});

const bytes = (text: string) => new TextEncoder().encode(text);

describe('publish acks on an inbox of our own', () => {
  it('resolves once the stream stored the message, and the stream drops a duplicate message id', async () => {
    const acks = new PublishAcks(nc);
    const jsm = await jetstreamManager(nc);
    await Promise.all([acks.publish('acks.a', bytes('1'), undefined, 'id-1', 2000), acks.publish('acks.b', bytes('2'), undefined, 'id-2', 2000)]);
    expect((await jsm.streams.info('ACKS')).state.messages).toBe(2);
    await acks.publish('acks.a', bytes('1'), undefined, 'id-1', 2000);
    expect((await jsm.streams.info('ACKS')).state.messages).toBe(2);
    expect((await jsm.streams.getMessage('ACKS', { seq: 1 }))?.header.get('Nats-Msg-Id')).toBe('id-1');
    expect(acks.waiting).toBe(0);
  });

  it('tells a stored message\'s ack from anything else without parsing it', () => {
    expect(isStoredAck(bytes('{"stream":"OUT","seq":5}'))).toBe(true);
    expect(isStoredAck(bytes('{"stream":"OUT","domain":"hub","seq":5,"duplicate":true}'))).toBe(true);
    expect(isStoredAck(bytes('{"error":{"code":503,"err_code":10008,"description":"x"},"stream":"OUT"}'))).toBe(false);
    expect(isStoredAck(bytes('{"stream":"","seq":5}'))).toBe(false);
    expect(isStoredAck(bytes('{"stream":"'))).toBe(false);
    expect(isStoredAck(bytes(''))).toBe(false);
  });

  it('waits for an ack as long as it takes within the timeout, and times out one that never comes', async () => {
    const acks = new PublishAcks(nc);
    // a responder standing in for a stream: it acks one subject late and never the other
    const late = other.subscribe('fake.late', { callback: (_, m) => setTimeout(() => m.respond(JSON.stringify({ stream: 'FAKE', seq: 7 })), 300) });
    const silent = other.subscribe('fake.silent', { callback: () => {} });
    await other.flush();
    const started = Date.now();
    const slow = acks.publish('fake.late', bytes('x'), undefined, undefined, 2000);
    const never = acks.publish('fake.silent', bytes('y'), undefined, undefined, 500);
    await expect(slow).resolves.toBeUndefined();
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    const failed = await never.catch((e: unknown) => e);
    expect(reasonOf(failed)).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(1500);
    expect(acks.waiting).toBe(0);
    late.unsubscribe();
    silent.unsubscribe();
  });

  it('fails as nats.js would: no responders is no-stream, a stream\'s refusal keeps its code', async () => {
    const acks = new PublishAcks(nc);
    expect(reasonOf(await acks.publish('nobody.here', bytes('x'), undefined, undefined, 2000).catch((e: unknown) => e))).toBe('no-stream');
    // over the stream's max_msg_size: JSStreamMessageExceedsMaximumErr, refused for good
    const big = await acks.publish('acks.big', new Uint8Array(4096), undefined, undefined, 2000).catch((e: unknown) => e);
    expect(reasonOf(big)).toBe('rejected');
  });

  it('ignores what it did not ask for, and a second process\'s acks never reach it', async () => {
    const mine = new PublishAcks(nc);
    const theirs = new PublishAcks(other);
    // catch our reply subject, and answer it twice: the second answer finds nothing waiting
    const replies: string[] = [];
    const echo = other.subscribe('fake.twice', {
      callback: (_, m) => {
        replies.push(m.reply!);
        m.respond(JSON.stringify({ stream: 'FAKE', seq: 1 }));
        m.respond(JSON.stringify({ error: { code: 500, err_code: 10000, description: 'late and wrong' } }));
      },
    });
    await other.flush();
    await expect(mine.publish('fake.twice', bytes('a'), undefined, undefined, 2000)).resolves.toBeUndefined();
    // a token we never gave out, on our own inbox
    const inbox = replies[0]!.slice(0, replies[0]!.lastIndexOf('.'));
    nc.publish(`${inbox}.zzz`, JSON.stringify({ stream: 'FAKE', seq: 9 }));
    const theirsDone = theirs.publish('fake.twice', bytes('b'), undefined, undefined, 2000);
    await expect(theirsDone).resolves.toBeUndefined();
    expect(replies[1]!.startsWith(inbox)).toBe(false);
    await nc.flush();
    expect(mine.waiting).toBe(0);
    echo.unsubscribe();
  });

  it('release() stops listening only when nothing waits', async () => {
    const acks = new PublishAcks(nc);
    const silent = other.subscribe('fake.held', { callback: () => {} });
    await other.flush();
    const held = acks.publish('fake.held', bytes('x'), undefined, undefined, 300);
    acks.release();
    expect(acks.waiting).toBe(1);
    expect(reasonOf(await held.catch((e: unknown) => e))).toBe('timeout');
    acks.release();
    // listening again on the next publish
    await expect(acks.publish('acks.again', bytes('z'), undefined, undefined, 2000)).resolves.toBeUndefined();
    silent.unsubscribe();
  });
});
