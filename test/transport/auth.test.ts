// Every way of authenticating to NATS, each against a real nats-server configured for it by a
// config file written here: the right setting runs a pipeline (a message goes through, SIGTERM
// drains, exit 0); each wrong setting ends `wasp run` with exit 1 within seconds, naming the cause.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credsAuthenticator, nkeys, type ConnectionOptions, type NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnWasp, type WaspProcess } from '../helpers/cli.js';
import { freePort, NatsServer, type NatsServerOptions } from '../helpers/nats-server.js';
import { textPlugin, writeConfig } from '../helpers/pipelines.js';
import { serverTlsConfig, writeCertificates } from '../helpers/certs.js';

let dir: string;
const servers: NatsServer[] = [];
const processes: WaspProcess[] = [];
const clients: NatsConnection[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wasp-auth-'));
});
afterEach(async () => {
  for (const p of processes.splice(0)) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await Promise.all(clients.splice(0).map((nc) => nc.close().catch(() => {})));
  await Promise.all(servers.splice(0).map((s) => s.dispose()));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function natsServer(options: NatsServerOptions): Promise<NatsServer> {
  const server = await NatsServer.start(options);
  servers.push(server);
  return server;
}

/** A pipeline reading auth.in, upper-casing, writing auth.out, with this `nats:` block (YAML flow mapping). */
function pipelineFile(nats: string): Promise<string> {
  return writeConfig(`name: auth
nats: ${nats}
plugins: { text: { path: ${textPlugin} } }
input: { subject: auth.in }
stages: [{ name: upper, plugin: text, function: upper }]
output: { subject: auth.out }
`);
}

function run(file: string): WaspProcess {
  const p = spawnWasp(['run', file]);
  processes.push(p);
  return p;
}

/** The right setting: the pipeline runs, a message goes through it, and SIGTERM drains and exits 0. */
async function runsWith(server: NatsServer, nats: string, client: ConnectionOptions): Promise<void> {
  const nc = await connect({ servers: server.url, ...client });
  clients.push(nc);
  const out = new Promise<string>((resolve) => nc.subscribe('auth.out', { max: 1, callback: (_, m) => resolve(m.string()) }));
  await nc.flush();
  const p = run(await pipelineFile(nats));
  await p.waitFor('running');
  // "running" may precede the server's taking the subscription: publish until the output shows
  let done = false;
  void out.then(() => (done = true));
  for (let i = 0; !done && i < 100; i++) {
    nc.publish('auth.in', 'hello');
    await Promise.race([out, new Promise((r) => setTimeout(r, 100))]);
  }
  expect(await out).toBe('HELLO');
  p.child.kill('SIGTERM');
  expect((await p.exited).code).toBe(0);
  expect(p.stderr()).toMatch(/SIGTERM: draining/);
}

/** A wrong setting: exit 1 within `ms`, and the message names the cause. */
async function refusedWith(nats: string, cause: RegExp, ms = 8_000): Promise<string> {
  const started = Date.now();
  const p = run(await pipelineFile(nats));
  const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms).unref());
  const exited = await Promise.race([p.exited, timeout]);
  if (exited === 'timeout') throw new Error(`wasp run did not exit within ${ms} ms:\n${p.stderr()}`);
  expect(exited.code).toBe(1);
  expect(p.stderr()).toMatch(cause);
  expect(Date.now() - started).toBeLessThan(ms);
  return p.stderr();
}

describe('user and password', () => {
  const config = 'authorization { user: wasp, password: "s3cret" }';

  it('runs with the right password', async () => {
    const server = await natsServer({ config, jetstream: false });
    await runsWith(server, `{ servers: "${server.url}", user: wasp, pass: s3cret }`, { user: 'wasp', pass: 's3cret' });
  });

  it('exits 1 on a wrong password, naming the user refused', async () => {
    const server = await natsServer({ config, jetstream: false });
    await refusedWith(`{ servers: "${server.url}", user: wasp, pass: wrong }`, /error: cannot connect to NATS at .*: authorization refused for user wasp \(Authorization Violation\)/);
  });
});

describe('token', () => {
  const config = 'authorization { token: "t0ken" }';

  it('runs with the right token', async () => {
    const server = await natsServer({ config, jetstream: false });
    await runsWith(server, `{ servers: "${server.url}", token: t0ken }`, { token: 't0ken' });
  });

  it('exits 1 on a wrong token', async () => {
    const server = await natsServer({ config, jetstream: false });
    await refusedWith(`{ servers: "${server.url}", token: nope }`, /authorization refused for nats.token \(Authorization Violation\)/);
  });
});

// JWTs as nats-server reads them (typ JWT, alg ed25519-nkey), signed with nkeys: what `nsc` makes.
function jwt(signer: nkeys.KeyPair, claims: Record<string, unknown>): string {
  const b64 = (s: string | Uint8Array) => Buffer.from(s).toString('base64url');
  const header = b64(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' }));
  const body: Record<string, unknown> = { iat: Math.floor(Date.now() / 1000), ...claims };
  body.jti = createHash('sha256').update(JSON.stringify(body)).digest('base64url');
  const payload = b64(JSON.stringify(body));
  return `${header}.${payload}.${b64(signer.sign(Buffer.from(`${header}.${payload}`)))}`;
}

/** An account under the operator, and a .creds file of one of its users. */
async function account(operator: nkeys.KeyPair, file: string): Promise<{ key: string; jwt: string; creds: string }> {
  const acct = nkeys.createAccount();
  const user = nkeys.createUser();
  const limits = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };
  const accountJwt = jwt(operator, { iss: operator.getPublicKey(), sub: acct.getPublicKey(), name: 'wasp', nats: { type: 'account', version: 2, limits } });
  const userJwt = jwt(acct, { iss: acct.getPublicKey(), sub: user.getPublicKey(), name: 'wasp', nats: { type: 'user', version: 2, pub: {}, sub: {}, subs: -1, data: -1, payload: -1 } });
  const seed = new TextDecoder().decode(user.getSeed());
  const creds = join(dir, file);
  await writeFile(
    creds,
    `-----BEGIN NATS USER JWT-----\n${userJwt}\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`,
  );
  return { key: acct.getPublicKey(), jwt: accountJwt, creds };
}

describe('creds (operator, account and user JWTs made here)', () => {
  let config: string;
  let good: string;
  let foreign: string;

  beforeAll(async () => {
    const operator = nkeys.createOperator();
    const operatorJwt = jwt(operator, { iss: operator.getPublicKey(), sub: operator.getPublicKey(), name: 'wasp-test', nats: { type: 'operator', version: 2 } });
    const trusted = await account(operator, 'good.creds');
    // a user of an account signed by another operator: a well-formed creds file the server cannot trust
    const stranger = await account(nkeys.createOperator(), 'foreign.creds');
    good = trusted.creds;
    foreign = stranger.creds;
    config = `operator: ${operatorJwt}\nresolver: MEMORY\nresolver_preload: {\n  ${trusted.key}: ${trusted.jwt}\n}\n`;
  });

  it('runs with the creds of a user of a trusted account', async () => {
    const server = await natsServer({ config, jetstream: false });
    await runsWith(server, `{ servers: "${server.url}", creds: ${good} }`, { authenticator: credsAuthenticator(await readFile(good)) });
  });

  it('exits 1 with creds the server does not trust', async () => {
    const server = await natsServer({ config, jetstream: false });
    await refusedWith(`{ servers: "${server.url}", creds: ${foreign} }`, /authorization refused for the creds in .*foreign\.creds \(Authorization Violation\)/);
  });

  it('exits 1 without creds', async () => {
    const server = await natsServer({ config, jetstream: false });
    await refusedWith(`{ servers: "${server.url}" }`, /authorization refused for no credentials/);
  });

  it('exits 1 on a creds file that is not one', async () => {
    const server = await natsServer({ config, jetstream: false });
    const broken = join(dir, 'broken.creds');
    await writeFile(broken, 'not a creds file\n');
    await refusedWith(`{ servers: "${server.url}", creds: ${broken} }`, /nats.creds .*broken\.creds cannot be used/);
  });
});

describe('TLS with a client certificate (server verify: true)', () => {
  const f = (name: string) => join(dir, name);
  const serverTls = (cert = 'server') => serverTlsConfig(dir, cert);
  const clientTls = () => ({ caFile: f('ca.pem'), certFile: f('client.pem'), keyFile: f('client.key') });
  const withCert = () => `ca: ${f('ca.pem')}, cert: ${f('client.pem')}, key: ${f('client.key')}`;

  beforeAll(() => writeCertificates(dir));

  it('runs with the right CA and a client certificate', async () => {
    const server = await natsServer({ config: serverTls(), jetstream: false });
    await runsWith(server, `{ servers: "${server.url}", tls: { ${withCert()} } }`, { tls: clientTls() });
  });

  it('exits 1 when the client has no certificate: certificate refused', async () => {
    const server = await natsServer({ config: serverTls(), jetstream: false });
    await refusedWith(`{ servers: "${server.url}", tls: { ca: ${f('ca.pem')} } }`, /TLS client certificate refused by the server: it requires one \(set nats.tls.cert and nats.tls.key\) \(ERR_SSL_\w+_ALERT_\w*CERTIFICATE/);
  });

  it('exits 1 when the client trusts another CA: certificate verification', async () => {
    const server = await natsServer({ config: serverTls(), jetstream: false });
    await refusedWith(
      `{ servers: "${server.url}", tls: { ca: ${f('other-ca.pem')}, cert: ${f('client.pem')}, key: ${f('client.key')} } }`,
      /TLS certificate verification failed: the server's certificate is not trusted by nats.tls.ca .*other-ca\.pem \(UNABLE_TO_VERIFY_LEAF_SIGNATURE/,
    );
  });

  it('exits 1 when only the client starts with the TLS handshake (handshakeFirst): handshake mismatch', async () => {
    const server = await natsServer({ config: serverTls(), jetstream: false });
    await refusedWith(
      `{ servers: "${server.url}", tls: { ${withCert()}, handshakeFirst: true } }`,
      /TLS handshake mismatch: nats.tls.handshakeFirst is set, but the server starts with the INFO exchange/,
    );
  });

  it('exits 1 when the server offers no TLS at all: not offered', async () => {
    const server = await natsServer({ jetstream: false });
    await refusedWith(`{ servers: "${server.url}", tls: { ${withCert()} } }`, /TLS not offered: nats.tls is set \(or a tls:\/\/ URL given\), but the server does not offer TLS/);
  });

  it('exits 1 for a tls:// URL to a server that offers no TLS, rather than talking plain text', async () => {
    const server = await natsServer({ jetstream: false });
    await refusedWith(`{ servers: "${server.url.replace('nats://', 'tls://')}" }`, /TLS not offered/);
  });

  // A nats-server that starts with the TLS handshake (handshake_first) needs 2.10; Debian's 2.9.10 knows no such key, so the case below emulates that server.

  it('exits 1 when only the server starts with the TLS handshake (emulated: a Node TLS server that sends INFO after the handshake, as handshake_first does)', async () => {
    const port = await freePort();
    const tlsServer: TlsServer = createTlsServer(
      { key: await readFile(f('server.key')), cert: await readFile(f('server.pem')), handshakeTimeout: 2_000 },
      (socket) => socket.end(`INFO {"server_id":"emulated","version":"2.10.4","proto":1,"tls_required":true,"max_payload":1048576}\r\n`),
    );
    const sockets = new Set<import('node:net').Socket>();
    tlsServer.on('connection', (socket) => {
      sockets.add(socket);
      // as nats-server does, drop a connection that has not finished its TLS handshake in time (tls timeout, 2 s)
      socket.setTimeout(2_000, () => socket.destroy());
    });
    await new Promise<void>((resolve) => tlsServer.listen(port, '127.0.0.1', resolve));
    try {
      await refusedWith(
        `{ servers: "nats://127.0.0.1:${port}", tls: { ${withCert()} } }`,
        /TLS handshake mismatch: the server expects the TLS handshake first \(handshake_first\); set nats.tls.handshakeFirst: true/,
      );
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => tlsServer.close(resolve));
    }
  });

  it('exits 1 when the server comes back after a restart with a certificate the client does not trust', async () => {
    const server = await natsServer({ config: serverTls(), jetstream: false });
    const p = run(await pipelineFile(`{ servers: "${server.url}", tls: { ${withCert()} } }`));
    await p.waitFor('running');
    const untrusted = `tls {\n  cert_file: "${f('other-server.pem')}"\n  key_file: "${f('other-server.key')}"\n  ca_file: "${f('ca.pem')}"\n  verify: true\n}\n`;
    await server.restart({ config: untrusted, jetstream: false });
    await p.waitFor('nats: disconnected');
    const exited = await Promise.race([p.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 15_000).unref())]);
    if (exited === 'timeout') throw new Error(`wasp run did not exit:\n${p.stderr()}`);
    expect(exited.code).toBe(1);
    expect(p.stderr()).toMatch(/error: cannot connect to NATS at .*: TLS certificate verification failed/);
    expect(p.stderr()).toMatch(/summary: \d+ in/);
  });
});
