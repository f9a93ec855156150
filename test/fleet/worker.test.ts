// A worker on a real nats-server: it runs what is deployed, takes new revisions without losing
// messages, keeps the running revision when a new one cannot run, and drains on undeploy.
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { completeLogger } from '../../src/engine/logger.js';
import { draftDeployment } from '../../src/fleet/deployment.js';
import { serveDiscovery } from '../../src/fleet/discovery.js';
import { RolloutError } from '../../src/fleet/errors.js';
import { waitForRollout } from '../../src/fleet/rollout.js';
import { FleetStore, sha256Hex } from '../../src/fleet/store.js';
import { Worker } from '../../src/fleet/worker.js';
import { loadPipelineFile } from '../../src/pipeline/config/load.js';
import { eventually } from '../helpers/cli.js';
import { NatsServer } from '../helpers/nats-server.js';
import { textPlugin, writeConfig } from '../helpers/pipelines.js';
import { readFile } from 'node:fs/promises';

/** A core NATS pipeline of one stage calling `fn` of the text plugin. */
const pipelineYaml = (name: string, fn: string) => `
name: ${name}
plugins:
  text: { path: ${textPlugin} }
input:
  subject: ${name}.in
stages:
  - { name: only, plugin: text, function: ${fn} }
output:
  subject: ${name}.out
`;

describe('wasp worker (in process)', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  let workerNc: NatsConnection;
  let store: FleetStore;
  const lines: string[] = [];
  const logger = completeLogger({ info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m) });
  let worker: Worker | undefined;
  const stops: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    server = await NatsServer.start();
    nc = await connect({ servers: server.url });
    workerNc = await connect({ servers: server.url });
    store = await FleetStore.open(nc);
  });
  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
    await worker?.drain();
    worker = undefined;
  });
  afterAll(async () => {
    await workerNc?.close();
    await nc?.close();
    await server?.dispose();
  });

  async function deploy(name: string, fn: string) {
    const loaded = await loadPipelineFile(await writeConfig(pipelineYaml(name, fn)));
    const bytes = new Uint8Array(await readFile(textPlugin));
    await store.putModule(bytes);
    const { draft } = draftDeployment(loaded.file, loaded.config, { text: { sha256: sha256Hex(bytes), size: bytes.length } });
    return store.deploy(draft);
  }

  async function startWorker(pipelines = '*', from: FleetStore = store) {
    const started = new Worker({ nc: workerNc, nats: { servers: [server.url] }, store: from, logger, pipelines });
    worker ??= started;
    if (started !== worker) stops.push(() => started.drain());
    const service = await serveDiscovery(workerNc, pipelines, () => started.report());
    stops.push(() => service.stop());
    await started.start();
    return started;
  }

  /** Everything published to a subject, as text, from now on. */
  function collect(subject: string): string[] {
    const got: string[] = [];
    const sub = nc.subscribe(subject, { callback: (_, m) => got.push(m.string()) });
    stops.push(async () => sub.unsubscribe());
    return got;
  }

  const reportOf = (name: string) => worker!.report().find((p) => p.name === name);

  it('runs what is deployed, takes each new revision, and drains on undeploy', async () => {
    await deploy('swap', 'identity');
    await startWorker();
    expect(reportOf('swap')).toMatchObject({ revision: 1, state: 'running' });
    const out = collect('swap.out');
    nc.publish('swap.in', 'hello');
    await eventually(() => out.length, (n) => n === 1, 5000);
    expect(out).toEqual(['hello']);

    const two = await deploy('swap', 'upper');
    await waitForRollout(nc, 'swap', two.revision, 10_000);
    nc.publish('swap.in', 'hello');
    await eventually(() => out.length, (n) => n === 2, 5000);
    expect(out[1]).toBe('HELLO');

    await store.undeploy('swap');
    await waitForRollout(nc, 'swap', undefined, 10_000);
    expect(reportOf('swap')).toMatchObject({ state: 'stopped', revision: undefined });
    nc.publish('swap.in', 'nobody hears this');
    await nc.flush();
    await new Promise((r) => setTimeout(r, 300));
    expect(out).toHaveLength(2);
    expect(lines.some((l) => l.includes('pipeline swap undeployed'))).toBe(true);
  });

  it('answers the NATS services protocol as "wasp": PING, INFO and STATS with its pipelines, asked raw', async () => {
    await deploy('seen', 'identity');
    await startWorker('see*');
    const ping = (await nc.request('$SRV.PING.wasp', '', { timeout: 2000 })).json<{ type: string; name: string; id: string; version: string }>();
    expect(ping).toMatchObject({ type: 'io.nats.micro.v1.ping_response', name: 'wasp', version: '0.1.0' });
    const info = (await nc.request(`$SRV.INFO.wasp.${ping.id}`, '', { timeout: 2000 })).json<{ metadata: Record<string, string>; endpoints: { name: string; subject: string }[] }>();
    expect(info.metadata).toMatchObject({ pipelines: 'see*', pid: String(process.pid) });
    expect(info.endpoints).toEqual([expect.objectContaining({ name: 'pipelines', subject: `wasp.worker.${ping.id}.pipelines` })]);
    const stats = (await nc.request(`$SRV.STATS.wasp.${ping.id}`, '', { timeout: 2000 })).json<{ type: string; endpoints: { data: { pipelines: unknown[] } }[] }>();
    expect(stats.type).toBe('io.nats.micro.v1.stats_response');
    expect(stats.endpoints[0]!.data.pipelines).toEqual([expect.objectContaining({ name: 'seen', revision: 1, state: 'running' })]);
    // the endpoint answers the same report on request
    const direct = (await nc.request(`wasp.worker.${ping.id}.pipelines`, '', { timeout: 2000 })).json<{ pipelines: { name: string }[] }>();
    expect(direct.pipelines.map((p) => p.name)).toEqual(['seen']);
  });

  it('deploy --wait waits for the slowest worker taking the pipeline, not the first', async () => {
    await deploy('slow', 'identity');
    const quick = await startWorker('slow');
    // a second worker that takes 1.5 s to fetch each module
    const slowStore = Object.assign(Object.create(store) as FleetStore, {
      getModule: async (sha256: string) => {
        await new Promise((r) => setTimeout(r, 1500));
        return store.getModule(sha256);
      },
    });
    const slow = await startWorker('slow', slowStore);
    const two = await deploy('slow', 'upper');
    const workers = await waitForRollout(nc, 'slow', two.revision, 10_000);
    expect(workers).toHaveLength(2);
    for (const w of [quick, slow]) expect(w.report().find((p) => p.name === 'slow')).toMatchObject({ revision: two.revision, state: 'running' });
  });

  it('loses no core NATS message while a new revision takes over its queue group', async () => {
    await deploy('flow', 'identity');
    await startWorker();
    const out = collect('flow.out');
    const total = 20_000;
    let sent = 0;
    // a steady stream with no pause longer than a turn of the event loop
    const publishing = (async () => {
      while (sent < total) {
        for (let i = 0; i < 4; i++) nc.publish('flow.in', `m${sent++}`);
        await new Promise((r) => setImmediate(r));
      }
    })();
    await eventually(() => sent, (n) => n > 2000, 5000);
    const two = await deploy('flow', 'upper');
    await waitForRollout(nc, 'flow', two.revision, 10_000);
    await publishing;
    await eventually(() => out.length, (n) => n >= total, 10_000);
    // each message exactly once, from one revision or the other
    const ids = out.map((m) => m.toLowerCase());
    expect(new Set(ids).size).toBe(total);
    expect(out.some((m) => m.startsWith('M'))).toBe(true);
    expect(out.some((m) => m.startsWith('m'))).toBe(true);
  });

  it('keeps the running revision when a new one cannot run (a corrupt module, an unreadable value), and says so', async () => {
    await deploy('keep', 'identity');
    await startWorker('ke*');
    const out = collect('keep.out');

    // revision 2's module is damaged in the store: the worker refuses it
    const bytes = new Uint8Array(await readFile(textPlugin));
    const damaged = new Uint8Array(bytes);
    damaged[100] ^= 0xff;
    await store.modules.putBlob({ name: sha256Hex(bytes) }, damaged);
    try {
      // the same size is taken for the module already stored: it stays damaged
      const two = await deploy('keep', 'upper');
      const refused = await waitForRollout(nc, 'keep', two.revision, 10_000).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(RolloutError);
      expect(refused).toMatchObject({ problem: 'failed', revision: two.revision });
      expect((refused as Error).message).toMatch(/SHA-256/);
      expect(reportOf('keep')).toMatchObject({ revision: 1, state: 'running', failed: { revision: two.revision } });
    } finally {
      await store.modules.putBlob({ name: sha256Hex(bytes) }, bytes);
    }
    nc.publish('keep.in', 'still one');
    await eventually(() => out.length, (n) => n === 1, 5000);
    expect(out).toEqual(['still one']);

    // a value no Wasp wrote
    await store.kv.put('keep', 'garbage');
    await eventually(() => reportOf('keep')?.failed?.error ?? '', (e) => e.includes('not JSON'), 5000);
    expect(reportOf('keep')).toMatchObject({ revision: 1, state: 'running' });

    // a pipeline outside the worker's pattern is not its business
    await deploy('other', 'identity');
    await new Promise((r) => setTimeout(r, 300));
    expect(reportOf('other')).toBeUndefined();
  });
});
