// nats.js turns every protocol line it sends (a PUB or HPUB, a message's headers, an ack) into
// bytes with one shared TextEncoder. On Node 20 TextEncoder.encode gives each result an
// ArrayBuffer of its own, which V8 allocates off its heap: about 1 us a call on the development
// machine, three calls per JetStream message (output, its headers, the input's ack), a sixth of
// what a JetStream pipeline spent per message. Buffer.from(string) takes the bytes from Node's
// pool of small buffers instead (about 0.15 us). nats.js copies what it encodes into its outbound
// buffer and keeps nothing else of it, so the same bytes from the pool serve it alike. The encoder
// is nats.js's own (exported for its sibling packages), so nothing else in the process changes.
import { TE } from '@nats-io/nats-core/internal';

const encodeFromPool = (input = ''): Uint8Array<ArrayBuffer> => Buffer.from(input, 'utf8') as Uint8Array<ArrayBuffer>;

/** Makes nats.js encode through Node's buffer pool (once per process; connectNats does it). */
export function encodeNatsFromPool(): void {
  if (TE.encode !== encodeFromPool) TE.encode = encodeFromPool;
}

/** Whether nats.js encodes through the pool (for the tests). */
export function natsEncodesFromPool(): boolean {
  return TE.encode === encodeFromPool;
}
