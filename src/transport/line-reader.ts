// The reading half of a line input (stdin): bytes to messages, at the pace the pipeline and the output set.
import type { Subscriber } from 'rxjs';
import { FireAndForget } from './delivery.js';
import { LineTooLongError } from './errors.js';
import type { LineFlow } from './stdio.js';
import type { Delivery } from './transport.js';

/** At most this many lines are out in the pipeline and not settled yet (a slow worker stage, a blocked output). */
export const MAX_LINES_IN_FLIGHT = 1024;
/** ...and at most this many bytes of them (one line is always let through, however long). */
export const MAX_BYTES_IN_FLIGHT = 16 * 1024 * 1024;

const NEWLINE = 0x0a;

/** A line as the pipeline sees it; settling it (ack, nak or term alike) lets the reader go on. */
class LineDelivery extends FireAndForget {
  constructor(
    subject: string,
    data: Buffer,
    readonly reader: LineReader,
  ) {
    super(subject, data, undefined);
  }
  override ack(): void {
    this.reader.settled(this.data.length);
  }
  override nak(): void {
    this.reader.settled(this.data.length);
  }
  override term(): void {
    this.reader.settled(this.data.length);
  }
}

/**
 * Splits a byte stream at each \n into messages, bytes untouched (a \r before
 * the \n stays; a last line without \n is a message too), and hands them to a
 * subscriber while the output can take more (the flow) and the pipeline has
 * fewer than MAX_LINES_IN_FLIGHT unsettled. Otherwise it stops mid-chunk and
 * pauses the stream until a drain or a settlement. It completes at the end of
 * input once every line is settled and flushed, so a failing output still ends
 * the run with an error; a line longer than `maxLineBytes` ends it the same way
 * with a LineTooLongError, without holding more than the limit.
 */
export class LineReader {
  #chunk: Buffer | undefined = undefined; // read and not all delivered: its lines from #at on
  #at = 0;
  #partial: Buffer[] = []; // the start of a line begun in earlier chunks
  #partialBytes = 0;
  #lines = 0; // delivered
  #unsettled = 0;
  #unsettledBytes = 0;
  #paused = false;
  #ended = false; // nothing more will be read: end of input, stop(), or a line too long
  #endError: LineTooLongError | undefined = undefined;
  #closed = false;
  #pumping = false;

  constructor(
    readonly input: NodeJS.ReadableStream,
    readonly subject: string,
    readonly flow: LineFlow,
    readonly maxLineBytes: number,
    readonly subscriber: Subscriber<Delivery>,
  ) {
    input.on('data', this.#onData);
    input.on('end', this.#onEnd);
    input.on('error', this.#onError);
    flow.listen(this.pump);
    input.resume();
  }

  /** Stops reading: what was delivered is still settled and flushed before it completes. */
  stop(): void {
    if (this.#ended) return;
    this.#end(undefined);
    this.pump();
  }

  /** Lets go of the input; the subscriber hears nothing more. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#detach();
    this.flow.listen(undefined);
  }

  settled(bytes: number): void {
    this.#unsettled--;
    this.#unsettledBytes -= bytes;
    this.pump();
  }

  /** Delivers what may go now; called on new input, a settlement, and when the output drains, flushes or fails. */
  readonly pump = (): void => {
    if (this.#closed || this.#pumping) return;
    if (this.flow.failure !== undefined) return this.#finish(this.flow.failure); // at once: nothing more can be written
    this.#pumping = true;
    try {
      while (this.#chunk !== undefined && this.#mayDeliver()) this.#next();
    } finally {
      this.#pumping = false;
    }
    if (this.#closed) return;
    if (this.#chunk !== undefined) return this.#pause();
    if (!this.#ended) return this.#resume();
    if (this.#partialBytes > 0) {
      if (!this.#mayDeliver()) return;
      this.#deliver(this.#takeLine(undefined)); // the last line, without \n
    }
    if (this.#unsettled === 0 && this.flow.unflushed === 0) this.#finish(this.#endError);
  };

  #mayDeliver(): boolean {
    if (this.flow.full || this.flow.failure !== undefined || this.#closed) return false;
    return this.#unsettled === 0 || (this.#unsettled < MAX_LINES_IN_FLIGHT && this.#unsettledBytes < MAX_BYTES_IN_FLIGHT);
  }

  /** Delivers the chunk's next line, or keeps its unfinished end for the next chunk. */
  #next(): void {
    const chunk = this.#chunk!;
    const newline = chunk.indexOf(NEWLINE, this.#at);
    const end = newline < 0 ? chunk.length : newline;
    if (this.#partialBytes + end - this.#at > this.maxLineBytes) {
      return this.#end(new LineTooLongError(this.subject, this.#lines + 1, this.maxLineBytes));
    }
    const piece = chunk.subarray(this.#at, end);
    this.#at = end + 1;
    if (this.#at >= chunk.length) this.#chunk = undefined;
    if (newline >= 0) {
      this.#deliver(this.#takeLine(piece));
    } else if (piece.length > 0) {
      this.#partial.push(piece);
      this.#partialBytes += piece.length;
    }
  }

  #takeLine(last: Buffer | undefined): Buffer {
    if (this.#partialBytes === 0) return last ?? Buffer.alloc(0);
    if (last !== undefined) this.#partial.push(last);
    const line = Buffer.concat(this.#partial);
    this.#partial = [];
    this.#partialBytes = 0;
    return line;
  }

  #deliver(line: Buffer): void {
    this.#lines++;
    this.#unsettled++;
    this.#unsettledBytes += line.length;
    this.subscriber.next(new LineDelivery(this.subject, line, this));
  }

  readonly #onData = (data: Buffer | string): void => {
    const chunk = typeof data === 'string' ? Buffer.from(data) : data;
    // A stream may emit once more after pause(); keep it behind what is left.
    this.#chunk = this.#chunk === undefined ? chunk : Buffer.concat([this.#chunk.subarray(this.#at), chunk]);
    this.#at = 0;
    this.pump();
  };

  readonly #onEnd = (): void => {
    this.#ended = true;
    this.pump();
  };

  readonly #onError = (error: unknown): void => {
    if (!this.#closed) this.#finish(error);
  };

  /** No more reading; what was read and not delivered is dropped (a line too long, or stop()). */
  #end(error: LineTooLongError | undefined): void {
    this.#ended = true;
    this.#endError = error;
    this.#chunk = undefined;
    this.#partial = [];
    this.#partialBytes = 0;
    this.#detach();
  }

  #finish(error: unknown): void {
    this.close();
    if (error === undefined) this.subscriber.complete();
    else this.subscriber.error(error);
  }

  #detach(): void {
    this.input.off('data', this.#onData);
    this.input.off('end', this.#onEnd);
    this.#pause(); // the error listener stays: a late error is ignored, not thrown
  }

  #pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.input.pause();
  }

  #resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.input.resume();
  }
}
