;; Wasp's Extism kernel: the memory Extism plugins exchange data through, and the functions of
;; "extism:host/env" that only move bytes, as Wasm, linked straight into the plugin. A plugin's
;; byte-by-byte and 8-bytes-at-a-time copies are then Wasm-to-Wasm calls, never a trip through
;; JavaScript (where every i64 would be a BigInt). The host's own entry points (host_*) take
;; and return i32.
;;
;; A block is its length (i64) and then its bytes; an offset names the bytes. The kernel starts
;; empty for every call (host_reset): what a call allocated is gone with the next one, so a
;; plugin that never frees leaks nothing. Its memory comes from the host, sized by the plugin's
;; memoryLimitPages (at most 16,384 pages, 1 GiB): past it alloc answers 0.
;;
;; Config, vars and logs need the host: those functions pass the block's offset and length on as
;; i32 to the host's imports ("host"), so no i64 (a BigInt in JavaScript) crosses over.
(module
  (import "host" "config_get" (func $h_config_get (param i32 i32) (result i32)))
  (import "host" "var_get" (func $h_var_get (param i32 i32) (result i32)))
  (import "host" "var_set" (func $h_var_set (param i32 i32 i32 i32)))
  (import "host" "log" (func $h_log (param i32 i32 i32)))
  (import "host" "log_level" (func $h_log_level (result i32)))
  (import "host" "memory" (memory 1))
  (global $top (mut i32) (i32.const 16))
  (global $input (mut i32) (i32.const 0))
  (global $input_len (mut i32) (i32.const 0))
  (global $output (mut i32) (i32.const 0))
  (global $output_len (mut i32) (i32.const 0))
  (global $error (mut i32) (i32.const 0))

  ;; A block of $n bytes; 0 when memory cannot hold it.
  (func $alloc32 (param $n i32) (result i32)
    (local $p i32) (local $end i32) (local $have i32)
    (if (i32.gt_u (local.get $n) (i32.const 0x3FFF0000)) (then (return (i32.const 0))))
    (local.set $p (i32.add (global.get $top) (i32.const 8)))
    (local.set $end (i32.and (i32.add (i32.add (local.get $p) (local.get $n)) (i32.const 7)) (i32.const -8)))
    (local.set $have (i32.shl (memory.size) (i32.const 16)))
    (if (i32.gt_u (local.get $end) (local.get $have))
      (then
        (if (i32.eq
              (memory.grow (i32.shr_u (i32.add (i32.sub (local.get $end) (local.get $have)) (i32.const 0xFFFF)) (i32.const 16)))
              (i32.const -1))
          (then (return (i32.const 0))))))
    (i64.store (global.get $top) (i64.extend_i32_u (local.get $n)))
    (global.set $top (local.get $end))
    (local.get $p))

  ;; An offset or length as i32: one past 4 GiB names nothing here, and traps rather than wrap.
  (func $addr (param $p i64) (result i32)
    (if (i64.gt_u (local.get $p) (i64.const 0xFFFFFFFF)) (then (unreachable)))
    (i32.wrap_i64 (local.get $p)))

  ;; The length of the block at $p; 0 for an offset that names no block of this call.
  (func $length32 (param $p i32) (result i32)
    (if (i32.or (i32.lt_u (local.get $p) (i32.const 24)) (i32.ge_u (local.get $p) (global.get $top))) (then (return (i32.const 0))))
    (i32.wrap_i64 (i64.load (i32.sub (local.get $p) (i32.const 8)))))

  (func (export "alloc") (param $n i64) (result i64)
    (if (i64.gt_u (local.get $n) (i64.const 0x3FFF0000)) (then (return (i64.const 0))))
    (i64.extend_i32_u (call $alloc32 (i32.wrap_i64 (local.get $n)))))
  ;; Only the last block is given back: blocks live until the call ends anyway.
  (func (export "free") (param $p i64)
    (local $q i32)
    (local.set $q (i32.wrap_i64 (local.get $p)))
    (if (i32.eqz (call $length32 (local.get $q))) (then (return)))
    (if (i32.eq
          (i32.and (i32.add (i32.add (local.get $q) (call $length32 (local.get $q))) (i32.const 7)) (i32.const -8))
          (global.get $top))
      (then (global.set $top (i32.sub (local.get $q) (i32.const 8))))))
  (func (export "length") (param $p i64) (result i64)
    (if (i64.gt_u (local.get $p) (i64.const 0xFFFFFFFF)) (then (return (i64.const 0))))
    (i64.extend_i32_u (call $length32 (i32.wrap_i64 (local.get $p)))))
  (func (export "length_unsafe") (param $p i64) (result i64)
    (i64.load (i32.sub (call $addr (local.get $p)) (i32.const 8))))
  (func (export "load_u8") (param $p i64) (result i32) (i32.load8_u (call $addr (local.get $p))))
  (func (export "load_u64") (param $p i64) (result i64) (i64.load (call $addr (local.get $p))))
  (func (export "store_u8") (param $p i64) (param $v i32) (i32.store8 (call $addr (local.get $p)) (local.get $v)))
  (func (export "store_u64") (param $p i64) (param $v i64) (i64.store (call $addr (local.get $p)) (local.get $v)))
  (func (export "input_length") (result i64) (i64.extend_i32_u (global.get $input_len)))
  (func (export "input_offset") (result i64) (i64.extend_i32_u (global.get $input)))
  (func (export "input_load_u8") (param $i i64) (result i32)
    (i32.load8_u (i32.add (global.get $input) (call $addr (local.get $i)))))
  (func (export "input_load_u64") (param $i i64) (result i64)
    (i64.load (i32.add (global.get $input) (call $addr (local.get $i)))))
  ;; Also kept at addresses 0 (output offset), 4 (output length) and 8 (error offset), where the
  ;; host reads them without a call.
  (func (export "output_set") (param $p i64) (param $n i64)
    (global.set $output (call $addr (local.get $p)))
    (global.set $output_len (call $addr (local.get $n)))
    (i32.store (i32.const 0) (global.get $output))
    (i32.store (i32.const 4) (global.get $output_len)))
  (func (export "error_set") (param $p i64)
    (global.set $error (call $addr (local.get $p)))
    (i32.store (i32.const 8) (global.get $error)))

  ;; Config, vars and logs, through the host.
  (func $at (param $p i64) (result i32) (call $addr (local.get $p)))
  (func (export "config_get") (param $key i64) (result i64)
    (i64.extend_i32_u (call $h_config_get (call $at (local.get $key)) (call $length32 (call $at (local.get $key))))))
  (func (export "var_get") (param $key i64) (result i64)
    (i64.extend_i32_u (call $h_var_get (call $at (local.get $key)) (call $length32 (call $at (local.get $key))))))
  (func (export "var_set") (param $key i64) (param $value i64)
    (call $h_var_set
      (call $at (local.get $key)) (call $length32 (call $at (local.get $key)))
      (call $at (local.get $value)) (call $length32 (call $at (local.get $value)))))
  (func (export "log_trace") (param $p i64) (call $h_log (i32.const 0) (call $at (local.get $p)) (call $length32 (call $at (local.get $p)))))
  (func (export "log_debug") (param $p i64) (call $h_log (i32.const 1) (call $at (local.get $p)) (call $length32 (call $at (local.get $p)))))
  (func (export "log_info") (param $p i64) (call $h_log (i32.const 2) (call $at (local.get $p)) (call $length32 (call $at (local.get $p)))))
  (func (export "log_warn") (param $p i64) (call $h_log (i32.const 3) (call $at (local.get $p)) (call $length32 (call $at (local.get $p)))))
  (func (export "log_error") (param $p i64) (call $h_log (i32.const 4) (call $at (local.get $p)) (call $length32 (call $at (local.get $p)))))
  (func (export "get_log_level") (result i32) (call $h_log_level))

  ;; The host's side.
  (func $reset (export "host_reset")
    (global.set $top (i32.const 16))
    (global.set $input (i32.const 0))
    (global.set $input_len (i32.const 0))
    (global.set $output (i32.const 0))
    (global.set $output_len (i32.const 0))
    (global.set $error (i32.const 0))
    (i64.store (i32.const 0) (i64.const 0))
    (i32.store (i32.const 8) (i32.const 0)))
  ;; A call begins: the kernel empty, and a block of $n bytes for its input (0: none, or no room).
  (func (export "host_begin") (param $n i32) (result i32)
    (local $p i32)
    (call $reset)
    (if (i32.eqz (local.get $n)) (then (return (i32.const 0))))
    (local.set $p (call $alloc32 (local.get $n)))
    (if (local.get $p) (then
      (global.set $input (local.get $p))
      (global.set $input_len (local.get $n))))
    (local.get $p))
  (func (export "host_alloc") (param $n i32) (result i32) (call $alloc32 (local.get $n)))
  (func (export "host_length") (param $p i32) (result i32) (call $length32 (local.get $p)))
  (func (export "host_input_set") (param $p i32) (param $n i32)
    (global.set $input (local.get $p))
    (global.set $input_len (local.get $n)))
  (func (export "host_output_offset") (result i32) (global.get $output))
  (func (export "host_output_length") (result i32) (global.get $output_len))
  (func (export "host_error") (result i32) (global.get $error))
)
