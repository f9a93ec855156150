// The plugin of the example text pipelines (pipeline.yaml, nats.yaml, ...):
// stage functions over one line of text each. Built with the AssemblyScript
// kit by `node plugins/build.mjs text-pipeline` (see build.mjs here).
//
// Every export is a stage function, (ptr, len) -> status: no output drops the
// message (a filter), several outputs flat-map it, and a non-zero status or a
// trap fails it. The module imports nothing but `wasp` functions.
import {
  OK, EMIT_OK,
  inputBytes, output, outputRaw, outputString, emitRaw, fail, subject, header,
} from "../../plugins/assemblyscript/wasp";

// The host calls these to pass the message in.
export { wasp_alloc, wasp_free } from "../../plugins/assemblyscript/wasp";

// @ts-ignore: decorator
@inline const SPACE: u8 = 0x20;
// @ts-ignore: decorator
@inline const LOWER_X: u8 = 0x78;

function contains(ptr: usize, len: usize, byte: u8): bool {
  for (let i: usize = 0; i < len; i++) {
    if (load<u8>(ptr + i) == byte) return true;
  }
  return false;
}

/** Outputs the input unchanged (the benchmarks' stage). */
export function identity(ptr: usize, len: usize): i32 {
  outputRaw(ptr, len);
  return OK;
}

/** ASCII letters upper-cased; an empty input gives no output (a filter). */
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

/** One output per space-separated word, empty words skipped (a flatMap). */
export function words(ptr: usize, len: usize): i32 {
  let start: usize = 0;
  for (let i: usize = 0; i <= len; i++) {
    if (i == len || load<u8>(ptr + i) == SPACE) {
      // The host copies each output at once, so pointing into the input is fine.
      if (i > start) outputRaw(ptr + start, i - start);
      start = i + 1;
    }
  }
  return OK;
}

/** The subject of audit's side outputs, encoded once. */
const AUDIT_SUBJECT = String.UTF8.encode("audit.text");

/** Emits the input to audit.text and outputs it unchanged. */
export function audit(ptr: usize, len: usize): i32 {
  let code = emitRaw(changetype<usize>(AUDIT_SUBJECT), <usize>AUDIT_SUBJECT.byteLength, ptr, len);
  if (code != EMIT_OK) return fail("emit refused: " + code.toString());
  outputRaw(ptr, len);
  return OK;
}

/** `<subject>;<X-Tag header>;<input>`, `-` for an absent subject or header. */
export function tag(ptr: usize, len: usize): i32 {
  let s = subject();
  let t = header("X-Tag");
  let head = String.UTF8.encode((s != null ? s : "-") + ";" + (t != null ? t : "-") + ";");
  let headLen = <usize>head.byteLength;
  // The input is copied as bytes, so it need not be valid UTF-8.
  let out = new Uint8Array(<i32>(headLen + len));
  memory.copy(out.dataStart, changetype<usize>(head), headLen);
  memory.copy(out.dataStart + headLen, ptr, len);
  output(out);
  return OK;
}

// ASCII white space as JSON and the WHATWG define it.
function isSpace(c: u8): bool {
  return c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0x0C;
}

/**
 * Inserts "bytes":N (N: the input's length in bytes) as the first member of a
 * JSON object; only the outer braces are checked. The output is the trimmed
 * object. Anything else fails with `not a JSON object`.
 */
export function json_tag(ptr: usize, len: usize): i32 {
  let start: usize = 0;
  let end = len;
  while (start < end && isSpace(load<u8>(ptr + start))) start++;
  while (end > start && isSpace(load<u8>(ptr + end - 1))) end--;
  if (end - start < 2 || load<u8>(ptr + start) != 0x7B || load<u8>(ptr + end - 1) != 0x7D) {
    return fail("not a JSON object");
  }
  // A comma after the new member only if the object has members already.
  let hasMembers = false;
  for (let i = start + 1; i < end - 1; i++) {
    if (!isSpace(load<u8>(ptr + i))) {
      hasMembers = true;
      break;
    }
  }
  let head = String.UTF8.encode("{\"bytes\":" + len.toString() + (hasMembers ? "," : ""));
  let headLen = <usize>head.byteLength;
  let rest = end - start - 1; // everything after the '{'
  let out = new Uint8Array(<i32>(headLen + rest));
  memory.copy(out.dataStart, changetype<usize>(head), headLen);
  memory.copy(out.dataStart + headLen, ptr + start + 1, rest);
  output(out);
  return OK;
}

/** Fails (`contains x`, status 1) when the input has an `x`, else outputs it unchanged. */
export function fail_on_x(ptr: usize, len: usize): i32 {
  if (contains(ptr, len, LOWER_X)) return fail("contains x");
  outputRaw(ptr, len);
  return OK;
}

/** Traps when the input has an `x`, else outputs it unchanged. */
export function trap_on_x(ptr: usize, len: usize): i32 {
  if (contains(ptr, len, LOWER_X)) unreachable();
  outputRaw(ptr, len);
  return OK;
}
