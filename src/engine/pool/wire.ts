// The records calls and results are written as in a worker's rings. Payloads
// too big for a ring record travel on the worker's bulk port instead (read
// with receiveMessageOnPort, so they arrive in step with their record).
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { RingReader, RingWriter } from './ring.js';
import type { LogRecord, SerializedError } from './protocol.js';
import { copyOut } from '../copy-out.js';
import { readUtf8, writeUtf8 } from '../utf8.js';

/** Headers as the pool takes them: a value or several (the plugin reads the first). */
export type PoolHeaders = Iterable<readonly [string, string | readonly string[]]>;

const OVERSIZED = 1;
const HAS_SUBJECT = 2;
const FAILED = 4;
const HAS_LOGS = 8;
const REPLACED = 16;
const CALL_HEADER = 20;
const RESULT_HEADER = 16;

/** A call too big for a ring record, whole, on the bulk port. */
interface BulkCall {
  data: Uint8Array;
  subject: string | undefined;
  headers: [string, string][] | undefined;
}

/** Writes a call; false when the ring has no room for it now. */
export function writeCall(ring: RingWriter, bulk: MessagePort, fn: number, data: Uint8Array, subject: string | undefined, headers: PoolHeaders | undefined): boolean {
  let bound = CALL_HEADER + (subject === undefined ? 0 : subject.length * 3);
  if (headers !== undefined) for (const [name, value] of headers) bound += 8 + (name.length + firstValue(value).length) * 3;
  const oversized = bound + data.length > ring.maxRecord;
  // An oversized call goes whole by the bulk port: its headers alone may be larger than a ring.
  const at = ring.reserve(oversized ? CALL_HEADER : bound + data.length);
  if (at < 0) return false;
  const { view, buffer } = ring;
  view.setUint32(at, fn, true);
  if (oversized) {
    const call: BulkCall = { data, subject, headers: headers === undefined ? undefined : Array.from(headers, ([name, value]) => [name, firstValue(value)]) };
    view.setUint32(at + 4, OVERSIZED, true);
    bulk.postMessage(call);
    if (ring.commit(CALL_HEADER)) ring.wake();
    return true;
  }
  let end = at + CALL_HEADER;
  const subjectBytes = subject === undefined ? 0 : writeUtf8(buffer, subject, end, buffer.length - end);
  end += subjectBytes;
  let count = 0;
  if (headers !== undefined) {
    for (const [name, value] of headers) {
      end = writeString(ring, end, name);
      end = writeString(ring, end, firstValue(value));
      count++;
    }
  }
  view.setUint32(at + 4, subject === undefined ? 0 : HAS_SUBJECT, true);
  view.setUint32(at + 8, subjectBytes, true);
  view.setUint32(at + 12, count, true);
  view.setUint32(at + 16, data.length, true);
  ring.bytes.set(data, end);
  end += data.length;
  if (ring.commit(end - at)) ring.wake();
  return true;
}

export interface CallRecord {
  fn: number;
  subject: string | null;
  headers: Map<string, string> | undefined;
  /** a view into the ring, valid until the record is released */
  data: Uint8Array;
}

export function readCall(ring: RingReader, at: number, bulk: MessagePort): CallRecord {
  const { view, buffer } = ring;
  const flags = view.getUint32(at + 4, true);
  if (flags & OVERSIZED) {
    const call = receiveMessageOnPort(bulk)!.message as BulkCall;
    return { fn: view.getUint32(at, true), subject: call.subject ?? null, headers: call.headers && new Map(call.headers), data: call.data };
  }
  const subjectBytes = view.getUint32(at + 8, true);
  const count = view.getUint32(at + 12, true);
  const dataLength = view.getUint32(at + 16, true);
  let from = at + CALL_HEADER;
  let subject: string | null = null;
  if (flags & HAS_SUBJECT) {
    subject = readUtf8(buffer, from, from + subjectBytes);
    from += subjectBytes;
  }
  let headers: Map<string, string> | undefined;
  for (let i = 0; i < count; i++) {
    const name = readString(ring, from);
    const value = readString(ring, name.end);
    (headers ??= new Map()).set(name.text, value.text);
    from = value.end;
  }
  const data = ring.bytes.subarray(from, from + dataLength);
  return { fn: view.getUint32(at, true), subject, headers, data };
}

export interface ResultRecord {
  outputs: Uint8Array[];
  emits: { subject: string; data: Uint8Array }[];
  error: SerializedError | undefined;
  /** what the plugin logged during the call, for the engine's logger */
  logs: LogRecord[] | undefined;
  /** side outputs the instance refused during the call */
  refused: number;
  /** the call left its instance untrustworthy and the worker replaced it */
  replaced: boolean;
}

/** Writes a call's result (worker side), waiting for room if the pool is behind; the caller wakes the pool. */
export function writeResult(ring: RingWriter, bulk: MessagePort, result: ResultRecord): void {
  const error = result.error === undefined ? undefined : JSON.stringify(result.error);
  const logs = result.logs === undefined ? undefined : JSON.stringify(result.logs);
  let size = RESULT_HEADER + (error === undefined ? 0 : 4 + Buffer.byteLength(error)) + (logs === undefined ? 0 : 4 + Buffer.byteLength(logs));
  for (const output of result.outputs) size += 4 + output.length;
  for (const emit of result.emits) size += 8 + Buffer.byteLength(emit.subject) + emit.data.length;
  const oversized = size > ring.maxRecord;
  let at: number;
  while ((at = ring.reserve(oversized ? RESULT_HEADER : size)) < 0) ring.waitForRoom();
  const { view } = ring;
  view.setUint32(at, (oversized ? OVERSIZED : 0) | (error === undefined ? 0 : FAILED) | (logs === undefined ? 0 : HAS_LOGS) | (result.replaced ? REPLACED : 0), true);
  view.setUint32(at + 4, result.outputs.length, true);
  view.setUint32(at + 8, result.emits.length, true);
  view.setUint32(at + 12, result.refused, true);
  let end = at + RESULT_HEADER;
  if (oversized) bulk.postMessage(result);
  else {
    for (const output of result.outputs) end = writeBytes(ring, end, output);
    for (const emit of result.emits) end = writeBytes(ring, writeString(ring, end, emit.subject), emit.data);
    if (error !== undefined) end = writeString(ring, end, error);
    if (logs !== undefined) end = writeString(ring, end, logs);
  }
  ring.commit(end - at);
}

/** Reads a result (pool side); outputs are copied out of the ring. */
export function readResult(ring: RingReader, at: number, bulk: MessagePort): ResultRecord {
  const { view, bytes } = ring;
  const flags = view.getUint32(at, true);
  if (flags & OVERSIZED) return receiveMessageOnPort(bulk)!.message as ResultRecord;
  const outputCount = view.getUint32(at + 4, true);
  const emitCount = view.getUint32(at + 8, true);
  let from = at + RESULT_HEADER;
  const outputs: Uint8Array[] = [];
  for (let i = 0; i < outputCount; i++) {
    const length = view.getUint32(from, true);
    outputs.push(copyOut(bytes, from + 4, length));
    from += 4 + length;
  }
  const emits: ResultRecord['emits'] = [];
  for (let i = 0; i < emitCount; i++) {
    const subject = readString(ring, from);
    const length = view.getUint32(subject.end, true);
    emits.push({ subject: subject.text, data: copyOut(bytes, subject.end + 4, length) });
    from = subject.end + 4 + length;
  }
  let error: SerializedError | undefined;
  if (flags & FAILED) {
    const text = readString(ring, from);
    error = JSON.parse(text.text) as SerializedError;
    from = text.end;
  }
  const logs = flags & HAS_LOGS ? (JSON.parse(readString(ring, from).text) as LogRecord[]) : undefined;
  return { outputs, emits, error, logs, refused: view.getUint32(at + 12, true), replaced: (flags & REPLACED) !== 0 };
}

/** The value the plugin sees of a header that may carry several. */
export function firstValue(value: string | readonly string[]): string {
  return typeof value === 'string' ? value : (value[0] ?? '');
}

function writeString(ring: RingWriter, at: number, text: string): number {
  const length = writeUtf8(ring.buffer, text, at + 4, ring.buffer.length - at - 4);
  ring.view.setUint32(at, length, true);
  return at + 4 + length;
}

function writeBytes(ring: RingWriter, at: number, data: Uint8Array): number {
  ring.view.setUint32(at, data.length, true);
  ring.bytes.set(data, at + 4);
  return at + 4 + data.length;
}

function readString(ring: RingReader, at: number): { text: string; end: number } {
  const length = ring.view.getUint32(at, true);
  return { text: readUtf8(ring.buffer, at + 4, at + 4 + length), end: at + 4 + length };
}
