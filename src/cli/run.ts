import type { LogLevel } from '../engine/logger.js';
import { LOG_LEVELS } from '../engine/logger.js';
import { ConfigError, loadPipelineConfig } from '../pipeline/config/load.js';
import { Pipeline } from '../pipeline/pipeline.js';
import { EmbeddedTransport } from '../transport/embedded.js';
import { connectNats } from '../transport/connect.js';
import { NatsTransport } from '../transport/nats.js';
import type { Transport } from '../transport/transport.js';
import type { CommandIO } from './command.js';
import { formatProblems } from './validate.js';
import { StatusLine, summary } from './status.js';
import { stderrLogger } from './stderr-logger.js';
import { UsageError } from './usage.js';

/** `wasp run <config>`: a long-running stream processor that drains on SIGINT/SIGTERM. */
export async function runCommand(argv: string[], io: CommandIO): Promise<number> {
  const { file, level } = parseRunArgs(argv);
  let config;
  try {
    config = await loadPipelineConfig(file);
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr.write(formatProblems(error.problems));
      return 1;
    }
    throw error;
  }

  let status: StatusLine | undefined;
  const logger = stderrLogger(io.stderr, level, () => status?.clear());
  let transport: Transport;
  if (config.nats) {
    logger.info(`connecting to ${config.nats.servers.join(', ')} (waiting until a server answers)`);
    const nats = new NatsTransport(await connectNats(config.nats, logger), logger);
    if (config.input.kind === 'stream') {
      // warns at start-up, once per subject, about outputs no stream captures
      const subjects = [config.output.kind === 'subject' ? config.output.subject : undefined, config.deadLetter?.subject];
      await nats.checkCaptured(subjects.filter((s): s is string => s !== undefined));
    }
    transport = nats;
  } else {
    transport = new EmbeddedTransport();
  }

  const pipeline = await Pipeline.create(config, { transport, logger, stdin: io.stdin, stdout: io.stdout });
  status = new StatusLine(io.stderr, pipeline.stats);
  let draining: Promise<void> | undefined;
  const drain = (signal: string): void => {
    if (draining) return;
    logger.info(`${signal}: draining`);
    draining = pipeline.drain();
  };
  const onSignal = (signal: NodeJS.Signals): void => drain(signal);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // An input on the embedded bus holds nothing open in the event loop; the process must still run until told to stop.
  const keepAlive = setInterval(() => {}, 60_000);
  try {
    await pipeline.start();
    logger.info(`pipeline ${config.name} running on ${transport.name}`, { stages: config.stages.map((s) => s.name) });
    status.start();
    await pipeline.done;
    await draining;
  } finally {
    clearInterval(keepAlive);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    status.stop();
    pipeline.close();
    await transport.close();
  }
  io.stderr.write(`${summary(pipeline.stats)}\n`);
  return 0;
}

function parseRunArgs(argv: string[]): { file: string; level: LogLevel } {
  let file: string | undefined;
  let level: LogLevel = 'info';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--log-level' || arg.startsWith('--log-level=')) {
      const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      if (!LOG_LEVELS.includes(value as LogLevel)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
      level = value as LogLevel;
    } else if (arg.startsWith('--')) {
      throw new UsageError(`unknown option ${arg}`);
    } else if (file === undefined) {
      file = arg;
    } else {
      throw new UsageError('wasp run takes one config file');
    }
  }
  if (file === undefined) throw new UsageError('wasp run needs a config file');
  return { file, level };
}
