// Where deployments live: a JetStream KV bucket of pipeline definitions, keyed by pipeline name,
// whose history holds the earlier revisions, and an Object Store bucket of modules named by
// their SHA-256, so an unchanged module is stored once. Both are plain NATS buckets: `nats kv`
// and `nats object` show them as they are.
import { createHash } from 'node:crypto';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { Kvm, type KV, type KvWatchEntry } from '@nats-io/kv';
import type { NatsConnection, QueuedIterator } from '@nats-io/nats-core';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { DEPLOYMENT_FORMAT, deployer, readDeployment, type Deployment, type DeploymentDraft } from './deployment.js';
import { DeployConflictError, DeploymentNotFoundError, ModuleIntegrityError } from './errors.js';

export const PIPELINES_BUCKET = 'wasp-pipelines';
export const MODULES_BUCKET = 'wasp-modules';
/** Revisions kept per pipeline (the most a KV bucket keeps per key). */
export const KEPT_REVISIONS = 64;

export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** One change to a deployed pipeline, as a worker watching the bucket sees it. */
export type DeploymentChange =
  | { name: string; kind: 'deployed'; deployment: Deployment }
  | { name: string; kind: 'undeployed' }
  | { name: string; kind: 'unreadable'; error: Error };

export class FleetStore {
  private constructor(
    readonly kv: KV,
    readonly modules: ObjectStore,
  ) {}

  /** Opens both buckets, creating them when they do not exist yet. */
  static async open(nc: NatsConnection): Promise<FleetStore> {
    const kv = await new Kvm(nc).create(PIPELINES_BUCKET, { history: KEPT_REVISIONS, description: 'Wasp: deployed pipelines, one key each, revisions in its history' });
    const modules = await new Objm(nc).create(MODULES_BUCKET, { description: 'Wasp: plugin modules, named by their SHA-256' });
    return new FleetStore(kv, modules);
  }

  /** Stores a module under its SHA-256 unless it is there already. */
  async putModule(bytes: Uint8Array): Promise<{ sha256: string; size: number; uploaded: boolean }> {
    const sha256 = sha256Hex(bytes);
    const info = await this.modules.info(sha256);
    if (info !== null && !info.deleted && info.size === bytes.length) return { sha256, size: bytes.length, uploaded: false };
    await this.modules.putBlob({ name: sha256, description: 'a Wasm module' }, bytes);
    return { sha256, size: bytes.length, uploaded: true };
  }

  /** The module stored under sha256, refused unless its bytes have that digest. */
  async getModule(sha256: string): Promise<Uint8Array> {
    const bytes = await this.modules.getBlob(sha256);
    if (bytes === null) throw new ModuleIntegrityError(`module ${sha256} is not in the ${MODULES_BUCKET} object store`, sha256, 'missing');
    const actual = sha256Hex(bytes);
    if (actual !== sha256) {
      throw new ModuleIntegrityError(`module ${sha256} in the ${MODULES_BUCKET} object store has SHA-256 ${actual}: refused`, sha256, 'digest-mismatch', actual);
    }
    return bytes;
  }

  /** The running revision of a pipeline, or undefined when it is not deployed. */
  async current(name: string): Promise<Deployment | undefined> {
    const entry = await this.kv.get(name);
    return entry === null || entry.operation !== 'PUT' ? undefined : readDeployment(name, entry.value);
  }

  /** Every revision still kept, oldest first (undeploys leave none). */
  async history(name: string): Promise<Deployment[]> {
    const out: Deployment[] = [];
    for await (const entry of await this.kv.history({ key: name })) {
      if (entry.operation === 'PUT') out.push(readDeployment(name, entry.value));
    }
    return out;
  }

  /** Stores the next revision: one past the pipeline's highest, whether or not it is deployed now. */
  async deploy(draft: DeploymentDraft & { rolledBackFrom?: number }): Promise<Deployment> {
    const entry = await this.kv.get(draft.name);
    const highest = (await this.history(draft.name)).reduce((max, d) => Math.max(max, d.revision), 0);
    const deployment: Deployment = { format: DEPLOYMENT_FORMAT, revision: highest + 1, deployedAt: new Date().toISOString(), deployedBy: deployer(), ...draft };
    const value = JSON.stringify(deployment);
    try {
      // compare-and-set against the key's last entry (a value or an undeploy's delete marker): two
      // deploys of one pipeline at once cannot both take the same revision
      if (entry === null) await this.kv.create(draft.name, value);
      else await this.kv.update(draft.name, value, entry.revision);
    } catch (error) {
      if (isWrongSequence(error)) throw new DeployConflictError(draft.name);
      throw error;
    }
    return deployment;
  }

  /** Deploys an earlier revision again, as a new one; by default the newest before the current (with none deployed: the newest). */
  async rollback(name: string, to?: number): Promise<Deployment> {
    const history = await this.history(name);
    const current = await this.current(name);
    if (history.length === 0) throw new DeploymentNotFoundError(`pipeline ${name} has no stored revisions`, name);
    const target = to !== undefined ? history.find((d) => d.revision === to) : [...history].reverse().find((d) => d.revision < (current?.revision ?? Infinity));
    if (target === undefined) {
      const kept = history.map((d) => d.revision).join(', ');
      throw new DeploymentNotFoundError(
        to !== undefined ? `pipeline ${name} has no revision ${to} (kept: ${kept})` : `pipeline ${name} has no earlier revision to roll back to (kept: ${kept})`,
        name,
        to,
      );
    }
    const { name: n, pipeline, publish, modules } = target;
    return this.deploy({ name: n, pipeline, publish, modules, rolledBackFrom: target.revision });
  }

  /** Removes the pipeline (its history stays, for a later rollback or redeploy); false when it was not deployed. */
  async undeploy(name: string): Promise<boolean> {
    if ((await this.current(name)) === undefined) return false;
    await this.kv.delete(name);
    return true;
  }

  /** Every deployed pipeline's current revision, by name; an unreadable one as its error. */
  async list(): Promise<{ name: string; deployment?: Deployment; error?: Error }[]> {
    const names: string[] = [];
    for await (const key of await this.kv.keys()) names.push(key);
    const out: { name: string; deployment?: Deployment; error?: Error }[] = [];
    for (const name of names.sort()) {
      try {
        const deployment = await this.current(name);
        if (deployment !== undefined) out.push({ name, deployment });
      } catch (error) {
        out.push({ name, error: error as Error });
      }
    }
    return out;
  }

  /** Every pipeline as it is now, then every change, until stopped. */
  async watch(): Promise<{ changes: AsyncIterable<DeploymentChange>; stop: () => void }> {
    const watcher: QueuedIterator<KvWatchEntry> = await this.kv.watch({ key: '>' });
    async function* changes(): AsyncIterable<DeploymentChange> {
      for await (const entry of watcher) {
        if (entry.operation !== 'PUT') {
          yield { name: entry.key, kind: 'undeployed' };
          continue;
        }
        try {
          yield { name: entry.key, kind: 'deployed', deployment: readDeployment(entry.key, entry.value) };
        } catch (error) {
          yield { name: entry.key, kind: 'unreadable', error: error as Error };
        }
      }
    }
    return { changes: changes(), stop: () => watcher.stop() };
  }
}

/** JetStream's answer to a compare-and-set that lost: "wrong last sequence". */
function isWrongSequence(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamWrongLastSequence;
}
