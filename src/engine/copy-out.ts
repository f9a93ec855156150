// Outputs leave plugin memory as copies. A fresh typed array over 64 bytes
// costs V8 an off-heap backing store, which for a 1 KiB output takes several
// times longer than copying it; so outputs up to 8 KiB are copied into slices
// of a shared 64 KiB arena instead, as Node pools small Buffers. An output
// keeps its arena alive: holding one small output pins at most 64 KiB.

const ARENA_BYTES = 64 * 1024;
const POOLED_MAX = 8 * 1024;
const ON_HEAP_MAX = 64;

let arena = new Uint8Array(ARENA_BYTES);
let used = 0;

/** A copy of src[start, start + length) that shares nothing with src. */
export function copyOut(src: Uint8Array, start: number, length: number): Uint8Array {
  if (length <= ON_HEAP_MAX || length > POOLED_MAX) return src.slice(start, start + length);
  if (used + length > ARENA_BYTES) {
    arena = new Uint8Array(ARENA_BYTES);
    used = 0;
  }
  const out = arena.subarray(used, used + length);
  out.set(src.subarray(start, start + length));
  used = (used + length + 7) & ~7; // keep slices 8-byte aligned
  return out;
}
