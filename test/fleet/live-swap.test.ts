// Live swap through `wasp deploy --wait`, with two `wasp worker` processes sharing a JetStream
// consumer while messages flow: every input is handled once, by one revision, and has exactly
// one output; every input published after --wait returned is handled by the new revision. Then
// the same with one worker SIGKILLed during the deploy, and order kept across a swap on one worker.
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually, spawnWasp, wasp, type WaspProcess } from '../helpers/cli.js';
import { NatsServer } from '../helpers/nats-server.js';
import { bumpAllocator } from '../helpers/hostile.js';
import { textPlugin, writeConfig } from '../helpers/pipelines.js';
import { wat } from '../helpers/plugins.js';

// The file names a server, as one run with `wasp run` would; deploy leaves the connection to the workers.
const pipeline = (fn: string, ackWaitMs: number, pool = '1', plugin = textPlugin) => `
name: swap
nats: { servers: nats://127.0.0.1:1 }
plugins:
  text: { path: ${plugin} }
input:
  stream: TEXT
  consumer: swap
  subject: text.in
  ackWaitMs: ${ackWaitMs}
stages:
  - { name: only, plugin: text, function: ${fn}, pool: ${pool} }
output:
  subject: text.out
deadLetter:
  subject: text.dlq
`;

describe('live swap on two workers', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let workers: WaspProcess[] = [];

  beforeAll(async () => {
    server = await NatsServer.start();
    nc = await connect({ servers: server.url });
    jsm = await jetstreamManager(nc);
  });
  afterEach(async () => {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    workers = [];
    await wasp(['undeploy', 'swap', '--nats', server.url]);
  });
  afterAll(async () => {
    await nc?.close();
    await server?.dispose();
  });

  async function freshStreams(): Promise<void> {
    for (const name of ['TEXT', 'OUT', 'DLQ']) await jsm.streams.delete(name).catch(() => {});
    await jsm.streams.add({ name: 'TEXT', subjects: ['text.in'] });
    await jsm.streams.add({ name: 'OUT', subjects: ['text.out'] });
    await jsm.streams.add({ name: 'DLQ', subjects: ['text.dlq'] });
  }

  async function startWorkers(n: number): Promise<void> {
    for (let i = 0; i < n; i++) workers.push(spawnWasp(['worker', '--nats', server.url]));
    await Promise.all(workers.map((w) => w.waitFor('taking pipelines')));
  }

  /** Publishes total inputs `message <i>` at a steady pace; `sent()` is how many were published so far. */
  function publish(total: number) {
    const js = jsm.jetstream();
    let sent = 0;
    const done = (async () => {
      while (sent < total) {
        const batch: Promise<unknown>[] = [];
        for (let i = 0; i < 50 && sent < total; i++) batch.push(js.publish('text.in', `message ${sent++}`));
        await Promise.all(batch);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    return { sent: () => sent, done };
  }

  async function outputs(expected: number): Promise<string[]> {
    await eventually(async () => (await jsm.streams.info('OUT')).state.messages, (n) => n >= expected, 90_000);
    const consumer = await jsm.jetstream().consumers.get('OUT');
    const out: string[] = [];
    while (out.length < expected) {
      const batch = await consumer.fetch({ max_messages: Math.min(5000, expected - out.length), expires: 5000 });
      for await (const m of batch) out.push(m.string());
    }
    return out;
  }

  /** The output of each input, by index; fails on an output of no input or a second output of one. */
  function byInput(out: string[]): Map<number, string> {
    const seen = new Map<number, string>();
    for (const o of out) {
      const match = /^(message|MESSAGE) (\d+)$/.exec(o);
      expect(match, `an output no input explains: ${o}`).not.toBeNull();
      const i = Number(match![2]);
      expect(seen.has(i), `input ${i} has two outputs`).toBe(false);
      seen.set(i, o);
    }
    return seen;
  }

  it('20,000 inputs while revision 2 is deployed: each handled once, by one revision; after --wait, all by revision 2', { timeout: 180_000 }, async () => {
    await freshStreams();
    const v1 = await writeConfig(pipeline('identity', 5000));
    const v2 = await writeConfig(pipeline('upper', 5000));
    await startWorkers(2);
    const first = await wasp(['deploy', v1, '--nats', server.url, '--wait']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/revision 1 running on 2 worker\(s\)/);

    const total = 20_000;
    const flow = publish(total);
    await eventually(flow.sent, (n) => n >= 5000, 30_000);
    const second = await wasp(['deploy', v2, '--nats', server.url, '--wait']);
    const afterWait = flow.sent();
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/revision 2 running on 2 worker\(s\)/);
    await flow.done;
    expect(afterWait).toBeLessThan(total); // the deploy finished while inputs still came

    const out = byInput(await outputs(total));
    expect(out.size).toBe(total);
    let byTwo = 0;
    for (const [i, o] of out) {
      if (o.startsWith('MESSAGE')) byTwo++;
      if (i >= afterWait) expect(o, `input ${i}, published after --wait returned`).toBe(`MESSAGE ${i}`);
    }
    expect(byTwo).toBeGreaterThan(0);
    expect(byTwo).toBeLessThan(total);
    // no input was delivered twice: neither revision handled what the other did
    const info = await jsm.consumers.info('TEXT', 'swap');
    expect(info.delivered.consumer_seq).toBe(total);
    expect(info.num_redelivered).toBe(0);
    expect((await jsm.streams.info('DLQ')).state.messages).toBe(0);
    for (const w of workers) expect(w.stderr()).toMatch(/pipeline swap revision 2 running \(was 1\)/);
  });

  it('a worker SIGKILLed during a deploy: --wait returns with the one left, and no input is lost', { timeout: 180_000 }, async () => {
    await freshStreams();
    const v1 = await writeConfig(pipeline('identity', 1500));
    const v2 = await writeConfig(pipeline('upper', 1500));
    await startWorkers(2);
    expect((await wasp(['deploy', v1, '--nats', server.url, '--wait'])).code).toBe(0);
    const total = 6000;
    const flow = publish(total);
    await eventually(flow.sent, (n) => n >= 2000, 30_000);
    const deploying = wasp(['deploy', v2, '--nats', server.url, '--wait', '--timeout', '30000']);
    workers[0]!.child.kill('SIGKILL');
    const second = await deploying;
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/revision \d+ running on 1 worker\(s\)/);
    await flow.done;
    // what the killed worker held is redelivered after its ack wait: every input still gets one output
    const out = byInput(await outputs(total));
    expect(out.size).toBe(total);
    expect((await jsm.streams.info('DLQ')).state.messages).toBe(0);
  });

  /**
   * identity and upper as text.wasm has them, each spending about a millisecond first: a stage
   * slow enough that a revision always has inputs waiting in it, which a new revision pulling
   * too early would overtake.
   */
  async function slowText(): Promise<string> {
    const module = await wat(`(module (import "wasp" "output" (func $output (param i32 i32))) ${bumpAllocator}
      (func $spin (local $i i32) (local.set $i (i32.const 1000000))
        (loop $l (local.set $i (i32.sub (local.get $i) (i32.const 1))) (br_if $l (local.get $i))))
      (func (export "identity") (param $p i32) (param $n i32) (result i32)
        (call $spin) (call $output (local.get $p) (local.get $n)) (i32.const 0))
      (func (export "upper") (param $p i32) (param $n i32) (result i32) (local $i i32) (local $c i32)
        (call $spin)
        (block $done (loop $each
          (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
          (local.set $c (i32.load8_u (i32.add (local.get $p) (local.get $i))))
          (if (i32.and (i32.ge_u (local.get $c) (i32.const 97)) (i32.le_u (local.get $c) (i32.const 122)))
            (then (i32.store8 (i32.add (local.get $p) (local.get $i)) (i32.sub (local.get $c) (i32.const 32)))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $each)))
        (call $output (local.get $p) (local.get $n)) (i32.const 0)))`);
    const file = join(dirname(await writeConfig('', 'unused.yaml')), 'slow-text.wasm');
    await writeFile(file, module);
    return file;
  }

  it('one worker, a slow ordered stage on two worker threads, a backlog in the stream: outputs keep input order across the swap, revision 1 then revision 2', { timeout: 180_000 }, async () => {
    await freshStreams();
    const slow = await slowText();
    const v1 = await writeConfig(pipeline('identity', 5000, '{ size: 2, mode: worker }', slow));
    const v2 = await writeConfig(pipeline('upper', 5000, '{ size: 2, mode: worker }', slow));
    await startWorkers(1);
    // a backlog, so that revision 1 has inputs waiting in its stage when revision 2 comes
    const total = 12_000;
    await publish(total).done;
    expect((await wasp(['deploy', v1, '--nats', server.url, '--wait'])).code).toBe(0);
    const second = await wasp(['deploy', v2, '--nats', server.url, '--wait']);
    expect(second.code, second.stderr).toBe(0);
    expect((await jsm.streams.info('OUT')).state.messages).toBeLessThan(total); // the swap came mid-stream
    const out = await outputs(total);
    // in the output stream's order: input 0, 1, 2, ... each once, and no revision 1 output after a revision 2 one
    const order = out.map((o) => Number(/(\d+)$/.exec(o)![1]));
    expect(order).toEqual(Array.from({ length: total }, (_, i) => i));
    const firstByTwo = out.findIndex((o) => o.startsWith('MESSAGE'));
    expect(firstByTwo).toBeGreaterThan(0);
    expect(out.slice(firstByTwo).every((o) => o.startsWith('MESSAGE'))).toBe(true);
    expect((await jsm.consumers.info('TEXT', 'swap')).num_redelivered).toBe(0);
  });
});
