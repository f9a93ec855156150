// `wasp run` against NATS when things go wrong: what it waits for (a server not up yet, a server
// going away) it waits for, saying so once per change; what fails at start-up ends the process
// with exit 1 and the reason; a signal during start-up ends it at once.
import { execFileSync } from 'node:child_process';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, spawnWasp, type WaspProcess } from '../helpers/cli.js';
import { freePort, NatsServer, type NatsServerOptions } from '../helpers/nats-server.js';
import { textPlugin, writeConfig } from '../helpers/pipelines.js';

const servers: NatsServer[] = [];
const processes: WaspProcess[] = [];
const clients: NatsConnection[] = [];

afterEach(async () => {
  for (const p of processes.splice(0)) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await Promise.all(clients.splice(0).map((nc) => nc.close().catch(() => {})));
  await Promise.all(servers.splice(0).map((s) => s.dispose()));
});

async function natsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const server = await NatsServer.start(options);
  servers.push(server);
  return server;
}

async function client(server: NatsServer): Promise<NatsConnection> {
  const nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  clients.push(nc);
  return nc;
}

function run(yaml: Promise<string>, ...args: string[]): Promise<WaspProcess> {
  return yaml.then((file) => {
    const p = spawnWasp(['run', file, ...args]);
    processes.push(p);
    return p;
  });
}

const stages = `plugins: { text: { path: ${textPlugin} } }
stages: [{ name: upper, plugin: text, function: upper }]`;
const subjectPipeline = (url: string, extra = '') => writeConfig(`name: fails
nats: { servers: "${url}"${extra} }
${stages}
input: { subject: fails.in }
output: { subject: fails.out }
`);
const streamPipeline = (url: string) => writeConfig(`name: fails-js
nats: { servers: "${url}" }
${stages}
input: { stream: FAILS, consumer: upper, subject: fails.in }
output: { subject: fails.out }
deadLetter: { subject: fails.dlq }
`);

/** The exit, or an error with what the process printed if it has not exited within `ms`. */
async function exitWithin(p: WaspProcess, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms).unref());
  const exited = await Promise.race([p.exited, timeout]);
  if (exited === 'timeout') throw new Error(`wasp run did not exit within ${ms} ms:\n${p.stderr()}`);
  return exited;
}

/** Publishes until one output shows on fails.out: a subscription is not taken the instant "running" is printed. */
async function roundTrip(nc: NatsConnection, text: string): Promise<string> {
  const out = new Promise<string>((resolve) => nc.subscribe('fails.out', { max: 1, callback: (_, m) => resolve(m.string()) }));
  let done = false;
  void out.then(() => (done = true));
  for (let i = 0; !done && i < 100; i++) {
    nc.publish('fails.in', text);
    await Promise.race([out, new Promise((r) => setTimeout(r, 100))]);
  }
  return out;
}

const count = (text: string, pattern: RegExp) => text.split('\n').filter((l) => pattern.test(l)).length;

describe('wasp run: start-up failures end the process', () => {
  it('exits 1 when a stream input meets a server without JetStream, naming the request', async () => {
    const server = await natsServer({ jetstream: false });
    const started = Date.now();
    const p = await run(streamPipeline(server.url));
    expect((await exitWithin(p, 10_000)).code).toBe(1);
    expect(p.stderr()).toMatch(/error: JetStream is not enabled on NATS at .*: nothing answers \$JS\.API\.INFO \(JetStream account info\)/);
    // well within the 5 s run.ts gives a process to end by itself: the connection was closed, not left to that
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('exits 1 when a JetStream API request times out, naming the request and how long it waited', async () => {
    const server = await natsServer({ jetstream: false });
    // something takes JetStream API requests and never answers them
    const nc = await client(server);
    nc.subscribe('$JS.API.>', { callback: () => {} });
    await nc.flush();
    const started = Date.now();
    const p = await run(streamPipeline(server.url));
    expect((await exitWithin(p, 15_000)).code).toBe(1);
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(p.stderr()).toMatch(/error: JetStream did not answer \$JS\.API\.INFO \(JetStream account info\) from NATS at .* within 5 s/);
  });
});

describe('wasp run: waiting for NATS', () => {
  it('waits for a server not up yet, says so once, then runs through a restart, logging each change', async () => {
    const port = await freePort();
    const url = `nats://127.0.0.1:${port}`;
    const p = await run(subjectPipeline(url), '--log-level', 'trace');
    // several attempts, one line saying it waits
    await p.waitFor(/attempt 4 failed: connection refused/);
    expect(count(p.stderr(), /waiting for NATS at/)).toBe(1);
    expect(p.stderr()).toMatch(new RegExp(`WARN  waiting for NATS at ${url}: connection refused; retrying until a server answers`));

    const server = await natsServer({ port, jetstream: false });
    await p.waitFor(`connected to NATS at 127.0.0.1:${port}`);
    await p.waitFor('running');
    const nc = await client(server);
    expect(await roundTrip(nc, 'before')).toBe('BEFORE');

    await server.restart();
    await p.waitFor(/nats: disconnected from .*; reconnecting/);
    await p.waitFor(/nats: reconnected to/);
    expect(await roundTrip(nc, 'after')).toBe('AFTER');
    expect(count(p.stderr(), /nats: disconnected/)).toBe(1);

    p.child.kill('SIGTERM');
    expect((await exitWithin(p, 10_000)).code).toBe(0);
  });

  it('drains on SIGTERM while NATS is away, and exits 0 without waiting for it', async () => {
    const server = await natsServer({ jetstream: false });
    const p = await run(subjectPipeline(server.url));
    await p.waitFor('running');
    await server.stop();
    await p.waitFor('nats: disconnected');
    p.child.kill('SIGTERM');
    expect((await exitWithin(p, 4_000)).code).toBe(0);
    expect(p.stderr()).toMatch(/SIGTERM: draining/);
    expect(p.stderr()).toMatch(/summary: 0 in/);
  });

  it('exits 0 on a signal while it still reads its file, saying so (not 143 and no word)', async () => {
    // the file is a FIFO: wasp run is surely reading it (its handler in place) once a writer can open it
    const dir = await mkdtemp(join(tmpdir(), 'wasp-fifo-'));
    const fifo = join(dir, 'pipeline.yaml');
    execFileSync('mkfifo', [fifo]);
    const p = spawnWasp(['run', fifo]);
    processes.push(p);
    const writer = await open(fifo, 'w');
    p.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200)); // the signal is handled while the read waits
    await writer.writeFile(`name: early\n${stages}\ninput: { stdin: true }\noutput: { stdout: true }\n`);
    await writer.close();
    expect(await exitWithin(p, 10_000)).toEqual({ code: 0, signal: null });
    expect(p.stderr()).toMatch(/SIGTERM: interrupted during start-up; nothing was processed; exiting/);
    await rm(dir, { recursive: true, force: true });
  });

  it('exits 0 at once on SIGINT while waiting for NATS, saying so', async () => {
    const p = await run(subjectPipeline(`nats://127.0.0.1:${await freePort()}`));
    await p.waitFor('waiting for NATS at');
    const signalled = Date.now();
    p.child.kill('SIGINT');
    const exited = await exitWithin(p, 5_000);
    expect(exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalled).toBeLessThan(2_000);
    expect(p.stderr()).toMatch(/SIGINT: interrupted while waiting for NATS at nats:\/\/127\.0\.0\.1:\d+; nothing was processed; exiting/);
  });
});

describe('wasp run: a second signal', () => {
  it('stops a drain that cannot finish (a worker stage spinning with no deadline) at once, exit 130, saying what was left', async () => {
    const config = await writeConfig(`
name: stuck
plugins:
  text: { path: ${textPlugin} }
input: { stdin: true }
stages:
  - { name: spin, plugin: text, function: spin_on_x, timeoutMs: 0, pool: { size: 1, mode: worker } }
output: { stdout: true }
`);
    const p = spawnWasp(['run', config]);
    try {
      await p.waitFor('running');
      p.child.stdin!.write('ok\nx\n');
      await eventually(() => p.stdout(), (out) => out === 'ok\n', 10_000);
      p.child.kill('SIGINT');
      await p.waitFor('SIGINT: draining (a second signal stops at once)');
      p.child.kill('SIGINT');
      const exited = await exitWithin(p, 5_000);
      expect(exited).toEqual({ code: 130, signal: null });
      expect(p.stderr()).toMatch(/second SIGINT: stopping without finishing the drain; 1 input\(s\) in flight are not settled/);
    } finally {
      if (p.child.exitCode === null) p.child.kill('SIGKILL');
    }
  });
});

describe('wasp run: connection names', () => {
  it('names each connection wasp:<pipeline>:<host>:<pid>, or nats.name when set', async () => {
    const server = await natsServer({ jetstream: false, monitor: true });
    const [a, b, named] = await Promise.all([run(subjectPipeline(server.url)), run(subjectPipeline(server.url)), run(subjectPipeline(server.url, ', name: billing-eu'))]);
    await Promise.all([a, b, named].map((p) => p.waitFor('running')));
    const connz = (await (await fetch(`${server.monitorUrl}/connz`)).json()) as { connections: { name?: string }[] };
    const names = connz.connections.map((c) => c.name).sort();
    expect(names).toEqual([`wasp:fails:${hostname()}:${a.child.pid}`, `wasp:fails:${hostname()}:${b.child.pid}`, 'billing-eu'].sort());
    for (const p of [a, b, named]) p.child.kill('SIGTERM');
    for (const p of [a, b, named]) expect((await exitWithin(p, 10_000)).code).toBe(0);
  });
});
