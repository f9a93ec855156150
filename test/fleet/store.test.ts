// The deployment store on a real nats-server: modules stored once by digest and refused when
// their bytes do not match it, revisions numbered per pipeline, rollbacks, undeploys.
import { readFile } from 'node:fs/promises';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readDeployment, type DeploymentDraft } from '../../src/fleet/deployment.js';
import { DeployConflictError, DeploymentFormatError, DeploymentNotFoundError, ModuleIntegrityError } from '../../src/fleet/errors.js';
import { FleetStore, sha256Hex } from '../../src/fleet/store.js';
import { NatsServer } from '../helpers/nats-server.js';
import { textPlugin } from '../helpers/pipelines.js';

describe('FleetStore', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  let store: FleetStore;
  let module: Uint8Array;

  beforeAll(async () => {
    server = await NatsServer.start();
    nc = await connect({ servers: server.url });
    store = await FleetStore.open(nc);
    module = new Uint8Array(await readFile(textPlugin));
  });
  afterAll(async () => {
    await nc?.close();
    await server?.dispose();
  });

  let n = 0;
  let name: string;
  beforeEach(() => {
    name = `p${++n}`;
  });
  const draft = (fn = 'upper'): DeploymentDraft => ({
    name,
    pipeline: { name, plugins: { text: { path: 'text.wasm', sha256: sha256Hex(module) } }, input: { subject: 'in' }, stages: [{ name: 's', plugin: 'text', function: fn }], output: { subject: 'out' } },
    publish: {},
    modules: { text: { sha256: sha256Hex(module), size: module.length } },
  });

  it('stores a module once under its SHA-256 and gives it back only with that digest', async () => {
    const first = await store.putModule(module);
    const again = await store.putModule(module);
    expect(first.sha256).toBe(sha256Hex(module));
    expect(again).toEqual({ sha256: first.sha256, size: module.length, uploaded: false });
    expect(Buffer.compare(Buffer.from(await store.getModule(first.sha256)), Buffer.from(module))).toBe(0);

    // someone writes other bytes under the name: refused, naming both digests
    const other = new Uint8Array(module);
    other[other.length - 1] ^= 0xff;
    await store.modules.putBlob({ name: first.sha256 }, other);
    const refused = await store.getModule(first.sha256).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ModuleIntegrityError);
    expect(refused).toMatchObject({ problem: 'digest-mismatch', sha256: first.sha256, actual: sha256Hex(other) });
    await store.modules.putBlob({ name: first.sha256 }, module);
    expect(await store.getModule('0'.repeat(64)).catch((e: unknown) => e)).toMatchObject({ name: 'ModuleIntegrityError', problem: 'missing' });
  });

  it('numbers revisions per pipeline, keeps them, and rolls back to the previous or a named one as a new revision', async () => {
    expect((await store.deploy(draft('identity'))).revision).toBe(1);
    expect((await store.deploy(draft('upper'))).revision).toBe(2);
    expect((await store.current(name))?.revision).toBe(2);
    const back = await store.rollback(name);
    expect(back).toMatchObject({ revision: 3, rolledBackFrom: 1 });
    expect((back.pipeline.stages as { function: string }[])[0]!.function).toBe('identity');
    const to = await store.rollback(name, 2);
    expect(to).toMatchObject({ revision: 4, rolledBackFrom: 2 });
    expect((await store.history(name)).map((d) => d.revision)).toEqual([1, 2, 3, 4]);
    expect(await store.rollback(name, 9).catch((e: unknown) => e)).toBeInstanceOf(DeploymentNotFoundError);
    expect(await store.rollback('never-deployed').catch((e: unknown) => e)).toBeInstanceOf(DeploymentNotFoundError);
  });

  it('undeploys (history kept) and continues the numbering when deployed again', async () => {
    await store.deploy(draft());
    await store.deploy(draft());
    expect(await store.undeploy(name)).toBe(true);
    expect(await store.undeploy(name)).toBe(false);
    expect(await store.current(name)).toBeUndefined();
    expect((await store.list()).map((p) => p.name)).not.toContain(name);
    expect((await store.deploy(draft())).revision).toBe(3);
    expect(await store.rollback(name)).toMatchObject({ revision: 4, rolledBackFrom: 2 });
    // after an undeploy, a rollback brings back the newest revision
    await store.undeploy(name);
    expect(await store.rollback(name)).toMatchObject({ revision: 5, rolledBackFrom: 4 });
  });

  it('two deploys at once never take the same revision: one of them is told to deploy again', async () => {
    const results = await Promise.allSettled([store.deploy(draft()), store.deploy(draft()), store.deploy(draft())]);
    const revisions = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.revision] : []));
    expect(new Set(revisions).size).toBe(revisions.length);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(DeployConflictError);
    expect((await store.current(name))?.revision).toBe(Math.max(...revisions));
  });

  it('a deploy that lands between another\'s read and write makes that one fail, not take its revision', async () => {
    await store.deploy(draft());
    const history = store.history.bind(store);
    let raced = false;
    // the other deploy lands right after this one has read the revisions
    const racing = Object.assign(Object.create(store) as FleetStore, {
      history: async (n: string) => {
        const read = await history(n);
        if (!raced) {
          raced = true;
          await store.deploy(draft());
        }
        return read;
      },
    });
    expect(await racing.deploy(draft()).catch((e: unknown) => e)).toBeInstanceOf(DeployConflictError);
    expect((await store.history(name)).map((d) => d.revision)).toEqual([1, 2]);
  });

  it('reads only what Wasp wrote: anything else is a DeploymentFormatError naming what is wrong', () => {
    expect(() => readDeployment('x', Buffer.from('not json'))).toThrow(DeploymentFormatError);
    expect(() => readDeployment('x', Buffer.from(JSON.stringify({ format: 99 })))).toThrow(/format/);
    const good = { format: 1, name: 'y', revision: 1, deployedAt: '', deployedBy: '', pipeline: {}, publish: {}, modules: {} };
    expect(() => readDeployment('x', Buffer.from(JSON.stringify(good)))).toThrow(/names pipeline y/);
  });
});
