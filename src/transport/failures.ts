// Whether a transport failure is worth retrying: the one classification that every publish, ack
// and dead-letter path asks. A permanent failure (retrying cannot fix it) dead-letters the input
// at once; a transient one is retried (nak with backoff) until the input's last delivery. Decided
// from nats.js's error classes and JetStream's error codes, never from messages.
import { JetStreamApiCodes, JetStreamApiError, JetStreamError } from '@nats-io/jetstream';
import {
  ClosedConnectionError,
  ConnectionError,
  DrainingConnectionError,
  InvalidArgumentError,
  InvalidSubjectError,
  NoRespondersError,
  PermissionViolationError,
  RequestError,
  TimeoutError,
} from '@nats-io/nats-core';
import { describe } from '../engine/errors.js';
import type { Logger } from '../engine/logger.js';
import { PublishFailedError, PublishRejectedError, TransientPublishError, type PublishFailureDetails, type PublishFailureReason } from './errors.js';

export type FailureClass = 'transient' | 'permanent';

/** The table: what each reason means for the input. */
export const FAILURE_CLASSES: Readonly<Record<PublishFailureReason, FailureClass>> = {
  'too-large': 'permanent',
  'invalid-subject': 'permanent',
  'no-stream': 'permanent',
  rejected: 'permanent',
  'not-permitted': 'permanent',
  'invalid-argument': 'permanent',
  timeout: 'transient',
  disconnected: 'transient',
  // someone deleted it: retried until it is back or the input runs out of deliveries
  'stream-deleted': 'transient',
  'stream-unavailable': 'transient',
  'jetstream-unavailable': 'transient',
  'server-error': 'transient',
  // bounded by maxDeliver, so an error nobody foresaw is retried a few times, never forever
  unknown: 'transient',
};

/**
 * Transient failures that pass on their own (a server away, a stream electing its leader): a
 * publish that meets one is held and retried in place, costing the input none of its deliveries.
 * The rest of the transient ones (a deleted stream, an error nobody foresaw) last until someone
 * acts, so the input is redelivered with backoff and dead-lettered at its last delivery.
 */
const PASSING: ReadonlySet<PublishFailureReason> = new Set(['timeout', 'disconnected', 'stream-unavailable', 'jetstream-unavailable', 'server-error']);

/** Whether a failure passes on its own, so that holding the input and retrying in place is worth it. */
export function passes(error: unknown): boolean {
  return PASSING.has(reasonOf(error));
}

/** JetStream API errors that the same message will meet again on every retry. */
const REJECTED_CODES: ReadonlySet<number> = new Set([
  10054, // JSStreamMessageExceedsMaximumErr: over the stream's max_msg_size
  10060, // JSStreamNotMatchErr: expected stream does not match
  10063, // JSStreamSequenceNotMatchErr
  10070, // JSStreamWrongLastMsgIDErrF
  10071, // JSStreamWrongLastSequenceErrF
]);
/** JSNotEnabledErr: JetStream is off on the server (the account's own code is in JetStreamApiCodes). */
const JETSTREAM_NOT_ENABLED = 10076;

export function classify(error: unknown): FailureClass {
  return FAILURE_CLASSES[reasonOf(error)];
}

/** What a failure was, from the error or, for wrappers, the first cause that tells. */
export function reasonOf(error: unknown): PublishFailureReason {
  let e: unknown = error;
  for (let depth = 0; e instanceof Error && depth < 8; depth++) {
    const reason = ownReason(e);
    if (reason !== undefined) return reason;
    e = e.cause;
  }
  return 'unknown';
}

function ownReason(e: Error): PublishFailureReason | undefined {
  if (e instanceof PublishFailedError) return e.reason;
  if (e instanceof InvalidSubjectError) return 'invalid-subject';
  if (e instanceof PermissionViolationError) return 'not-permitted';
  // nats.js names the argument (payload over max_payload, a header value) only in the message;
  // all are arguments no retry changes. Wasp checks size and subject itself before publishing.
  if (e instanceof InvalidArgumentError) return 'invalid-argument';
  // No responders to a JetStream publish: nothing captures the subject. nats.js wraps it in
  // JetStreamNotEnabled ("jetstream is not enabled", a class it does not export) with this cause.
  if (e instanceof NoRespondersError) return 'no-stream';
  if (e instanceof RequestError) {
    if (e.isNoResponders()) return 'no-stream';
    // "connection closed", "connection disconnected", "cancelled": nats.js gives only a message,
    // and all mean the request never completed; a wrapped cause says more.
    return e.cause instanceof Error ? undefined : 'disconnected';
  }
  if (e instanceof TimeoutError) return 'timeout';
  if (e instanceof ClosedConnectionError || e instanceof DrainingConnectionError || e instanceof ConnectionError) return 'disconnected';
  if (e instanceof JetStreamApiError) {
    if (REJECTED_CODES.has(e.code)) return 'rejected';
    if (e.code === JetStreamApiCodes.JetStreamNotEnabledForAccount || e.code === JETSTREAM_NOT_ENABLED) return 'jetstream-unavailable';
    if (e.code === JetStreamApiCodes.StreamNotFound) return 'stream-deleted';
    return e.status === 503 ? 'stream-unavailable' : 'server-error';
  }
  // a status from a pull (JetStreamStatusError), or an ack that is not one
  if (e instanceof JetStreamError) return 'server-error';
  return undefined;
}

/** The typed error of a failed publish: PublishRejectedError when permanent, else TransientPublishError. */
export function publishFailure(subject: string, reason: PublishFailureReason, details: PublishFailureDetails = {}): PublishFailedError {
  const message = `publish to ${subject} ${FAILURE_CLASSES[reason] === 'permanent' ? 'refused' : 'failed'}: ${explain(subject, reason, details)}`;
  return FAILURE_CLASSES[reason] === 'permanent'
    ? new PublishRejectedError(message, reason, subject, details)
    : new TransientPublishError(message, reason, subject, details);
}

function explain(subject: string, reason: PublishFailureReason, d: PublishFailureDetails): string {
  switch (reason) {
    case 'too-large':
      return `${d.size} bytes with its headers, over the server's max_payload of ${d.limit}`;
    case 'invalid-subject':
      return 'not a subject a message may be published to';
    case 'no-stream':
      return `no stream captures ${subject}`;
    case 'stream-deleted':
      return d.stream === undefined ? 'the stream that captured it was deleted' : `the stream ${d.stream} that captured it was deleted`;
    case 'jetstream-unavailable':
      return `JetStream did not answer which stream captures it${d.cause === undefined ? '' : ` (${describe(d.cause)})`}`;
    case 'stream-unavailable':
      // nats.js calls this "jetstream is not enabled": no stream leader answered the publish
      return `${d.stream === undefined ? 'the stream capturing it' : `stream ${d.stream}`} did not answer (no leader: electing one, or its servers are down)`;
    case 'timeout':
      return `no publish ack in time${d.stream === undefined ? '' : ` from stream ${d.stream}`}`;
    default:
      return `${reason}${d.cause === undefined ? '' : `: ${describe(d.cause)}`}`;
  }
}

/**
 * Logs each kind of failure once, then at most once per interval, saying how many it left out:
 * a failure that hits every message is one line every few seconds, not one per message.
 */
export class FailureLog {
  readonly #last = new Map<string, { at: number; left: number }>();

  constructor(
    readonly logger: Partial<Pick<Logger, 'warn' | 'error'>>,
    readonly intervalMs = 10_000,
    readonly now: () => number = Date.now,
  ) {}

  warn(kind: string, message: string, fields?: Record<string, unknown>): void {
    this.#report('warn', kind, message, fields);
  }

  error(kind: string, message: string, fields?: Record<string, unknown>): void {
    this.#report('error', kind, message, fields);
  }

  #report(level: 'warn' | 'error', kind: string, message: string, fields: Record<string, unknown> | undefined): void {
    const now = this.now();
    const last = this.#last.get(kind);
    if (last !== undefined && now - last.at < this.intervalMs) {
      last.left++;
      return;
    }
    const more = last !== undefined && last.left > 0 ? ` (and ${last.left} more like it in the last ${Math.round((now - last.at) / 1000)} s)` : '';
    this.#last.set(kind, { at: now, left: 0 });
    this.logger[level]?.(`${message}${more}`, fields);
  }
}
