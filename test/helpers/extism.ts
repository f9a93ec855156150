// A plugin against Extism's kernel ABI, written here in WAT the way Extism's PDKs work: input read
// and output written through the kernel 8 bytes at a time, the tail byte by byte. Besides an echo
// it exercises what the kernel offers: errors, config, vars, logs and a user host function.
// `oldNames` imports the same functions as env.extism_* (early Go PDK builds).

export function extismPlugin(options: { oldNames?: boolean; http?: boolean; userFunction?: boolean } = {}): string {
  const imp = (name: string, type: string) =>
    options.oldNames ? `(import "env" "extism_${name}" (func $${name} ${type}))` : `(import "extism:host/env" "${name}" (func $${name} ${type}))`;
  return `(module
  ${imp('input_length', '(result i64)')}
  ${imp('input_load_u64', '(param i64) (result i64)')}
  ${imp('input_load_u8', '(param i64) (result i32)')}
  ${imp('alloc', '(param i64) (result i64)')}
  ${imp('length', '(param i64) (result i64)')}
  ${imp('load_u8', '(param i64) (result i32)')}
  ${imp('store_u64', '(param i64 i64)')}
  ${imp('store_u8', '(param i64 i32)')}
  ${imp('output_set', '(param i64 i64)')}
  ${imp('error_set', '(param i64)')}
  ${imp('config_get', '(param i64) (result i64)')}
  ${imp('var_get', '(param i64) (result i64)')}
  ${imp('var_set', '(param i64 i64)')}
  ${imp('log_info', '(param i64)')}
  ${options.http ? '(import "extism:host/env" "http_request" (func $http (param i64 i64) (result i64)))' : ''}
  ${options.userFunction === false ? '' : '(import "extism:host/user" "shout" (func $shout (param i64) (result i64)))'}
  (memory (export "memory") 20)
  (data (i32.const 0) "greeting")
  (data (i32.const 16) "count")
  (data (i32.const 32) "no greeting configured")

  ;; input -> linear memory at $dst; its length
  (func $read (param $dst i32) (result i32) (local $len i32) (local $i i32)
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
  ;; linear memory [$src, $src+$len) -> a new kernel block; its offset
  (func $block (param $src i32) (param $len i32) (result i64) (local $out i64) (local $i i32)
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
    (local.get $out))
  ;; a kernel block -> linear memory at $dst; its length
  (func $unblock (param $p i64) (param $dst i32) (result i32) (local $len i32) (local $i i32)
    (local.set $len (i32.wrap_i64 (call $length (local.get $p))))
    (block $end (loop $tail
      (br_if $end (i32.ge_u (local.get $i) (local.get $len)))
      (i32.store8 (i32.add (local.get $dst) (local.get $i)) (call $load_u8 (i64.add (local.get $p) (i64.extend_i32_u (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $tail)))
    (local.get $len))
  (func $out (param $src i32) (param $len i32)
    (call $output_set (call $block (local.get $src) (local.get $len)) (i64.extend_i32_u (local.get $len))))

  (func (export "echo") (result i32) (local $len i32)
    (local.set $len (call $read (i32.const 4096)))
    (call $out (i32.const 4096) (local.get $len))
    (i32.const 0))
  ${options.http ? ';; asks for a URL over Extism\'s HTTP function, then sets the input as its output\n  (func (export "fetch") (result i32) (drop (call $http (i64.const 0) (i64.const 0))) (call $out (i32.const 4096) (call $read (i32.const 4096))) (i32.const 0))' : ''}
  (func (export "nothing") (result i32) (drop (call $read (i32.const 4096))) (i32.const 0))
  ;; fails with the input as the message
  (func (export "fail") (result i32) (local $len i32)
    (local.set $len (call $read (i32.const 4096)))
    (call $error_set (call $block (i32.const 4096) (local.get $len)))
    (i32.const 7))
  ;; the config value "greeting", or an error when there is none
  (func (export "greet") (result i32) (local $p i64)
    (local.set $p (call $config_get (call $block (i32.const 0) (i32.const 8))))
    (if (i64.eqz (local.get $p)) (then
      (call $error_set (call $block (i32.const 32) (i32.const 22)))
      (return (i32.const 1))))
    (call $output_set (local.get $p) (call $length (local.get $p)))
    (i32.const 0))
  ;; a counter kept in var "count" (one byte), output as that byte
  (func (export "count") (result i32) (local $p i64) (local $n i32)
    (local.set $p (call $var_get (call $block (i32.const 16) (i32.const 5))))
    (if (i64.ne (local.get $p) (i64.const 0)) (then (local.set $n (call $load_u8 (local.get $p)))))
    (local.set $n (i32.add (local.get $n) (i32.const 1)))
    (i32.store8 (i32.const 64) (local.get $n))
    (call $var_set (call $block (i32.const 16) (i32.const 5)) (call $block (i32.const 64) (i32.const 1)))
    (call $out (i32.const 64) (i32.const 1))
    (i32.const 0))
  ;; logs its input at info level
  (func (export "log") (result i32) (local $len i32)
    (local.set $len (call $read (i32.const 4096)))
    (call $log_info (call $block (i32.const 4096) (local.get $len)))
    (i32.const 0))
  ${options.userFunction === false ? '' : `;; the input through the host function "shout"
  (func (export "shout") (result i32) (local $len i32) (local $r i64)
    (local.set $len (call $read (i32.const 4096)))
    (local.set $r (call $shout (call $block (i32.const 4096) (local.get $len))))
    (call $output_set (local.get $r) (call $length (local.get $r)))
    (i32.const 0))`}
  ;; hostile: asks the kernel for 64 MiB blocks until it says no; outputs how many it got (one byte)
  (func (export "hog") (result i32) (local $n i32)
    (block $done (loop $more
      (br_if $done (i64.eqz (call $alloc (i64.const 67108864))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $done (i32.ge_u (local.get $n) (i32.const 200)))
      (br $more)))
    (i32.store8 (i32.const 64) (local.get $n))
    (call $out (i32.const 64) (i32.const 1))
    (i32.const 0))
  ;; hostile: keeps a 64 KiB var under a new key on every call
  (func (export "hoard") (result i32) (local $k i32)
    (local.set $k (call $read (i32.const 4096)))
    (call $var_set (call $block (i32.const 4096) (local.get $k)) (call $block (i32.const 8192) (i32.const 65536)))
    (i32.const 0))
  (func (export "trap") (result i32) (unreachable))
  (func (export "spin") (result i32) (loop $l (br $l)) (i32.const 0))
)`;
}
