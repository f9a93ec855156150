// --http of wasp run and wasp worker: /metrics scraped during a run and checked against what was
// actually sent, /healthz, /readyz before and after start-up, a JetStream consumer's lag.
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseAddress } from '../../src/observe/http.js';
import { eventually, spawnWasp, wasp, type WaspProcess } from '../helpers/cli.js';
import { freePort, NatsServer } from '../helpers/nats-server.js';
import { textPlugin, writeConfig } from '../helpers/pipelines.js';

/** The value of one series in Prometheus text format, or undefined when it is absent. */
function series(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const open = line.indexOf('{');
    const body = open >= 0 && open < line.indexOf(' ') ? line.slice(open + 1, line.lastIndexOf('}')) : '';
    const have = Object.fromEntries([...body.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

const get = async (url: string) => {
  const res = await fetch(url);
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') };
};

describe('--http: metrics, health, readiness', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  const procs: WaspProcess[] = [];
  beforeAll(async () => {
    server = await NatsServer.start();
    nc = await connect({ servers: server.url });
  });
  afterEach(async () => {
    for (const p of procs.splice(0)) {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      await p.exited;
    }
  });
  afterAll(async () => {
    await nc?.close();
    await server?.dispose();
  });

  it('wasp run: the counts scraped are the counts sent, latency histograms count every message, and /readyz says when it is ready', async () => {
    const port = await freePort();
    const natsPort = await freePort(); // no server there yet: start-up waits
    const config = await writeConfig(`
name: metered
nats: { servers: nats://127.0.0.1:${natsPort} }
plugins:
  text: { path: ${textPlugin} }
input: { subject: m.in }
stages:
  - { name: check, plugin: text, function: fail_on_x }
  - { name: upper, plugin: text, function: upper }
output: { subject: m.out }
deadLetter: { subject: m.dlq }
`);
    const run = spawnWasp(['run', config, '--http', `127.0.0.1:${port}`]);
    procs.push(run);
    await run.waitFor(`serving /metrics, /healthz and /readyz on http://127.0.0.1:${port}`);
    expect((await get(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    const starting = await get(`http://127.0.0.1:${port}/readyz`);
    expect(starting).toMatchObject({ status: 503, text: 'not ready: starting\n' });

    const late = await NatsServer.start({ port: natsPort });
    try {
      await run.waitFor('pipeline metered running');
      expect((await get(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
      const client = await connect({ servers: late.url });
      const outs: string[] = [];
      client.subscribe('m.out', { callback: (_, m) => outs.push(m.string()) });
      const dead: string[] = [];
      client.subscribe('m.dlq', { callback: (_, m) => dead.push(m.string()) });
      await client.flush();
      const sent = 500;
      for (let i = 0; i < sent; i++) client.publish('m.in', i % 10 === 0 ? `box ${i}` : `word ${i}`);
      await eventually(() => outs.length + dead.length, (n) => n === sent, 10_000);
      const scraped = await get(`http://127.0.0.1:${port}/metrics`);
      expect(scraped.type).toMatch(/^text\/plain; version=0\.0\.4/);
      const m = scraped.text;
      expect(series(m, 'wasp_messages_total', { pipeline: 'metered', outcome: 'received' })).toBe(sent);
      expect(series(m, 'wasp_messages_total', { outcome: 'published' })).toBe(outs.length);
      expect(series(m, 'wasp_messages_total', { outcome: 'dead_lettered' })).toBe(dead.length);
      expect(dead.length).toBe(sent / 10);
      expect(series(m, 'wasp_stage_messages_total', { stage: 'check', outcome: 'failed' })).toBe(dead.length);
      expect(series(m, 'wasp_stage_messages_total', { stage: 'upper', outcome: 'in' })).toBe(outs.length);
      expect(series(m, 'wasp_stage_messages_total', { stage: 'upper', outcome: 'failed' })).toBe(0);
      expect(series(m, 'wasp_stage_call_duration_seconds_count', { stage: 'check' })).toBe(sent);
      expect(series(m, 'wasp_stage_call_duration_seconds_count', { stage: 'upper' })).toBe(outs.length);
      // an input is timed once, as it was settled: went out (ack) or dead-lettered (term)
      expect(series(m, 'wasp_message_latency_seconds_count', { outcome: 'ack' })).toBe(outs.length);
      expect(series(m, 'wasp_message_latency_seconds_count', { outcome: 'term' })).toBe(dead.length);
      expect(series(m, 'wasp_stage_pool_size', { stage: 'upper', mode: 'inline' })).toBe(1);
      expect(series(m, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
      // a later scrape counts what came since, and nothing twice
      for (let i = 0; i < 100; i++) client.publish('m.in', `more ${i}`);
      await eventually(() => outs.length + dead.length, (n) => n === sent + 100, 10_000);
      const again = (await get(`http://127.0.0.1:${port}/metrics`)).text;
      expect(series(again, 'wasp_messages_total', { pipeline: 'metered', outcome: 'received' })).toBe(sent + 100);
      expect(series(again, 'wasp_stage_messages_total', { stage: 'check', outcome: 'failed' })).toBe(dead.length);
      expect((await get(`http://127.0.0.1:${port}/nothing`)).status).toBe(404);
      await client.close();
    } finally {
      run.child.kill('SIGTERM');
      expect((await run.exited).code).toBe(0);
      await late.dispose();
    }
  });

  it('wasp worker: the revision and a JetStream consumer\'s lag, per pipeline', async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'LAG', subjects: ['lag.in'] });
    await jsm.streams.add({ name: 'LAGOUT', subjects: ['lag.out', 'lag.dlq'] });
    // 300 inputs wait before the pipeline exists; its stage burns ~20 ms on each, so most still wait at the scrape
    const js = jsm.jetstream();
    for (let i = 0; i < 300; i++) await js.publish('lag.in', 'x'.repeat(16_384));
    const port = await freePort();
    const worker = spawnWasp(['worker', '--nats', server.url, '--http', `127.0.0.1:${port}`]);
    procs.push(worker);
    await worker.waitFor('taking pipelines');
    const config = await writeConfig(`
name: lagging
nats: { servers: ${server.url} }
plugins:
  text: { path: ${textPlugin} }
input: { stream: LAG, consumer: lagging, subject: lag.in, maxAckPending: 1 }
stages:
  - { name: slow, plugin: text, function: burn }
output: { subject: lag.out }
deadLetter: { subject: lag.dlq }
`);
    expect((await wasp(['deploy', config, '--nats', server.url, '--wait'])).code).toBe(0);
    const m = (await get(`http://127.0.0.1:${port}/metrics`)).text;
    expect(series(m, 'wasp_pipeline_revision', { pipeline: 'lagging' })).toBe(1);
    const pending = series(m, 'wasp_consumer_pending_messages', { pipeline: 'lagging' });
    const ackPending = series(m, 'wasp_consumer_ack_pending_messages', { pipeline: 'lagging' });
    const received = series(m, 'wasp_messages_total', { pipeline: 'lagging', outcome: 'received' })!;
    expect(pending).toBeGreaterThan(0);
    expect(ackPending).toBeLessThanOrEqual(1);
    // what the consumer still holds and what the pipeline took add up to what was published (give or take the one in flight)
    expect(pending! + received).toBeGreaterThanOrEqual(299);
    expect(pending! + received).toBeLessThanOrEqual(301);
    expect((await get(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    await wasp(['undeploy', 'lagging', '--nats', server.url]);
  });

  it('refuses a malformed --http address as a usage mistake, and a taken port with exit 1', async () => {
    expect(() => parseAddress('localhost')).toThrow(/expected HOST:PORT/);
    expect(parseAddress(':9090')).toEqual({ host: undefined, port: 9090 });
    expect(parseAddress('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect((await wasp(['run', 'x.yaml', '--http', 'nope'])).code).toBe(2);
    const port = await freePort();
    const first = spawnWasp(['worker', '--nats', server.url, '--http', `127.0.0.1:${port}`]);
    procs.push(first);
    await first.waitFor('serving /metrics');
    const second = await wasp(['worker', '--nats', server.url, '--http', `127.0.0.1:${port}`]);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(new RegExp(`--http 127.0.0.1:${port}: cannot listen: EADDRINUSE`));
  });
});
