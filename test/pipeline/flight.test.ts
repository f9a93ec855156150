import { describe, expect, it } from 'vitest';
import { backoffMs, Flight } from '../../src/pipeline/flight.js';
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
    const flight = new Flight(d, (_, o) => outcomes.push(o));
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
    const f1 = new Flight(dead.d, () => {});
    f1.deadLettered();
    f1.release();
    expect(dead.calls).toEqual(['term dead-lettered']);

    const failed = delivery('S:8', 3);
    const errors: unknown[] = [];
    const f2 = new Flight(failed.d, () => {});
    f2.track(Promise.reject(new Error('timeout')), (e) => errors.push(e));
    f2.release();
    await new Promise((r) => setTimeout(r, 0));
    expect(failed.calls).toEqual([`nak ${backoffMs(3)}`]);
    expect(errors).toHaveLength(1);
    expect(backoffMs(0)).toBe(250);
    expect(backoffMs(100)).toBe(30_000);
  });

  it('derives message ids from the input id, stable across redeliveries', () => {
    const a = new Flight(delivery('TEXT:42').d, () => {});
    const b = new Flight(delivery('TEXT:42', 1).d, () => {});
    expect([a.nextId('out'), a.nextId('emit'), a.nextId('out')]).toEqual(['TEXT:42:out:0', 'TEXT:42:emit:1', 'TEXT:42:out:2']);
    expect([b.nextId('out'), b.nextId('emit'), b.nextId('out')]).toEqual(['TEXT:42:out:0', 'TEXT:42:emit:1', 'TEXT:42:out:2']);
    expect(new Flight(delivery(undefined).d, () => {}).nextId('out')).toBeUndefined();
  });
});
