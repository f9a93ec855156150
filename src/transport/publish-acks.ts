// JetStream publishes whose acks come back on one inbox subscription this process owns: a reply
// token per publish, one timer sweeping for the late ones. nats.js's own publish makes a request
// per message (a request object, a timer, and an Error in case it fails), which cost more than
// everything else a JetStream pipeline does; this keeps what its publish promises (the stream's
// ack or a typed failure) without any of that per message.
import { JetStreamApiError, JetStreamError } from '@nats-io/jetstream';
import { createInbox, headers as natsHeaders, NoRespondersError, TimeoutError, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/nats-core';

interface Pending {
  resolve: () => void;
  reject: (error: Error) => void;
  subject: string;
  /** Date.now() past which it has failed */
  deadline: number;
}

/** How often late acks are looked for: a timeout is noticed at most this much after it passed. */
const SWEEP_MS = 50;

/**
 * The executor of every publish's promise, which hands its functions over through these two:
 * a closure made per publish would cost an allocation more.
 */
let resolved: () => void = () => {};
let rejected: (error: Error) => void = () => {};
const capture = (resolve: () => void, reject: (error: Error) => void): void => {
  resolved = resolve;
  rejected = reject;
};

export class PublishAcks {
  readonly #nc: NatsConnection;
  /**
   * By reply token, a number: an ack's subject ends with it, and reading its digits costs less
   * than hashing the whole subject (a fresh string per ack) to look it up.
   */
  readonly #pending = new Map<number, Pending>();
  #inbox: string | undefined;
  #sub: Subscription | undefined;
  #sweep: NodeJS.Timeout | undefined;
  #next = 0;
  #sweptAt = 0;

  constructor(nc: NatsConnection) {
    this.#nc = nc;
  }

  /** Publishes with a reply subject of ours; resolves once the stream acked it, or rejects as nats.js's publish would. */
  publish(subject: string, data: Uint8Array, headers: MsgHdrs | undefined, msgId: string | undefined, timeoutMs: number): Promise<void> {
    const token = this.#next++;
    const reply = `${this.#subscribe()}.${token}`;
    let h = headers;
    if (msgId !== undefined) {
      // on headers of its own an append does: set looks for the name first, which costs arrays per publish
      if (h === undefined) (h = natsHeaders()).append('Nats-Msg-Id', msgId);
      else h.set('Nats-Msg-Id', msgId);
    }
    try {
      this.#nc.publish(subject, data, h === undefined ? { reply } : { reply, headers: h });
    } catch (error) {
      return Promise.reject(error as Error);
    }
    const promise = new Promise<void>(capture);
    // a Map keeps insertion order, and every publish waits as long: the oldest are first
    this.#pending.set(token, { resolve: resolved, reject: rejected, subject, deadline: this.now() + timeoutMs });
    if (this.#sweep === undefined) {
      this.#sweep = setInterval(() => this.#expire(), SWEEP_MS).unref();
      this.#sweptAt = Date.now();
    }
    return promise;
  }

  /**
   * Date.now(), as of the last sweep while publishes are waiting (at most SWEEP_MS old): a deadline
   * is as precise as the sweep that checks it anyway, and a clock reading per publish cost as much
   * as a tenth of what the publish path does here.
   */
  now(): number {
    return this.#sweep === undefined ? Date.now() : this.#sweptAt;
  }

  /** Publishes waiting for their acks. */
  get waiting(): number {
    return this.#pending.size;
  }

  /** Stops listening when nothing waits (a drained pipeline); the next publish listens again. */
  release(): void {
    if (this.#pending.size > 0) return;
    this.#sub?.unsubscribe();
    this.#sub = undefined;
    this.#inbox = undefined;
    this.#stopSweep();
  }

  #subscribe(): string {
    if (this.#inbox !== undefined) return this.#inbox;
    const inbox = createInbox((this.#nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix);
    this.#sub = this.#nc.subscribe(`${inbox}.*`, { callback: (error, msg) => (error ? this.#failAll(error) : this.#answer(msg)) });
    this.#inbox = inbox;
    return inbox;
  }

  #answer(msg: Msg): void {
    const token = replyToken(msg.subject);
    const pending = token === -1 ? undefined : this.#pending.get(token);
    // not one of ours (any more): an ack that came after its timeout, or a stray message
    if (pending === undefined) return;
    this.#pending.delete(token);
    if (this.#pending.size === 0) this.#stopSweep();
    if (msg.data.length === 0 && msg.headers?.code === 503) {
      pending.reject(new NoRespondersError(pending.subject));
      return;
    }
    // A stored message's ack begins {"stream":"NAME": nothing in it is needed, so it is not parsed
    // (JSON.parse of every ack was 4% of a JetStream pipeline's time); an error, or anything else, is.
    if (isStoredAck(msg.data)) {
      pending.resolve();
      return;
    }
    let ack: { stream?: string; error?: { code: number; err_code: number; description: string } };
    try {
      ack = msg.json();
    } catch (cause) {
      pending.reject(new JetStreamError('invalid ack response', { cause }));
      return;
    }
    if (ack.error !== undefined) pending.reject(new JetStreamApiError(ack.error as never));
    else if (!ack.stream) pending.reject(new JetStreamError('invalid ack response'));
    else pending.resolve();
  }

  #expire(): void {
    const now = (this.#sweptAt = Date.now());
    for (const [token, pending] of this.#pending) {
      if (pending.deadline > now) break;
      this.#pending.delete(token);
      pending.reject(new TimeoutError());
    }
    if (this.#pending.size === 0) this.#stopSweep();
  }

  #failAll(error: Error): void {
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
    this.#stopSweep();
    this.#sub = undefined;
    this.#inbox = undefined;
  }

  #stopSweep(): void {
    if (this.#sweep !== undefined) clearInterval(this.#sweep);
    this.#sweep = undefined;
  }
}

/** The number a reply subject ends with (`<inbox>.<digits>`, as publish makes them); -1 for any other ending. */
export function replyToken(subject: string): number {
  let token = 0;
  let scale = 1;
  for (let i = subject.length - 1; i >= 0; i--) {
    const c = subject.charCodeAt(i);
    if (c === 0x2e) break;
    const digit = c - 0x30;
    if (digit < 0 || digit > 9 || scale > 1e15) return -1;
    token += digit * scale;
    scale *= 10;
  }
  return scale === 1 ? -1 : token;
}

/** `{"stream":"` and then not `"`: the ack of a message a stream stored (an error ack starts {"error"). */
const STORED = new TextEncoder().encode('{"stream":"');

export function isStoredAck(data: Uint8Array): boolean {
  if (data.length <= STORED.length || data[STORED.length] === 0x22) return false;
  for (let i = 0; i < STORED.length; i++) if (data[i] !== STORED[i]) return false;
  return true;
}
