// A real nats-server with JetStream and a small max_payload, for the publish-failure tests: a
// config file (nats-server has no command-line flag for max_payload), a free loopback port, a
// temporary store, readiness raced against early exit, and everything removed on dispose.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { natsServerBinary } from './nats-server.js';

async function freePort(): Promise<number> {
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

export class LimitedNatsServer {
  #process: ChildProcess | undefined;
  #log = '';

  private constructor(
    readonly port: number,
    readonly dir: string,
    readonly maxPayload: number,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  static async start(maxPayload = 65_536): Promise<LimitedNatsServer> {
    const dir = await mkdtemp(join(tmpdir(), 'wasp-nats-limited-'));
    const server = new LimitedNatsServer(await freePort(), dir, maxPayload);
    try {
      await server.#configure(true);
      await server.#launch();
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
    return server;
  }

  /** The config file: this port and max_payload, JetStream on or off (its store kept either way). */
  async #configure(jetstream: boolean): Promise<void> {
    const js = jetstream ? `jetstream { store_dir: "${join(this.dir, 'store')}" }` : 'jetstream: disabled';
    await writeFile(join(this.dir, 'server.conf'), `listen: "127.0.0.1:${this.port}"\nmax_payload: ${this.maxPayload}\n${js}\n`);
  }

  async #launch(): Promise<void> {
    const child = spawn(natsServerBinary(), ['-c', join(this.dir, 'server.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#process = child;
    const collect = (chunk: Buffer): void => {
      this.#log = (this.#log + chunk.toString()).slice(-4000);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    let exited: string | undefined;
    child.once('exit', (code, signal) => (exited = `exited with ${code ?? signal}`));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (exited) throw new Error(`nats-server ${exited} before it was ready:\n${this.#log}`);
      if (await probe(this.port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    throw new Error(`nats-server did not listen on ${this.port} within 10 s:\n${this.#log}`);
  }

  async stop(): Promise<void> {
    const child = this.#process;
    this.#process = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await gone;
    clearTimeout(timer);
  }

  /** Same port, same store: clients reconnect to it; `jetstream: false` brings it back without JetStream. */
  async restart(options: { jetstream?: boolean } = {}): Promise<void> {
    await this.stop();
    await this.#configure(options.jetstream ?? true);
    await this.#launch();
  }

  async dispose(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}
