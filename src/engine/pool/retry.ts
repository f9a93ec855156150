import type { WaspError } from '../errors.js';

/**
 * When an instance (or worker) that failed to come up may be tried again:
 * 100 ms after the first failure, doubling per failure up to 30 s, so a module
 * that cannot instantiate costs a few attempts, not one per message.
 */
export class Retry {
  #failures = 0;
  #at = 0;
  /** why the last attempt failed; the cause of the calls failed meanwhile */
  lastError: WaspError | undefined;

  get due(): boolean {
    return this.#failures === 0 || performance.now() >= this.#at;
  }

  /** ms until the next attempt */
  get delay(): number {
    return Math.max(0, this.#at - performance.now());
  }

  failed(error: WaspError): void {
    this.#failures++;
    this.#at = performance.now() + Math.min(100 * 2 ** Math.min(this.#failures - 1, 20), 30_000);
    this.lastError = error;
  }

  succeeded(): void {
    this.#failures = 0;
    this.lastError = undefined;
  }
}
