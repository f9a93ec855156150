// The fleet commands reach a NATS that wants credentials the way `wasp run` does: client
// certificates and a CA by option (or environment), user and password or a token from the
// environment only. Each against a real nats-server configured for it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnWasp, wasp, type WaspProcess } from '../helpers/cli.js';
import { serverTlsConfig, writeCertificates } from '../helpers/certs.js';
import { NatsServer } from '../helpers/nats-server.js';
import { textPlugin, writeConfig } from '../helpers/pipelines.js';

let dir: string;
const servers: NatsServer[] = [];
const workers: WaspProcess[] = [];
const f = (name: string) => join(dir, name);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wasp-fleet-auth-'));
  await writeCertificates(dir);
});
afterEach(async () => {
  for (const w of workers.splice(0)) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  await Promise.all(servers.splice(0).map((s) => s.dispose()));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function natsServer(config: string): Promise<NatsServer> {
  const server = await NatsServer.start({ config });
  servers.push(server);
  return server;
}

const pipeline = `
name: secure
plugins:
  text: { path: ${textPlugin} }
input: { subject: secure.in }
stages:
  - { name: upper, plugin: text, function: upper }
output: { subject: secure.out }
`;

describe('fleet commands against a NATS that wants credentials', () => {
  it('TLS with a client certificate: deploy --wait, a worker and ls with --tls-*; without them, a clear refusal', async () => {
    const server = await natsServer(serverTlsConfig(dir));
    const tls = ['--nats', server.url, '--tls-ca', f('ca.pem'), '--tls-cert', f('client.pem'), '--tls-key', f('client.key')];
    const worker = spawnWasp(['worker', ...tls]);
    workers.push(worker);
    await worker.waitFor('taking pipelines *');
    const deployed = await wasp(['deploy', await writeConfig(pipeline), ...tls, '--wait']);
    expect(deployed.code, deployed.stderr).toBe(0);
    expect(deployed.stdout).toMatch(/running on 1 worker\(s\)/);

    // a message goes through the worker's pipeline, over TLS
    const nc = await connect({ servers: server.url, tls: { caFile: f('ca.pem'), certFile: f('client.pem'), keyFile: f('client.key') } });
    try {
      const out = nc.subscribe('secure.out', { max: 1 });
      await nc.flush();
      nc.publish('secure.in', 'hello');
      for await (const m of out) expect(m.string()).toBe('HELLO');
    } finally {
      await nc.close();
    }
    // the environment says the same
    const ls = await wasp(['ls'], { env: { WASP_NATS_URL: server.url, WASP_NATS_TLS_CA: f('ca.pem'), WASP_NATS_TLS_CERT: f('client.pem'), WASP_NATS_TLS_KEY: f('client.key') } });
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toMatch(/^secure\s+1\s/m);

    const noCert = await wasp(['ls', '--nats', server.url, '--tls-ca', f('ca.pem')]);
    expect(noCert.code).toBe(1);
    expect(noCert.stderr).toMatch(/TLS client certificate refused by the server/);
    const wrongCa = await wasp(['ls', '--nats', server.url, '--tls-ca', f('other-ca.pem'), '--tls-cert', f('client.pem'), '--tls-key', f('client.key')]);
    expect(wrongCa.code).toBe(1);
    expect(wrongCa.stderr).toMatch(/certificate verification failed/);
    worker.child.kill('SIGTERM');
    expect((await worker.exited).code).toBe(0);
  });

  it('user and password, or a token, from the environment; wrong ones refused by name', async () => {
    const server = await natsServer('authorization {\n  users: [ { user: fleet, password: s3cret } ]\n}\n');
    const right = await wasp(['ls', '--nats', server.url], { env: { WASP_NATS_USER: 'fleet', WASP_NATS_PASSWORD: 's3cret' } });
    expect(right.code, right.stderr).toBe(0);
    expect(right.stdout).toBe('no pipelines deployed\n');
    const wrong = await wasp(['ls', '--nats', server.url], { env: { WASP_NATS_USER: 'fleet', WASP_NATS_PASSWORD: 'guess' } });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/user fleet/);

    const tokenServer = await natsServer('authorization {\n  token: t0ken\n}\n');
    expect((await wasp(['ls', '--nats', tokenServer.url], { env: { WASP_NATS_TOKEN: 't0ken' } })).code).toBe(0);
    expect((await wasp(['ls', '--nats', tokenServer.url])).code).toBe(1);
  });

  it('a creds file that is not one, and half a client certificate, are refused before any wait', async () => {
    const broken = await writeConfig('not a creds file\n', 'broken.creds');
    const creds = await wasp(['status', '--nats', 'nats://127.0.0.1:1', '--creds', broken]);
    expect(creds.code).toBe(1);
    expect(creds.stderr).toMatch(/broken\.creds cannot be used/);
    const half = await wasp(['ls', '--tls-cert', f('client.pem')]);
    expect(half.code).toBe(2);
    expect(half.stderr).toMatch(/--tls-cert and --tls-key go together/);
  });

  it('a file option that names no file, or a URL nats.js cannot dial, is a usage mistake naming the option (it read "set nats.tls.ca" and "ENOENT: ENOENT")', async () => {
    const missing = await wasp(['ls', '--tls-ca', '/nonexistent/ca.pem']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--tls-ca: no such file: \/nonexistent\/ca\.pem/);
    const dir = await wasp(['status'], { env: { WASP_NATS_TLS_CA: tmpdir() } });
    expect(dir.code).toBe(2);
    expect(dir.stderr).toMatch(/WASP_NATS_TLS_CA: .* is not a file/);
    const ws = await wasp(['ls', '--nats', 'ws://127.0.0.1:1']);
    expect(ws.code).toBe(2);
    expect(ws.stderr).toMatch(/--nats: ws:\/\/127\.0\.0\.1:1 is not a NATS server URL/);
  });
});
