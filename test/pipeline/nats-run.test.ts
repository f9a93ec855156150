// `wasp run` processes against a real nats-server: queue groups, JetStream
// at-least-once across crashes and server restarts, shared durable consumers,
// and draining on SIGTERM.
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, spawnWasp, type WaspProcess } from '../helpers/cli.js';
import { NatsServer } from '../helpers/nats-server.js';
import { textPlugin, writeConfig } from '../helpers/pipelines.js';
import { root } from '../helpers/plugins.js';

const jetstreamConfig = `${root}pipelines/text/jetstream.yaml`;
const natsConfig = `${root}pipelines/text/nats.yaml`;

describe('wasp run on NATS', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const running: WaspProcess[] = [];
  const env = () => ({ NATS_URL: server.url });
  const run = (config: string) => {
    const p = spawnWasp(['run', config], env());
    running.push(p);
    return p;
  };
  const text = (d: Uint8Array) => Buffer.from(d).toString();

  beforeAll(async () => {
    server = await NatsServer.start();
    nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    jsm = await jetstreamManager(nc);
  });
  afterAll(async () => {
    for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await nc?.close();
    await server?.dispose();
  });

  /** Fresh TEXT input and OUT output streams, and N inputs published to text.in. */
  async function freshStreams(n: number): Promise<string[]> {
    for (const name of ['TEXT', 'OUT', 'DLQ']) await jsm.streams.delete(name).catch(() => {});
    await jsm.streams.add({ name: 'TEXT', subjects: ['text.in'] });
    await jsm.streams.add({ name: 'OUT', subjects: ['text.out'] });
    await jsm.streams.add({ name: 'DLQ', subjects: ['text.dlq'] });
    const js = jsm.jetstream();
    const inputs = Array.from({ length: n }, (_, i) => `message ${i}`);
    await Promise.all(inputs.map((m) => js.publish('text.in', Buffer.from(m))));
    return inputs;
  }

  async function outputs(): Promise<string[]> {
    const info = await jsm.streams.info('OUT');
    const out: string[] = [];
    const consumer = await jsm.jetstream().consumers.get('OUT');
    if (info.state.messages === 0) return out;
    const batch = await consumer.fetch({ max_messages: info.state.messages, expires: 2000 });
    for await (const m of batch) {
      out.push(text(m.data));
      if (out.length === info.state.messages) break;
    }
    return out;
  }

  // -1 while the server is away (a restart test): eventually() just asks again
  const count = async () => (await jsm.streams.info('OUT').catch(() => undefined))?.state.messages ?? -1;

  it('JetStream: every input produces its output exactly once across a SIGKILL and restart', async () => {
    const inputs = await freshStreams(3000);
    const first = run(jetstreamConfig);
    await eventually(count, (n) => n >= 300);
    first.child.kill('SIGKILL');
    await first.exited;
    const partial = await count();
    expect(partial).toBeLessThan(inputs.length);

    const second = run(jetstreamConfig);
    await eventually(count, (n) => n >= inputs.length, 60_000);
    // redeliveries of what the first process did but never acked are published again with the same ids: dropped
    await new Promise((r) => setTimeout(r, 1500));
    const out = await outputs();
    expect(out).toHaveLength(inputs.length);
    expect(new Set(out)).toEqual(new Set(inputs.map((m) => m.toUpperCase())));
    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
  });

  it('JetStream: 100,000 inputs through two processes, one SIGKILLed mid-stream: every output exactly once', async () => {
    for (const name of ['TEXT', 'OUT', 'DLQ']) await jsm.streams.delete(name).catch(() => {});
    await jsm.streams.add({ name: 'TEXT', subjects: ['text.in'] });
    await jsm.streams.add({ name: 'OUT', subjects: ['text.out'] });
    await jsm.streams.add({ name: 'DLQ', subjects: ['text.dlq'] });
    const total = 100_000;
    const js = jsm.jetstream();
    for (let i = 0; i < total; i += 5000) await Promise.all(Array.from({ length: 5000 }, (_, k) => js.publish('text.in', `m ${i + k}`)));
    const a = run(jetstreamConfig);
    const b = run(jetstreamConfig);
    await eventually(count, (n) => n >= 20_000, 60_000);
    a.child.kill('SIGKILL');
    await a.exited;
    expect(await count()).toBeLessThan(total);
    // what the killed process held comes back after the ack wait, to b
    await eventually(count, (n) => n >= total, 120_000);
    await eventually(async () => (await jsm.consumers.info('TEXT', 'upper')).num_ack_pending, (n) => n === 0, 30_000);
    expect(await count()).toBe(total);
    const seen = new Set<string>();
    const consumer = await js.consumers.get('OUT');
    while (seen.size < total) {
      let got = 0;
      for await (const m of await consumer.fetch({ max_messages: 10_000, expires: 3000 })) {
        seen.add(m.string());
        got++;
      }
      if (got === 0) break;
    }
    expect(seen.size).toBe(total);
    expect(seen.has('M 0') && seen.has(`M ${total - 1}`)).toBe(true);
    expect((await jsm.streams.info('DLQ')).state.messages).toBe(0);
    b.child.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
  }, 300_000);

  it('JetStream: loses nothing when the NATS server restarts mid-stream', async () => {
    const inputs = await freshStreams(3000);
    const p = run(jetstreamConfig);
    await eventually(count, (n) => n >= 300);
    await server.restart();
    await eventually(count, (n) => n >= inputs.length, 60_000);
    const out = await outputs();
    expect(new Set(out)).toEqual(new Set(inputs.map((m) => m.toUpperCase())));
    expect(out).toHaveLength(inputs.length);
    expect(p.stderr()).toMatch(/nats: (disconnect|reconnect)/);
    p.child.kill('SIGTERM');
    expect((await p.exited).code).toBe(0);
  });

  it('JetStream: two processes share the durable consumer and handle each message once', async () => {
    const inputs = await freshStreams(0);
    await jsm.streams.delete('OUT'); // no stream: every output is a plain publish, so a duplicate would show
    const seen: string[] = [];
    const sub = nc.subscribe('text.out', { callback: (_, m) => seen.push(text(m.data)) });
    await nc.flush();
    const a = run(jetstreamConfig);
    const b = run(jetstreamConfig);
    await Promise.all([a.waitFor('running'), b.waitFor('running')]);
    const js = jsm.jetstream();
    const n = 2000;
    await Promise.all(Array.from({ length: n }, (_, i) => js.publish('text.in', Buffer.from(`shared ${i}`))));
    await eventually(() => seen.length, (k) => k >= n, 60_000);
    await new Promise((r) => setTimeout(r, 1000));
    expect(seen).toHaveLength(n);
    expect(new Set(seen).size).toBe(n);
    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    const [ea, eb] = await Promise.all([a.exited, b.exited]);
    expect([ea.code, eb.code]).toEqual([0, 0]);
    const handled = [a, b].map((p) => Number(/summary: (\d+) in/.exec(p.stderr())?.[1]));
    expect(handled[0]! + handled[1]!).toBe(n);
    expect(handled.every((h) => h > 0)).toBe(true);
    sub.unsubscribe();
    expect(inputs).toEqual([]);
  });

  it('drains on SIGTERM: stops taking input, acks what is in flight, exits 0', async () => {
    const inputs = await freshStreams(20000);
    const p = run(jetstreamConfig);
    await eventually(count, (n) => n >= 1000);
    p.child.kill('SIGTERM');
    const { code } = await p.exited;
    expect(code).toBe(0);
    expect(p.stderr()).toMatch(/SIGTERM: draining/);
    expect(p.stderr()).toMatch(/summary: \d+ in/);
    const consumer = await jsm.consumers.info('TEXT', 'upper');
    expect(consumer.num_ack_pending).toBe(0);
    expect(consumer.num_redelivered).toBe(0);
    const done = await count();
    expect(done).toBe(consumer.ack_floor.stream_seq);
    // another process picks up exactly where it stopped, and is given none of what the first
    // one took: every input is delivered once in all (the output stream would hide a second
    // delivery, since it drops the duplicate output; the processes' own counts do not)
    const next = run(jetstreamConfig);
    await eventually(count, (n) => n >= inputs.length, 60_000);
    expect(await count()).toBe(inputs.length);
    next.child.kill('SIGTERM');
    await next.exited;
    const handled = [p, next].map((q) => Number(/summary: (\d+) in/.exec(q.stderr())?.[1]));
    expect(handled[0]).toBeGreaterThan(0);
    expect(handled[0]! + handled[1]!).toBe(inputs.length);
    const after = await jsm.consumers.info('TEXT', 'upper');
    expect(after.delivered.consumer_seq).toBe(inputs.length);
  });

  it('drains on SIGTERM with slow work in flight: waits for it, and the next process is given none of it again', async () => {
    for (const name of ['SLOWIN', 'SLOWOUT', 'SLOWDLQ']) await jsm.streams.delete(name).catch(() => {});
    await jsm.streams.add({ name: 'SLOWIN', subjects: ['slow.in'] });
    await jsm.streams.add({ name: 'SLOWOUT', subjects: ['slow.out'] });
    await jsm.streams.add({ name: 'SLOWDLQ', subjects: ['slow.dlq'] });
    // burn on 16 KiB takes tens of milliseconds: at any time a dozen inputs are queued for or in the workers
    const file = await writeConfig(`name: slow
nats: { servers: "${server.url}" }
plugins: { text: { path: ${textPlugin} } }
input: { stream: SLOWIN, consumer: slow, maxAckPending: 16, ackWaitMs: 3000 }
stages: [{ name: hash, plugin: text, function: burn, pool: { size: 2, mode: worker } }]
output: { subject: slow.out }
deadLetter: { subject: slow.dlq }
`);
    const n = 80;
    const js = jsm.jetstream();
    for (let i = 0; i < n; i++) await js.publish('slow.in', Buffer.from(`${i} `.padEnd(16_384, 'z')));
    const slowCount = async () => (await jsm.streams.info('SLOWOUT')).state.messages;
    const first = run(file);
    await eventually(slowCount, (k) => k >= 10, 30_000);
    const inFlight = (await jsm.consumers.info('SLOWIN', 'slow')).num_ack_pending;
    first.child.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
    expect(inFlight).toBeGreaterThan(2);
    const next = run(file);
    await eventually(slowCount, (k) => k >= n, 60_000);
    next.child.kill('SIGTERM');
    expect((await next.exited).code).toBe(0);
    const handled = [first, next].map((q) => Number(/summary: (\d+) in/.exec(q.stderr())?.[1]));
    expect(handled[0]! + handled[1]!, `${first.stderr()}\n${next.stderr()}`).toBe(n);
    expect((await jsm.consumers.info('SLOWIN', 'slow')).delivered.consumer_seq).toBe(n);
    expect(await slowCount()).toBe(n);
    expect((await jsm.streams.info('SLOWDLQ')).state.messages).toBe(0);
  }, 120_000);

  it('core NATS: two processes in a queue group split the input', async () => {
    const seen: string[] = [];
    const sub = nc.subscribe('text.out', { callback: (_, m) => seen.push(text(m.data)) });
    await nc.flush();
    const a = run(natsConfig);
    const b = run(natsConfig);
    await Promise.all([a.waitFor('running'), b.waitFor('running')]);
    const n = 1000;
    for (let i = 0; i < n; i++) nc.publish('text.in', Buffer.from(`q ${i}`));
    await nc.flush();
    await eventually(() => seen.length, (k) => k >= n);
    expect(new Set(seen).size).toBe(n);
    a.child.kill('SIGINT');
    b.child.kill('SIGINT');
    await Promise.all([a.exited, b.exited]);
    const handled = [a, b].map((p) => Number(/summary: (\d+) in/.exec(p.stderr())?.[1]));
    expect(handled[0]! + handled[1]!).toBe(n);
    expect(handled.every((h) => h > 0)).toBe(true);
    sub.unsubscribe();
  });
});
