import type { Observable } from 'rxjs';
import type { InputConfig } from '../pipeline/config/schema.js';
import type { Headers } from './headers.js';

/** A message as the pipeline core sees it, whatever carried it. */
export interface Message {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Headers | undefined;
}

/** An input message and how to settle it. Core NATS, the embedded bus and stdin settle with no-ops. */
export interface Delivery extends Message {
  /** Stable across redeliveries (JetStream: "stream:sequence"); undefined where nothing is redelivered. */
  readonly id: string | undefined;
  /** How many times it was delivered before this one. */
  readonly redeliveries: number;
  /**
   * How many more times the server will deliver it if this delivery is nak'ed (JetStream:
   * max_deliver minus the deliveries so far; Infinity without a bound). Undefined where nothing
   * redelivers (core NATS, the embedded bus, stdin).
   */
  readonly deliveriesLeft?: number;
  ack(): void;
  nak(delayMs: number): void;
  term(reason: string): void;
  /** Still being worked on: the server waits another ack wait before redelivering it (JetStream). */
  working?(): void;
  /**
   * performance.now() as the source handed it on, where the source looks at the clock anyway
   * (core NATS, to share the event loop): the pipeline's metrics take it as the arrival instead of
   * a reading of their own. Absent or 0 where the source does not look.
   */
  readonly takenAt?: number;
}

/** Where input comes from. */
export interface Source {
  /** Completes after stop(), or at the end of a finite input (stdin). */
  readonly deliveries: Observable<Delivery>;
  /**
   * Resolves once the server has confirmed the subscription made when `deliveries` is subscribed
   * to (core NATS: after a flush); until then a message published elsewhere may miss it. Absent
   * where subscribing is confirmed at once (the embedded bus, stdin, a JetStream consumer, which
   * the server confirmed before source() resolved).
   */
  readonly ready?: Promise<void>;
  /**
   * Messages the input dropped before the pipeline saw them, because more than
   * its pending limits were waiting (core NATS: a slow consumer). Absent where
   * nothing is dropped (JetStream holds back delivery instead).
   */
  readonly dropped?: () => number;
  /**
   * How far behind the input is, asked of the server (metrics, status): messages waiting for
   * delivery and delivered but not yet acknowledged. Absent where the server keeps no count
   * (core NATS, the embedded bus, stdin).
   */
  readonly lag?: () => Promise<{ pending: number; ackPending: number }>;
  /** Stops taking input; what was delivered already is still settled by the pipeline. */
  stop(): Promise<void>;
}

/**
 * An input as a transport takes it: the config's (see InputConfig in the schema), with the keys the
 * schema gives defaults left optional for callers who make one by hand; transports default them alike.
 */
export type InputSpec = Loosen<InputConfig, 'maxPending' | 'maxPendingBytes' | 'maxDeliver'>;
type Loosen<T, K extends PropertyKey> = T extends unknown ? Omit<T, K & keyof T> & Partial<Pick<T, K & keyof T>> : never;

/** What a publish is, for a transport that treats them differently (JetStream: see NatsTransport). */
export type PublishKind = 'out' | 'emit' | 'dlq';

/** The input a publish is made for, as a publisher that retries sees it. */
export interface PublishFor {
  /** Says the input is still being worked on while a publish for it is retried (see Delivery.working). */
  keepAlive(): void;
  /** True once retrying should stop (the pipeline drains): a failure is then reported at once. */
  readonly giveUp: boolean;
}

export interface Publisher {
  /**
   * Sends a message. Returns a promise when the sender confirms acceptance (a JetStream publish
   * ack); nothing when it was handed to the connection. Never throws: a failure is a rejected
   * promise with a typed error (PublishRejectedError when retrying cannot fix it, else
   * TransientPublishError; see failures.ts). msgId lets a stream drop a duplicate of a
   * redelivered input's output. `kind` defaults to 'out'.
   *
   * A transient failure may be retried in place, holding the input (`holder`) rather than
   * spending one of its deliveries, for up to PublisherOptions.retryMs (JetStream).
   */
  publish(subject: string, data: Uint8Array, headers: Headers | undefined, msgId: string | undefined, kind?: PublishKind, holder?: PublishFor): Promise<void> | void;
  /**
   * How many payload bytes a message with these headers (and message id) may carry; absent
   * where there is no limit. Dead letters are cut to it rather than refused.
   */
  room?(headers: Headers | undefined, msgId: string | undefined): number;
}

/** Where a JetStream pipeline's results go, checked when its publisher is made. */
export interface PublisherOptions {
  /** the input is JetStream: outputs, side outputs and dead letters are published at least once */
  atLeastOnce: boolean;
  /** the output subject (warned about at start-up when no stream captures it) */
  output?: string;
  /** dead letters: refused at start-up when no stream captures the subject, unless `core` */
  deadLetter?: { subject?: string; core: boolean; discard: boolean };
  /** the input consumer's ack wait: a stream capturing an output should drop duplicates at least this long */
  ackWaitMs?: number;
  /** how long a JetStream publish waits for its ack (default 5 s) */
  ackTimeoutMs?: number;
  /** how long a JetStream publish that fails transiently is retried in place before it is reported (default 30 s) */
  retryMs?: number;
}

/** The edge the pipeline core talks to: the embedded bus, core NATS or JetStream. */
export interface Transport {
  readonly name: string;
  source(input: InputSpec): Promise<Source>;
  /** For outputs, side outputs and dead letters. */
  publisher(options: PublisherOptions): Promise<Publisher>;
  close(): Promise<void>;
}
