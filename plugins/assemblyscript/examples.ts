// The example plugin in AssemblyScript. It exports the functions listed in
// plugins/README.md, so the tests and the benchmark run the same checks on
// every kit. Build it with `node plugins/build.mjs assemblyscript`.
import {
  OK, FAILED, EMIT_OK, LogLevel,
  inputString, inputBytes, output, outputRaw, outputString,
  setError, fail as failWith, emit, log, takeString, subjectRaw, headerRaw,
} from "./wasp";

// The host calls these to pass strings and bytes in.
export { wasp_alloc, wasp_free } from "./wasp";

// The host callback the `callback` export calls: string -> string, so
// (ptr, len) in and a packed (ptr << 32) | len block out.
// @ts-ignore: decorator
@external("plugin", "call_me")
declare function call_me(ptr: usize, len: usize): i64;

// ---- numbers ----------------------------------------------------------------

export function sum(a: i32, b: i32): i32 {
  return a + b;
}

export function add_i64(a: i64, b: i64): i64 {
  return a + b;
}

export function mul_f64(a: f64, b: f64): f64 {
  return a * b;
}

export function half_f32(a: f32): f32 {
  return a / 2;
}

// ---- strings and bytes --------------------------------------------------------

export function hello(ptr: usize, len: usize): i32 {
  outputString("Hello " + inputString(ptr, len));
  return OK;
}

// Bytes, not characters: a multi-byte UTF-8 sequence comes out reversed too.
export function reverse(ptr: usize, len: usize): i32 {
  let bytes = inputBytes(ptr, len);
  bytes.reverse();
  output(bytes);
  return OK;
}

// An empty input gives no output, so in a pipeline it drops the message.
export function upper(ptr: usize, len: usize): i32 {
  if (len == 0) return OK;
  let bytes = inputBytes(ptr, len);
  for (let i = 0; i < bytes.length; i++) {
    let c = unchecked(bytes[i]);
    // ASCII only: bytes of multi-byte UTF-8 sequences are >= 0x80.
    if (c >= 0x61 && c <= 0x7A) unchecked(bytes[i] = c - 0x20);
  }
  output(bytes);
  return OK;
}

// One output per word: a flatMap. The outputs point into the input, which is
// fine because the host copies each one at once.
export function words(ptr: usize, len: usize): i32 {
  let start: usize = 0;
  for (let i: usize = 0; i <= len; i++) {
    if (i == len || load<u8>(ptr + i) == 0x20) {
      if (i > start) outputRaw(ptr + start, i - start);
      start = i + 1;
    }
  }
  return OK;
}

export function audit(ptr: usize, len: usize): i32 {
  let bytes = inputBytes(ptr, len);
  let code = emit("audit.as", bytes);
  if (code != EMIT_OK) return failWith("emit refused: " + code.toString());
  output(bytes);
  return OK;
}

// ASCII white space as JSON and the WHATWG define it.
function isSpace(c: u8): bool {
  return c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0x0C;
}

// Inserts "bytes":N as the first member of a JSON object. It only checks the
// braces, not the whole syntax. The output is the trimmed object.
export function json_tag(ptr: usize, len: usize): i32 {
  let start: usize = 0;
  let end = len;
  while (start < end && isSpace(load<u8>(ptr + start))) start++;
  while (end > start && isSpace(load<u8>(ptr + end - 1))) end--;
  if (end - start < 2 || load<u8>(ptr + start) != 0x7B || load<u8>(ptr + end - 1) != 0x7D) {
    return failWith("not a JSON object");
  }
  // A comma after the new member only if the object has members already.
  let hasMembers = false;
  for (let i = start + 1; i < end - 1; i++) {
    if (!isSpace(load<u8>(ptr + i))) {
      hasMembers = true;
      break;
    }
  }
  // Everything after the '{' is kept as is, so it is copied as bytes rather
  // than decoded and encoded again.
  let head = String.UTF8.encode("{\"bytes\":" + len.toString() + (hasMembers ? "," : ""));
  let headLen = <usize>head.byteLength;
  let rest = end - start - 1;
  let out = new Uint8Array(<i32>(headLen + rest));
  memory.copy(out.dataStart, changetype<usize>(head), headLen);
  memory.copy(out.dataStart + headLen, ptr + start + 1, rest);
  output(out);
  return OK;
}

// A part of `tag`: the subject (headerName null) or a header value, as
// UTF-8 bytes, or "-" when absent. Read into a 16-byte buffer first and,
// when the returned length says it did not fit, again into one of that
// length. The kit's subject() and header() do the same with a larger first
// buffer; this spells it out so that the example takes both paths.
function tagPart(headerName: ArrayBuffer | null): Uint8Array {
  let buf = new Uint8Array(16);
  for (let attempt = 0; attempt < 2; attempt++) {
    let len = headerName == null
      ? subjectRaw(buf.dataStart, <usize>buf.length)
      : headerRaw(changetype<usize>(headerName), <usize>headerName.byteLength, buf.dataStart, <usize>buf.length);
    if (len < 0) break; // absent
    if (len <= buf.length) return buf.subarray(0, len);
    buf = new Uint8Array(len);
  }
  // Absent (or, which the ABI rules out, still too long the second time).
  let dash = new Uint8Array(1);
  dash[0] = 0x2D;
  return dash;
}

// <subject>;<X-Tag header>;<input>, "-" for an absent one.
export function tag(ptr: usize, len: usize): i32 {
  let subject = tagPart(null);
  let header = tagPart(String.UTF8.encode("X-Tag"));
  let out = new Uint8Array(subject.length + 1 + header.length + 1 + <i32>len);
  out.set(subject);
  let at = subject.length;
  out[at++] = 0x3B;
  out.set(header, at);
  at += header.length;
  out[at++] = 0x3B;
  memory.copy(out.dataStart + <usize>at, ptr, len);
  output(out);
  return OK;
}

export function fail(ptr: usize, len: usize): i32 {
  setError("failed: " + inputString(ptr, len));
  return FAILED;
}

export function shout(ptr: usize, len: usize): i32 {
  log(LogLevel.Info, inputString(ptr, len));
  return OK;
}

// ---- callbacks ------------------------------------------------------------------

export function callback(): i32 {
  let name = String.UTF8.encode("Nic");
  let result = takeString(call_me(changetype<usize>(name), <usize>name.byteLength));
  outputString(result);
  return OK;
}

// ---- misbehaviour, for the host's failure handling --------------------------

export function trap(): i32 {
  unreachable();
  return FAILED;
}

// An output far outside memory: the host must fail the call, not crash.
export function bad_output(): i32 {
  outputRaw(0xFFFFFF00, 1024);
  return OK;
}

// memory.grow: the previous size in pages, or -1 when the host refuses.
export function grow(pages: i32): i32 {
  return memory.grow(pages);
}
