import { describe, expect, it } from 'vitest';
import { Outage } from '../../src/transport/outage.js';

function setup(graceMs = 0) {
  let now = 1_000;
  const lines: { level: string; message: string }[] = [];
  const logger = {
    warn: (message: string) => lines.push({ level: 'warn', message }),
    info: (message: string) => lines.push({ level: 'info', message }),
    debug: (message: string) => lines.push({ level: 'debug', message }),
  };
  const outage = new Outage(logger, 'publishing to JetStream', { graceMs, now: () => now });
  return { outage, lines, advance: (ms: number) => (now += ms), at: () => now };
}

describe('Outage', () => {
  it('says a failure once however many follow, and once when it is over, with how long it lasted', () => {
    const { outage, lines, advance } = setup();
    for (let i = 0; i < 449; i++) {
      outage.failed(i % 2 ? 'timeout' : 'stream-unavailable', 'stream OUT did not answer');
      advance(10);
    }
    expect(lines.map((l) => l.level)).toEqual(['warn']);
    expect(lines[0]!.message).toMatch(/^publishing to JetStream is failing: stream OUT did not answer/);
    outage.succeeded();
    outage.succeeded();
    expect(lines.map((l) => l.level)).toEqual(['warn', 'info']);
    expect(lines[1]!.message).toBe('publishing to JetStream recovered after 4.5 s: 449 failed attempt(s) (stream-unavailable x225, timeout x224)');
    expect(outage.active).toBe(false);
  });

  it('counts the stall from when the failed attempt began (a publish that waited for its ack)', () => {
    const { outage, lines, advance, at } = setup();
    const began = at();
    advance(5_000); // the ack timeout
    outage.failed('timeout', 'no publish ack in time', began);
    advance(500);
    outage.succeeded();
    expect(lines[1]!.message).toMatch(/recovered after 5\.5 s/);
  });

  it('is over only when nothing held is still being retried', () => {
    const { outage, lines, advance } = setup();
    outage.hold();
    outage.failed('timeout', 'x');
    outage.hold();
    outage.failed('timeout', 'x');
    advance(1_000);
    outage.succeeded(); // a publish that never failed, while two are held
    expect(lines.map((l) => l.level)).toEqual(['warn']);
    outage.release();
    outage.succeeded();
    expect(lines.map((l) => l.level)).toEqual(['warn']);
    outage.release();
    outage.succeeded();
    expect(lines.map((l) => l.level)).toEqual(['warn', 'info']);
    expect(lines[1]!.message).toMatch(/2 failed attempt\(s\) \(timeout x2\); 2 held and retried$/);
  });

  it('a failure shorter than the grace period is no warning (a pull that missed its heartbeats once)', () => {
    const { outage, lines, advance } = setup(3_000);
    outage.failed('server-error', 'heartbeats missed');
    advance(1_250);
    outage.succeeded();
    expect(lines.map((l) => l.level)).toEqual(['debug', 'debug']);
    // one that goes on past it warns, once, and its end is said
    outage.failed('server-error', 'heartbeats missed');
    advance(1_500);
    outage.failed('server-error', 'heartbeats missed');
    advance(1_500);
    outage.failed('disconnected', 'connection lost');
    advance(1_500);
    outage.failed('disconnected', 'connection lost');
    outage.succeeded();
    expect(lines.slice(2).map((l) => l.level)).toEqual(['debug', 'debug', 'warn', 'info']);
    expect(lines[4]!.message).toMatch(/is failing: connection lost/);
    expect(lines[5]!.message).toMatch(/recovered after 4\.5 s: 4 failed attempt\(s\) \(server-error x2, disconnected x2\)$/);
  });
});
