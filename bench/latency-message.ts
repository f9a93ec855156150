// The latency bench's messages carry what the receiver needs to time them and to tell a lost one
// from a late one: a sequence number, the run they belong to, and when they were published, as
// process.hrtime nanoseconds (the monotonic clock every thread of the bench process shares).
//   bytes 0-3  sequence number, little-endian
//   bytes 4-7  run number, little-endian
//   bytes 8-15 publish time in ns, a float64 (exact: a float64 holds integers up to 2^53 ns, 104 days of uptime)

export const HEADER_BYTES = 16;
const FILL = 97;

// a float64 goes in and out of a message through these, so no DataView is made per message
const clock = new Float64Array(1);
const clockBytes = new Uint8Array(clock.buffer);

export function nowNs(): number {
  return Number(process.hrtime.bigint());
}

function writeU32(message: Uint8Array, at: number, value: number): void {
  message[at] = value & 0xff;
  message[at + 1] = (value >>> 8) & 0xff;
  message[at + 2] = (value >>> 16) & 0xff;
  message[at + 3] = (value >>> 24) & 0xff;
}

function readU32(data: Uint8Array, at: number): number {
  return (data[at]! | (data[at + 1]! << 8) | (data[at + 2]! << 16) | (data[at + 3]! << 24)) >>> 0;
}

/** A new buffer per message: nats.js holds on to the caller's buffer until it writes to the socket. */
export function stampedMessage(bytes: number, run: number, seq: number): Uint8Array {
  const message = new Uint8Array(bytes);
  message.fill(FILL, HEADER_BYTES);
  writeU32(message, 0, seq);
  writeU32(message, 4, run);
  clock[0] = nowNs();
  message.set(clockBytes, 8);
  return message;
}

export const seqOf = (data: Uint8Array): number => readU32(data, 0);
export const runOf = (data: Uint8Array): number => readU32(data, 4);

export function sentNsOf(data: Uint8Array): number {
  for (let i = 0; i < 8; i++) clockBytes[i] = data[8 + i]!;
  return clock[0]!;
}
