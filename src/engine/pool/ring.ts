// A single-producer, single-consumer ring of variable-size records in a
// SharedArrayBuffer: how calls and results cross between the pool and a
// worker without a postMessage (and its structured clone) per call.
//
// Head and tail count bytes ever written and read, wrapping at 2^32; the
// capacity is a power of two, so `count & mask` is the position either way.
// A record is a 4-byte length and its body, padded to 8 bytes; one that
// would run past the end leaves a pad marker and starts again at 0.

const HEAD = 0; // bytes written: stored by the producer after the record, so the consumer never sees half of one
const TAIL = 1; // bytes consumed: the producer may reuse space behind it
const SLEEPING = 2; // 1 while the consumer waits for HEAD to move: only then does the producer pay for a notify
const STALLED = 3; // 1 while the producer waits for TAIL to move, likewise
const CONTROL_WORDS = 4;
const PAD = 0xffffffff;

// In Node since 16; not yet in the TypeScript lib this project targets.
type WaitAsync = (array: Int32Array, index: number, value: number) => { async: false; value: string } | { async: true; value: Promise<string> };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

export interface RingBuffers {
  data: SharedArrayBuffer;
  control: SharedArrayBuffer;
}

export function createRing(capacity: number): RingBuffers {
  if (capacity < 64 || (capacity & (capacity - 1)) !== 0) throw new RangeError('ring capacity must be a power of two of at least 64');
  return { data: new SharedArrayBuffer(capacity), control: new SharedArrayBuffer(CONTROL_WORDS * 4) };
}

class RingSide {
  readonly control: Int32Array;
  readonly view: DataView;
  readonly bytes: Uint8Array;
  /** the buffer as a Buffer, for its fast UTF-8 methods */
  readonly buffer: Buffer;
  readonly capacity: number;
  readonly mask: number;

  constructor(buffers: RingBuffers) {
    this.control = new Int32Array(buffers.control);
    this.view = new DataView(buffers.data);
    this.bytes = new Uint8Array(buffers.data);
    this.buffer = Buffer.from(buffers.data);
    this.capacity = buffers.data.byteLength;
    this.mask = this.capacity - 1;
  }

  /** The largest record body the ring takes; anything bigger goes another way. */
  get maxRecord(): number {
    return this.capacity / 2 - 8;
  }
}

export class RingWriter extends RingSide {
  #head: number;
  #reserved = -1;
  #tailSeen = 0;

  constructor(buffers: RingBuffers) {
    super(buffers);
    this.#head = Atomics.load(this.control, HEAD);
  }

  /** Room for a record body of up to `size` bytes: its offset in `bytes`, or -1 while the ring is too full. */
  reserve(size: number): number {
    if (size > this.maxRecord) throw new RangeError(`a ${size}-byte record is over the ring's ${this.maxRecord}-byte limit`);
    const need = (size + 11) & ~7;
    this.#tailSeen = Atomics.load(this.control, TAIL);
    const used = (this.#head - this.#tailSeen) >>> 0;
    let at = this.#head & this.mask;
    const pad = at + need > this.capacity ? this.capacity - at : 0;
    if (this.capacity - used < pad + need) return -1;
    if (pad > 0) {
      this.view.setUint32(at, PAD, true);
      this.#head = (this.#head + pad) | 0;
      at = 0;
    }
    this.#reserved = at;
    return at + 4;
  }

  /** Publishes the reserved record with the body size actually written; returns whether the consumer sleeps and needs a notify. */
  commit(size: number): boolean {
    this.view.setUint32(this.#reserved, size, true);
    this.#head = (this.#head + ((size + 11) & ~7)) | 0;
    Atomics.store(this.control, HEAD, this.#head);
    return this.consumerSleeps();
  }

  consumerSleeps(): boolean {
    return Atomics.load(this.control, SLEEPING) === 1;
  }

  /**
   * Wakes the sleeping consumer. Only the consumer clears SLEEPING, once awake: cleared here, a
   * producer delayed between seeing it set and clearing it could clear the flag of the
   * consumer's next sleep, after which no commit would wake it (a hang, seen under load). Until
   * the consumer is up, each commit of a burst notifies again, which costs little.
   */
  wake(): void {
    Atomics.notify(this.control, HEAD);
  }

  /** Blocks (worker threads only) until the consumer frees space after a failed reserve. */
  waitForRoom(): void {
    Atomics.store(this.control, STALLED, 1);
    Atomics.wait(this.control, TAIL, this.#tailSeen);
    Atomics.store(this.control, STALLED, 0);
  }
}

export class RingReader extends RingSide {
  #tail: number;
  #size = 0;

  constructor(buffers: RingBuffers) {
    super(buffers);
    this.#tail = Atomics.load(this.control, TAIL);
  }

  /** The next record body's offset (its size in `size`), or -1 when the ring is empty. */
  next(): number {
    for (;;) {
      const head = Atomics.load(this.control, HEAD);
      if (head === this.#tail) return -1;
      const at = this.#tail & this.mask;
      const size = this.view.getUint32(at, true);
      if (size === PAD) {
        this.#tail = (this.#tail + this.capacity - at) | 0;
        continue;
      }
      this.#size = size;
      return at + 4;
    }
  }

  get size(): number {
    return this.#size;
  }

  /** Whether a record is waiting, without taking it. */
  hasRecord(): boolean {
    return Atomics.load(this.control, HEAD) !== this.#tail;
  }

  /** Frees the record last returned by next(). */
  release(): void {
    this.#tail = (this.#tail + ((this.#size + 11) & ~7)) | 0;
    Atomics.store(this.control, TAIL, this.#tail);
    if (Atomics.load(this.control, STALLED) === 1) Atomics.notify(this.control, TAIL);
  }

  /** Blocks (worker threads only) until a record arrives. */
  waitForRecord(): void {
    Atomics.store(this.control, SLEEPING, 1);
    Atomics.wait(this.control, HEAD, this.#tail);
    Atomics.store(this.control, SLEEPING, 0);
  }

  /**
   * Resolves when a record arrives (main thread), or at once (returning
   * false) when one is there already.
   */
  waitAsync(): Promise<unknown> | false {
    Atomics.store(this.control, SLEEPING, 1);
    const result = waitAsync(this.control, HEAD, this.#tail);
    if (!result.async) {
      Atomics.store(this.control, SLEEPING, 0);
      return false;
    }
    return result.value;
  }

  awake(): void {
    Atomics.store(this.control, SLEEPING, 0);
  }

  /** Releases a waitAsync on this ring (when its producer is gone). */
  interrupt(): void {
    Atomics.notify(this.control, HEAD);
  }
}
