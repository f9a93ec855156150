// WASI stdout and stderr of an instance, passed on line by line as the plugin
// writes them and never kept: a plugin that prints on every message must not
// grow its host (the WASI library buffers whatever nobody reads, forever).
import { MAX_LOG_LINE_BYTES } from './limits.js';
import { readUtf8 } from './utf8.js';

export type OutputStream = 'stdout' | 'stderr';
export type LineSink = (stream: OutputStream, line: string) => void;

const NEWLINE = 0x0a;
/** WASI errno values the host answers with itself. */
export const ESUCCESS = 0;
export const EFAULT = 21;

/** One stream's unfinished line, at most MAX_LOG_LINE_BYTES of it; the rest of a longer line is cut. */
class PendingLine {
  readonly #buffer = Buffer.alloc(MAX_LOG_LINE_BYTES);
  #length = 0;
  #cut = false;

  constructor(
    readonly stream: OutputStream,
    readonly sink: LineSink,
  ) {}

  write(bytes: Uint8Array, start: number, end: number): void {
    // searched only as far as this write goes: from `start` to the end of memory, a write of many
    // one-byte pieces cost a whole memory's search each
    const piece = bytes.subarray(0, end);
    let from = start;
    while (from < end) {
      const newline = piece.indexOf(NEWLINE, from);
      const stop = newline < 0 ? end : newline;
      this.#append(bytes, from, stop);
      if (stop === end) return;
      this.flush();
      from = stop + 1;
    }
  }

  flush(): void {
    const text = readUtf8(this.#buffer, 0, this.#length);
    this.sink(this.stream, this.#cut ? `${text}…` : text);
    this.#length = 0;
    this.#cut = false;
  }

  get empty(): boolean {
    return this.#length === 0 && !this.#cut;
  }

  #append(bytes: Uint8Array, from: number, to: number): void {
    const room = MAX_LOG_LINE_BYTES - this.#length;
    const n = Math.min(room, to - from);
    this.#buffer.set(bytes.subarray(from, from + n), this.#length);
    this.#length += n;
    if (n < to - from) this.#cut = true;
  }
}

type FdWrite = (fd: number, iovs: number, iovsLen: number, nwritten: number) => number;

/**
 * Replaces fd_write in a WASI import object so that writes to fd 1 and 2 go
 * to `sink` line by line; other descriptors keep the WASI library's own.
 * `memory` is the plugin's memory once known (not yet during its start function,
 * when writes go to the library as before).
 */
export function routeOutput(
  imports: Record<string, Record<string, unknown>>,
  memory: () => Uint8Array | undefined,
  sink: LineSink,
  work: (bytes: number) => void = () => {},
): { flush(): void } {
  const lines = [new PendingLine('stdout', sink), new PendingLine('stderr', sink)] as const;
  for (const namespace of Object.values(imports)) {
    const original = namespace.fd_write as FdWrite | undefined;
    if (typeof original !== 'function') continue;
    namespace.fd_write = (fd: number, iovs: number, iovsLen: number, nwritten: number): number => {
      const bytes = fd === 1 || fd === 2 ? memory() : undefined;
      if (bytes === undefined) return original(fd, iovs, iovsLen, nwritten);
      const at = iovs >>> 0;
      const count = iovsLen >>> 0;
      const out = nwritten >>> 0;
      const total = iovecBytes(bytes, at, count);
      if (total < 0 || out + 4 > bytes.length) return EFAULT;
      // a write of many pieces is work the plugin sized: the deadline is looked at first
      work(total + count * 8);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let i = 0; i < count; i++) {
        const ptr = view.getUint32(at + i * 8, true);
        lines[fd - 1]!.write(bytes, ptr, ptr + view.getUint32(at + i * 8 + 4, true));
      }
      view.setUint32(out, total >>> 0, true);
      return ESUCCESS;
    };
  }
  return {
    flush: () => {
      for (const line of lines) if (!line.empty) line.flush();
    },
  };
}

/** The bytes an iovec list (`count` pointer and length pairs at `iovs`) points at, all inside memory; -1 when any of it is outside. */
export function iovecBytes(bytes: Uint8Array, iovs: number, count: number): number {
  const at = iovs >>> 0;
  const n = count >>> 0;
  if (at + n * 8 > bytes.length) return -1;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const ptr = view.getUint32(at + i * 8, true);
    const len = view.getUint32(at + i * 8 + 4, true);
    if (ptr + len > bytes.length) return -1;
    total += len;
  }
  return total;
}
