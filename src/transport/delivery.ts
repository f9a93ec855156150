import type { Headers } from './headers.js';
import type { Delivery } from './transport.js';

/** A delivery nothing redelivers (core NATS, the embedded bus, stdin): settling it is a no-op. */
export class FireAndForget implements Delivery {
  constructor(
    readonly subject: string,
    readonly data: Uint8Array,
    readonly headers: Headers | undefined,
  ) {}
  // On the prototype rather than in every object: the embedded bus makes one per message.
  get id(): undefined {
    return undefined;
  }
  get redeliveries(): number {
    return 0;
  }
  ack(): void {}
  nak(): void {}
  term(): void {}
}
