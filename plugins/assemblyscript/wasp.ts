// The Wasp plugin kit for AssemblyScript: ABI wasp/1 (docs/abi/wasp-1.md) behind a
// few helpers.
//
// A plugin's entry file imports what it needs from here and re-exports the
// allocator, which the host calls to pass strings and bytes in:
//
//   import { OK, inputString, outputString } from "./wasp";
//   export { wasp_alloc, wasp_free } from "./wasp";
//
//   export function hello(ptr: usize, len: usize): i32 {
//     outputString("Hello " + inputString(ptr, len));
//     return OK;
//   }
//
// and is compiled with `--use abort=wasp/waspAbort` (see build.mjs), so that
// the module imports nothing from `env`.
//
// Exported functions take and return only numbers: a string or bytes argument
// is the (ptr, len) pair of a block the host allocated and frees after the
// call; a string or bytes result is handed over with output(). AssemblyScript
// objects never cross the boundary, so the module needs no generated bindings
// and no exported runtime.

// ---- host imports ---------------------------------------------------------
// Only the ones a plugin actually calls end up in its import section.

/** One output of the current call. The host copies the bytes at once. */
// @ts-ignore: decorator
@external("wasp", "output")
export declare function outputRaw(ptr: usize, len: usize): void;

/** Sets the current call's failure message; the last one set wins. */
// @ts-ignore: decorator
@external("wasp", "error")
export declare function setErrorRaw(ptr: usize, len: usize): void;

/** A side output to a subject: 0 when accepted, negative when refused. */
// @ts-ignore: decorator
@external("wasp", "emit")
export declare function emitRaw(subjectPtr: usize, subjectLen: usize, dataPtr: usize, dataLen: usize): i32;

/** A message to the host's logger. */
// @ts-ignore: decorator
@external("wasp", "log")
export declare function logRaw(level: i32, ptr: usize, len: usize): void;

/**
 * The current message's subject, snprintf-style: returns its UTF-8 length and
 * writes it to `buf` only when it fits in `cap`; -1 when there is no message.
 */
// @ts-ignore: decorator
@external("wasp", "subject")
export declare function subjectRaw(buf: usize, cap: usize): i32;

/**
 * The first value of the header `name`, snprintf-style as subjectRaw; -1 when
 * the message has no such header or there is no message.
 */
// @ts-ignore: decorator
@external("wasp", "header")
export declare function headerRaw(namePtr: usize, nameLen: usize, buf: usize, cap: usize): i32;

// ---- statuses and levels --------------------------------------------------

/** Status of a successful string or bytes call. */
// @ts-ignore: decorator
@inline export const OK: i32 = 0;
/** The status fail() returns; any non-zero status fails the call. */
// @ts-ignore: decorator
@inline export const FAILED: i32 = 1;

/** Result of emit() when the host accepted the message. */
// @ts-ignore: decorator
@inline export const EMIT_OK: i32 = 0;
/** emit() refusals, as the host returns them. */
// @ts-ignore: decorator
@inline export const EMIT_NO_EMITTER: i32 = -1;
// @ts-ignore: decorator
@inline export const EMIT_SUBJECT_NOT_ALLOWED: i32 = -2;
// @ts-ignore: decorator
@inline export const EMIT_BAD_POINTER: i32 = -3;

export enum LogLevel {
  Trace = 0,
  Debug = 1,
  Info = 2,
  Warn = 3,
  Error = 4,
}

// ---- the allocator the host uses ------------------------------------------
//
// Small blocks come from the runtime's heap (TLSF). TLSF traps when
// memory.grow fails, but the ABI wants wasp_alloc to return 0 then, so that
// the host reports an AllocationError and the instance stays usable. Blocks of
// a page or more are therefore taken in whole pages straight from memory.grow,
// whose -1 we can see, and kept on a free list of their own for reuse: TLSF
// never learns about those pages (it only adds memory it grew itself), so the
// two never hand out the same bytes. Running out of memory with a small block
// still traps inside TLSF; by then the plugin's own code could not run either.

// @ts-ignore: decorator
@inline const PAGE_BITS: usize = 16;
// @ts-ignore: decorator
@inline const PAGE: usize = 1 << PAGE_BITS;

/**
 * First free page run, sorted by address (0: none). A free run keeps the next
 * run's address at offset 0 and its length in pages at offset 4.
 */
let freeRuns: usize = 0;
let heapReady = false;

// @ts-ignore: decorator
@inline function pagesFor(size: usize): usize {
  // Not (size + PAGE - 1) >> PAGE_BITS: that overflows for sizes near 4 GiB.
  return (size >> PAGE_BITS) + usize((size & (PAGE - 1)) != 0);
}

function allocPages(pages: usize): usize {
  let prev: usize = 0;
  let run = freeRuns;
  while (run != 0) {
    let next = load<usize>(run);
    let length = load<usize>(run, 4);
    if (length >= pages) {
      if (length > pages) {
        // Keep the tail of the run free, in place.
        let rest = run + (pages << PAGE_BITS);
        store<usize>(rest, next);
        store<usize>(rest, length - pages, 4);
        next = rest;
      }
      if (prev != 0) store<usize>(prev, next);
      else freeRuns = next;
      return run;
    }
    prev = run;
    run = next;
  }
  // TLSF sets itself up on its first allocation and then takes every page
  // memory has at that moment, ours included: make it do so before we grow.
  if (!heapReady) {
    heap.free(heap.alloc(0));
    heapReady = true;
  }
  let before = memory.grow(<i32>pages);
  if (before < 0) return 0;
  return <usize>before << PAGE_BITS;
}

function freePages(ptr: usize, pages: usize): void {
  let prev: usize = 0;
  let next = freeRuns;
  while (next != 0 && next < ptr) {
    prev = next;
    next = load<usize>(next);
  }
  // Merge with neighbours, so that freed runs can serve larger blocks later.
  if (next != 0 && ptr + (pages << PAGE_BITS) == next) {
    pages += load<usize>(next, 4);
    next = load<usize>(next);
  }
  if (prev != 0) {
    let prevPages = load<usize>(prev, 4);
    if (prev + (prevPages << PAGE_BITS) == ptr) {
      store<usize>(prev, next);
      store<usize>(prev, prevPages + pages, 4);
      return;
    }
    store<usize>(prev, ptr);
  } else {
    freeRuns = ptr;
  }
  store<usize>(ptr, next);
  store<usize>(ptr, pages, 4);
}

/** Returns a block of at least `size` bytes, or 0 when memory cannot grow. */
export function wasp_alloc(size: usize): usize {
  if (size >= PAGE) return allocPages(pagesFor(size));
  return heap.alloc(size);
}

/** Frees a block from wasp_alloc; `size` must be the size asked for. */
export function wasp_free(ptr: usize, size: usize): void {
  if (ptr == 0) return;
  if (size >= PAGE) freePages(ptr, pagesFor(size));
  else heap.free(ptr);
}

// ---- input ----------------------------------------------------------------

/** The (ptr, len) input decoded from UTF-8. */
export function inputString(ptr: usize, len: usize): string {
  return String.UTF8.decodeUnsafe(ptr, len);
}

/**
 * A copy of the (ptr, len) input. A copy because the host frees the block
 * when the call returns, and a view into it would outlive it.
 */
export function inputBytes(ptr: usize, len: usize): Uint8Array {
  let bytes = new Uint8Array(<i32>len);
  memory.copy(bytes.dataStart, ptr, len);
  return bytes;
}

// ---- output, errors, emit, log --------------------------------------------

/** One output of the current call. Several outputs make a flatMap. */
export function output(bytes: Uint8Array): void {
  outputRaw(bytes.dataStart, <usize>bytes.byteLength);
}

/** One output of the current call, encoded as UTF-8. */
export function outputString(s: string): void {
  let utf8 = String.UTF8.encode(s);
  outputRaw(changetype<usize>(utf8), <usize>utf8.byteLength);
}

/** Sets the message the host reports if the call fails. */
export function setError(message: string): void {
  let utf8 = String.UTF8.encode(message);
  setErrorRaw(changetype<usize>(utf8), <usize>utf8.byteLength);
}

/** Sets the error and returns FAILED: `return fail("...")`. */
export function fail(message: string): i32 {
  setError(message);
  return FAILED;
}

/** Emits `data` to `subject`: EMIT_OK, or a negative refusal code. */
export function emit(subject: string, data: Uint8Array): i32 {
  let name = String.UTF8.encode(subject);
  return emitRaw(changetype<usize>(name), <usize>name.byteLength, data.dataStart, <usize>data.byteLength);
}

/** Emits a string, encoded as UTF-8, to `subject`. */
export function emitString(subject: string, data: string): i32 {
  let name = String.UTF8.encode(subject);
  let utf8 = String.UTF8.encode(data);
  return emitRaw(changetype<usize>(name), <usize>name.byteLength, changetype<usize>(utf8), <usize>utf8.byteLength);
}

/** Logs a message through the host's logger. */
export function log(level: LogLevel, message: string): void {
  let utf8 = String.UTF8.encode(message);
  logRaw(level, changetype<usize>(utf8), <usize>utf8.byteLength);
}

// ---- the current message (pipeline stages) ---------------------------------
// subjectRaw and headerRaw copy into a buffer the plugin provides and return
// the value's length, which may be larger than the buffer: then nothing was
// written and the call is repeated with a buffer of that length.

/** What subjectRaw and headerRaw return when there is no value. */
// @ts-ignore: decorator
@inline export const ABSENT: i32 = -1;

// @ts-ignore: decorator
@inline const SCRATCH_SIZE: usize = 64;
/** First try of readValue: static, so short values need no allocation. */
const scratch: usize = memory.data(<i32>SCRATCH_SIZE);

// Reads the subject (headerName null) or a header, decoded from UTF-8.
function readValue(headerName: ArrayBuffer | null): string | null {
  let buf = scratch;
  let cap = SCRATCH_SIZE;
  let block: usize = 0;
  let value: string | null = null;
  while (true) {
    let len = headerName == null
      ? subjectRaw(buf, cap)
      : headerRaw(changetype<usize>(headerName), <usize>headerName.byteLength, buf, cap);
    if (len < 0) break;
    if (<usize>len <= cap) {
      value = String.UTF8.decodeUnsafe(buf, <usize>len);
      break;
    }
    // Too long for the buffer: again with one of the length returned. The
    // value cannot change during a call, so this runs at most once.
    if (block != 0) heap.free(block);
    cap = <usize>len;
    block = heap.alloc(cap);
    buf = block;
  }
  if (block != 0) heap.free(block);
  return value;
}

/** The current message's subject; null when the call handles no message. */
export function subject(): string | null {
  return readValue(null);
}

/**
 * The first value of the header `name` (matched case-sensitively); null when
 * the message has no such header or there is no message.
 */
export function header(name: string): string | null {
  return readValue(String.UTF8.encode(name));
}

// ---- callback results -----------------------------------------------------
// A callback declared to return a string or bytes returns one i64,
// (ptr << 32) | len, naming a block the host got from wasp_alloc. The plugin
// owns it; these take it over and free it.

/** The pointer of a packed callback result. */
// @ts-ignore: decorator
@inline export function packedPtr(packed: i64): usize {
  return <usize>(<u64>packed >> 32);
}

/** The length of a packed callback result. */
// @ts-ignore: decorator
@inline export function packedLen(packed: i64): usize {
  return <usize>(packed & 0xFFFFFFFF);
}

/** Frees the block of a packed callback result (nothing for an empty one). */
export function freePacked(packed: i64): void {
  wasp_free(packedPtr(packed), packedLen(packed));
}

/** Decodes a packed callback result as UTF-8 and frees its block. */
export function takeString(packed: i64): string {
  let s = String.UTF8.decodeUnsafe(packedPtr(packed), packedLen(packed));
  freePacked(packed);
  return s;
}

/** Copies a packed callback result out and frees its block. */
export function takeBytes(packed: i64): Uint8Array {
  let bytes = inputBytes(packedPtr(packed), packedLen(packed));
  freePacked(packed);
  return bytes;
}

// ---- abort ----------------------------------------------------------------

/**
 * Replaces the runtime's `env.abort` import (`--use abort=wasp/waspAbort`):
 * the host provides no `env`, so an assertion, a failed bounds check or an
 * uncaught `throw` reports its message as the call's error and traps instead.
 */
export function waspAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  let text = message != null ? message : "abort";
  if (fileName != null) {
    text += " (" + fileName + ":" + line.toString() + ":" + column.toString() + ")";
  }
  setError(text);
  unreachable();
}
