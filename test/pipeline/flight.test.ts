import { describe, expect, it } from 'vitest';
import { backoffMs, Flights } from '../../src/pipeline/flight.js';
import type { Delivery } from '../../src/transport/transport.js';

function delivery(id: string | undefined, redeliveries = 0) {
  const calls: string[] = [];
  const d: Delivery = {
    subject: 's',
    data: new Uint8Array(),
    headers: undefined,
    id,
    redeliveries,
    ack: () => calls.push('ack'),
    nak: (ms) => calls.push(`nak ${ms}`),
    term: (reason) => calls.push(`term ${reason}`),
  };
  return { d, calls };
}

describe('Flight', () => {
  it('acks once everything the input caused is done, and not before', async () => {
    const { d, calls } = delivery('S:7');
    const outcomes: string[] = [];
    const flight = new Flights((_, o) => outcomes.push(o)).take(d);
    flight.hold();
    flight.hold();
    let accept!: () => void;
    flight.track(new Promise<void>((r) => (accept = r)), () => {});
    flight.release();
    flight.release();
    flight.release();
    expect(calls).toEqual([]);
    accept();
    await Promise.resolve();
    await Promise.resolve();
    expect(calls).toEqual(['ack']);
    expect(outcomes).toEqual(['ack']);
  });

  it('terminates a dead-lettered input and naks one whose publish failed, with backoff', async () => {
    const dead = delivery('S:7');
    const f1 = new Flights(() => {}).take(dead.d);
    f1.deadLettered();
    f1.release();
    expect(dead.calls).toEqual(['term dead-lettered']);

    const failed = delivery('S:8', 3);
    const errors: unknown[] = [];
    const f2 = new Flights(() => {}).take(failed.d);
    f2.track(Promise.reject(new Error('timeout')), (e) => errors.push(e));
    f2.release();
    await new Promise((r) => setTimeout(r, 0));
    expect(failed.calls).toEqual([`nak ${backoffMs(3)}`]);
    expect(errors).toHaveLength(1);
    expect(backoffMs(0)).toBe(250);
    expect(backoffMs(100)).toBe(30_000);
  });

  it('derives message ids from the input id, stable across redeliveries', () => {
    const a = new Flights(() => {}).take(delivery('TEXT:42').d);
    const b = new Flights(() => {}).take(delivery('TEXT:42', 1).d);
    expect([a.nextId('out'), a.nextId('emit'), a.nextId('out')]).toEqual(['TEXT:42:out:0', 'TEXT:42:emit:1', 'TEXT:42:out:2']);
    expect([b.nextId('out'), b.nextId('emit'), b.nextId('out')]).toEqual(['TEXT:42:out:0', 'TEXT:42:emit:1', 'TEXT:42:out:2']);
    expect(new Flights(() => {}).take(delivery(undefined).d).nextId('out')).toBeUndefined();
  });

  it('carries the next input once settled, starting afresh and holding nothing of the last', () => {
    const outcomes: string[] = [];
    const flights = new Flights((_, o) => outcomes.push(o));
    const first = delivery('S:1');
    const a = flights.take(first.d);
    a.deadLettered();
    a.nextId('out');
    a.release();
    expect(a.data.length).toBe(0);
    const second = delivery('S:2');
    const b = flights.take({ ...second.d, data: new Uint8Array([1, 2]) });
    expect(b).toBe(a);
    expect([b.data.length, b.nextId('out'), b.delivery.id]).toEqual([2, 'S:2:out:0', 'S:2']);
    b.hold();
    b.release();
    expect(second.calls).toEqual([]);
    b.release();
    expect([first.calls, second.calls, outcomes]).toEqual([['term dead-lettered'], ['ack'], ['term', 'ack']]);
    // a flight still in the air is never handed out again
    const c = flights.take(delivery('S:3').d);
    expect(flights.take(delivery('S:4').d)).not.toBe(c);
  });
});
