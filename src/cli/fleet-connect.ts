// The NATS connection of the fleet commands (deploy, undeploy, ls, status, worker): --nats URL,
// else $WASP_NATS_URL, else the local default server; credentials and TLS as CONNECTION_OPTIONS says.
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { NatsConnection } from '@nats-io/nats-core';
import { WaspError } from '../engine/errors.js';
import type { Logger } from '../engine/logger.js';
import { connectNats, type NatsSettings } from '../transport/connect.js';
import { isServerUrl } from '../transport/server-url.js';
import type { CommandIO } from './command.js';
import { stderrLogger } from './stderr-logger.js';
import { UsageError } from './usage.js';

/** How long a one-shot command (deploy, ls, ...) waits for a NATS server. */
const CONNECT_WAIT_MS = 5_000;

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

/** A one-shot command found no server to talk to in time. */
export class NatsUnreachableError extends WaspError {
  override name = 'NatsUnreachableError';
  constructor(
    readonly servers: string[],
    readonly waitedMs: number,
  ) {
    super(`no NATS server answered at ${servers.join(', ')} within ${waitedMs / 1000} s (--nats URL or WASP_NATS_URL says where)`);
  }
}

/**
 * How the fleet commands reach NATS, beside --nats: the options a pipeline's nats: key has.
 * Secrets (user, password, token) come only from the environment, never from the command line
 * that `ps` shows.
 */
export const CONNECTION_OPTIONS = {
  nats: { type: 'string' },
  creds: { type: 'string' },
  'tls-ca': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-first': { type: 'boolean' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

/** What each option falls back to when it is not given. */
const CONNECTION_ENV = { nats: 'WASP_NATS_URL', creds: 'WASP_NATS_CREDS', 'tls-ca': 'WASP_NATS_TLS_CA', 'tls-cert': 'WASP_NATS_TLS_CERT', 'tls-key': 'WASP_NATS_TLS_KEY' } as const;

export function natsSettings(values: CommandArgs['values'], name: string, env: Record<string, string | undefined> = process.env): NatsSettings {
  const option = (key: keyof typeof CONNECTION_ENV): string | undefined => {
    const value = (values[key] as string | undefined) ?? env[CONNECTION_ENV[key]];
    if (value === '') throw new UsageError(`--${key} needs a value`);
    return value;
  };
  const servers = (option('nats') ?? DEFAULT_NATS_URL).split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (servers.length === 0) throw new UsageError('--nats needs a URL');
  const bad = servers.find((s) => !isServerUrl(s));
  if (bad !== undefined) throw new UsageError(`--nats: ${bad} is not a NATS server URL (nats://host:port, tls://host:port or host:port)`);
  const file = (key: keyof typeof CONNECTION_ENV): string | undefined => {
    const path = option(key);
    if (path === undefined) return undefined;
    const where = values[key] !== undefined ? `--${key}` : CONNECTION_ENV[key];
    const found = statSync(path, { throwIfNoEntry: false });
    if (found === undefined) throw new UsageError(`${where}: no such file: ${path}`);
    if (!found.isFile()) throw new UsageError(`${where}: ${path} is not a file`);
    return resolve(path);
  };
  const [ca, cert, key] = [file('tls-ca'), file('tls-cert'), file('tls-key')];
  if ((cert === undefined) !== (key === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
  const tls = ca !== undefined || cert !== undefined || values['tls-first'] === true ? { ca, cert, key, handshakeFirst: values['tls-first'] === true ? true : undefined } : undefined;
  return { servers, name, creds: file('creds'), tls, user: env.WASP_NATS_USER || undefined, pass: env.WASP_NATS_PASSWORD || undefined, token: env.WASP_NATS_TOKEN || undefined };
}

/** parseCommandArgs for a command that talks to the fleet: its own options and the connection's. */
export function parseFleetArgs(argv: string[], options: NonNullable<ParseArgsConfig['options']>, command: string): CommandArgs {
  return parseCommandArgs(argv, { ...CONNECTION_OPTIONS, ...options }, command);
}

/** Connects, waiting at most waitMs for a server (a long-running worker passes Infinity and a signal instead). */
export async function connectFleet(settings: NatsSettings, logger: Logger, waitMs: number, signal?: AbortSignal): Promise<NatsConnection> {
  const limit = Number.isFinite(waitMs) ? AbortSignal.timeout(waitMs) : undefined;
  const stop = limit && signal ? AbortSignal.any([limit, signal]) : (limit ?? signal);
  try {
    return await connectNats(settings, logger, { signal: stop });
  } catch (error) {
    if (limit?.aborted && error === limit.reason) throw new NatsUnreachableError(settings.servers, waitMs);
    throw error;
  }
}

export interface CommandArgs {
  positionals: string[];
  values: Record<string, string | boolean | undefined>;
}

/** node:util's parseArgs, its mistakes as UsageError. */
export function parseCommandArgs(argv: string[], options: NonNullable<ParseArgsConfig['options']>, command: string): CommandArgs {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true }) as CommandArgs;
  } catch (error) {
    throw new UsageError(`wasp ${command}: ${(error as Error).message.split('\n')[0]}`);
  }
}

/**
 * Runs a one-shot fleet command on a connection of its own, closed afterwards; a WaspError is
 * the command's failure (exit 1, its message on stderr).
 */
export async function onFleet(io: CommandIO, values: CommandArgs['values'], command: string, run: (nc: NatsConnection) => Promise<number>): Promise<number> {
  const nc = await connectFleet(natsSettings(values, `wasp:${command}:${process.pid}`), stderrLogger(io.stderr, 'warn'), CONNECT_WAIT_MS);
  try {
    return await run(nc);
  } catch (error) {
    if (!(error instanceof WaspError) || error instanceof UsageError) throw error;
    io.stderr.write(`error: ${error.message}\n`);
    return 1;
  } finally {
    await nc.close();
  }
}
