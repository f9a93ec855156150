// The NATS connection a pipeline runs on: settings from the config, and a
// connection that keeps reconnecting for as long as the process runs.
import { readFile } from 'node:fs/promises';
import { credsAuthenticator, type NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import type { Logger } from '../engine/logger.js';

export interface NatsSettings {
  servers: string[];
  user?: string;
  pass?: string;
  token?: string;
  /** path of a .creds file */
  creds?: string;
  tls?: { ca?: string; cert?: string; key?: string; handshakeFirst?: boolean };
  name?: string;
}

/** Connects and keeps reconnecting for as long as the process runs: NATS going away is an interruption, not an end. */
export async function connectNats(settings: NatsSettings, logger: Logger): Promise<NatsConnection> {
  const nc = await connect({
    servers: settings.servers,
    user: settings.user,
    pass: settings.pass,
    token: settings.token,
    authenticator: settings.creds ? credsAuthenticator(new Uint8Array(await readFile(settings.creds))) : undefined,
    tls: settings.tls
      ? { caFile: settings.tls.ca, certFile: settings.tls.cert, keyFile: settings.tls.key, handshakeFirst: settings.tls.handshakeFirst }
      : undefined,
    name: settings.name ?? 'wasp',
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: true,
  });
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect' || status.type === 'reconnect') logger.warn(`nats: ${status.type}`, { server: status.server });
    }
  })();
  return nc;
}
