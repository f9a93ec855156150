;; The benchmark's functions for Extism's ABI, written by hand with the same
;; logic as plugins/wat/examples.wat, so the JS SDK and Wasp are compared on the
;; same work. Extism passes everything as bytes through its kernel: input is
;; read and output written through host calls, 8 bytes at a time with the tail
;; byte by byte, as Extism's own PDKs do.
(module
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory (export "memory") 2)
  (data (i32.const 0) "Hello ")

  ;; Copies the input to linear memory at $dst; returns its length.
  (func $read_input (param $dst i32) (result i32) (local $len i32) (local $i i32)
    (local.set $len (i32.wrap_i64 (call $input_length)))
    (block $done (loop $chunks
      (br_if $done (i32.gt_u (i32.add (local.get $i) (i32.const 8)) (local.get $len)))
      (i64.store (i32.add (local.get $dst) (local.get $i)) (call $input_load_u64 (i64.extend_i32_u (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 8)))
      (br $chunks)))
    (block $end (loop $tail
      (br_if $end (i32.ge_u (local.get $i) (local.get $len)))
      (i32.store8 (i32.add (local.get $dst) (local.get $i)) (call $input_load_u8 (i64.extend_i32_u (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $tail)))
    (local.get $len))

  ;; Copies [$src, $src+$len) into a kernel block and makes it the output.
  (func $write_output (param $src i32) (param $len i32) (local $out i64) (local $i i32)
    (local.set $out (call $alloc (i64.extend_i32_u (local.get $len))))
    (block $done (loop $chunks
      (br_if $done (i32.gt_u (i32.add (local.get $i) (i32.const 8)) (local.get $len)))
      (call $store_u64 (i64.add (local.get $out) (i64.extend_i32_u (local.get $i))) (i64.load (i32.add (local.get $src) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 8)))
      (br $chunks)))
    (block $end (loop $tail
      (br_if $end (i32.ge_u (local.get $i) (local.get $len)))
      (call $store_u8 (i64.add (local.get $out) (i64.extend_i32_u (local.get $i))) (i32.load8_u (i32.add (local.get $src) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $tail)))
    (call $output_set (local.get $out) (i64.extend_i32_u (local.get $len))))

  ;; sum: two little-endian i32 in, their sum out (4 bytes).
  (func (export "sum") (result i32) (local $in i64)
    (local.set $in (call $input_load_u64 (i64.const 0)))
    (i32.store (i32.const 64) (i32.add (i32.wrap_i64 (local.get $in)) (i32.wrap_i64 (i64.shr_u (local.get $in) (i64.const 32)))))
    (call $write_output (i32.const 64) (i32.const 4))
    (i32.const 0))

  ;; hello: "Hello " + input.
  (func (export "hello") (result i32) (local $len i32)
    (local.set $len (call $read_input (i32.const 6)))
    (call $write_output (i32.const 0) (i32.add (local.get $len) (i32.const 6)))
    (i32.const 0))

  ;; reverse: the input's bytes reversed.
  (func (export "reverse") (result i32) (local $len i32) (local $i i32)
    (local.set $len (call $read_input (i32.const 1024)))
    (block $done (loop $rev
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (i32.store8 (i32.add (i32.const 70000) (local.get $i))
        (i32.load8_u (i32.add (i32.const 1024) (i32.sub (i32.sub (local.get $len) (i32.const 1)) (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $rev)))
    (call $write_output (i32.const 70000) (local.get $len))
    (i32.const 0))
)
