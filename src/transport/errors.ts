// Errors of the transports, as classes with fields: callers decide by class and field, never by
// message. A plain list of classes; add new ones at the end.
import { describe, WaspError } from '../engine/errors.js';

/**
 * What went wrong with a publish. Whether retrying can fix it (transient) or not (permanent) is
 * decided in one place, failures.ts, which also picks the error class below from it.
 */
export type PublishFailureReason =
  /** payload and headers, as encoded, are over the server's max_payload */
  | 'too-large'
  /** not a subject a message may be published to */
  | 'invalid-subject'
  /** JetStream: no stream captures the subject (nothing answered the publish) */
  | 'no-stream'
  /** the stream refused this message for good (over its max_msg_size, an expectation it does not meet) */
  | 'rejected'
  /** the server does not permit publishing to the subject */
  | 'not-permitted'
  /** an argument nats.js refuses (it says which only in its message) */
  | 'invalid-argument'
  /** no publish ack in time */
  | 'timeout'
  /** the connection was down, closing or draining */
  | 'disconnected'
  /** the stream that captured the subject is gone (deleted while running) */
  | 'stream-deleted'
  /** a stream captures the subject but did not answer, or JetStream answered 503 */
  | 'stream-unavailable'
  /** the JetStream API did not answer, so which stream captures the subject is unknown */
  | 'jetstream-unavailable'
  /** any other error JetStream answered with */
  | 'server-error'
  /** anything else */
  | 'unknown';

/** Details of a failed publish, where they are known. */
export interface PublishFailureDetails {
  cause?: unknown;
  /** payload + headers, in bytes (too-large) */
  size?: number;
  /** the server's max_payload (too-large) */
  limit?: number;
  /** the stream that captures (or captured) the subject */
  stream?: string;
}

/**
 * A publish that failed, with what is known of it; catch this for either kind. Its class says the
 * kind: PublishRejectedError (permanent) or TransientPublishError, both made by failures.ts
 * `publishFailure`, which decides the class from the reason.
 */
export abstract class PublishFailedError extends WaspError {
  readonly size: number | undefined;
  readonly limit: number | undefined;
  readonly stream: string | undefined;
  constructor(
    message: string,
    readonly reason: PublishFailureReason,
    /** the subject it was published to */
    readonly subject: string,
    details: PublishFailureDetails = {},
  ) {
    super(message, { cause: details.cause });
    this.size = details.size;
    this.limit = details.limit;
    this.stream = details.stream;
  }
}

/** A publish that retrying cannot fix: the input is dead-lettered with this error at once, not redelivered. */
export class PublishRejectedError extends PublishFailedError {
  override name = 'PublishRejectedError';
}

/**
 * A publish that may succeed later (a timeout, a disconnect, a stream away): with JetStream input
 * it is retried in place or the input is nak'ed with backoff and redelivered, and dead-lettered
 * at its last delivery.
 */
export class TransientPublishError extends PublishFailedError {
  override name = 'TransientPublishError';
}

/**
 * A JetStream pipeline whose dead letters would be lost: no deadLetter (a failed input would be
 * terminated), or a dead-letter subject no stream captures. `wasp run` refuses to start.
 */
export class UnsafeDeadLetterError extends WaspError {
  override name = 'UnsafeDeadLetterError';
  constructor(
    message: string,
    readonly reason: 'missing' | 'not-captured',
    /** the dead-letter subject (not-captured) */
    readonly subject: string | undefined,
  ) {
    super(message);
  }
}

/** A JetStream input on a stream that does not exist and that Wasp cannot create (no input.subject). */
export class StreamMissingError extends WaspError {
  override name = 'StreamMissingError';
  constructor(
    message: string,
    readonly stream: string,
  ) {
    super(message);
  }
}

/**
 * The durable consumer (or its stream) of a running JetStream input was deleted. The run ends
 * rather than create it again: a new consumer would start over from the stream's first message.
 */
export class ConsumerDeletedError extends WaspError {
  override name = 'ConsumerDeletedError';
  constructor(
    message: string,
    readonly stream: string,
    readonly consumer: string,
  ) {
    super(message);
  }
}

/** An input a transport does not carry (stdin on NATS, a stream on the embedded bus). */
export class UnsupportedInputError extends WaspError {
  override name = 'UnsupportedInputError';
  constructor(
    message: string,
    readonly transport: string,
    readonly input: string,
  ) {
    super(message);
  }
}

/** A line of a line input (stdin) is longer than the limit: the run ends there rather than split one message in two. */
export class LineTooLongError extends WaspError {
  override name = 'LineTooLongError';
  constructor(
    readonly input: string,
    readonly line: number,
    readonly limit: number,
  ) {
    super(`${input}: line ${line} is longer than ${limit} bytes, the most one message may hold; stopping there`);
  }
}

/** A line output (stdout) failed, EPIPE when its reader went away: what it could not take is lost, so the run ends. */
export class OutputStreamError extends WaspError {
  override name = 'OutputStreamError';
  /** The system error code (EPIPE), when there is one. */
  readonly code: string | undefined;
  constructor(
    readonly output: string,
    /** Lines the stream had taken (flushed to the system) before it failed. */
    readonly linesWritten: number,
    cause: unknown,
  ) {
    const code = (cause as { code?: unknown } | undefined)?.code;
    const after = `after ${linesWritten} line${linesWritten === 1 ? '' : 's'}`;
    super(
      code === 'EPIPE' ? `${output} was closed by its reader (EPIPE) ${after}; stopping` : `${output} failed ${after}: ${describe(cause)}`,
      { cause },
    );
    this.code = typeof code === 'string' ? code : undefined;
  }
}

/** Why a connection to NATS failed for good: retrying cannot fix any of these. */
export type NatsFailureReason =
  /** the server refused the credentials (user/pass, token, nkey, creds), or they expired */
  | 'authorization'
  /** TLS failed: the error's `tls` says what exactly */
  | 'tls'
  /** the client's own settings cannot be used (a creds file that cannot be read or parsed) */
  | 'configuration'
  /** the connection ended for good after it was up */
  | 'closed';

/** What failed in TLS. */
export type TlsFailure =
  /** the client does not trust the server's certificate (CA, host name, dates) */
  | 'certificate-verification'
  /** the server refused the client's certificate, or the absence of one */
  | 'certificate-refused'
  /** one side starts with the TLS handshake and the other with the INFO exchange (handshakeFirst) */
  | 'handshake-mismatch'
  /** the client asks for TLS and the server offers none */
  | 'not-offered'
  /** the client's own certificate, key or CA files cannot be used */
  | 'client-configuration'
  /** any other failed handshake */
  | 'handshake';

/** A connection to NATS that retrying cannot fix: `wasp run` ends with exit 1 and this message. Made by connect.ts. */
export class NatsConnectionError extends WaspError {
  override name = 'NatsConnectionError';
  constructor(
    message: string,
    readonly reason: NatsFailureReason,
    /** the server URL (or URLs) it happened with */
    readonly server: string,
    /** what failed, for reason 'tls' */
    readonly tls: TlsFailure | undefined,
    /** the Node.js / OpenSSL error code behind it, when there is one */
    readonly code: string | undefined,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
  }
}

/** JetStream did not answer a request the pipeline cannot start without. */
export class JetStreamUnavailableError extends WaspError {
  override name = 'JetStreamUnavailableError';
  constructor(
    message: string,
    /** 'not-enabled': nothing answers the JetStream API (no responders, or disabled for the account); 'timeout': no reply in time */
    readonly reason: 'not-enabled' | 'timeout',
    /** the API subject asked, e.g. $JS.API.INFO */
    readonly request: string,
    /** how long it waited for a reply */
    readonly timeoutMs: number,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
  }
}
