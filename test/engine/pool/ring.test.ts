// The shared ring under worker pools: records in order, wrap-around, full and empty.
import { describe, expect, it } from 'vitest';
import { createRing, RingReader, RingWriter } from '../../../src/engine/pool/ring.js';

function write(w: RingWriter, body: Uint8Array): boolean {
  const at = w.reserve(body.length);
  if (at < 0) return false;
  w.bytes.set(body, at);
  w.commit(body.length);
  return true;
}

function read(r: RingReader): Uint8Array | undefined {
  const at = r.next();
  if (at < 0) return undefined;
  const body = r.bytes.slice(at, at + r.size);
  r.release();
  return body;
}

describe('ring', () => {
  it('gives records back in order across many wrap-arounds, refusing what does not fit until space is freed', () => {
    const buffers = createRing(256);
    const w = new RingWriter(buffers);
    const r = new RingReader(buffers);
    let written = 0;
    let readBack = 0;
    let refused = 0;
    const body = (n: number) => new Uint8Array((n * 37) % 100).fill(n % 251);
    while (readBack < 2000) {
      while (written < 2000 && write(w, body(written))) written++;
      if (written < 2000) refused++;
      // read a few, so the writer meets a partly full ring at every offset
      for (let i = 0; i < 3; i++) {
        const got = read(r);
        if (got === undefined) break;
        expect(got).toEqual(body(readBack));
        readBack++;
      }
    }
    expect(read(r)).toBeUndefined();
    expect(refused).toBeGreaterThan(100);
  });

  it('takes a record of up to half its capacity at any offset, and refuses a bigger one', () => {
    const buffers = createRing(256);
    const w = new RingWriter(buffers);
    const r = new RingReader(buffers);
    for (let offset = 0; offset < 300; offset += 8) {
      expect(write(w, new Uint8Array(w.maxRecord).fill(offset % 256))).toBe(true);
      expect(read(r)).toEqual(new Uint8Array(w.maxRecord).fill(offset % 256));
      write(w, new Uint8Array(offset % 50));
      read(r);
    }
    expect(() => w.reserve(w.maxRecord + 1)).toThrow(RangeError);
    expect(() => createRing(100)).toThrow(RangeError);
  });
});
