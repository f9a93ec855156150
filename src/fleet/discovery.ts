// Workers are found through the NATS services protocol (@nats-io/services): each worker is an
// instance of the service "wasp", so `nats micro ls`, `nats micro info wasp` and
// `nats micro stats wasp` list them, and the stats of each carry its pipelines. `wasp status`
// and `wasp deploy --wait` ask the same way.
import { hostname } from 'node:os';
import { Empty, NoRespondersError, type NatsConnection } from '@nats-io/nats-core';
import { Svcm, type Service, type ServiceStats } from '@nats-io/services';
import { VERSION } from '../version.js';
import type { PipelineReport } from './worker.js';

export const SERVICE_NAME = 'wasp';

/** What a worker says of itself. */
export interface WorkerReport {
  id: string;
  host: string;
  pid: number;
  /** the pattern of pipeline names it runs */
  pipelines: string;
  running: PipelineReport[];
}

/** Registers the worker as an instance of the service "wasp"; its stats and its `pipelines` endpoint answer with report(). */
export async function serveDiscovery(nc: NatsConnection, pattern: string, report: () => PipelineReport[]): Promise<Service> {
  // @nats-io/services is built against an earlier nats-core; the connection is the same protocol
  const service = await new Svcm(nc as never).add({
    name: SERVICE_NAME,
    version: VERSION,
    description: 'Wasp worker: runs deployed pipelines',
    metadata: { pipelines: pattern, host: hostname(), pid: String(process.pid) },
    statsHandler: async () => ({ pipelines: report() }),
  });
  const id = service.info().id;
  service.addEndpoint('pipelines', {
    subject: `wasp.worker.${id}.pipelines`,
    handler: (error, msg) => {
      if (error) return;
      msg.respond(JSON.stringify({ pipelines: report() }));
    },
  });
  return service;
}

/**
 * Every worker that answers within waitMs, sorted by host and pid: the services protocol's STATS
 * request for "wasp", asked with this connection's own client (the services package brings an
 * older copy of nats-core, whose errors are not this one's classes).
 */
export async function findWorkers(nc: NatsConnection, waitMs = 1_000): Promise<WorkerReport[]> {
  const out: WorkerReport[] = [];
  try {
    const replies = await nc.requestMany(`$SRV.STATS.${SERVICE_NAME}`, Empty, { maxWait: waitMs, strategy: 'timer' });
    for await (const msg of replies) {
      let stats: ServiceStats;
      try {
        stats = msg.json<ServiceStats>();
      } catch {
        continue; // not a services reply: not a worker
      }
      const meta = stats.metadata ?? {};
      const data = (stats.endpoints ?? []).find((e) => e.name === 'pipelines')?.data as { pipelines?: PipelineReport[] } | undefined;
      out.push({ id: stats.id, host: meta.host ?? '?', pid: Number(meta.pid ?? 0), pipelines: meta.pipelines ?? '*', running: data?.pipelines ?? [] });
    }
  } catch (error) {
    if (!(error instanceof NoRespondersError)) throw error;
  }
  return out.sort((a, b) => a.host.localeCompare(b.host) || a.pid - b.pid);
}
