// A JetStream cluster of real nats-server processes routed to each other on
// loopback, for failover tests and the fault bench: each node has its own
// port, cluster port, name and store, and can be killed and restarted alone.
import { JetStreamApiCodes, JetStreamApiError, jetstreamManager, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { freePort, NatsServer } from './nats-server.js';

export class NatsCluster {
  private constructor(
    readonly nodes: NatsServer[],
    readonly names: string[],
  ) {}

  /** Starts `size` nodes and resolves once JetStream has a meta leader (it answers account info). */
  static async start(size = 3, name = 'wasp'): Promise<NatsCluster> {
    const clientPorts = await Promise.all(Array.from({ length: size }, () => freePort()));
    const routePorts = await Promise.all(Array.from({ length: size }, () => freePort()));
    const names = clientPorts.map((_, i) => `n${i + 1}`);
    const routes = routePorts.map((p) => `nats://127.0.0.1:${p}`).join(',');
    const nodes: NatsServer[] = [];
    try {
      for (let i = 0; i < size; i++) {
        const args = ['-n', names[i]!, '--cluster_name', name, '--cluster', `nats://127.0.0.1:${routePorts[i]}`, '--routes', routes];
        nodes.push(await NatsServer.start({ port: clientPorts[i], args }));
      }
      const cluster = new NatsCluster(nodes, names);
      await cluster.ready();
      return cluster;
    } catch (error) {
      await Promise.all(nodes.map((n) => n.dispose()));
      throw error;
    }
  }

  /** Every node's URL, comma-separated, the way NATS_URL takes a list. */
  get url(): string {
    return this.nodes.map((n) => n.url).join(',');
  }

  /** A client that knows every node and reconnects for good (for setting up and checking). */
  async connect(): Promise<NatsConnection> {
    return connect({ servers: this.nodes.map((n) => n.url), maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  }

  node(name: string): NatsServer {
    const i = this.names.indexOf(name);
    if (i < 0) throw new Error(`no node ${name} in the cluster (${this.names.join(', ')})`);
    return this.nodes[i]!;
  }

  /** Waits until JetStream answers API requests (a meta leader is elected), up to 30 s. */
  async ready(timeoutMs = 30_000): Promise<void> {
    const nc = await this.connect();
    try {
      const jsm = await jetstreamManager(nc, { timeout: 2_000, checkAPI: false });
      await until(async () => {
        await jsm.getAccountInfo();
        return true;
      }, timeoutMs, 'JetStream meta leader');
    } finally {
      await nc.close();
    }
  }

  /**
   * Creates a replicated stream, asking again while the cluster cannot place it yet (right after
   * start-up its nodes are still learning of each other), and waits for its leader.
   */
  static async addStream(jsm: JetStreamManager, config: Partial<StreamConfig> & { name: string }, timeoutMs = 30_000): Promise<void> {
    await until(async () => {
      await jsm.streams.add(config);
      return true;
    }, timeoutMs, `placement for stream ${config.name}`);
    await NatsCluster.streamReady(jsm, config.name, timeoutMs);
  }

  /** Deletes a stream if it exists, asking again while the cluster cannot answer (a node just restarted, say). */
  static async deleteStream(jsm: JetStreamManager, name: string, timeoutMs = 30_000): Promise<void> {
    await until(async () => {
      try {
        await jsm.streams.delete(name);
      } catch (error) {
        if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound)) throw error;
      }
      return true;
    }, timeoutMs, `the deletion of stream ${name}`);
  }

  /** Waits until a stream has a leader and all its replicas are current. */
  static async streamReady(jsm: JetStreamManager, stream: string, timeoutMs = 30_000): Promise<string> {
    return until(async () => {
      const info = await jsm.streams.info(stream);
      const cluster = info.cluster;
      if (cluster?.leader === undefined || cluster.leader === '') return undefined;
      if ((cluster.replicas ?? []).some((r) => !r.current || r.offline)) return undefined;
      return cluster.leader;
    }, timeoutMs, `a leader for stream ${stream}`);
  }

  async dispose(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.dispose()));
  }
}

async function until<T>(attempt: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms${last === undefined ? '' : `: ${(last as Error).message}`}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
