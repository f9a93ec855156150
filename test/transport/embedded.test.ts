import { firstValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { EmbeddedBus, EmbeddedTransport } from '../../src/transport/embedded.js';
import { Headers } from '../../src/transport/headers.js';

const text = (d: Uint8Array) => Buffer.from(d).toString();

describe('embedded bus', () => {
  it('delivers by subject pattern, and once per queue group', () => {
    const bus = new EmbeddedBus();
    const seen: string[] = [];
    bus.subscribe('orders.>', (m) => seen.push(`all:${m.subject}`));
    bus.subscribe('orders.*', (m) => seen.push(`a:${text(m.data)}`), 'workers');
    bus.subscribe('orders.*', (m) => seen.push(`b:${text(m.data)}`), 'workers');
    const off = bus.subscribe('orders.eu', (m) => seen.push(`eu:${m.headers?.get('X')}`));
    bus.publish('orders.eu', Buffer.from('1'), new Headers().set('X', 'y'));
    bus.publish('orders.us', Buffer.from('2'));
    off();
    bus.publish('orders.eu', Buffer.from('3'));
    bus.publish('other', Buffer.from('4'));
    // plain subscribers first, then one member of each queue group in turn
    expect(seen).toEqual(['all:orders.eu', 'eu:y', 'a:1', 'all:orders.us', 'b:2', 'all:orders.eu', 'a:3']);
  });

  it('is a transport: a source of deliveries and a publisher', async () => {
    const transport = new EmbeddedTransport();
    const source = await transport.source({ kind: 'subject', subject: 'in.*' });
    const got = firstValueFrom(source.deliveries.pipe(take(2), toArray()));
    const publisher = await transport.publisher({ atLeastOnce: false });
    publisher.publish('in.a', Buffer.from('x'), undefined, undefined);
    publisher.publish('elsewhere', Buffer.from('no'), undefined, undefined);
    publisher.publish('in.b', Buffer.from('y'), undefined, undefined);
    const deliveries = await got;
    expect(deliveries.map((d) => [d.subject, text(d.data), d.id])).toEqual([
      ['in.a', 'x', undefined],
      ['in.b', 'y', undefined],
    ]);
  });

  it('hands every subscriber one shared delivery per message, which settles as a no-op', async () => {
    const bus = new EmbeddedBus();
    const got: unknown[] = [];
    bus.subscribe('s.*', (m) => got.push(m));
    bus.subscribe('s.a', (m) => got.push(m));
    const source = await new EmbeddedTransport(bus).source({ kind: 'subject', subject: 's.a' });
    const first = firstValueFrom(source.deliveries);
    bus.publish('s.a', Buffer.from('x'));
    const delivery = await first;
    expect(got).toEqual([delivery, delivery]);
    expect(got[0]).toBe(got[1]);
    expect([delivery.id, delivery.redeliveries]).toEqual([undefined, 0]);
    expect(() => (delivery.ack(), delivery.nak(10), delivery.term('no'))).not.toThrow();
  });
});
