// `wasp worker`: runs every deployed pipeline whose name matches its pattern, as `wasp run` runs
// one file, on one NATS connection. It watches the pipelines bucket: a new revision is compiled
// beside the running one and takes over; an undeployed pipeline is drained and stopped. Many
// workers share a pipeline's messages through its durable consumer or queue group.
import type { NatsConnection } from '@nats-io/nats-core';
import { describe, type Logger } from '../index.js';
import { NatsTransport, Pipeline, withFields, type NatsSettings, type PipelineTimings } from '../pipelines.js';
import { deploymentConfig, type Deployment } from './deployment.js';
import type { DeploymentChange, FleetStore } from './store.js';

/** A pipeline as a worker reports it (service stats, `wasp status`, `wasp deploy --wait`). */
export interface PipelineReport {
  name: string;
  /** the revision running, if any */
  revision?: number;
  state: 'starting' | 'running' | 'stopped';
  /** the newest revision this worker could not run, and why (the running one, if any, stays) */
  failed?: { revision?: number; error: string };
  stats?: { received: number; published: number; deadLettered: number; failed: number; inFlight: number; startedAt: string };
}

export interface WorkerOptions {
  nc: NatsConnection;
  /** the connection's settings, which the pipelines' configs carry */
  nats: NatsSettings;
  store: FleetStore;
  logger: Logger;
  /** which pipelines to run: a name, or a glob where * matches any characters (default: all) */
  pipelines?: string;
  /** timings for a pipeline's metrics, when metrics are on */
  timings?: (pipeline: string) => PipelineTimings;
}

/** A glob of pipeline names as a test: * matches any run of characters. */
export function namePattern(glob: string): (name: string) => boolean {
  const re = new RegExp(`^${glob.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return (name) => re.test(name);
}

interface Running {
  deployment: Deployment;
  pipeline: Pipeline;
  transport: NatsTransport;
  modules: Record<string, Uint8Array>;
}

/** One pipeline on this worker: the changes to it applied one at a time, the newest winning. */
class Slot {
  running: Running | undefined;
  state: PipelineReport['state'] = 'starting';
  failed: PipelineReport['failed'];
  #next: DeploymentChange | undefined;
  #busy: Promise<void> | undefined;
  readonly #logger: Logger;
  /** resolves once the first change has been applied (or failed) */
  readonly settled: Promise<void>;
  #settle!: () => void;

  constructor(
    readonly name: string,
    readonly worker: Worker,
  ) {
    this.#logger = withFields(worker.options.logger, { pipeline: name });
    this.settled = new Promise((resolve) => (this.#settle = resolve));
  }

  /** Applies the change after the one in progress; changes waiting behind it are replaced by the newest. */
  push(change: DeploymentChange): Promise<void> {
    this.#next = change;
    this.#busy ??= this.#drainQueue().finally(() => (this.#busy = undefined));
    return this.#busy;
  }

  async #drainQueue(): Promise<void> {
    while (this.#next !== undefined) {
      const change = this.#next;
      this.#next = undefined;
      try {
        await this.#apply(change);
      } catch (error) {
        // #apply reports what it can; anything else must not end the worker
        this.#logger.error(`pipeline ${this.name}: ${describe(error)}`);
      }
      if (this.state === 'starting') this.state = 'stopped';
      this.#settle();
    }
  }

  async #apply(change: DeploymentChange): Promise<void> {
    if (change.kind === 'unreadable') {
      this.failed = { error: change.error.message };
      this.#logger.error(`${change.error.message}; ${this.running ? `revision ${this.running.deployment.revision} goes on running` : 'nothing runs'}`);
      return;
    }
    if (change.kind === 'undeployed') {
      if (this.running === undefined) return;
      this.#logger.info(`pipeline ${this.name} undeployed: draining revision ${this.running.deployment.revision}`);
      await this.#stop(this.running);
      this.running = undefined;
      this.state = 'stopped';
      this.failed = undefined;
      this.#logger.info(`pipeline ${this.name} stopped`);
      return;
    }
    const deployment = change.deployment;
    if (this.running?.deployment.revision === deployment.revision) return;
    const old = this.running;
    let next: Running;
    try {
      next = await this.#prepare(deployment);
    } catch (error) {
      this.#refused(deployment, error, old);
      return;
    }
    // A core subject's queue group can hold both revisions at once: the new one subscribes
    // before the old one leaves, so no message finds the subject unheard. A stream's consumer
    // goes from one to the other: the old revision drains (its acks reach the server) before the
    // new one pulls, so no message is handled by both and order is kept.
    const overlap = next.pipeline.config.input.kind === 'subject';
    try {
      if (old && !overlap) await this.#stop(old);
      await next.pipeline.start();
    } catch (error) {
      next.pipeline.close();
      this.#refused(deployment, error, old);
      if (old && !overlap) await this.#restore(old);
      return;
    }
    if (old && overlap) await this.#stop(old);
    this.running = next;
    this.state = 'running';
    this.failed = undefined;
    this.#logger.info(`pipeline ${this.name} revision ${deployment.revision} running${old ? ` (was ${old.deployment.revision})` : ''}`, {
      revision: deployment.revision,
      stages: next.pipeline.config.stages.map((s) => s.name),
    });
  }

  /** Fetches the modules (each checked against its digest) and compiles the plugins; nothing runs yet. */
  async #prepare(deployment: Deployment, reuse?: Record<string, Uint8Array>): Promise<Running> {
    const { options } = this.worker;
    const config = deploymentConfig(deployment, options.nats);
    const modules: Record<string, Uint8Array> = {};
    for (const [plugin, { sha256 }] of Object.entries(deployment.modules)) modules[plugin] = reuse?.[plugin] ?? (await options.store.getModule(sha256));
    const logger = withFields(options.logger, { pipeline: this.name, revision: deployment.revision });
    const transport = new NatsTransport(options.nc, logger);
    const pipeline = await Pipeline.create(config, { transport, logger, modules, timings: options.timings?.(this.name) });
    return { deployment, pipeline, transport, modules };
  }

  async #stop(running: Running): Promise<void> {
    await running.pipeline.drain();
    await running.transport.settle();
  }

  /** After a failed swap the old revision runs again, from what it was made of. */
  async #restore(old: Running): Promise<void> {
    try {
      const again = await this.#prepare(old.deployment, old.modules);
      await again.pipeline.start();
      this.running = again;
      this.state = 'running';
      this.#logger.warn(`pipeline ${this.name} revision ${old.deployment.revision} running again`);
    } catch (error) {
      this.running = undefined;
      this.state = 'stopped';
      this.#logger.error(`pipeline ${this.name}: revision ${old.deployment.revision} could not be started again: ${describe(error)}`);
    }
  }

  #refused(deployment: Deployment, error: unknown, old: Running | undefined): void {
    this.failed = { revision: deployment.revision, error: describe(error) };
    if (old === undefined) this.state = 'stopped';
    this.#logger.error(
      `pipeline ${this.name} revision ${deployment.revision} cannot run: ${describe(error)}; ${old ? `revision ${old.deployment.revision} goes on running` : 'nothing runs'}`,
      { revision: deployment.revision },
    );
  }

  /** Drains the running revision for good (the worker is stopping). */
  async close(): Promise<void> {
    await this.#busy;
    if (this.running) await this.#stop(this.running);
    this.running = undefined;
    this.state = 'stopped';
  }

  report(): PipelineReport {
    const running = this.running;
    const stats = running?.pipeline.stats;
    return {
      name: this.name,
      revision: running?.deployment.revision,
      state: this.state,
      failed: this.failed,
      stats: stats && {
        received: stats.received,
        published: stats.published,
        deadLettered: stats.deadLettered,
        failed: stats.stages.reduce((n, s) => n + s.failed, 0),
        inFlight: stats.inFlight,
        startedAt: new Date(stats.startedAt).toISOString(),
      },
    };
  }
}

export class Worker {
  readonly #slots = new Map<string, Slot>();
  readonly #matches: (name: string) => boolean;
  #stopWatch: (() => void) | undefined;
  #watching: Promise<void> | undefined;
  #draining = false;

  constructor(readonly options: WorkerOptions) {
    this.#matches = namePattern(options.pipelines ?? '*');
  }

  get pattern(): string {
    return this.options.pipelines ?? '*';
  }

  /** Starts watching the pipelines bucket; resolves once the pipelines deployed now have been tried. */
  async start(): Promise<void> {
    const { changes, stop } = await this.options.store.watch();
    this.#stopWatch = stop;
    this.#watching = (async () => {
      for await (const change of changes) {
        if (this.#draining) break;
        if (this.#matches(change.name)) this.#slot(change.name).push(change);
      }
    })();
    this.#watching.catch((error: unknown) => this.options.logger.error(`watching the pipelines bucket failed: ${describe(error)}`));
    // what is deployed now reaches the watch first; every one of those is tried before start() returns
    const now = (await this.options.store.list()).filter((p) => this.#matches(p.name));
    await Promise.all(now.map((p) => this.#slot(p.name).settled));
  }

  #slot(name: string): Slot {
    let slot = this.#slots.get(name);
    if (slot === undefined) this.#slots.set(name, (slot = new Slot(name, this)));
    return slot;
  }

  /** The running pipelines, for metrics. */
  observed(): { name: string; pipeline: Pipeline; revision: number }[] {
    return [...this.#slots.values()].flatMap((s) => (s.running ? [{ name: s.name, pipeline: s.running.pipeline, revision: s.running.deployment.revision }] : []));
  }

  /** Every pipeline this worker has seen, as it stands. */
  report(): PipelineReport[] {
    return [...this.#slots.values()].map((s) => s.report());
  }

  /** True once every pipeline seen runs (or was refused and nothing runs) and the worker is not draining. */
  get ready(): boolean {
    return !this.#draining && [...this.#slots.values()].every((s) => s.state !== 'starting');
  }

  /** Stops watching and drains every pipeline. */
  async drain(): Promise<void> {
    this.#draining = true;
    this.#stopWatch?.();
    await this.#watching?.catch(() => {});
    await Promise.all([...this.#slots.values()].map((s) => s.close()));
  }
}
