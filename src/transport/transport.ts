import type { Observable } from 'rxjs';
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
  ack(): void;
  nak(delayMs: number): void;
  term(reason: string): void;
}

/** Where input comes from. */
export interface Source {
  /** Completes after stop(), or at the end of a finite input (stdin). */
  readonly deliveries: Observable<Delivery>;
  /** Stops taking input; what was delivered already is still settled by the pipeline. */
  stop(): Promise<void>;
}

export type InputSpec =
  | { kind: 'subject'; subject: string; queue?: string }
  | { kind: 'stream'; stream: string; consumer: string; subject?: string; maxAckPending: number; ackWaitMs: number }
  | { kind: 'stdin' };

export interface Publisher {
  /**
   * Sends a message. Returns a promise when the sender confirms acceptance
   * (a JetStream publish ack); nothing when it was handed to the connection.
   * msgId lets a stream drop a duplicate of a redelivered input's output.
   */
  publish(subject: string, data: Uint8Array, headers: Headers | undefined, msgId: string | undefined): Promise<void> | void;
}

/** Raised by a publisher for a failure worth retrying (the input is nak'ed and redelivered). */
export class TransientPublishError extends Error {
  override name = 'TransientPublishError';
}

/** The edge the pipeline core talks to: the embedded bus, core NATS or JetStream. */
export interface Transport {
  readonly name: string;
  source(input: InputSpec): Promise<Source>;
  /** For outputs, side outputs and dead letters; `atLeastOnce` when the input is JetStream. */
  publisher(options: { atLeastOnce: boolean }): Promise<Publisher>;
  close(): Promise<void>;
}
