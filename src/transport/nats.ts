import { jetstream, jetstreamManager, AckPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { Observable } from 'rxjs';
import type { Logger } from '../engine/logger.js';
import { AckBatch, JetStreamDelivery, termTakesReason } from './acks.js';
import { coreSource } from './core.js';
import { toNatsHeaders } from './nats-headers.js';
import { TransientPublishError, type Delivery, type InputSpec, type Publisher, type Source, type Transport } from './transport.js';

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
    if (input.kind === 'subject') return coreSource(this.nc, input.subject, input.queue);
    if (input.kind === 'stream') return this.#streamSource(input);
    throw new Error('stdin is not a NATS input');
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
