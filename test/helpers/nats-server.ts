// Starts a real nats-server with JetStream for a test, on a free loopback port
// and a temporary store, and stops it by its process. No mocks of NATS. A test
// may hand it a config file's text (authentication, TLS) and extra arguments.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CANDIDATES = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'];

export function natsServerBinary(): string {
  const fromPath = (process.env.PATH ?? '').split(':').map((d) => join(d, 'nats-server'));
  const found = [...fromPath, ...CANDIDATES].find((p) => existsSync(p));
  if (found === undefined) {
    throw new Error('nats-server is not installed; these tests need a real one: apt-get install -y nats-server (or put nats-server on PATH)');
  }
  return found;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function probe(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface NatsServerOptions {
  /** the text of a nats-server config file (authorization, tls, operator, ...); the address, port and JetStream flags still come from the command line, which wins */
  config?: string;
  /** more command-line arguments */
  args?: string[];
  /** JetStream with a temporary store (default true) */
  jetstream?: boolean;
  /** an HTTP monitoring port, for monitorUrl (/connz lists connections by name) */
  monitor?: boolean;
  /** this port rather than a free one (say one a client already waits on) */
  port?: number;
}

export class NatsServer {
  #process: ChildProcess | undefined;
  #log: () => string = () => '';
  #options: NatsServerOptions;
  #monitorPort: number | undefined;
  #paused = false;

  private constructor(
    readonly port: number,
    readonly storeDir: string,
    options: NatsServerOptions,
  ) {
    this.#options = options;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** The HTTP monitoring endpoint; only with `monitor: true`. */
  get monitorUrl(): string {
    if (this.#monitorPort === undefined) throw new Error('start the server with { monitor: true } for a monitoring port');
    return `http://127.0.0.1:${this.#monitorPort}`;
  }

  /** The last few KB of the server's log. */
  get log(): string {
    return this.#log();
  }

  static async start(options: NatsServerOptions = {}): Promise<NatsServer> {
    const server = new NatsServer(options.port ?? (await freePort()), await mkdtemp(join(tmpdir(), 'wasp-nats-')), options);
    if (options.monitor) server.#monitorPort = await freePort();
    await server.#launch();
    return server;
  }

  async #launch(): Promise<void> {
    const binary = natsServerBinary();
    const { config, args = [], jetstream = true } = this.#options;
    const argv = ['-a', '127.0.0.1', '-p', String(this.port)];
    if (jetstream) argv.push('-js', '-sd', this.storeDir);
    if (this.#monitorPort !== undefined) argv.push('-m', String(this.#monitorPort));
    if (config !== undefined) {
      const file = join(this.storeDir, 'nats-server.conf');
      await writeFile(file, config);
      argv.push('-c', file);
    }
    argv.push(...args);
    const { child, log } = await spawnListening(binary, argv, this.port);
    this.#process = child;
    this.#log = log;
  }

  /**
   * Freezes the process (SIGSTOP): connections stay open, nothing is answered until resume().
   * Returns once the process is stopped, not when the signal is sent: a server still running on
   * the other core for a moment could answer what the caller sends next.
   */
  pause(): void {
    const child = this.#process;
    if (child?.pid === undefined) return;
    child.kill('SIGSTOP');
    this.#paused = true;
    const until = Date.now() + 5_000;
    while (processState(child.pid) !== 'T') {
      if (Date.now() > until) throw new Error(`nats-server (pid ${child.pid}) did not stop on SIGSTOP`);
    }
  }

  resume(): void {
    this.#process?.kill('SIGCONT');
    this.#paused = false;
  }

  /** Stops the process; the JetStream store stays for a restart. */
  async stop(): Promise<void> {
    const child = this.#process;
    this.#process = undefined;
    // a frozen process would hold SIGTERM until it ran again
    if (this.#paused) child?.kill('SIGCONT');
    this.#paused = false;
    await stopChild(child);
  }

  /** Kills the process without warning (SIGKILL), as a crash or a lost machine would; the store stays. */
  async kill(): Promise<void> {
    const child = this.#process;
    this.#process = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await gone;
  }

  /** Starts it again after stop() or kill(): same port, same store. */
  async start(): Promise<void> {
    if (this.#process) return;
    await this.#launch();
  }

  /** Same port, same store: clients reconnect to it. With options, it comes back configured by them instead (say a new TLS config). */
  async restart(options?: NatsServerOptions): Promise<void> {
    await this.stop();
    if (options) this.#options = options;
    await this.#launch();
  }

  async dispose(): Promise<void> {
    await this.stop();
    await rm(this.storeDir, { recursive: true, force: true });
  }
}

/**
 * Starts nats-server and resolves once it listens on `port`, racing readiness
 * against an early exit; `log` is the tail of what it printed.
 */
export async function spawnListening(binary: string, argv: string[], port: number): Promise<{ child: ChildProcess; log: () => string }> {
  const child = spawn(binary, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const collect = (chunk: Buffer): void => {
    tail = (tail + chunk.toString()).slice(-4000);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  let exited: string | undefined;
  child.once('exit', (code, signal) => (exited = `exited with ${code ?? signal}`));
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`nats-server ${exited} before it was ready:\n${tail}`);
    if (await probe(port)) return { child, log: () => tail };
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`nats-server did not listen on ${port} within 10 s:\n${tail}`);
}

/** Stops a server process: SIGTERM, then SIGKILL after 5 s. */
export async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await gone;
  clearTimeout(timer);
}

/** The state letter in /proc/PID/stat (R running, S sleeping, T stopped, ...). */
function processState(pid: number): string | undefined {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // the command name (in parentheses) may hold spaces: the state follows its closing parenthesis
  return stat[stat.lastIndexOf(')') + 2];
}
