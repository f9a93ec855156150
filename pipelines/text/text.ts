// The plugin of the example text pipelines (pipeline.yaml, nats.yaml, ...):
// stage functions over one line of text each. Built with the AssemblyScript
// kit by `node plugins/build.mjs text-pipeline` (see build.mjs here).
//
// Every export is a stage function, (ptr, len) -> status: no output drops the
// message (a filter), several outputs flat-map it, and a non-zero status or a
// trap fails it. The module imports nothing but `wasp` functions.
import { OK, EMIT_OK, outputRaw, outputString, emitRaw, fail } from "../../plugins/assemblyscript/wasp";

// The host calls these to pass the message in.
export { wasp_alloc, wasp_free } from "../../plugins/assemblyscript/wasp";

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

// The text stages the kit's example plugin already has, compiled into this module.
export { upper, words, tag, json_tag } from "../../plugins/assemblyscript/examples";

/** The subject of audit's side outputs, encoded once. */
const AUDIT_SUBJECT = String.UTF8.encode("audit.text");

/** Emits the input to audit.text and outputs it unchanged. */
export function audit(ptr: usize, len: usize): i32 {
  let code = emitRaw(changetype<usize>(AUDIT_SUBJECT), <usize>AUDIT_SUBJECT.byteLength, ptr, len);
  if (code != EMIT_OK) return fail("emit refused: " + code.toString());
  outputRaw(ptr, len);
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

/** Never returns when the input has an `x` (for stage deadlines), else outputs it unchanged. */
export function spin_on_x(ptr: usize, len: usize): i32 {
  if (contains(ptr, len, LOWER_X)) {
    while (true) {}
  }
  outputRaw(ptr, len);
  return OK;
}

/** CPU-heavy on purpose (~20 us on the development machine): FNV-1a over the input, 2,000 rounds; outputs the hash in hex. */
export function burn(ptr: usize, len: usize): i32 {
  let h: u32 = 2166136261;
  for (let round = 0; round < 2000; round++) {
    for (let i: usize = 0; i < len; i++) {
      h = (h ^ load<u8>(ptr + i)) * 16777619;
    }
  }
  outputString(h.toString(16));
  return OK;
}
