// What `wasp new plugin` writes for each language: an example stage function (upper: ASCII
// letters upper-cased, an empty message filtered out), with the kit beside it (kits.ts copies it).

export const LANGUAGES = ['c', 'rust', 'as', 'wat'] as const;
export type Language = (typeof LANGUAGES)[number];

/** The manifest `wasp build` reads: which language, and where the module goes. */
export interface PluginManifest {
  name: string;
  lang: Language;
  output: string;
}

export const MANIFEST = 'wasp-plugin.json';

/** The source files of a new plugin project, by path inside it. */
export function sources(name: string, lang: Language): Record<string, string> {
  switch (lang) {
    case 'c':
      return {
        'plugin.c': `// ${name}: a Wasp plugin (ABI wasp/1), in C. wasp.h is the kit: see its comments.
// Build: npx wasp build        Try: npx wasp call ${name}.wasm upper hello
#include <stdlib.h>
#include "wasp.h"

// A pipeline stage: the message in (ptr, len), outputs out through wasp_output_bytes,
// WASP_OK back. No output filters the message out.
WASP_EXPORT(upper) int32_t upper(const uint8_t *ptr, size_t len) {
    if (len == 0) {
        return WASP_OK;
    }
    uint8_t *out = malloc(len);
    if (out == NULL) {
        return WASP_FAIL;
    }
    for (size_t i = 0; i < len; i++) {
        uint8_t c = ptr[i];
        out[i] = (c >= 'a' && c <= 'z') ? (uint8_t)(c - 'a' + 'A') : c;
    }
    wasp_output_bytes(out, len);
    free(out);
    return WASP_OK;
}
`,
      };
    case 'rust':
      return {
        'Cargo.toml': `[package]
name = "${crateName(name)}"
version = "0.1.0"
edition = "2021"
publish = false

[lib]
crate-type = ["cdylib"]
path = "src/lib.rs"

[dependencies]
wasp = { path = "wasp" }

# Wasm has no unwinding: a panic becomes a trap, which the host reports as PluginTrapError.
[profile.release]
opt-level = 3
lto = true
codegen-units = 1
panic = "abort"
strip = "debuginfo"

[workspace]
`,
        'src/lib.rs': `//! ${name}: a Wasp plugin (ABI wasp/1), in Rust. The wasp crate beside it is the kit.
//! Build: npx wasp build        Try: npx wasp call ${name}.wasm upper hello

wasp::export! {
    /// A pipeline stage: the message in, an output out; None filters the message out.
    fn upper(input: &[u8]) -> Option<Vec<u8>> {
        if input.is_empty() {
            None
        } else {
            Some(input.to_ascii_uppercase())
        }
    }
}
`,
      };
    case 'as':
      return {
        'index.ts': `// ${name}: a Wasp plugin (ABI wasp/1), in AssemblyScript. wasp.ts is the kit.
// Build: npx wasp build        Try: npx wasp call ${name}.wasm upper hello
import { OK, inputBytes, output } from "./wasp";

// The host calls these to pass strings and bytes in.
export { wasp_alloc, wasp_free } from "./wasp";

// A pipeline stage: the message in (ptr, len), outputs out, OK back. No output filters it out.
export function upper(ptr: usize, len: usize): i32 {
  if (len == 0) return OK;
  let bytes = inputBytes(ptr, len);
  for (let i = 0; i < bytes.length; i++) {
    let c = unchecked(bytes[i]);
    if (c >= 0x61 && c <= 0x7A) unchecked(bytes[i] = c - 0x20);
  }
  output(bytes);
  return OK;
}
`,
      };
    case 'wat':
      return {
        [`${name}.wat`]: `;; ${name}: a Wasp plugin (ABI wasp/1), in WebAssembly text.
;; Build: npx wasp build        Try: npx wasp call ${name}.wasm upper hello
(module
  (import "wasp" "output" (func $output (param i32 i32)))
  (memory (export "memory") 1)

  ;; The host copies a message in through wasp_alloc: a bump allocator that starts over
  ;; when it reaches the end of the page (one message at a time is all a stage holds).
  (global $next (mut i32) (i32.const 1024))
  (func (export "wasp_alloc") (param $n i32) (result i32) (local $p i32)
    (if (i32.gt_u (i32.add (global.get $next) (local.get $n)) (i32.const 65536))
      (then (global.set $next (i32.const 1024))))
    (local.set $p (global.get $next))
    (global.set $next (i32.add (local.get $p) (local.get $n)))
    (local.get $p))
  (func (export "wasp_free") (param i32 i32))

  ;; A pipeline stage: the message in (ptr, len), upper-cased in place and output; 0 back.
  ;; An empty message gives no output, which filters it out.
  (func (export "upper") (param $p i32) (param $n i32) (result i32) (local $i i32) (local $c i32)
    (if (i32.eqz (local.get $n)) (then (return (i32.const 0))))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $c (i32.load8_u (i32.add (local.get $p) (local.get $i))))
      (if (i32.and (i32.ge_u (local.get $c) (i32.const 97)) (i32.le_u (local.get $c) (i32.const 122)))
        (then (i32.store8 (i32.add (local.get $p) (local.get $i)) (i32.sub (local.get $c) (i32.const 32)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $each)))
    (call $output (local.get $p) (local.get $n))
    (i32.const 0)))
`,
      };
  }
}

/** A pipeline around the plugin's stage, from stdin to stdout, with its test cases. */
export function pipelineFile(name: string, module: string): string {
  return `# ${name}: one stage, standard input to standard output, a message per line.
#   npx wasp run pipeline.yaml < input.txt     runs it
#   npx wasp test .                            runs the test cases below
#   npx wasp validate pipeline.yaml            checks it (every key: see the docs' config.md)
name: ${name}
plugins:
  ${name}: { path: ./${module} }
input:
  stdin: true
stages:
  - name: upper
    plugin: ${name}
    function: upper
output:
  stdout: true
tests:
  - name: upper-cases a line
    input:
      - { data: "hello wasp" }
    outputs:
      - { data: "HELLO WASP" }
  - name: an empty line gives nothing
    input:
      - { data: "" }
`;
}

export function readme(name: string, lang: Language): string {
  const toolchain: Record<Language, string> = {
    c: 'clang with the wasm32-wasi target and wasi-libc (Debian: `apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32`)',
    rust: 'rustc and cargo with the wasm32-wasi standard library (Debian: `apt-get install -y rustc cargo libstd-rust-dev-wasm32`)',
    as: 'the AssemblyScript compiler (`npm install --save-dev assemblyscript`)',
    wat: 'wabt from npm (`npm install --save-dev wabt`)',
  };
  return `# ${name}

A Wasp plugin (ABI wasp/1). \`upper\` is a pipeline stage: it upper-cases a
message's ASCII letters and filters out an empty one.

\`\`\`sh
npx wasp build                                  # ${name}.wasm
npx wasp call ${name}.wasm upper hello          # HELLO
echo hello | npx wasp run pipeline.yaml         # HELLO
npx wasp test .                                 # the test cases in pipeline.yaml
\`\`\`

Building needs ${toolchain[lang]}; \`wasp build\` says what is missing.
`;
}

/** A new pipeline file, every key explained, for `wasp new pipeline NAME`. */
export function newPipeline(name: string, module: string, fn: string): string {
  return `# ${name}: a Wasp pipeline. Every key: docs/config.md of wasp-streams (or its JSON Schema,
# docs/pipeline.schema.json, for an editor). Check it with: npx wasp validate ${name}.yaml
name: ${name}

# Where to reach NATS; without it the pipeline runs on the in-process embedded bus.
# nats:
#   servers: \${NATS_URL:-nats://127.0.0.1:4222}

# Plugins by name: a module, compiled once, instantiated per pool slot.
plugins:
  main: { path: ${module} }   # timeoutMs, memoryLimitPages, maxOutputBytes, sha256, wasi...

# Where messages come from: exactly one of
#   subject: orders.>            (core NATS, at most once; queue: NAME to share it)
#   stream: ORDERS + consumer: NAME (+ subject: to create the stream)   (JetStream, at least once)
#   stdin: true                  (a message per line; the run ends at end of input)
input:
  stdin: true

# The chain of stages: a plugin function each, (ptr, len) -> i32 under ABI wasp/1.
stages:
  - name: first
    plugin: main
    function: ${fn}
    # pool: 2                      instances; or { size: 2, mode: worker } for CPU-heavy stages
    # emits: [audit.>]             subjects this stage may send side outputs to
    # timeoutMs: 1000              this stage's call deadline

# Where outputs go: subject: NAME, or stdout: true.
output:
  stdout: true

# Where failed messages go (a JetStream input needs it): subject: NAME, or discard: true.
# deadLetter:
#   subject: ${name}.dlq

# Test cases, run by npx wasp test ${name}.yaml (in process, no NATS needed): messages in,
# and every output, side output (sideOutputs:) and dead letter (deadLetters:) expected out.
# tests:
#   - name: upper-cases a message
#     input:
#       - { data: "hello", headers: { X-Id: "1" } }
#     outputs:
#       - { data: "HELLO", headers: { X-Id: "1" } }
`;
}

/** A crate name from a project name: letters, digits and _. */
export function crateName(name: string): string {
  return name.replace(/[^A-Za-z0-9_]/g, '_');
}
