// Line input and output (stdin, stdout): one message per line, bytes untouched, memory bounded.
import { Observable } from 'rxjs';
import type { OutputStreamError } from './errors.js';
import { LineReader } from './line-reader.js';
import { LineWriter } from './line-writer.js';
import type { Delivery, Publisher, Source } from './transport.js';

export { MAX_BYTES_IN_FLIGHT, MAX_LINES_IN_FLIGHT } from './line-reader.js';

/** The longest line a line source takes (16 MiB); a longer one ends the run with a LineTooLongError. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

/**
 * What a line publisher tells the line source of the same pipeline: the output
 * is full (stop reading), it drained (go on), its last line is flushed (the
 * source may complete), or it failed (the source ends the run with the error).
 * The pipeline core sees neither: only a Source and a Publisher.
 */
export class LineFlow {
  /** A write was refused (write() returned false) and 'drain' has not come yet. */
  full = false;
  /** Lines written and not yet flushed. */
  unflushed = 0;
  failure: OutputStreamError | undefined = undefined;
  #listener: (() => void) | undefined = undefined;

  /** The line source's pump, called on every change; one at a time. */
  listen(listener: (() => void) | undefined): void {
    this.#listener = listener;
  }

  drained(): void {
    this.full = false;
    this.#listener?.();
  }

  flushed(lines: number): void {
    this.unflushed -= lines;
    if (this.unflushed === 0) this.#listener?.();
  }

  /** Records the failure; true when a line source took it (and ends the run with it). */
  fail(failure: OutputStreamError): boolean {
    this.failure = failure;
    const listener = this.#listener;
    listener?.();
    return listener !== undefined;
  }
}

const flows = new WeakMap<object, LineFlow>();

/** The flow shared by the line source and the line publisher of one owner (a pipeline). */
export function lineFlow(owner: object): LineFlow {
  let flow = flows.get(owner);
  if (flow === undefined) flows.set(owner, (flow = new LineFlow()));
  return flow;
}

export interface LineSourceOptions {
  /** the messages' subject, and the input's name in errors (default `stdin`) */
  subject?: string;
  /** shared with the line publisher of the same pipeline, if it has one */
  flow?: LineFlow;
  maxLineBytes?: number;
}

/**
 * One message per line of a stream: the bytes up to each \n, untouched (a \r
 * before the \n stays in the message; a last line without \n is a message).
 * Reading stops while the output is full or too many lines are unsettled (see
 * LineReader); the observable completes at the end of input once every line
 * is settled and flushed.
 */
export function lineSource(input: NodeJS.ReadableStream, options: LineSourceOptions = {}): Source {
  const { subject = 'stdin', flow = new LineFlow(), maxLineBytes = MAX_LINE_BYTES } = options;
  let reader: LineReader | undefined;
  const deliveries = new Observable<Delivery>((subscriber) => {
    const current = new LineReader(input, subject, flow, maxLineBytes, subscriber);
    reader = current;
    return () => current.close();
  });
  return { deliveries, stop: async () => reader?.stop() };
}

export interface LinePublisherOptions {
  /** shared with the line source of the same pipeline, if it has one */
  flow?: LineFlow;
  /** the output's name in errors (default `stdout`) */
  name?: string;
}

/** One message per line: see LineWriter. */
export function linePublisher(output: NodeJS.WritableStream, options: LinePublisherOptions = {}): Publisher {
  return new LineWriter(output, options.flow ?? new LineFlow(), options.name ?? 'stdout');
}
