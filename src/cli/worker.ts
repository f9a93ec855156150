import type { Service } from '@nats-io/services';
import type { NatsConnection } from '@nats-io/nats-core';
import { serveDiscovery } from '../fleet/discovery.js';
import { FleetStore } from '../fleet/store.js';
import { Worker } from '../fleet/worker.js';
import type { CommandIO } from './command.js';
import { connectFleet, natsSettings, parseFleetArgs } from './fleet-connect.js';
import { serveHttp } from '../observe/http.js';
import { WaspMetrics } from '../observe/metrics.js';
import { trackConnection } from '../transport/connect.js';
import { forceExit } from './signals.js';
import { stderrLogger } from './stderr-logger.js';
import { httpOption, logFormatOption, logLevelOption } from './options.js';
import { UsageError } from './usage.js';

/**
 * `wasp worker`: runs the deployed pipelines matching --pipelines until SIGINT/SIGTERM, then
 * drains them. It waits for NATS as `wasp run` does.
 */
export async function workerCommand(argv: string[], io: CommandIO): Promise<number> {
  const { positionals, values } = parseFleetArgs(argv, { pipelines: { type: 'string' }, 'log-level': { type: 'string' }, 'log-format': { type: 'string' }, http: { type: 'string' } }, 'worker');
  const format = logFormatOption((values['log-format'] as string | undefined) ?? 'text');
  const http = values.http === undefined ? undefined : httpOption(values.http as string);
  if (positionals.length > 0) throw new UsageError('wasp worker takes no arguments');
  const level = logLevelOption((values['log-level'] as string | undefined) ?? 'info');
  const pattern = (values.pipelines as string | undefined) ?? '*';
  const logger = stderrLogger(io.stderr, level, undefined, format);
  const stop = new AbortController();
  let worker: Worker | undefined;
  let stopping: Promise<void> | undefined;
  let nc: NatsConnection | undefined;
  let service: Service | undefined;
  let started = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) forceExit(signal, worker?.observed().reduce((n, p) => n + p.pipeline.stats.inFlight, 0) ?? 0, logger);
    logger.info(`${signal}: draining (a second signal stops at once)`);
    stop.abort();
    stopping = (async () => {
      await service?.stop().catch(() => {});
      await worker?.drain();
    })();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const keepAlive = setInterval(() => {}, 60_000);
  let connected: () => boolean = () => false;
  const metrics = http === undefined ? undefined : new WaspMetrics(() => worker?.observed() ?? []);
  let endpoints: { close(): Promise<void> } | undefined;
  try {
    if (metrics) {
      endpoints = await serveHttp(http!, {
        metrics,
        notReady: () => (stopping ? 'draining' : !connected() ? 'NATS not connected' : worker === undefined || !started || !worker.ready ? 'starting pipelines' : undefined),
      }, logger);
    }
    const settings = natsSettings(values, `wasp:worker:${process.pid}`);
    try {
      nc = await connectFleet(settings, logger, Infinity, stop.signal);
    } catch (error) {
      if (stop.signal.aborted) return 0;
      throw error;
    }
    connected = trackConnection(nc);
    const store = await FleetStore.open(nc);
    worker = new Worker({ nc, nats: settings, store, logger, pipelines: pattern, timings: metrics && ((name) => metrics.timings(name)) });
    service = await serveDiscovery(nc, pattern, () => worker!.report());
    logger.info(`worker ${service.info().id} taking pipelines ${pattern}`);
    if (!stopping) await worker.start();
    started = true;
    await new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }));
    await stopping;
    logger.info('worker stopped');
    return 0;
  } finally {
    clearInterval(keepAlive);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await endpoints?.close();
    await nc?.drain().catch(() => nc?.close());
  }
}
