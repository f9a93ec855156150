import { createInterface } from 'node:readline';
import { Observable } from 'rxjs';
import { FireAndForget } from './delivery.js';
import type { Delivery, Publisher, Source } from './transport.js';

/** One message per line of a stream; the observable completes at the end of input. */
export function lineSource(input: NodeJS.ReadableStream, subject = 'stdin'): Source {
  let close: (() => void) | undefined;
  const deliveries = new Observable<Delivery>((subscriber) => {
    const lines = createInterface({ input, crlfDelay: Infinity });
    lines.on('line', (line) => subscriber.next(new FireAndForget(subject, Buffer.from(line, 'utf8'), undefined)));
    lines.on('close', () => subscriber.complete());
    close = () => lines.close();
    return () => lines.close();
  });
  return { deliveries, stop: async () => close?.() };
}

/** One message per line; waits for the stream to drain rather than buffering without bound. */
export function linePublisher(output: NodeJS.WritableStream): Publisher {
  const newline = Buffer.from('\n');
  return {
    publish(_subject, data) {
      output.write(data);
      if (!output.write(newline)) return new Promise<void>((resolve) => output.once('drain', resolve));
    },
  };
}
