// A real nats-server with JetStream and a small max_payload, for the publish-failure tests: a
// config file (nats-server has no command-line flag for max_payload), a free loopback port, a
// temporary store, readiness raced against early exit, and everything removed on dispose.
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, natsServerBinary, spawnListening, stopChild } from './nats-server.js';

export class LimitedNatsServer {
  #process: ChildProcess | undefined;

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
    this.#process = (await spawnListening(natsServerBinary(), ['-c', join(this.dir, 'server.conf')], this.port)).child;
  }

  async stop(): Promise<void> {
    const child = this.#process;
    this.#process = undefined;
    await stopChild(child);
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
