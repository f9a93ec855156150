import {
  AckPolicy,
  jetstream,
  JetStreamApiCodes,
  JetStreamApiError,
  jetstreamManager,
  type ConsumerConfig,
  type JetStreamClient,
  type JetStreamManager,
  type FetchOptions,
  type JsMsg,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { Observable } from 'rxjs';
import { isPublishSubject } from '../engine/subjects.js';
import type { Logger } from '../engine/logger.js';
import { AckBatch, JetStreamDelivery, termTakesReason } from './acks.js';
import { coreSource } from './core.js';
import { ConsumerDeletedError, PublishFailedError, StreamMissingError, UnsafeDeadLetterError, UnsupportedInputError } from './errors.js';
import { describe } from '../engine/errors.js';
import { FailureLog, passes, publishFailure, reasonOf } from './failures.js';
import { Outage } from './outage.js';
import type { Headers } from './headers.js';
import { toNatsHeaders } from './nats-headers.js';
import { PublishAcks } from './publish-acks.js';
import type { Delivery, InputSpec, Publisher, PublisherOptions, PublishFor, PublishKind, Source, Transport } from './transport.js';

/** Deliveries of a message when the file says nothing (input.maxDeliver). */
export const DEFAULT_MAX_DELIVER = 5;
/** How long a JetStream publish waits for its ack when the file says nothing (nats.publishAckTimeoutMs). */
export const DEFAULT_PUBLISH_ACK_TIMEOUT_MS = 5_000;
/** How long a JetStream publish that fails transiently is retried in place when the file says nothing (nats.publishRetryMs). */
export const DEFAULT_PUBLISH_RETRY_MS = 30_000;
const RESOLVED = Promise.resolve();
/** Between attempts of a publish retried in place: 100 ms doubling, at most 2 s. */
const RETRY_BACKOFF_MS = 100;
const RETRY_BACKOFF_MAX_MS = 2_000;
/** A pull that fails for less than this (heartbeats missed once, then a pull that works) is no warning. */
const PULL_GRACE_MS = 3_000;
/** Asking which stream captures a subject: attempts, 250 ms doubling between them. */
const LOOKUP_ATTEMPTS = 4;
const LOOKUP_BACKOFF_MS = 250;
/** A subject whose stream was deleted: asked again at most this often (publishes meanwhile fail at once). */
const DELETED_RECHECK_MS = 1_000;
/** A subject no stream captured: asked again at most this often, so a stream created later is used. */
const UNCAPTURED_RECHECK_MS = 10_000;

/** What the transport knows of a subject: a stream captures it, none does, or the one that did is gone. */
interface Route {
  state: 'captured' | 'uncaptured' | 'deleted';
  /** the stream that captures it (or captured it, when deleted) */
  stream: string | undefined;
  checkedAt: number;
}

/** Core NATS subjects and JetStream consumers; the only place the pipeline meets nats.js. */
/** How long a failed pull waits to learn whether its consumer was deleted, before it tries again anyway. */
const DELETED_CHECK_MS = 1_000;

export class NatsTransport implements Transport {
  readonly name = 'NATS';
  #js: JetStreamClient | undefined;
  #publishAcks: PublishAcks | undefined;
  #jsm: JetStreamManager | undefined;
  readonly #routes = new Map<string, Route>();
  readonly #lookups = new Map<string, Promise<Route>>();
  readonly #warnedCore = new Set<string>();
  readonly #acks: AckBatch;
  readonly #failures: FailureLog;
  readonly #publishing: Outage;

  constructor(
    readonly nc: NatsConnection,
    readonly logger: Logger,
  ) {
    this.#failures = new FailureLog(logger);
    this.#publishing = new Outage(logger, 'publishing to JetStream');
    this.#acks = new AckBatch(logger, () => termTakesReason(nc.info?.version));
  }

  async source(input: InputSpec): Promise<Source> {
    if (input.kind === 'subject') return coreSource(this.nc, input, this.logger);
    if (input.kind === 'stream') return this.#streamSource(input);
    throw new UnsupportedInputError('stdin is not a NATS input', this.name, input.kind);
  }

  async #streamSource(input: Extract<InputSpec, { kind: 'stream' }>): Promise<Source> {
    const jsm = await this.#manager();
    await this.#ensureStream(jsm, input);
    const maxDeliver = input.maxDeliver ?? DEFAULT_MAX_DELIVER;
    await this.#ensureConsumer(jsm, input, maxDeliver);
    const consumer = await this.#client().consumers.get(input.stream, input.consumer);
    // Pull batches one at a time rather than consume(): a batch's subscription lives until the
    // batch ends, so on drain every message the server sent is received and settled, and none is
    // stranded in a closed inbox until ack_wait runs out.
    const batch = Math.min(input.maxAckPending, 256);
    let stopping = false;
    let finished: Promise<void> = Promise.resolve();
    const pulling = new Outage(this.logger, `pulling from ${input.stream}/${input.consumer}`, { graceMs: PULL_GRACE_MS });
    const deliveries = new Observable<Delivery>((subscriber) => {
      finished = (async () => {
        while (!stopping) {
          try {
            // Handed on as the socket yields them, not through an async iterator: the messages of
            // one read are handled in one run of code, so their publishes leave in one write
            // instead of one write each (an iterator hops a microtask per message, and nats.js
            // flushes on each hop).
            const messages = await consumer.fetch({
              max_messages: batch,
              expires: 1000,
              callback: (m: JsMsg) => subscriber.next(new JetStreamDelivery(m, this.#acks, maxDeliver)),
            } as FetchOptions);
            const failed = await messages.closed();
            if (failed instanceof Error) throw failed;
            pulling.succeeded();
          } catch (error) {
            if (stopping) break;
            if (this.nc.isClosed()) {
              // closed for good: nothing will come any more, and saying so ends the pipeline
              subscriber.error(error);
              return;
            }
            // a pull on a deleted consumer only misses its heartbeats: ask, and end with why; not
            // for long, since with the server away the question waits for its own timeout
            const deleted = await Promise.race([
              this.#deletedUnder(jsm, input),
              new Promise<undefined>((r) => void setTimeout(r, DELETED_CHECK_MS)),
            ]);
            if (stopping) break;
            if (deleted !== undefined) {
              subscriber.error(deleted);
              return;
            }
            // The server is away or busy (the connection reconnects on its own), or a pull missed its
            // heartbeats once, which a quiet consumer on a cluster does now and then: try again shortly.
            pulling.failed(reasonOf(error), describe(error));
            await new Promise((r) => setTimeout(r, 250));
          }
        }
        subscriber.complete();
      })();
      // unsubscribed (the pipeline closed): no more pulls
      return () => {
        stopping = true;
      };
    });
    return {
      deliveries,
      lag: async () => {
        const info = await jsm.consumers.info(input.stream, input.consumer);
        return { pending: info.num_pending, ackPending: info.num_ack_pending };
      },
      stop: async () => {
        stopping = true;
        await finished;
      },
    };
  }

  /** A ConsumerDeletedError when the server says the input's consumer or stream is gone; undefined when it is there, or the server cannot say. */
  async #deletedUnder(jsm: JetStreamManager, input: Extract<InputSpec, { kind: 'stream' }>): Promise<ConsumerDeletedError | undefined> {
    try {
      await jsm.consumers.info(input.stream, input.consumer);
      return undefined;
    } catch (error) {
      const what = isApiError(error, JetStreamApiCodes.ConsumerNotFound)
        ? `durable consumer ${input.consumer} on stream ${input.stream}`
        : isApiError(error, JetStreamApiCodes.StreamNotFound)
          ? `stream ${input.stream}`
          : undefined;
      if (what === undefined) return undefined;
      return new ConsumerDeletedError(
        `${what} was deleted while the pipeline ran: stopping, since a consumer created again would start over from the stream's first message (run again to create it, or recreate it at the position you want first)`,
        input.stream,
        input.consumer,
      );
    }
  }

  async #ensureStream(jsm: JetStreamManager, input: Extract<InputSpec, { kind: 'stream' }>): Promise<void> {
    try {
      await jsm.streams.info(input.stream);
      return;
    } catch (error) {
      if (!isApiError(error, JetStreamApiCodes.StreamNotFound)) throw error;
    }
    if (input.subject === undefined) throw new StreamMissingError(`stream ${input.stream} does not exist, and input.subject is not set to create it`, input.stream);
    await jsm.streams.add({ name: input.stream, subjects: [input.subject] });
    this.logger.info(`created stream ${input.stream} on subject ${input.subject}`);
  }

  /** Creates the durable consumer, or brings one that exists to the file's settings (and says what changed). */
  async #ensureConsumer(jsm: JetStreamManager, input: Extract<InputSpec, { kind: 'stream' }>, maxDeliver: number): Promise<void> {
    const wanted = { max_ack_pending: input.maxAckPending, ack_wait: input.ackWaitMs * 1_000_000, max_deliver: maxDeliver };
    let existing: Partial<ConsumerConfig> | undefined;
    try {
      existing = (await jsm.consumers.info(input.stream, input.consumer)).config;
    } catch (error) {
      if (!isApiError(error, JetStreamApiCodes.ConsumerNotFound)) throw error;
    }
    if (existing === undefined) {
      await jsm.consumers.add(input.stream, { durable_name: input.consumer, ack_policy: AckPolicy.Explicit, ...wanted });
      this.logger.info(`created durable consumer ${input.consumer} on stream ${input.stream}`, { max_deliver: maxDeliver });
      return;
    }
    const show = (key: keyof typeof wanted, value: number | undefined): string => (key === 'ack_wait' && value !== undefined ? `${value / 1_000_000}ms` : String(value));
    const changes = (Object.keys(wanted) as (keyof typeof wanted)[])
      .filter((key) => existing[key] !== wanted[key])
      .map((key) => `${key} ${show(key, existing[key])} -> ${show(key, wanted[key])}`);
    if (changes.length === 0) return;
    await jsm.consumers.update(input.stream, input.consumer, wanted);
    this.logger.info(`updated durable consumer ${input.consumer} on stream ${input.stream} to the file's settings: ${changes.join(', ')}`);
  }

  async publisher(options: PublisherOptions): Promise<Publisher> {
    const room = (h: Headers | undefined, msgId: string | undefined): number => this.#maxPayload() - headerBytes(h, msgId);
    if (!options.atLeastOnce) return { publish: this.#corePublish, room };
    await this.#checkDestinations(options);
    const timeout = options.ackTimeoutMs ?? DEFAULT_PUBLISH_ACK_TIMEOUT_MS;
    const retryMs = options.retryMs ?? DEFAULT_PUBLISH_RETRY_MS;
    const deadLettersCore = options.deadLetter?.core === true;
    return {
      publish: (subject, data, h, msgId, kind = 'out', holder) =>
        kind === 'dlq' && deadLettersCore ? this.#corePublish(subject, data, h) : this.#publishHeld(subject, data, h, msgId, kind, timeout, retryMs, holder),
      room,
    };
  }

  /**
   * A JetStream publish that, failing for a reason that passes on its own (a leader election, a
   * server away), is retried in place for up to retryMs while its input is held and kept alive,
   * rather than nak'ed: a failover then costs no input a delivery, and none reaches max_deliver
   * and is dead-lettered only because an election took a few seconds. The pipeline draining ends
   * the retries, so a SIGTERM is not held up by an outage (the input is nak'ed for the next process).
   * A publish that succeeds at once costs one promise beyond the publish ack's: this runs per
   * output, and each await of an async function here cost a microtask and a promise more.
   */
  #publishHeld(
    subject: string,
    data: Uint8Array,
    h: Headers | undefined,
    msgId: string | undefined,
    kind: PublishKind,
    timeout: number,
    retryMs: number,
    holder: PublishFor | undefined,
  ): Promise<void> {
    const started = this.#pubAcks().now();
    return this.#publishAtLeastOnce(subject, data, h, msgId, kind, timeout).then(this.#published, (failure: unknown) =>
      this.#retryHeld(failure, subject, started, retryMs, holder, () => this.#publishAtLeastOnce(subject, data, h, msgId, kind, timeout)),
    );
  }

  readonly #published = (): void => {
    if (this.#publishing.active) this.#publishing.succeeded();
  };

  /** After the first attempt failed: `again` publishes once more. */
  async #retryHeld(failure: unknown, subject: string, started: number, retryMs: number, holder: PublishFor | undefined, again: () => Promise<void>): Promise<void> {
    const first = await this.#asPublishFailure(failure, subject);
    if (holder === undefined || retryMs <= 0 || !passes(first)) throw first;
    this.#publishing.hold();
    try {
      let error = first;
      let attemptStarted = started;
      for (let attempt = 0; ; attempt++) {
        if (holder.giveUp) throw error;
        this.#publishing.failed(reasonOf(error), describe(error), attemptStarted);
        holder.keepAlive();
        await new Promise((r) => setTimeout(r, Math.min(RETRY_BACKOFF_MS * 2 ** attempt, RETRY_BACKOFF_MAX_MS)));
        if (holder.giveUp) throw error;
        attemptStarted = Date.now();
        try {
          await again();
          break;
        } catch (next) {
          error = await this.#asPublishFailure(next, subject);
        }
        if (!passes(error) || Date.now() - started >= retryMs) throw error;
      }
    } finally {
      this.#publishing.release();
    }
    this.#published();
  }

  /**
   * At start-up: an output no stream captures is warned about (published with core NATS, at most
   * once); a dead-letter subject no stream captures refuses to start, unless dead letters are
   * published with core NATS knowingly; a stream that drops duplicates for less than the ack wait
   * is warned about.
   */
  async #checkDestinations({ output, deadLetter, ackWaitMs }: PublisherOptions): Promise<void> {
    if (output !== undefined) {
      const route = await this.#route(output);
      if (route.state === 'captured') await this.#checkDuplicateWindow(route.stream!, output, ackWaitMs);
      else this.#warnCore(output);
    }
    const dlq = deadLetter?.subject;
    if (dlq === undefined || deadLetter?.core === true) return;
    const route = await this.#route(dlq);
    if (route.state !== 'captured') {
      throw new UnsafeDeadLetterError(
        `no stream captures ${dlq}, the dead-letter subject: a failed input is terminated once its dead letter is out, and a dead letter ` +
          `published with core NATS that nobody is subscribed to is lost. To fix it, create a stream capturing ${dlq} ` +
          `(e.g. nats stream add DLQ --subjects '${dlq}'), or publish dead letters at most once knowingly: deadLetter: { subject: ${dlq}, core: true }`,
        'not-captured',
        dlq,
      );
    }
    await this.#checkDuplicateWindow(route.stream!, dlq, ackWaitMs);
  }

  async #checkDuplicateWindow(stream: string, subject: string, ackWaitMs: number | undefined): Promise<void> {
    if (ackWaitMs === undefined) return;
    let window: number;
    try {
      window = (await (await this.#manager()).streams.info(stream)).config.duplicate_window;
    } catch (error) {
      this.logger.warn(`could not ask stream ${stream} for its duplicate window`, { error: (error as Error).message });
      return;
    }
    const seconds = (ns: number): string => `${Number((ns / 1e9).toFixed(3))} s`;
    if (window < ackWaitMs * 1_000_000) {
      this.logger.warn(
        `stream ${stream} (capturing ${subject}) drops duplicates for less time than an input may wait for redelivery: its duplicate window ` +
          `(${seconds(window)}) is shorter than the consumer's ack wait (${seconds(ackWaitMs * 1_000_000)}), so an input redelivered after the window ` +
          `can publish its results again; raise the stream's duplicate_window or lower input.ackWaitMs`,
      );
    }
  }

  /** Core NATS: checked before it is handed to the connection; a failure is a rejected promise, never a throw. */
  readonly #corePublish = (subject: string, data: Uint8Array, h: Headers | undefined): Promise<void> | void => {
    if (!isPublishSubject(subject)) return Promise.reject(publishFailure(subject, 'invalid-subject'));
    const size = data.length + (h === undefined ? 0 : headerBytes(h, undefined));
    const limit = this.#maxPayload();
    if (size > limit) return Promise.reject(publishFailure(subject, 'too-large', { size, limit }));
    try {
      // no options object for the common message without headers
      if (h === undefined) this.nc.publish(subject, data);
      else this.nc.publish(subject, data, { headers: toNatsHeaders(h) });
    } catch (cause) {
      return Promise.reject(publishFailure(subject, reasonOf(cause), { cause }));
    }
  };

  /**
   * With JetStream input: a JetStream publish (acked, deduplicated by msgID) where a stream
   * captures the subject; core NATS for an output no stream captures (warned about); a side
   * output no stream captures is refused, since its at-least-once promise could not be kept.
   * Never throws: a failure is a rejected promise, which #asPublishFailure makes a PublishFailedError.
   */
  #publishAtLeastOnce(subject: string, data: Uint8Array, h: Headers | undefined, msgId: string | undefined, kind: PublishKind, timeout: number): Promise<void> {
    if (!isPublishSubject(subject)) return Promise.reject(publishFailure(subject, 'invalid-subject'));
    let route: Promise<Route> | Route;
    try {
      route = this.#route(subject);
    } catch (error) {
      return Promise.reject(error);
    }
    // a known route (every publish but a subject's first) goes on in this run of code
    if (route instanceof Promise) return route.then((r) => this.#publishRouted(r, subject, data, h, msgId, kind, timeout));
    try {
      return this.#publishRouted(route, subject, data, h, msgId, kind, timeout);
    } catch (error) {
      return Promise.reject(error); // a logger that throws, say: a publish fails by its promise, never by a throw
    }
  }

  #publishRouted(route: Route, subject: string, data: Uint8Array, h: Headers | undefined, msgId: string | undefined, kind: PublishKind, timeout: number): Promise<void> {
    if (route.state === 'uncaptured') {
      if (kind === 'emit') return Promise.reject(publishFailure(subject, 'no-stream'));
      this.#warnCore(subject);
      return this.#corePublish(subject, data, h) ?? RESOLVED;
    }
    const limit = this.#maxPayload();
    // Counted exactly only near the limit: a message id alone (the common case) takes at most
    // MSG_ID_HEADER_BYTES and 3 bytes a character, and counting it cost 1% of a JetStream pipeline.
    if (h !== undefined || data.length + MSG_ID_HEADER_BYTES + 3 * (msgId?.length ?? 0) > limit) {
      const size = data.length + headerBytes(h, msgId);
      if (size > limit) return Promise.reject(publishFailure(subject, 'too-large', { size, limit, stream: route.stream }));
    }
    if (route.state === 'deleted') return Promise.reject(publishFailure(subject, 'stream-deleted', { stream: route.stream }));
    // its failures are nats.js's, which #asPublishFailure turns into ours (not here: a catch is a promise more per publish)
    // its callers turn a throw (a header nats.js refuses) into a rejection
    return this.#pubAcks().publish(subject, data, toNatsHeaders(h), msgId, timeout);
  }

  /** A failure of #publishAtLeastOnce as a PublishFailedError: a publish ack's failure is classified here. */
  async #asPublishFailure(error: unknown, subject: string): Promise<unknown> {
    if (error instanceof PublishFailedError) return error;
    const route = this.#routes.get(subject);
    const reason = reasonOf(error);
    // Nothing answered for a subject a stream captured: ask again which stream captures it.
    if (reason === 'no-stream' && route !== undefined) return this.#noAnswer(subject, route, error);
    return publishFailure(subject, reason, { cause: error, stream: route?.stream });
  }

  async #noAnswer(subject: string, before: Route, cause: unknown): Promise<Error> {
    let now: Route;
    try {
      now = await this.#refresh(subject);
    } catch (error) {
      return error as Error;
    }
    if (now.state === 'captured') return publishFailure(subject, 'stream-unavailable', { cause, stream: now.stream });
    return publishFailure(subject, 'stream-deleted', { cause, stream: before.stream });
  }

  #warnCore(subject: string): void {
    if (this.#warnedCore.has(subject)) return;
    this.#warnedCore.add(subject);
    this.logger.warn(`no stream captures ${subject}: publishing to it with core NATS (at most once)`);
  }

  /** Tells which of these subjects no stream captures (asking the server, with retries). */
  async checkCaptured(subjects: string[]): Promise<string[]> {
    const routes = await Promise.all(subjects.map((s) => this.#route(s)));
    return subjects.filter((_, i) => routes[i]!.state !== 'captured');
  }

  /**
   * Which stream captures a subject, asked of the server once and kept while it holds: a subject
   * no stream captured is asked again now and then (a stream may be created), one whose stream was
   * deleted more often. A lookup that fails is retried, and its failure never kept.
   */
  #route(subject: string): Promise<Route> | Route {
    const known = this.#routes.get(subject);
    // a captured subject is asked about again only when a publish to it finds no stream (no clock read per publish)
    if (known?.state === 'captured') return known;
    if (known !== undefined) {
      const age = Date.now() - known.checkedAt;
      if ((known.state === 'deleted' && age < DELETED_RECHECK_MS) || (known.state === 'uncaptured' && age < UNCAPTURED_RECHECK_MS)) return known;
    }
    return this.#refresh(subject);
  }

  /** Asks the server now; publishes to the same subject meanwhile share the answer. */
  #refresh(subject: string): Promise<Route> {
    let lookup = this.#lookups.get(subject);
    if (lookup === undefined) {
      lookup = this.#ask(subject).finally(() => this.#lookups.delete(subject));
      this.#lookups.set(subject, lookup);
    }
    return lookup;
  }

  async #ask(subject: string): Promise<Route> {
    const stream = await this.#findStream(subject);
    const before = this.#routes.get(subject);
    const had = before !== undefined && before.state !== 'uncaptured';
    const route: Route = { state: stream !== undefined ? 'captured' : had ? 'deleted' : 'uncaptured', stream: stream ?? before?.stream, checkedAt: Date.now() };
    // reported once per change of state, not per message
    if (route.state === 'deleted' && before?.state === 'captured') {
      this.logger.warn(
        `the stream capturing ${subject} was deleted (${before.stream}): publishes to ${subject} fail and the inputs are redelivered ` +
          'until a stream captures it again; at its last delivery an input is dead-lettered',
      );
    } else if (route.state === 'captured' && before?.state === 'deleted') {
      this.logger.info(`a stream captures ${subject} again (${stream})`);
    }
    this.#routes.set(subject, route);
    return route;
  }

  async #findStream(subject: string): Promise<string | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await (await this.#manager()).streams.find(subject);
      } catch (error) {
        if (isApiError(error, JetStreamApiCodes.StreamNotFound)) return undefined;
        if (attempt >= LOOKUP_ATTEMPTS) throw publishFailure(subject, 'jetstream-unavailable', { cause: error });
        await new Promise((r) => setTimeout(r, LOOKUP_BACKOFF_MS * 2 ** (attempt - 1)));
      }
    }
  }

  #maxPayload(): number {
    return this.nc.info?.max_payload ?? Number.POSITIVE_INFINITY;
  }

  #pubAcks(): PublishAcks {
    return (this.#publishAcks ??= new PublishAcks(this.nc));
  }

  #client(): JetStreamClient {
    return (this.#js ??= jetstream(this.nc));
  }

  async #manager(): Promise<JetStreamManager> {
    return (this.#jsm ??= await jetstreamManager(this.nc));
  }

  /**
   * Sends the settlements still queued and waits until the server has them, so that a consumer
   * pulling next (a new revision on the same connection) is not handed what was already acked.
   */
  async settle(): Promise<void> {
    if (this.nc.isClosed()) return;
    this.#acks.flush();
    // a drained revision waits for no publish ack: its inbox subscription goes with it
    this.#publishAcks?.release();
    await this.nc.flush();
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    this.#acks.flush();
    await this.nc.drain();
  }
}

function isApiError(error: unknown, code: number): boolean {
  return error instanceof JetStreamApiError && error.code === code;
}

const byteLength = (s: string): number => Buffer.byteLength(s, 'utf8');

/** "NATS/1.0", "\r\nNats-Msg-Id: " and the closing "\r\n\r\n": the bytes of a message id's headers but the id's own. */
const MSG_ID_HEADER_BYTES = 'NATS/1.0'.length + 4 + 'Nats-Msg-Id'.length + 4;

/**
 * The bytes a message's headers take on the wire, as nats.js encodes them: "NATS/1.0", then
 * "\r\nName: value" for each value (trimmed), then "\r\n\r\n"; nothing at all without headers. A
 * JetStream publish with a message id sets Nats-Msg-Id, replacing one the headers carry.
 */
export function headerBytes(h: Headers | undefined, msgId: string | undefined): number {
  let size = 0;
  let count = 0;
  if (h !== undefined) {
    for (const [name, values] of h.entries()) {
      if (msgId !== undefined && name === 'Nats-Msg-Id') continue;
      for (const v of values) {
        size += 4 + byteLength(name) + byteLength(v.trim());
        count++;
      }
    }
  }
  if (msgId !== undefined) {
    size += 4 + 'Nats-Msg-Id'.length + byteLength(msgId.trim());
    count++;
  }
  return count === 0 ? 0 : 'NATS/1.0'.length + size + 4;
}
