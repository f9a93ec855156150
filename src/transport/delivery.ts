import type { Headers } from './headers.js';
import type { Delivery } from './transport.js';

/** A delivery nothing redelivers (core NATS, the embedded bus, stdin): settling it is a no-op. */
export class FireAndForget implements Delivery {
  readonly id = undefined;
  readonly redeliveries = 0;
  constructor(
    readonly subject: string,
    readonly data: Uint8Array,
    readonly headers: Headers | undefined,
  ) {}
  ack(): void {}
  nak(): void {}
  term(): void {}
}
