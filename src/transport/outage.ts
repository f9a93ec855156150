// A stretch of failures of one kind of work (pulling from a consumer, publishing to JetStream),
// told as a story with a beginning and an end: one line when it starts, one when it is over with
// how long it lasted and what was retried. A failover that fails every message in flight is two
// lines, where it used to be a warning per message.
import type { Logger } from '../engine/logger.js';

export interface OutageOptions {
  /**
   * Failures shorter than this are not worth a warning (a pull that misses its heartbeats once
   * and then works); they are logged at debug level. 0: the first failure warns.
   */
  graceMs?: number;
  now?: () => number;
}

export class Outage {
  #since: number | undefined;
  #said = false;
  #attempts = 0;
  /** things held and retried now (publishes), and in all since the outage began */
  #holding = 0;
  #held = 0;
  readonly #reasons = new Map<string, number>();
  readonly #graceMs: number;
  readonly #now: () => number;

  /** `what` names the work for the log, e.g. "publishing to JetStream" or "pulling from TEXT/upper" */
  constructor(
    readonly logger: Pick<Logger, 'warn' | 'info' | 'debug'>,
    readonly what: string,
    options: OutageOptions = {},
  ) {
    this.#graceMs = options.graceMs ?? 0;
    this.#now = options.now ?? Date.now;
  }

  /** Whether failures are going on (since the last success). */
  get active(): boolean {
    return this.#since !== undefined;
  }

  /** An attempt that began at `startedAt` (a publish waits for its ack) failed and will be retried. */
  failed(reason: string, detail: string, startedAt = this.#now()): void {
    const now = this.#now();
    if (this.#since === undefined || startedAt < this.#since) this.#since = startedAt;
    this.#attempts++;
    this.#reasons.set(reason, (this.#reasons.get(reason) ?? 0) + 1);
    if (this.#said) return;
    if (now - this.#since >= this.#graceMs) {
      this.#said = true;
      this.logger.warn(`${this.what} is failing: ${detail}; retrying until it works (said once; a line follows when it recovers)`);
    } else {
      this.logger.debug(`${this.what} failed: ${detail}; retrying`);
    }
  }

  /** Something (a publish) is held and retried until release(): the outage is over only when nothing is. */
  hold(): void {
    this.#holding++;
    this.#held++;
  }

  release(): void {
    this.#holding--;
  }

  /** An attempt worked: if failures were going on and nothing is still held, they are over. */
  succeeded(): void {
    if (this.#since === undefined || this.#holding > 0) return;
    const seconds = (this.#now() - this.#since) / 1000;
    const reasons = [...this.#reasons].map(([r, n]) => `${r} x${n}`).join(', ');
    const held = this.#held > 0 ? `; ${this.#held} held and retried` : '';
    const message = `${this.what} recovered after ${seconds.toFixed(1)} s: ${this.#attempts} failed attempt(s) (${reasons})${held}`;
    if (this.#said) this.logger.info(message);
    else this.logger.debug(message);
    this.#since = undefined;
    this.#said = false;
    this.#attempts = 0;
    this.#held = 0;
    this.#reasons.clear();
  }
}
