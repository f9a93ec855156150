// Settling JetStream messages: acks, naks and terms batched into one socket
// write per turn of the event loop, and the delivery the pipeline sees.
import type { JsMsg } from '@nats-io/jetstream';
import type { Logger } from '../engine/logger.js';
import { classify, FailureLog, reasonOf } from './failures.js';
import type { Headers } from './headers.js';
import { fromNatsHeaders } from './nats-headers.js';
import type { Delivery } from './transport.js';

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
  readonly #failures: FailureLog;

  /** termReason: whether the server reads `+TERM <reason>` (see termTakesReason) */
  constructor(
    readonly logger: Logger,
    readonly termReason: () => boolean,
  ) {
    this.#failures = new FailureLog(logger);
  }

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
    // Whatever the failure (the connection away, closing or draining: transient; nothing else is
    // known to happen), the server redelivers what it did not hear about after ack_wait.
    if (failed > 0) {
      const reason = reasonOf(error);
      this.#failures.warn(`settle ${reason}`, `could not settle ${failed} JetStream message(s) (${classify(error)}: ${reason}); the server redelivers them after their ack wait`, {
        error: (error as Error).message,
      });
    }
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

export class JetStreamDelivery implements Delivery {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Headers | undefined;
  readonly id: string;
  readonly redeliveries: number;

  /** max_deliver: the consumer's bound on deliveries (-1 or 0: none) */
  constructor(
    readonly msg: JsMsg,
    readonly acks: AckBatch,
    readonly maxDeliver = -1,
  ) {
    this.subject = msg.subject;
    this.data = msg.data;
    this.headers = fromNatsHeaders(msg.headers);
    // nats.js's JsMsg keeps the core message (and so the reply subject) as `msg`; without it, msg.info reads it
    const reply = (msg as unknown as { msg?: { reply?: string } }).msg?.reply;
    const ack = reply === undefined ? undefined : ackTokens(reply);
    if (ack !== undefined) {
      this.id = `${ack.stream}:${ack.streamSequence}`;
      this.redeliveries = ack.deliveries - 1;
    } else {
      const info = msg.info; // nats.js's reading of the reply subject, whatever shape it has
      this.id = `${info.stream}:${info.streamSequence}`;
      this.redeliveries = info.deliveryCount - 1;
    }
  }
  get deliveriesLeft(): number {
    return this.maxDeliver > 0 ? this.maxDeliver - (this.redeliveries + 1) : Number.POSITIVE_INFINITY;
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
  working(): void {
    // not batched: it is sent while a publish is retried, seconds apart; a closed connection
    // only means the server redelivers after the ack wait, as it would anyway
    try {
      this.msg.working();
    } catch {
      /* see above */
    }
  }
}

/**
 * The stream, stream sequence and delivery count from a JetStream message's reply subject, read
 * in place: `$JS.ACK.<stream>.<consumer>.<deliveries>.<stream seq>.<consumer seq>.<ns>.<pending>`
 * (9 tokens), or the same after `<domain>.<account hash>` (11, or 12 with a random token last).
 * nats.js's msg.info builds an object of every token with a split per message (5% of a JetStream
 * pipeline's time). Undefined for any other shape, which msg.info then reads.
 */
export function ackTokens(reply: string): { stream: string; streamSequence: string; deliveries: number } | undefined {
  if (!reply.startsWith('$JS.ACK.')) return undefined;
  // where the dots are, in a reused array: this runs per message
  const dots = DOTS;
  let count = 0;
  for (let at = reply.indexOf('.'); at !== -1 && count < dots.length; at = reply.indexOf('.', at + 1)) dots[count++] = at;
  const tokens = count + 1;
  const first = tokens === 9 ? 2 : tokens === 11 || tokens === 12 ? 4 : -1;
  if (first === -1) return undefined;
  // token i runs from just after dot i-1 to dot i (every token read here has a dot after it)
  const deliveries = digits(reply, dots[first + 1]! + 1, dots[first + 2]!);
  const sequenceFrom = dots[first + 2]! + 1;
  const sequenceTo = dots[first + 3]!;
  // the sequence stays text, exact at any length (a stream can start past 2^53: first_seq, a purge)
  if (deliveries < 1 || !allDigits(reply, sequenceFrom, sequenceTo)) return undefined;
  return { stream: reply.slice(dots[first - 1]! + 1, dots[first]!), streamSequence: reply.slice(sequenceFrom, sequenceTo), deliveries };
}

const DOTS = new Int32Array(13);

function allDigits(s: string, from: number, to: number): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) {
    const d = s.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return false;
  }
  return true;
}

/** The decimal number s[from, to) spells, or -1 when it is empty or not all digits (or past 2^53). */
function digits(s: string, from: number, to: number): number {
  if (to <= from || to - from > 15) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = s.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}
