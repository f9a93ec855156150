;; The example plugin written by hand in WebAssembly text: ABI wasp/1
;; (docs/abi/wasp-1.md) with no kit in between. It exports the first block of the
;; table in plugins/README.md: sum, hello, reverse, add_i64, mul_f64 and
;; half_f32. Build it with `node plugins/build.mjs wat`.
;;
;; What the host needs from a plugin:
;;   - numbers only: nothing but the export itself (sum, add_i64, ...);
;;   - strings or bytes: `memory`, and `wasp_alloc`/`wasp_free`, with which the
;;     host puts each string argument into a block of this module's memory
;;     before the call and frees it after. The export receives the block as
;;     two i32 parameters (ptr, len) and returns an i32 status (0 = success);
;;     its result goes out through the `wasp.output` import.
(module
  ;; ---- host imports ------------------------------------------------------
  ;; A module imports only what it uses; any other `wasp` name, or one of these
  ;; with another signature, is refused when the plugin is registered.

  ;; One output of the current call. The host copies (ptr, len) at once, so the
  ;; block may be freed right after.
  (import "wasp" "output" (func $output (param $ptr i32) (param $len i32)))
  ;; The message of the current call's failure, reported with a non-zero status.
  (import "wasp" "error" (func $error (param $ptr i32) (param $len i32)))

  ;; ---- memory ---------------------------------------------------------------
  ;; One page to start with; the allocator grows it. The host may cap growth
  ;; (memoryLimitPages), in which case memory.grow returns -1.
  (memory (export "memory") 1)

  ;; Constant strings live below the heap.
  (data (i32.const 16) "Hello ")         ;; 6 bytes at 16
  (data (i32.const 32) "out of memory")  ;; 13 bytes at 32

  ;; ---- allocator -------------------------------------------------------------
  ;; A bump allocator. The host frees every block it allocated, with the size
  ;; it asked for, once the call returns, so most blocks live for one call:
  ;;   - freeing the most recent block moves the top back (a plugin's own
  ;;     allocate-output-free sequence costs nothing);
  ;;   - when no block is live any more the whole heap is reclaimed, so blocks
  ;;     freed out of order leak only until the end of the call.
  ;; Address 0 is never handed out: wasp_alloc's 0 means "no memory".

  (global $heap_base i32 (i32.const 64))
  (global $top (mut i32) (i32.const 64))  ;; first free byte
  (global $live (mut i32) (i32.const 0))  ;; blocks allocated and not freed

  ;; (size: i32) -> ptr: i32, or 0 when memory cannot grow enough.
  (func $alloc (export "wasp_alloc") (param $size i32) (result i32)
    (local $ptr i32)
    (local $end i64)    ;; i64: ptr + size must not wrap around 4 GiB
    (local $have i64)   ;; bytes of memory now
    ;; 8-byte alignment suits any value a plugin would store in a block.
    (local.set $ptr
      (i32.and (i32.add (global.get $top) (i32.const 7)) (i32.const -8)))
    (local.set $end
      (i64.add (i64.extend_i32_u (local.get $ptr))
               (i64.extend_i32_u (local.get $size))))
    (local.set $have
      (i64.shl (i64.extend_i32_u (memory.size)) (i64.const 16)))
    (if (i64.gt_u (local.get $end) (local.get $have))
      (then
        ;; Past 4 GiB no memory.grow can help.
        (if (i64.gt_u (local.get $end) (i64.const 0x1_0000_0000))
          (then (return (i32.const 0))))
        ;; Grow by the missing pages, rounded up. memory.grow returns the old
        ;; size in pages, or -1 when it refuses (the host's limit, or 4 GiB).
        (if (i32.eq
              (memory.grow
                (i32.wrap_i64
                  (i64.shr_u
                    (i64.add (i64.sub (local.get $end) (local.get $have))
                             (i64.const 0xFFFF))
                    (i64.const 16))))
              (i32.const -1))
          (then (return (i32.const 0))))))
    (global.set $top (i32.wrap_i64 (local.get $end)))
    (global.set $live (i32.add (global.get $live) (i32.const 1)))
    (local.get $ptr))

  ;; (ptr: i32, size: i32) -> (): `size` is the size given to wasp_alloc.
  (func $free (export "wasp_free") (param $ptr i32) (param $size i32)
    (if (i32.eqz (local.get $ptr)) (then (return)))
    (global.set $live (i32.sub (global.get $live) (i32.const 1)))
    (if (i32.eqz (global.get $live))
      (then
        (global.set $top (global.get $heap_base))
        (return)))
    ;; The most recent block ends at the top: give its bytes back.
    (if (i32.eq (i32.add (local.get $ptr) (local.get $size)) (global.get $top))
      (then (global.set $top (local.get $ptr)))))

  ;; Fails the call: sets the error and returns status 2, as the C kit does
  ;; when malloc gives up.
  (func $out_of_memory (result i32)
    (call $error (i32.const 32) (i32.const 13))
    (i32.const 2))

  ;; ---- numbers ------------------------------------------------------------
  ;; Numeric arguments and results cross the boundary as they are: the host
  ;; converts its numbers to the declared types (an i64 from a bigint).

  ;; (a: i32, b: i32) -> i32: a + b, wrapping.
  (func (export "sum") (param $a i32) (param $b i32) (result i32)
    (i32.add (local.get $a) (local.get $b)))

  ;; (a: i64, b: i64) -> i64: a + b, wrapping. The host sees a bigint.
  (func (export "add_i64") (param $a i64) (param $b i64) (result i64)
    (i64.add (local.get $a) (local.get $b)))

  ;; (a: f64, b: f64) -> f64: a * b.
  (func (export "mul_f64") (param $a f64) (param $b f64) (result f64)
    (f64.mul (local.get $a) (local.get $b)))

  ;; (a: f32) -> f32: a / 2.
  (func (export "half_f32") (param $a f32) (result f32)
    (f32.div (local.get $a) (f32.const 2)))

  ;; ---- strings and bytes ----------------------------------------------------
  ;; A string argument arrives as (ptr, len): UTF-8 in a block the host got
  ;; from wasp_alloc, or (0, 0) when empty. The host frees it after the call,
  ;; so nothing may keep pointing into it.

  ;; (ptr, len) -> status: outputs "Hello " + input. UTF-8 needs no special
  ;; care: the bytes are copied as they are.
  (func (export "hello") (param $ptr i32) (param $len i32) (result i32)
    (local $out i32)
    (local $out_len i32)
    (local.set $out_len (i32.add (local.get $len) (i32.const 6)))
    (local.set $out (call $alloc (local.get $out_len)))
    (if (i32.eqz (local.get $out)) (then (return (call $out_of_memory))))
    (memory.copy (local.get $out) (i32.const 16) (i32.const 6))
    (memory.copy
      (i32.add (local.get $out) (i32.const 6)) (local.get $ptr) (local.get $len))
    (call $output (local.get $out) (local.get $out_len))
    ;; The host has copied the output: the block can go at once.
    (call $free (local.get $out) (local.get $out_len))
    (i32.const 0))

  ;; (ptr, len) -> status: outputs the input bytes in reverse order. An empty
  ;; input gives one empty output, not none.
  (func (export "reverse") (param $ptr i32) (param $len i32) (result i32)
    (local $out i32)
    (local $i i32)
    (local.set $out (call $alloc (local.get $len)))
    (if (i32.eqz (local.get $out)) (then (return (call $out_of_memory))))
    ;; out[i] = in[len - 1 - i] for i in [0, len)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (i32.store8
          (i32.add (local.get $out) (local.get $i))
          (i32.load8_u
            (i32.sub
              (i32.add (local.get $ptr) (local.get $len))
              (i32.add (local.get $i) (i32.const 1)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (call $output (local.get $out) (local.get $len))
    (call $free (local.get $out) (local.get $len))
    (i32.const 0))
)
