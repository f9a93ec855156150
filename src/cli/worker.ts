import type { Service } from '@nats-io/services';
import type { NatsConnection } from '@nats-io/nats-core';
import { LOG_LEVELS, type LogLevel } from '../engine/logger.js';
import { serveDiscovery } from '../fleet/discovery.js';
import { FleetStore } from '../fleet/store.js';
import { Worker } from '../fleet/worker.js';
import type { CommandIO } from './command.js';
import { connectFleet, natsSettings, parseCommandArgs } from './fleet-connect.js';
import { HttpListenError, parseAddress, serveHttp } from '../observe/http.js';
import { WaspMetrics } from '../observe/metrics.js';
import { trackConnection } from '../transport/connect.js';
import { LOG_FORMATS, stderrLogger, type LogFormat } from './stderr-logger.js';
import { UsageError } from './usage.js';

/**
 * `wasp worker`: runs the deployed pipelines matching --pipelines until SIGINT/SIGTERM, then
 * drains them. It waits for NATS as `wasp run` does.
 */
export async function workerCommand(argv: string[], io: CommandIO): Promise<number> {
  const { positionals, values } = parseCommandArgs(argv, { nats: { type: 'string' }, pipelines: { type: 'string' }, 'log-level': { type: 'string' }, 'log-format': { type: 'string' }, http: { type: 'string' } }, 'worker');
  const format = (values['log-format'] ?? 'text') as LogFormat;
  if (!LOG_FORMATS.includes(format)) throw new UsageError(`--log-format must be one of ${LOG_FORMATS.join(', ')}`);
  const http = values.http as string | undefined;
  if (http !== undefined) {
    try {
      parseAddress(http);
    } catch (error) {
      if (error instanceof HttpListenError) throw new UsageError(error.message);
      throw error;
    }
  }
  if (positionals.length > 0) throw new UsageError('wasp worker takes no arguments');
  const level = (values['log-level'] ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(level)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  const pattern = (values.pipelines as string | undefined) ?? '*';
  const logger = stderrLogger(io.stderr, level, undefined, format);
  const stop = new AbortController();
  let worker: Worker | undefined;
  let stopping: Promise<void> | undefined;
  let nc: NatsConnection | undefined;
  let service: Service | undefined;
  let started = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    logger.info(`${signal}: draining`);
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
    const settings = natsSettings(values.nats as string | undefined, `wasp:worker:${process.pid}`);
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
