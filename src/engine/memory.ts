import { MemoryAccessError, type ErrorContext } from './errors.js';
import { copyOut } from './copy-out.js';
import { readUtf8, writeUtf8 } from './utf8.js';

/**
 * Views over a plugin's linear memory. Growing a memory detaches its old
 * ArrayBuffer (every view over it reads as length 0), so the views are
 * rebuilt only then instead of on every access.
 */
export class PluginMemory {
  #u8: Uint8Array;
  #buf: Buffer;

  constructor(readonly memory: WebAssembly.Memory) {
    this.#u8 = new Uint8Array(memory.buffer);
    this.#buf = Buffer.from(memory.buffer);
  }

  get byteLength(): number {
    return this.memory.buffer.byteLength;
  }

  /** The current bytes; valid until the plugin next runs (it may grow memory). */
  bytes(): Uint8Array {
    return this.#u8.length !== 0 ? this.#u8 : this.#refresh().#u8;
  }

  buffer(): Buffer {
    return this.#buf.length !== 0 ? this.#buf : this.#refresh().#buf;
  }

  #refresh(): this {
    this.#u8 = new Uint8Array(this.memory.buffer);
    this.#buf = Buffer.from(this.memory.buffer);
    return this;
  }

  /** Unchecked: the caller has bounds-checked [start, end). */
  readUtf8(start: number, end: number): string {
    return readUtf8(this.buffer(), start, end);
  }

  /** Unchecked: the caller allocated `length` bytes at ptr for the text. */
  writeUtf8(text: string, ptr: number, length: number): void {
    writeUtf8(this.buffer(), text, ptr, length);
  }

  /** True when [ptr, ptr+len) lies inside memory; ptr and len are read as unsigned. */
  contains(ptr: number, len: number): boolean {
    return (ptr >>> 0) + (len >>> 0) <= this.bytes().length;
  }

  /** A copy of [ptr, ptr+len), or a MemoryAccessError naming what the plugin got wrong. */
  copy(ptr: number, len: number, what: string, context: ErrorContext): Uint8Array {
    const p = ptr >>> 0;
    const end = p + (len >>> 0);
    const u8 = this.bytes();
    if (end > u8.length) throw outOfBounds(p, len >>> 0, u8.length, what, context);
    return copyOut(u8, p, end - p);
  }

  string(ptr: number, len: number, what: string, context: ErrorContext): string {
    const p = ptr >>> 0;
    const end = p + (len >>> 0);
    const buf = this.buffer();
    if (end > buf.length) throw outOfBounds(p, len >>> 0, buf.length, what, context);
    return readUtf8(buf, p, end);
  }
}

export function outOfBounds(ptr: number, len: number, size: number, what: string, context: ErrorContext): MemoryAccessError {
  return new MemoryAccessError(
    `plugin ${context.plugin}: ${what} gave ${len} bytes at ${ptr}, outside its ${size}-byte memory`,
    context,
  );
}
