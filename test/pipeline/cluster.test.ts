// Failover on a three-node JetStream cluster (three nats-server processes routed on loopback, R3
// streams): two `wasp run` processes share the durable consumer while the input stream's leader,
// and separately the output stream's leader, is killed mid-stream. Every input's output arrives
// exactly once, and each process says what happened in a few lines, not one per message.
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually, spawnWasp, type WaspProcess } from '../helpers/cli.js';
import { NatsCluster } from '../helpers/nats-cluster.js';
import { root } from '../helpers/plugins.js';

const config = `${root}pipelines/text/jetstream.yaml`;
// enough that a leader is killed with most of the stream still to go, however fast the pipeline runs
const INPUTS = 20_000;

/**
 * A failover reads as state changes: a few warnings in all (not one per message), each "is
 * failing" followed by its "recovered after", and no "jetstream is not enabled" for a stream
 * electing its leader.
 */
function expectReadableFailover(log: string): void {
  const warnings = log.split('\n').filter((l) => / WARN /.test(l));
  expect(warnings.length, log).toBeLessThanOrEqual(6);
  expect(log).not.toMatch(/jetstream is not enabled/);
  for (const [, what] of log.matchAll(/WARN {2}(.+?) is failing:/g)) {
    expect(log.slice(log.indexOf(`${what} is failing`)), log).toContain(`${what} recovered after`);
  }
}

describe('wasp run on a three-node JetStream cluster', () => {
  let cluster: NatsCluster;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const running: WaspProcess[] = [];

  beforeAll(async () => {
    cluster = await NatsCluster.start(3);
    nc = await cluster.connect();
    jsm = await jetstreamManager(nc, { timeout: 10_000 });
  }, 60_000);
  afterEach(async (context) => {
    if (context.task.result?.state === 'fail') for (const p of running) console.log(`wasp run's log:\n${p.stderr()}`);
    for (const p of running.splice(0)) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    // a node a failed test left down comes back for the next one
    for (const node of cluster?.nodes ?? []) await node.start();
  });
  afterAll(async () => {
    await nc?.close().catch(() => {});
    await cluster?.dispose();
  });

  const text = (d: Uint8Array) => Buffer.from(d).toString();

  async function freshStreams(): Promise<string[]> {
    for (const name of ['TEXT', 'OUT', 'DLQ']) await NatsCluster.deleteStream(jsm, name);
    await NatsCluster.addStream(jsm, { name: 'TEXT', subjects: ['text.in'], num_replicas: 3 });
    await NatsCluster.addStream(jsm, { name: 'OUT', subjects: ['text.out'], num_replicas: 3 });
    await NatsCluster.addStream(jsm, { name: 'DLQ', subjects: ['text.dlq'], num_replicas: 3 });
    const js = jsm.jetstream();
    const inputs = Array.from({ length: INPUTS }, (_, i) => `cluster ${i}`);
    for (let i = 0; i < inputs.length; i += 500) await Promise.all(inputs.slice(i, i + 500).map((m) => js.publish('text.in', Buffer.from(m))));
    return inputs;
  }

  // -1 while the stream has no leader: eventually() asks again
  const count = async () => (await jsm.streams.info('OUT').catch(() => undefined))?.state.messages ?? -1;

  /**
   * Everything the output stream holds, read with an ordered consumer; after a node restart a
   * read can come back empty or fail while the stream settles, so it starts over, for up to 60 s.
   */
  async function outputs(): Promise<string[]> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const total = await count();
      const out: string[] = [];
      try {
        const consumer = await jsm.jetstream().consumers.get('OUT');
        while (out.length < total) {
          const batch = await consumer.fetch({ max_messages: Math.min(total - out.length, 1000), expires: 2000 });
          const before = out.length;
          for await (const m of batch) out.push(text(m.data));
          if (out.length === before) break; // nothing came: read again from the start
        }
      } catch {
        /* the stream is settling: read again */
      }
      if (out.length >= total && total >= 0) return out;
      if (Date.now() > deadline) throw new Error(`could read only ${out.length} of the ${total} messages in OUT`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  const run = () => {
    const p = spawnWasp(['run', config], { NATS_URL: cluster.url });
    running.push(p);
    return p;
  };

  for (const victim of ['TEXT', 'OUT'] as const) {
    it(`every output exactly once when the ${victim === 'TEXT' ? 'input' : 'output'} stream's leader is killed mid-stream`, async () => {
      const inputs = await freshStreams();
      const [a, b] = [run(), run()];
      // both running before the failover: a start-up caught in it ends the process (its request times out), as it should
      await Promise.all([a.waitFor('running'), b.waitFor('running')]);
      await eventually(count, (n) => n >= 1000, 30_000);
      const leader = await NatsCluster.streamReady(jsm, victim);
      await cluster.node(leader).kill();
      expect(await count()).toBeLessThan(inputs.length);
      await eventually(count, (n) => n >= inputs.length, 90_000);
      await cluster.node(leader).start();

      // let any late redelivery land before counting: the stream would hold it as a second copy
      await new Promise((r) => setTimeout(r, 2000));
      const out = await outputs();
      expect(new Set(out)).toEqual(new Set(inputs.map((m) => m.toUpperCase())));
      expect(out).toHaveLength(inputs.length);
      // the restarted node may have led DLQ too: ask once it has a leader again
      await NatsCluster.streamReady(jsm, 'DLQ');
      expect((await jsm.streams.info('DLQ')).state.messages).toBe(0);

      a.child.kill('SIGTERM');
      b.child.kill('SIGTERM');
      const exits = await Promise.all([a.exited, b.exited]);
      expect(exits.map((e) => e.code)).toEqual([0, 0]);
      for (const p of [a, b]) expectReadableFailover(p.stderr());
    }, 180_000);
  }
});
