import { readFile } from 'node:fs/promises';
import { jetstream, jetstreamManager, AckPolicy, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { credsAuthenticator, headers as natsHeaders, type MsgHdrs, type NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { Observable } from 'rxjs';
import type { Logger } from '../engine/logger.js';
import { FireAndForget } from './delivery.js';
import { Headers } from './headers.js';
import { TransientPublishError, type Delivery, type InputSpec, type Publisher, type Source, type Transport } from './transport.js';

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

export function toNatsHeaders(h: Headers | undefined): MsgHdrs | undefined {
  if (h === undefined || h.size === 0) return undefined;
  const out = natsHeaders();
  for (const [name, values] of h.entries()) for (const v of values) out.append(name, v);
  return out;
}

export function fromNatsHeaders(h: MsgHdrs | undefined): Headers | undefined {
  if (h === undefined) return undefined;
  const out = new Headers();
  for (const name of h.keys()) for (const v of h.values(name)) out.append(name, v);
  return out;
}

/** Core NATS subjects and JetStream consumers; the only place the pipeline meets nats.js. */
export class NatsTransport implements Transport {
  readonly name = 'NATS';
  #js: JetStreamClient | undefined;
  #jsm: JetStreamManager | undefined;
  readonly #captured = new Map<string, Promise<boolean>>();
  readonly #acks: AckBatch;

  constructor(
    readonly nc: NatsConnection,
    readonly logger: Logger,
  ) {
    this.#acks = new AckBatch(logger, () => termTakesReason(nc.info?.version));
  }

  async source(input: InputSpec): Promise<Source> {
    if (input.kind === 'subject') return this.#coreSource(input.subject, input.queue);
    if (input.kind === 'stream') return this.#streamSource(input);
    throw new Error('stdin is not a NATS input');
  }

  #coreSource(subject: string, queue: string | undefined): Source {
    let stop: (() => Promise<void>) | undefined;
    const deliveries = new Observable<Delivery>((subscriber) => {
      const sub = this.nc.subscribe(subject, {
        queue,
        callback: (error, msg) => {
          if (error) subscriber.error(error);
          else subscriber.next(new FireAndForget(msg.subject, msg.data, fromNatsHeaders(msg.headers)));
        },
      });
      void sub.closed.then(() => subscriber.complete());
      stop = async () => {
        if (!sub.isClosed()) await sub.drain();
      };
      return () => sub.unsubscribe();
    });
    return { deliveries, stop: async () => stop?.() };
  }

  async #streamSource(input: Extract<InputSpec, { kind: 'stream' }>): Promise<Source> {
    const jsm = await this.#manager();
    await this.#ensureStream(jsm, input);
    try {
      await jsm.consumers.info(input.stream, input.consumer);
    } catch {
      await jsm.consumers.add(input.stream, {
        durable_name: input.consumer,
        ack_policy: AckPolicy.Explicit,
        max_ack_pending: input.maxAckPending,
        ack_wait: input.ackWaitMs * 1_000_000,
      });
      this.logger.info(`created durable consumer ${input.consumer} on stream ${input.stream}`);
    }
    const consumer = await this.#client().consumers.get(input.stream, input.consumer);
    // Pull batches one at a time rather than consume(): a batch's subscription lives until the
    // batch ends, so on drain every message the server sent is received and settled, and none is
    // stranded in a closed inbox until ack_wait runs out.
    const batch = Math.min(input.maxAckPending, 256);
    let stopping = false;
    let finished: Promise<void> = Promise.resolve();
    const deliveries = new Observable<Delivery>((subscriber) => {
      finished = (async () => {
        while (!stopping) {
          try {
            const messages = await consumer.fetch({ max_messages: batch, expires: 1000 });
            for await (const m of messages) subscriber.next(new JetStreamDelivery(m, this.#acks));
          } catch (error) {
            if (stopping) break;
            // the server is away or busy: the connection reconnects on its own; try again shortly
            this.logger.warn(`pulling from ${input.stream}/${input.consumer} failed; retrying`, { error: (error as Error).message });
            await new Promise((r) => setTimeout(r, 250));
          }
        }
        subscriber.complete();
      })();
    });
    return {
      deliveries,
      stop: async () => {
        stopping = true;
        await finished;
      },
    };
  }

  async #ensureStream(jsm: JetStreamManager, input: Extract<InputSpec, { kind: 'stream' }>): Promise<void> {
    try {
      await jsm.streams.info(input.stream);
      return;
    } catch {
      if (input.subject === undefined) {
        throw new Error(`stream ${input.stream} does not exist, and input.subject is not set to create it`);
      }
    }
    await jsm.streams.add({ name: input.stream, subjects: [input.subject] });
    this.logger.info(`created stream ${input.stream} on subject ${input.subject}`);
  }

  async publisher({ atLeastOnce }: { atLeastOnce: boolean }): Promise<Publisher> {
    if (!atLeastOnce) {
      // no options object for the common message without headers
      return { publish: (subject, data, h) => (h === undefined ? this.nc.publish(subject, data) : this.nc.publish(subject, data, { headers: toNatsHeaders(h) })) };
    }
    const js = this.#client();
    return {
      publish: async (subject, data, h, msgId) => {
        const headers = toNatsHeaders(h);
        if (!(await this.#capturedByStream(subject))) {
          this.nc.publish(subject, data, { headers });
          return;
        }
        try {
          await js.publish(subject, data, { headers, msgID: msgId });
        } catch (cause) {
          throw new TransientPublishError(`publish to ${subject} failed: ${(cause as Error).message}`, { cause });
        }
      },
    };
  }

  /** Tells at start-up which of these subjects no stream captures (each is also warned about once). */
  async checkCaptured(subjects: string[]): Promise<string[]> {
    const captured = await Promise.all(subjects.map((s) => this.#capturedByStream(s)));
    return subjects.filter((_, i) => !captured[i]);
  }

  /**
   * Whether some stream captures a subject, asked of the server once per subject and shared by the
   * start-up check and the publisher: JetStream publish where one does (acked, deduplicated by
   * msgID), core publish where none does.
   */
  #capturedByStream(subject: string): Promise<boolean> {
    let answer = this.#captured.get(subject);
    if (answer === undefined) {
      answer = this.#manager().then((jsm) =>
        jsm.streams.find(subject).then(
          () => true,
          () => {
            this.logger.warn(`no stream captures ${subject}: publishing to it with core NATS (at most once)`);
            return false;
          },
        ),
      );
      this.#captured.set(subject, answer);
    }
    return answer;
  }

  #client(): JetStreamClient {
    return (this.#js ??= jetstream(this.nc));
  }

  async #manager(): Promise<JetStreamManager> {
    return (this.#jsm ??= await jetstreamManager(this.nc));
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    this.#acks.flush();
    await this.nc.drain();
  }
}

const ACK = 0;
const NAK = 1;
const TERM = 2;

/**
 * Settles JetStream messages together. nats.js sends whatever is published in
 * one synchronous run as one socket write, but a fetch's iterator hands each
 * message over in a microtask of its own, so acks made as messages complete
 * would go out one write each. Queued here and sent on the next turn of the
 * event loop, the acks of everything that arrived together share a write.
 * Each message is still settled on its own (ack, nak or term): a batch is a
 * write, not an AckPolicy.All ack, which would also ack an earlier nak'ed message.
 */
export class AckBatch {
  // Reused and never truncated, so queueing allocates nothing once they have grown to a batch.
  readonly #msgs: (JsMsg | null)[] = [];
  readonly #kinds: number[] = [];
  readonly #args: (number | string)[] = [];
  #count = 0;
  #scheduled = false;
  readonly #flush = (): void => this.flush();

  /** termReason: whether the server reads `+TERM <reason>` (see termTakesReason) */
  constructor(
    readonly logger: Logger,
    readonly termReason: () => boolean,
  ) {}

  ack(msg: JsMsg): void {
    this.#queue(msg, ACK, 0);
  }

  nak(msg: JsMsg, delayMs: number): void {
    this.#queue(msg, NAK, delayMs);
  }

  term(msg: JsMsg, reason: string): void {
    this.#queue(msg, TERM, reason);
  }

  /** Sends what is queued now (also before the connection drains, so nothing queued is lost to it). */
  flush(): void {
    this.#scheduled = false;
    const count = this.#count;
    this.#count = 0;
    let failed = 0;
    let error: unknown;
    for (let i = 0; i < count; i++) {
      const msg = this.#msgs[i]!;
      this.#msgs[i] = null;
      try {
        const kind = this.#kinds[i];
        if (kind === ACK) msg.ack();
        else if (kind === NAK) msg.nak(this.#args[i] as number);
        else msg.term(this.termReason() ? (this.#args[i] as string) : '');
      } catch (e) {
        failed++;
        error = e;
      }
    }
    // the connection went away: the server redelivers what it did not hear about after ack_wait
    if (failed > 0) this.logger.warn(`could not settle ${failed} JetStream message(s); they will be redelivered`, { error: (error as Error).message });
  }

  #queue(msg: JsMsg, kind: number, arg: number | string): void {
    const i = this.#count++;
    this.#msgs[i] = msg;
    this.#kinds[i] = kind;
    this.#args[i] = arg;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
  }
}

/**
 * nats-server reads a reason after +TERM from 2.10 on; 2.9 takes `+TERM <reason>` for no ack at
 * all, so a dead-lettered message came back after ack_wait and was dead-lettered again, forever.
 */
export function termTakesReason(serverVersion: string | undefined): boolean {
  const [major = 0, minor = 0] = (serverVersion ?? '').split('.').map((n) => Number.parseInt(n, 10));
  return major > 2 || (major === 2 && minor >= 10);
}

class JetStreamDelivery implements Delivery {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Headers | undefined;
  readonly id: string;
  readonly redeliveries: number;

  constructor(
    readonly msg: JsMsg,
    readonly acks: AckBatch,
  ) {
    this.subject = msg.subject;
    this.data = msg.data;
    this.headers = fromNatsHeaders(msg.headers);
    const info = msg.info; // parsed from the reply subject on first use, then kept by nats.js
    this.id = `${info.stream}:${info.streamSequence}`;
    this.redeliveries = info.deliveryCount - 1;
  }
  ack(): void {
    this.acks.ack(this.msg);
  }
  nak(delayMs: number): void {
    this.acks.nak(this.msg, delayMs);
  }
  term(reason: string): void {
    this.acks.term(this.msg, reason);
  }
}
