// The NATS connection a pipeline runs on: settings from the config, a first connection that waits
// for a server but gives up on what waiting cannot fix, and a connection that then keeps
// reconnecting for as long as the process runs.
import { readFile } from 'node:fs/promises';
import { connect as dialTcp, isIP, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { connect as dialTls, type TLSSocket } from 'node:tls';
import { JetStreamApiCodes } from '@nats-io/jetstream';
import {
  AuthorizationError,
  credsAuthenticator,
  Empty,
  RequestError,
  TimeoutError,
  UserAuthenticationExpiredError,
  type Authenticator,
  type ConnectionOptions,
  type NatsConnection,
} from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import type { Logger } from '../engine/logger.js';
import type { NatsConfig } from '../pipeline/config/schema.js';
import { JetStreamUnavailableError, NatsConnectionError, type TlsFailure } from './errors.js';
import { encodeNatsFromPool } from './nats-encoding.js';
import { isTlsUrl } from './server-url.js';

/** How to reach NATS: a config's nats: key without what belongs to the pipeline (its publish timings). */
export type NatsSettings = Omit<NatsConfig, 'publishAckTimeoutMs' | 'publishRetryMs'>;

export interface ConnectOptions {
  /** the pipeline's name, part of the default connection name */
  pipeline?: string;
  /** stops waiting for a first server: connectNats then rejects with `signal.reason` */
  signal?: AbortSignal;
  /** called once if the connection ends for good after it was up (credentials refused or TLS failing on reconnect) */
  onLost?: (error: NatsConnectionError) => void;
}

/** How long one attempt waits for a server to answer (nats.go's default; nats.js waits 20 s). */
const ATTEMPT_TIMEOUT_MS = 2_000;
/** Between attempts at a first connection: 250 ms doubling up to this. */
const MAX_RETRY_WAIT_MS = 2_000;
/** While a TLS connection is down, how often to check whether the server refuses it for good. */
const TLS_RECHECK_MS = 5_000;
/** How long a diagnosis waits for each answer from the server. */
const DIAGNOSIS_TIMEOUT_MS = 1_000;

/** The name the server lists the connection under: `nats.name`, else `wasp:<pipeline>:<host>:<pid>`. */
export function connectionName(settings: NatsSettings, pipeline?: string): string {
  return settings.name ?? ['wasp', pipeline, hostname(), process.pid].filter((p) => p !== undefined).join(':');
}

/**
 * Connects, waiting for a server for as long as it takes, but failing at once with a
 * NatsConnectionError on what retrying cannot fix: credentials refused, certificates failing, a
 * TLS handshake mismatch. Once up, the connection reconnects for as long as the process runs: NATS
 * going away is an interruption, not an end. State changes are logged, not attempts.
 */
export async function connectNats(settings: NatsSettings, logger: Logger, options: ConnectOptions = {}): Promise<NatsConnection> {
  const { signal } = options;
  const name = connectionName(settings, options.pipeline);
  const where = settings.servers.join(', ');
  const natsOptions: ConnectionOptions = {
    servers: settings.servers,
    user: settings.user,
    pass: settings.pass,
    token: settings.token,
    authenticator: settings.creds ? await readCreds(settings.creds, where) : undefined,
    // a tls:// URL asks for TLS as nats.tls does: without options nats.js would settle for plain text
    tls: settings.tls
      ? { caFile: settings.tls.ca, certFile: settings.tls.cert, keyFile: settings.tls.key, handshakeFirst: settings.tls.handshakeFirst }
      : settings.servers.some(isTlsUrl)
        ? {}
        : undefined,
    name,
    timeout: ATTEMPT_TIMEOUT_MS,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    // nats.js would retry a first connection silently whatever the failure; the loop below tells
    // the failures retrying fixes from those it cannot
    waitOnFirstConnect: false,
    // nats.js otherwise makes an Error (a stack trace) for every request, a JetStream publish
    // included, in case it fails: a third of a JetStream pipeline's time. Failures are told apart
    // by class (failures.ts), not by where they were made.
    noAsyncTraces: true,
  };

  encodeNatsFromPool();
  logger.info(`connecting to NATS at ${where} as ${name}`);
  let waitingFor: string | undefined;
  let nc: NatsConnection | undefined;
  for (let attempt = 1; nc === undefined; attempt++) {
    signal?.throwIfAborted();
    try {
      nc = await abortable(connect(natsOptions), signal, (late) => void late.close());
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      const fatal = classify(error, where, settings) ?? (mayHideTlsFailure(error) ? await diagnoseAll(settings, name) : undefined);
      if (fatal) throw fatal;
      const why = transientReason(error);
      logger.trace(`nats: attempt ${attempt} failed: ${why}`);
      if (why !== waitingFor) {
        logger.warn(`waiting for NATS at ${where}: ${why}; retrying until a server answers`);
        waitingFor = why;
      }
      await sleep(Math.min(250 * 2 ** (attempt - 1), MAX_RETRY_WAIT_MS), signal);
    }
  }
  logger.info(`connected to NATS at ${nc.getServer()} (nats-server ${nc.info?.version ?? 'unknown'}) as ${name}`);
  watch(nc, settings, name, logger, options.onLost);
  return nc;
}

/** Logs every state change of a connection that is up, and reports its end when retrying cannot help. */
function watch(nc: NatsConnection, settings: NatsSettings, name: string, logger: Logger, onLost: ConnectOptions['onLost']): void {
  let lost = false;
  const lose = (error: NatsConnectionError): void => {
    if (lost) return;
    lost = true;
    onLost?.(error);
  };
  let down = false;
  const usesTls = settings.tls !== undefined || nc.info?.tls_required === true || settings.servers.some(isTlsUrl);
  // nats.js retries a reconnect that TLS refuses without saying why: check now and then while down
  const recheck = async (): Promise<void> => {
    while (down && !nc.isClosed()) {
      await sleep(TLS_RECHECK_MS, undefined, true);
      if (!down || nc.isClosed()) return;
      const fatal = await diagnoseAll(settings, name);
      if (fatal && down && !nc.isClosed()) {
        lose(fatal);
        await nc.close();
      }
    }
  };
  void (async () => {
    for await (const status of nc.status()) {
      switch (status.type) {
        case 'disconnect':
          logger.warn(`nats: disconnected from ${status.server}; reconnecting`);
          if (!down) {
            down = true;
            if (usesTls) void recheck();
          }
          break;
        case 'reconnect':
          down = false;
          logger.info(`nats: reconnected to ${status.server}`);
          break;
        case 'error':
          logger.warn(`nats: server error: ${status.error.message}`);
          break;
        case 'ldm':
          logger.warn(`nats: ${status.server} is entering lame duck mode; moving to another server`);
          break;
        case 'staleConnection':
          logger.warn('nats: connection stale (no PONG in time); reconnecting');
          break;
        case 'slowConsumer':
          logger.warn(`nats: slow consumer on ${status.sub.getSubject()}: ${status.pending} messages pending`);
          break;
        default:
          // reconnecting (one per attempt), ping, update, forceReconnect, close: too frequent or said elsewhere
          logger.trace(`nats: ${status.type}`);
      }
    }
  })();
  void nc.closed().then((error) => {
    down = false;
    // undefined: closed or drained on purpose
    if (error) lose(classify(error, nc.getServer(), settings) ?? new NatsConnectionError(`connection to NATS at ${nc.getServer()} closed: ${error.message}`, 'closed', nc.getServer(), undefined, undefined, { cause: error }));
  });
}

async function readCreds(path: string, where: string): Promise<Authenticator> {
  let authenticator: Authenticator;
  try {
    authenticator = credsAuthenticator(new Uint8Array(await readFile(path)));
    // nats.js parses creds only when the server asks for them: parse them now, with a dummy nonce
    authenticator('wasp-check');
  } catch (cause) {
    throw new NatsConnectionError(`nats.creds ${path} cannot be used: ${(cause as Error).message}`, 'configuration', where, undefined, codeOf(cause), { cause });
  }
  return authenticator;
}

/** Failures that retrying cannot fix, from what nats.js threw; undefined for the rest. */
function classify(error: unknown, server: string, settings: NatsSettings): NatsConnectionError | undefined {
  if (error instanceof AuthorizationError || error instanceof UserAuthenticationExpiredError) {
    const expired = error instanceof UserAuthenticationExpiredError;
    return new NatsConnectionError(
      `cannot connect to NATS at ${server}: authorization ${expired ? 'expired' : 'refused'} for ${credentialsUsed(settings)} (${error.message})`,
      'authorization',
      server,
      undefined,
      undefined,
      { cause: error },
    );
  }
  const code = codeOf(error);
  const failure = code === undefined ? undefined : tlsFailureOf(code);
  return failure && tlsError(server, failure, code!, error, settings);
}

function credentialsUsed(settings: NatsSettings): string {
  if (settings.creds) return `the creds in ${settings.creds}`;
  if (settings.token) return 'nats.token';
  if (settings.user) return `user ${settings.user}`;
  if (settings.tls?.cert) return `the client certificate ${settings.tls.cert}`;
  return 'no credentials (set nats.user and nats.pass, nats.token or nats.creds)';
}

// OpenSSL's certificate verification results as Node.js names them (the `code` of the error).
const VERIFICATION_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_CRL', 'UNABLE_TO_DECRYPT_CERT_SIGNATURE', 'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY', 'CERT_SIGNATURE_FAILURE', 'CRL_SIGNATURE_FAILURE', 'CERT_NOT_YET_VALID', 'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID', 'CRL_HAS_EXPIRED', 'ERROR_IN_CERT_NOT_BEFORE_FIELD', 'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'ERROR_IN_CRL_LAST_UPDATE_FIELD', 'ERROR_IN_CRL_NEXT_UPDATE_FIELD', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_CHAIN_TOO_LONG', 'CERT_REVOKED', 'INVALID_CA',
  'PATH_LENGTH_EXCEEDED', 'INVALID_PURPOSE', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'HOSTNAME_MISMATCH', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);
// Plain text where a TLS record was expected: one side started with the handshake, the other did not.
const MISMATCH_CODES = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_HTTP_REQUEST', 'ERR_SSL_UNKNOWN_PROTOCOL']);

/** What failed in TLS, from a Node.js / OpenSSL error code; undefined for codes that are not TLS's or that retrying may fix. */
function tlsFailureOf(code: string): TlsFailure | undefined {
  if (VERIFICATION_CODES.has(code)) return 'certificate-verification';
  if (MISMATCH_CODES.has(code)) return 'handshake-mismatch';
  // alerts the server sent: ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED, ..._ALERT_BAD_CERTIFICATE, ..._ALERT_UNKNOWN_CA
  if (/^ERR_SSL_(SSLV3|TLSV1|TLSV13)_ALERT_/.test(code)) return /CERTIFICATE|UNKNOWN_CA|ACCESS_DENIED/.test(code) ? 'certificate-refused' : 'handshake';
  // unusable PEM files, a key that does not match its certificate
  if (code.startsWith('ERR_OSSL_') || code === 'ENOENT' || code === 'EACCES') return 'client-configuration';
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return undefined;
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return 'handshake';
  return undefined;
}

function tlsError(server: string, failure: TlsFailure, code: string | undefined, cause: unknown, settings: NatsSettings): NatsConnectionError {
  const tls = settings.tls ?? {};
  const what: Record<TlsFailure, string> = {
    'certificate-verification': `TLS certificate verification failed: the server's certificate is not trusted ${tls.ca ? `by nats.tls.ca ${tls.ca}` : '(set nats.tls.ca to the CA that signed it)'}`,
    'certificate-refused': `TLS client certificate refused by the server: ${tls.cert ? `it does not accept nats.tls.cert ${tls.cert}` : 'it requires one (set nats.tls.cert and nats.tls.key)'}`,
    'handshake-mismatch': tls.handshakeFirst
      ? 'TLS handshake mismatch: nats.tls.handshakeFirst is set, but the server starts with the INFO exchange (it is not configured with handshake_first)'
      : 'TLS handshake mismatch: the server expects the TLS handshake first (handshake_first); set nats.tls.handshakeFirst: true',
    'not-offered': 'TLS not offered: nats.tls is set (or a tls:// URL given), but the server does not offer TLS',
    'client-configuration': 'TLS client configuration unusable: check nats.tls.ca, nats.tls.cert and nats.tls.key',
    handshake: 'TLS handshake failed',
  };
  const detail = cause === undefined ? '' : ` (${[code, reasonOf(cause)].filter(Boolean).join(': ')})`;
  return new NatsConnectionError(`cannot connect to NATS at ${server}: ${what[failure]}${detail}`, 'tls', server, failure, code, { cause });
}

/** The `code` of an error or of the first of its causes that has one (Node.js and OpenSSL errors carry codes). */
function codeOf(error: unknown): string | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** OpenSSL errors carry a short `reason`; their message is a long internal trace. */
function reasonOf(error: unknown): string {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const reason = (e as { reason?: unknown }).reason;
    if (typeof reason === 'string') return reason;
    if (e.cause === undefined) return e.message;
  }
  return String(error);
}

// Codes with no connection at all behind them: nothing TLS could have refused.
const NO_CONNECTION_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * Whether a failure nats.js reports without a telling class or code may be TLS refusing for good.
 * Under TLS 1.3 a server refuses the client's certificate after the client's side of the
 * handshake is done, and nats.js then only waits out its timeout; a server expecting the TLS
 * handshake first answers nothing; "server does not support 'tls'" is a ConnectionError with
 * nothing but its message to tell it from "connection refused".
 */
function mayHideTlsFailure(error: unknown): boolean {
  const code = codeOf(error);
  return code === undefined || !NO_CONNECTION_CODES.has(code);
}

function transientReason(error: unknown): string {
  if (error instanceof TimeoutError) return `no answer within ${ATTEMPT_TIMEOUT_MS / 1000} s`;
  const code = codeOf(error);
  if (code === 'ECONNREFUSED') return 'connection refused';
  return code ? `${code}: ${reasonOf(error)}` : reasonOf(error);
}

/** Diagnoses each server in turn; the first failure retrying cannot fix, if any. */
async function diagnoseAll(settings: NatsSettings, name: string): Promise<NatsConnectionError | undefined> {
  for (const server of settings.servers) {
    const fatal = await diagnose(server, settings, name);
    if (fatal) return fatal;
  }
  return undefined;
}

/**
 * Dials one server the way nats.js does (TCP, INFO, TLS upgrade or TLS first, CONNECT and PING)
 * and tells a TLS failure from Node.js's and OpenSSL's error codes; undefined when it finds none.
 * Only used after an attempt failed without saying why.
 */
async function diagnose(server: string, settings: NatsSettings, name: string): Promise<NatsConnectionError | undefined> {
  const url = new URL(server.includes('://') ? server : `nats://${server}`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || 4222);
  const wantsTls = settings.tls !== undefined || url.protocol === 'tls:';
  const sockets: Socket[] = [];
  const track = <S extends Socket>(socket: S): S => {
    socket.on('error', () => {}); // what comes after the diagnosis is over is of no interest
    sockets.push(socket);
    return socket;
  };
  const fail = (failure: TlsFailure, code?: string, cause?: unknown) => tlsError(server, failure, code, cause, settings);
  try {
    const files = await tlsFiles(settings);
    const secure = async (socket?: Socket): Promise<TLSSocket> => {
      const tls = dialTls({ socket, host, port, servername: isIP(host) ? undefined : host, rejectUnauthorized: true, ...files });
      track(tls);
      await new Promise<void>((resolve, reject) => {
        tls.once('secureConnect', resolve);
        tls.once('error', reject);
        tls.once('close', () => reject(new Error('closed during the TLS handshake')));
        tls.setTimeout(DIAGNOSIS_TIMEOUT_MS, () => reject(new Error('TLS handshake timed out')));
      });
      return tls;
    };
    const connectAndPing = async (tls: TLSSocket): Promise<undefined> => {
      // a server refusing the client's certificate under TLS 1.3 says so only now, as an alert
      const connect = { verbose: false, pedantic: false, tls_required: true, name: `${name} (diagnosis)`, lang: 'wasp', version: '1', protocol: 1 };
      tls.write(`CONNECT ${JSON.stringify(connect)}\r\nPING\r\n`);
      await readLine(tls); // PONG, or -ERR for the missing credentials: TLS is fine either way
      return undefined;
    };

    if (settings.tls?.handshakeFirst) {
      const tls = await secure();
      await readLine(tls);
      return await connectAndPing(tls);
    }
    const socket = track(await dialSocket(host, port));
    const line = await readLine(socket);
    if (line === undefined) {
      if (!wantsTls) return undefined;
      // silence: a server waiting for the TLS handshake first answers one
      try {
        await secure();
      } catch {
        return undefined;
      }
      return fail('handshake-mismatch');
    }
    const info = parseInfo(line);
    if (info === undefined) return undefined;
    if (wantsTls && !info.tls_required && !info.tls_available) return fail('not-offered');
    if (!info.tls_required && !(info.tls_available && wantsTls)) return undefined;
    return await connectAndPing(await secure(socket));
  } catch (error) {
    const code = codeOf(error);
    const failure = code === undefined ? undefined : tlsFailureOf(code);
    return failure && fail(failure, code, error);
  } finally {
    for (const s of sockets) s.destroy();
  }
}

async function tlsFiles(settings: NatsSettings): Promise<{ ca?: Buffer; cert?: Buffer; key?: Buffer }> {
  const tls = settings.tls ?? {};
  return {
    ca: tls.ca === undefined ? undefined : await readFile(tls.ca),
    cert: tls.cert === undefined ? undefined : await readFile(tls.cert),
    key: tls.key === undefined ? undefined : await readFile(tls.key),
  };
}

function dialSocket(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = dialTcp({ host, port }, () => {
      socket.setTimeout(0);
      resolve(socket);
    });
    socket.once('error', reject);
    socket.setTimeout(DIAGNOSIS_TIMEOUT_MS, () => {
      socket.destroy();
      reject(new Error('connect timed out'));
    });
  });
}

/** The first line the server sends; undefined when it sends none in time or closes quietly. */
function readLine(socket: Socket): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    let text = '';
    const done = (line: string | undefined): void => {
      clearTimeout(timer);
      socket.removeAllListeners('data');
      resolve(line);
    };
    const timer = setTimeout(() => done(undefined), DIAGNOSIS_TIMEOUT_MS);
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const end = text.indexOf('\r\n');
      if (end >= 0) done(text.slice(0, end));
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once('close', () => done(undefined));
  });
}

function parseInfo(line: string): { tls_required?: boolean; tls_available?: boolean } | undefined {
  if (!line.startsWith('INFO ')) return undefined;
  try {
    return JSON.parse(line.slice(5)) as { tls_required?: boolean; tls_available?: boolean };
  } catch {
    return undefined;
  }
}

/** A promise, or signal.reason as soon as the signal aborts; what settles later goes to `late`. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined, late: (value: T) => void): Promise<T> {
  if (!signal) return promise;
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) late(value);
        else resolve(value);
      },
      (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function sleep(ms: number, signal?: AbortSignal, unref = false): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    if (unref) timer.unref();
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** JetStream's account info: the request a stream input asks first, and cannot start without an answer to. */
const JETSTREAM_INFO = '$JS.API.INFO';
const JETSTREAM_TIMEOUT_MS = 5_000;

/**
 * Asks JetStream for the account's info, failing with a JetStreamUnavailableError that names the
 * request when JetStream is not enabled or does not answer in time.
 */
export async function requireJetStream(nc: NatsConnection, timeoutMs = JETSTREAM_TIMEOUT_MS): Promise<void> {
  const server = nc.getServer();
  let reply;
  try {
    reply = await nc.request(JETSTREAM_INFO, Empty, { timeout: timeoutMs });
  } catch (cause) {
    if (cause instanceof RequestError && cause.isNoResponders()) {
      throw new JetStreamUnavailableError(`JetStream is not enabled on NATS at ${server}: nothing answers ${JETSTREAM_INFO} (JetStream account info); start nats-server with JetStream (-js)`, 'not-enabled', JETSTREAM_INFO, timeoutMs, { cause });
    }
    if (cause instanceof TimeoutError) {
      throw new JetStreamUnavailableError(`JetStream did not answer ${JETSTREAM_INFO} (JetStream account info) from NATS at ${server} within ${timeoutMs / 1000} s`, 'timeout', JETSTREAM_INFO, timeoutMs, { cause });
    }
    throw cause;
  }
  const answer = reply.json<{ error?: { code: number; err_code?: number; description?: string } }>();
  if (answer.error) {
    const disabled = answer.error.err_code === JetStreamApiCodes.JetStreamNotEnabledForAccount;
    throw new JetStreamUnavailableError(
      `JetStream ${disabled ? 'is not enabled for this account' : 'refused'} ${JETSTREAM_INFO} on NATS at ${server}: ${answer.error.description ?? answer.error.code}`,
      'not-enabled',
      JETSTREAM_INFO,
      timeoutMs,
    );
  }
}

/** Whether the connection is up now: false from a disconnect until the reconnect, and once closed. */
export function trackConnection(nc: NatsConnection): () => boolean {
  let up = true;
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') up = false;
      else if (status.type === 'reconnect') up = true;
    }
  })();
  return () => up && !nc.isClosed();
}
