// The writing half of a line output (stdout): messages to lines, gathered into few writes, failures to one error.
import { OutputStreamError } from './errors.js';
import type { LineFlow } from './stdio.js';
import type { Publisher } from './transport.js';

const NEWLINE = 0x0a;
const NEWLINE_BUFFER = Buffer.from('\n');

type Output = NodeJS.WritableStream & { writableHighWaterMark?: number };

/**
 * Writes each message and a \n, bytes untouched. Lines published in one turn
 * of the event loop are copied into one buffer of up to the stream's
 * highWaterMark and written together on the next tick (or when it is full):
 * one write per batch instead of two per line, and the stream never holds more
 * than about two highWaterMarks of lines this publisher has not been told to
 * hold. A longer line is written as it is.
 *
 * While the stream is full, every publish returns the same promise, resolved
 * on the next 'drain' (one listener at a time), and the flow stops the line
 * source. A failing stream (EPIPE) becomes an OutputStreamError: the line
 * source ends the run with it; without one, the blocked publishes reject.
 */
export class LineWriter implements Publisher {
  readonly #batchBytes: number;
  #batch: Buffer | undefined = undefined;
  #used = 0;
  #lines = 0; // in the batch
  #scheduled = false;
  #written = 0; // flushed
  #blocked: { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } | undefined = undefined;
  #sourceEnds = false; // a line source took the failure and ends the run

  constructor(
    readonly output: Output,
    readonly flow: LineFlow,
    readonly name: string,
  ) {
    this.#batchBytes = Math.max(output.writableHighWaterMark ?? 16384, 64);
    output.on('error', this.#fail);
  }

  publish(_subject: string, data: Uint8Array): Promise<void> | undefined {
    const { flow } = this;
    if (flow.failure !== undefined) return this.#sourceEnds ? undefined : Promise.reject(flow.failure);
    flow.unflushed++;
    if (data.length >= this.#batchBytes) {
      this.#flush();
      this.#write(data, 0);
      this.#write(NEWLINE_BUFFER, 1);
    } else {
      if (this.#batch === undefined || this.#used + data.length + 1 > this.#batchBytes) {
        this.#flush();
        this.#batch = Buffer.allocUnsafe(this.#batchBytes);
      }
      this.#batch.set(data, this.#used);
      this.#used += data.length;
      this.#batch[this.#used++] = NEWLINE;
      this.#lines++;
      if (!this.#scheduled) {
        this.#scheduled = true;
        process.nextTick(this.#flush);
      }
    }
    return this.#blocked?.promise;
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    if (this.#lines === 0 || this.flow.failure !== undefined) return;
    const chunk = this.#batch!.subarray(0, this.#used);
    const lines = this.#lines;
    this.#batch = undefined;
    this.#used = 0;
    this.#lines = 0;
    this.#write(chunk, lines);
  };

  /** Writes a chunk that completes `lines` lines, and blocks when the stream says it is full. */
  #write(chunk: Uint8Array, lines: number): void {
    const accepted = this.output.write(chunk, (error?: Error | null) => (error ? this.#fail(error) : this.#flushed(lines)));
    if (accepted || this.#blocked !== undefined) return;
    let resolve!: () => void;
    let reject!: (error: Error) => void;
    const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
    this.#blocked = { promise, resolve, reject };
    this.flow.full = true;
    this.output.once('drain', this.#onDrain);
  }

  #flushed(lines: number): void {
    if (lines === 0) return;
    this.#written += lines;
    this.flow.flushed(lines);
  }

  readonly #onDrain = (): void => {
    const { resolve } = this.#blocked!;
    this.#blocked = undefined;
    this.flow.drained();
    resolve();
  };

  readonly #fail = (error: unknown): void => {
    if (this.flow.failure !== undefined) return;
    const failure = new OutputStreamError(this.name, this.#written, error);
    // With a line source, its error ends the run and the blocked publishes are abandoned, not each reported.
    this.#sourceEnds = this.flow.fail(failure);
    if (!this.#sourceEnds) this.#blocked?.reject(failure);
  };
}
