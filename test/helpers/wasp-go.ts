// Plugins in the Go Wasp conventions (ABI wasp-go), written here in WAT: the Go Wasp repository
// has no licence, so its prebuilt modules are not committed. The functions are those of its
// example plugin (sum, hello, reverse, fail, callback), plus what the tests need. Like a TinyGo
// build, the module must be started (_start) before it works: every export traps until then.
// Its allocator counts live blocks (live()) and starts over when none is left, so a host that
// forgets to free shows as live() > 0 and a memory that keeps growing.

/** What _start does at its end: return, or exit through WASI with this code (TinyGo may). */
export type StartEnd = 'return' | { exit: number };

export function waspGoPlugin(options: { start?: StartEnd; callback?: boolean } = {}): string {
  const start = options.start ?? 'return';
  const exit = start !== 'return';
  return `(module
  (import "env" "raise_error" (func $raise (param i32)))
  ${options.callback === false ? '' : '(import "env" "call_me" (func $call_me (param i32) (result i32)))'}
  ${exit ? '(import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))' : ''}
  (memory (export "memory") 2)
  (global $ready (mut i32) (i32.const 0))
  (global $heap (mut i32) (i32.const 4096))
  (global $live (mut i32) (i32.const 0))
  (data (i32.const 16) "Hello \\00")
  (data (i32.const 32) "Ooops\\00")
  (data (i32.const 48) "Nic\\00")
  (func (export "_start")
    (global.set $ready (i32.const 1))
    ${exit ? `(call $exit (i32.const ${start.exit}))` : ''})
  (func $check (if (i32.eqz (global.get $ready)) (then unreachable)))
  (func $allocate (export "allocate") (param $size i32) (result i32)
    (local $p i32) (local $end i32)
    (local.set $p (global.get $heap))
    (local.set $end (i32.add (local.get $p) (i32.and (i32.add (local.get $size) (i32.const 7)) (i32.const -8))))
    (if (i32.gt_u (local.get $end) (i32.mul (memory.size) (i32.const 65536)))
      (then (if (i32.eq (memory.grow (i32.add (i32.shr_u (i32.sub (local.get $end) (i32.mul (memory.size) (i32.const 65536))) (i32.const 16)) (i32.const 1))) (i32.const -1))
        (then (return (i32.const 0))))))
    (global.set $heap (local.get $end))
    (global.set $live (i32.add (global.get $live) (i32.const 1)))
    (local.get $p))
  (func (export "deallocate") (param $p i32) (param $size i32)
    (global.set $live (i32.sub (global.get $live) (i32.const 1)))
    (if (i32.eqz (global.get $live)) (then (global.set $heap (i32.const 4096)))))
  (func (export "live") (result i32) (global.get $live))
  (func $strlen (export "get_string_size") (param $p i32) (result i32)
    (local $n i32)
    (block $done (loop $next
      (br_if $done (i32.eqz (i32.load8_u (i32.add (local.get $p) (local.get $n)))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $next)))
    (local.get $n))
  ;; a copy of a NUL-terminated string in a fresh block, as abi.String does
  (func $dup (param $s i32) (result i32)
    (local $n i32) (local $out i32)
    (local.set $n (i32.add (call $strlen (local.get $s)) (i32.const 1)))
    (local.set $out (call $allocate (local.get $n)))
    (memory.copy (local.get $out) (local.get $s) (local.get $n))
    (local.get $out))
  (func (export "sum") (param i32 i32) (result i32) (call $check) (i32.add (local.get 0) (local.get 1)))
  (func (export "hello") (param $in i32) (result i32)
    (local $n i32) (local $out i32)
    (call $check)
    (local.set $n (call $strlen (local.get $in)))
    (local.set $out (call $allocate (i32.add (local.get $n) (i32.const 7))))
    (memory.copy (local.get $out) (i32.const 16) (i32.const 6))
    (memory.copy (i32.add (local.get $out) (i32.const 6)) (local.get $in) (local.get $n))
    (i32.store8 (i32.add (local.get $out) (i32.add (local.get $n) (i32.const 6))) (i32.const 0))
    (local.get $out))
  (func (export "reverse") (param $in i32) (result i32)
    (local $n i32) (local $out i32) (local $i i32)
    (call $check)
    (local.set $n (i32.load (local.get $in)))
    (local.set $out (call $allocate (i32.add (local.get $n) (i32.const 4))))
    (i32.store (local.get $out) (local.get $n))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (i32.store8 (i32.add (i32.add (local.get $out) (i32.const 4)) (local.get $i))
        (i32.load8_u (i32.add (i32.add (local.get $in) (i32.const 3)) (i32.sub (local.get $n) (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (local.get $out))
  ;; no result: a string export that returns 0
  (func (export "nothing") (param $in i32) (result i32) (call $check) (i32.const 0))
  (func (export "fail") (call $check) (call $raise (call $dup (i32.const 32))))
  ${options.callback === false ? '' : `(func (export "callback") (result i32) (call $check) (call $call_me (call $dup (i32.const 48))))
  ;; calls back $n times in one call, each with a fresh string; returns the last answer itself,
  ;; a block the host handed over and now gets back
  (func (export "callbacks") (param $n i32) (result i32) (local $i i32) (local $last i32)
    (call $check)
    (block $done (loop $more
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $last (call $call_me (call $dup (i32.const 48))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $more)))
    (local.get $last))`}
  (func (export "trap") (param i32) (result i32) (unreachable))
  (func (export "spin") (param i32) (result i32) (loop $l (br $l)) (i32.const 0))
)`;
}
