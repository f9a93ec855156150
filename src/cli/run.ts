import { TimeoutError } from '@nats-io/nats-core';
import { WaspError } from '../engine/errors.js';
import type { LogLevel } from '../engine/logger.js';
import { withFields } from '../engine/logger.js';
import { ConfigError, loadPipelineFile, type LoadedPipeline } from '../pipeline/config/load.js';
import type { PipelineConfig } from '../pipeline/config/schema.js';
import { Pipeline } from '../pipeline/pipeline.js';
import { EmbeddedTransport } from '../transport/embedded.js';
import { connectNats, requireJetStream, trackConnection } from '../transport/connect.js';
import { serveHttp } from '../observe/http.js';
import { WaspMetrics } from '../observe/metrics.js';
import type { NatsConnectionError } from '../transport/errors.js';
import { NatsTransport } from '../transport/nats.js';
import type { Transport } from '../transport/transport.js';
import type { CommandIO } from './command.js';
import { formatProblems } from './validate.js';
import { StatusLine, summary, summaryContext, summaryFields } from './status.js';
import { tapTransport } from './tap.js';
import { stderrLogger, type LogFormat } from './stderr-logger.js';
import { httpOption, logFormatOption, logLevelOption } from './options.js';
import { forceExit } from './signals.js';
import { UsageError } from './usage.js';

/** How long the process may take to end by itself once the run is over, before it is made to. */
const EXIT_GRACE_MS = 5_000;

/** A start-up step that failed once NATS was reached, naming the step (and so what it waited for). */
export class StartupError extends WaspError {
  override name = 'StartupError';
  constructor(
    readonly step: string,
    cause: unknown,
  ) {
    super(`start-up failed while ${step}: ${describeCause(cause)}`, { cause });
  }
}

/** SIGINT or SIGTERM before the pipeline runs: start-up stops, and the run ends with exit 0. */
class InterruptedError extends WaspError {
  override name = 'InterruptedError';
  constructor(readonly signal: NodeJS.Signals) {
    super(`${signal} during start-up`);
  }
}

/**
 * `wasp run <config>`: a long-running stream processor that drains on SIGINT/SIGTERM. Anything
 * failing between connecting and running closes what was opened, so the process ends (exit 1
 * with the reason) instead of living on with its connection.
 */
export async function runCommand(argv: string[], io: CommandIO): Promise<number> {
  const { file, level, http, format, tap } = parseRunArgs(argv);
  // Before the pipeline runs a signal stops start-up (loading and compiling included, then the
  // wait for NATS); then it drains. Heard from the first moment: Node's default would end the
  // process with 130 or 143 and no word.
  const startup = new AbortController();
  const early = (signal: NodeJS.Signals): void => {
    if (!startup.signal.aborted) startup.abort(new InterruptedError(signal));
  };
  process.on('SIGINT', early);
  process.on('SIGTERM', early);
  let loaded: LoadedPipeline;
  try {
    loaded = await loadPipelineFile(file);
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr.write(formatProblems(error.problems));
      return 1;
    }
    throw error;
  } finally {
    process.off('SIGINT', early);
    process.off('SIGTERM', early);
  }
  const { config } = loaded;

  let status: StatusLine | undefined;
  const base = stderrLogger(io.stderr, level, () => status?.clear(), format);
  // JSON lines name their pipeline; text lines say it once, at start-up
  const logger = format === 'json' ? withFields(base, { pipeline: config.name }) : base;
  for (const w of loaded.warnings) logger.warn(`${w.path}: ${w.message}`, { file: w.file, line: w.line });
  let pipeline: Pipeline | undefined;
  let running = false;
  let draining: Promise<void> | undefined;
  // a drain that fails (its input cannot be stopped with NATS away, say) ends the run rather than leave it waiting
  let drainFailed!: (error: unknown) => void;
  const drainFailure = new Promise<never>((_, reject) => (drainFailed = reject));
  drainFailure.catch(() => {});
  const onSignal = (signal: NodeJS.Signals): void => {
    if (!running) {
      if (!startup.signal.aborted) startup.abort(new InterruptedError(signal));
    } else if (!draining) {
      logger.info(`${signal}: draining (a second signal stops at once)`);
      draining = pipeline!.drain();
      draining.catch(drainFailed);
    } else {
      forceExit(signal, pipeline!.stats.inFlight, logger);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // An input on the embedded bus holds nothing open in the event loop; the process must still run until told to stop.
  const keepAlive = setInterval(() => {}, 60_000);
  // a connection that ends for good (credentials or TLS refused on reconnect) ends the run
  let lose!: (error: NatsConnectionError) => void;
  const lost = new Promise<never>((_, reject) => (lose = reject));
  lost.catch(() => {});
  /** Runs one start-up step, giving up on it at a signal or a lost connection; a failure names the step. */
  const step = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    startup.signal.throwIfAborted();
    const work = run();
    work.catch(() => {}); // when it is given up on, its failure comes too late to matter
    const interrupted = new Promise<never>((_, reject) => startup.signal.addEventListener('abort', () => reject(startup.signal.reason), { once: true }));
    interrupted.catch(() => {});
    try {
      return await Promise.race([work, interrupted, lost]);
    } catch (error) {
      throw error instanceof WaspError ? error : new StartupError(what, error);
    }
  };

  let transport: Transport | undefined;
  let nats: NatsTransport | undefined;
  let waitingForNats = false;
  let ok = false;
  let connected: () => boolean = () => true;
  const metrics = http === undefined ? undefined : new WaspMetrics(() => (pipeline && running ? [{ name: config.name, pipeline }] : []));
  let endpoints: { close(): Promise<void> } | undefined;
  try {
    if (metrics) {
      endpoints = await serveHttp(http!, {
        metrics,
        notReady: () => (draining ? 'draining' : !running ? 'starting' : !connected() ? 'NATS disconnected' : undefined),
      }, logger);
    }
    if (config.nats) {
      waitingForNats = true;
      const nc = await connectNats(config.nats, logger, { pipeline: config.name, signal: startup.signal, onLost: lose });
      waitingForNats = false;
      transport = nats = new NatsTransport(nc, logger);
      connected = trackConnection(nc);
      if (config.input.kind === 'stream') {
        await step('asking JetStream for the account info', () => requireJetStream(nc));
        // warns at start-up, once per subject, about outputs no stream captures
        const subjects = [config.output.kind === 'subject' ? config.output.subject : undefined, config.deadLetter?.subject].filter((s): s is string => s !== undefined);
        await step(`asking JetStream which streams capture ${subjects.join(', ')}`, () => nats!.checkCaptured(subjects));
      }
    } else {
      transport = new EmbeddedTransport();
    }
    if (tap) transport = tapTransport(transport, (line) => {
      status?.clear();
      io.stderr.write(line);
    });
    const pipelineIO = { transport, logger, stdin: io.stdin, stdout: io.stdout, timings: metrics?.timings(config.name), plugins: loaded.plugins };
    pipeline = await step('loading the plugins', () => Pipeline.create(config, pipelineIO));
    await step(starting(config), () => pipeline!.start());
    startup.signal.throwIfAborted();
    running = true;
    if (format === 'text') status = new StatusLine(io.stderr, pipeline.stats);
    logger.info(`pipeline ${config.name} running on ${transport.name}`, { stages: config.stages.map((s) => s.name) });
    status?.start();
    await Promise.race([pipeline.done, lost, drainFailure]);
    if (draining) await Promise.race([draining, lost]);
    ok = true;
  } catch (error) {
    if (!running && startup.signal.aborted) {
      const { signal } = startup.signal.reason as InterruptedError;
      logger.info(
        waitingForNats
          ? `${signal}: interrupted while waiting for NATS at ${config.nats!.servers.join(', ')}; nothing was processed; exiting`
          : `${signal}: interrupted during start-up; nothing was processed; exiting`,
      );
      return 0;
    }
    throw error;
  } finally {
    clearInterval(keepAlive);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    status?.stop();
    await endpoints?.close();
    pipeline?.close();
    try {
      // after a failure nothing is left to drain, and a drain could wait on a server that is away
      if (!ok && nats) await nats.nc.close();
      else await transport?.close();
    } catch (error) {
      // the drain flushes acks and unsubscribes, which needs the server: with it away, close instead
      // (an input not acked is redelivered; a core subject's was at most once anyway)
      logger.warn(`closing the NATS connection without draining it: ${error instanceof Error ? error.message : String(error)}`);
      await nats?.nc.close().catch(() => {});
    } finally {
      if (running && format === 'json') logger.info('summary', summaryFields(pipeline!.stats));
      else if (running) io.stderr.write(`${summary(pipeline!.stats, summaryContext(config))}\n`);
      // The run is over. nats.js leaves the socket of a first attempt that timed out open until the
      // server closes it (it destroys a socket only once connected): that must not keep the process,
      // and a supervisor waiting for it, from seeing the end.
      setTimeout(() => process.exit(), EXIT_GRACE_MS).unref();
    }
  }
  return 0;
}

/** The start-up step that starts the stages and the input, saying what the input waits for. */
function starting(config: PipelineConfig): string {
  const input = config.input;
  if (input.kind === 'stream') return `starting the stages and the input (JetStream stream ${input.stream}, durable consumer ${input.consumer}: looked up, created if absent)`;
  if (input.kind === 'subject') return `starting the stages and subscribing to ${input.subject}`;
  return 'starting the stages';
}

function describeCause(cause: unknown): string {
  if (cause instanceof TimeoutError) return 'no reply from NATS within the request timeout';
  return cause instanceof Error ? cause.message : String(cause);
}

function parseRunArgs(argv: string[]): { file: string; level: LogLevel; http?: string; format: LogFormat; tap: boolean } {
  let file: string | undefined;
  let tap = false;
  let level: LogLevel = 'info';
  let http: string | undefined;
  let format: LogFormat = 'text';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string | undefined => (arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i]);
    if (arg === '--tap') {
      tap = true;
    } else if (arg === '--log-format' || arg.startsWith('--log-format=')) {
      format = logFormatOption(value());
    } else if (arg === '--http' || arg.startsWith('--http=')) {
      http = httpOption(value());
    } else if (arg === '--log-level' || arg.startsWith('--log-level=')) {
      level = logLevelOption(value());
    } else if (arg.startsWith('--')) {
      throw new UsageError(`unknown option ${arg}`);
    } else if (file === undefined) {
      file = arg;
    } else {
      throw new UsageError('wasp run takes one config file');
    }
  }
  if (file === undefined) throw new UsageError('wasp run needs a config file');
  return { file, level, http, format, tap };
}
