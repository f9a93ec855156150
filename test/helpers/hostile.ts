// Hostile plugins, one attack each, as WAT: what a plugin may try against its host.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { wat } from './plugins.js';

/** Memory of `pages` and a bump allocator that wraps around; `free` is wasp_free's body (by default it does nothing). */
const allocator = (pages = 1, free = '') => `(memory (export "memory") ${pages})
  (global $next (mut i32) (i32.const 1024))
  (func (export "wasp_alloc") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $next)) (global.set $next (i32.add (local.get $p) (local.get $n)))
    (if (i32.gt_u (global.get $next) (i32.const 60000)) (then (global.set $next (i32.const 1024))))
    (local.get $p))
  (func (export "wasp_free") (param i32 i32) ${free})`;

export const bumpAllocator = allocator();

const output = '(import "wasp" "output" (func $output (param i32 i32)))';
const error = '(import "wasp" "error" (func $error (param i32 i32)))';
const emit = '(import "wasp" "emit" (func $emit (param i32 i32 i32 i32) (result i32)))';
const log = '(import "wasp" "log" (func $log (param i32 i32 i32)))';

/** run(input): loops forever when the input starts with "s", else echoes it. */
export const spinner = () =>
  wat(`(module ${output} ${bumpAllocator}
    (func (export "run") (param $p i32) (param $n i32) (result i32)
      (if (i32.and (i32.ne (local.get $n) (i32.const 0)) (i32.eq (i32.load8_u (local.get $p)) (i32.const 115)))
        (then (loop $forever (br $forever))))
      (call $output (local.get $p) (local.get $n))
      (i32.const 0)))`);

/** run(input): recurses forever (no loop anywhere) when the input starts with "r", else echoes it; `free` is wasp_free's body. */
export const recurser = (free = '') =>
  wat(`(module ${output} ${allocator(1, free)}
    (func $a (param i32) (result i32) (return_call $b (local.get 0)))
    (func $b (param i32) (result i32) (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0)) (else (return_call $a (local.get 0)))))
    (func (export "run") (param $p i32) (param $n i32) (result i32)
      (if (i32.and (i32.ne (local.get $n) (i32.const 0)) (i32.eq (i32.load8_u (local.get $p)) (i32.const 114)))
        (then (drop (call $a (i32.const 1)))))
      (call $output (local.get $p) (local.get $n))
      (i32.const 0)))`, { tail_call: true });

/** wasp_alloc never returns. */
export const allocSpinner = () =>
  wat(`(module ${output} (memory (export "memory") 1)
    (func (export "wasp_alloc") (param i32) (result i32) (loop $forever (br $forever)) (i32.const 0))
    (func (export "wasp_free") (param i32 i32))
    (func (export "run") (param $p i32) (param $n i32) (result i32) (i32.const 0)))`);

/** _initialize never returns. */
export const initSpinner = () =>
  wat(`(module ${output} ${bumpAllocator}
    (func (export "_initialize") (loop $forever (br $forever)))
    (func (export "run") (param $p i32) (param $n i32) (result i32) (i32.const 0)))`);

/** The start function never returns. */
export const startSpinner = () =>
  wat(`(module ${output} ${bumpAllocator}
    (func $start (loop $forever (br $forever)))
    (start $start)
    (func (export "run") (param $p i32) (param $n i32) (result i32) (i32.const 0)))`);

/** The start function always traps: the module can never instantiate. */
export const neverStarts = () =>
  wat(`(module ${output} ${bumpAllocator}
    (func $start unreachable)
    (start $start)
    (func (export "run") (param $p i32) (param $n i32) (result i32) (i32.const 0)))`);

/** run(): grows memory a page at a time until it cannot, and outputs the page count reached as 4 bytes. */
export const memoryBomb = () =>
  wat(`(module ${output} (memory (export "memory") 1)
    (global $next (mut i32) (i32.const 1024))
    (func (export "wasp_alloc") (param $n i32) (result i32) (local $p i32)
      (local.set $p (global.get $next)) (global.set $next (i32.add (local.get $p) (local.get $n))) (local.get $p))
    (func (export "wasp_free") (param i32 i32))
    (func (export "run") (param $p i32) (param $n i32) (result i32)
      (block $full (loop $grow (br_if $full (i32.eq (memory.grow (i32.const 1)) (i32.const -1))) (br $grow)))
      (i32.store (i32.const 0) (memory.size))
      (call $output (i32.const 0) (i32.const 4))
      (i32.const 0)))`);

/** run(): 17 pages of memory; hands the host the same 1 MiB output 5,120 times (5 GiB if the host kept them all). */
export const amplifier = () =>
  wat(`(module ${output} (memory (export "memory") 17)
    (func (export "wasp_alloc") (param i32) (result i32) (i32.const 1048576))
    (func (export "wasp_free") (param i32 i32))
    (func (export "run") (param $p i32) (param $n i32) (result i32) (local $i i32)
      (loop $again
        (call $output (i32.const 0) (i32.const 1048576))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $again (i32.lt_u (local.get $i) (i32.const 5120))))
      (i32.const 0)))`);

/** run(input): emits `count` (the input's first byte x 1,000) side outputs to audit.x, then echoes the input. */
export const emitFlood = () =>
  wat(`(module ${output} ${emit} ${bumpAllocator}
    (data (i32.const 16) "audit.x")
    (func (export "run") (param $p i32) (param $n i32) (result i32) (local $i i32) (local $count i32)
      (local.set $count (i32.mul (i32.load8_u (local.get $p)) (i32.const 1000)))
      (block $done (loop $again
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (drop (call $emit (i32.const 16) (i32.const 7) (i32.const 16) (i32.const 7)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $again)))
      (call $output (local.get $p) (local.get $n))
      (i32.const 0)))`);

/**
 * run(input): emits its input's data to the subject given as the input itself
 * (so a test chooses the subject), and outputs wasp.emit's return code as text.
 */
export const emitTo = () =>
  wat(`(module ${output} ${emit} ${bumpAllocator}
    (func (export "run") (param $p i32) (param $n i32) (result i32) (local $code i32)
      (local.set $code (call $emit (local.get $p) (local.get $n) (local.get $p) (local.get $n)))
      ;; the code as one character: '0' + (code + 5), so -4 -> '1', 0 -> '5'
      (i32.store8 (i32.const 8) (i32.add (i32.const 48) (i32.add (local.get $code) (i32.const 5))))
      (call $output (i32.const 8) (i32.const 1))
      (i32.const 0)))`);

/** run(input): emits to audit.ok, then fails (status 1) when the input starts with "f". */
export const emitThenFail = () =>
  wat(`(module ${output} ${emit} ${error} ${bumpAllocator}
    (data (i32.const 16) "audit.ok")
    (data (i32.const 32) "failed after emitting")
    (func (export "run") (param $p i32) (param $n i32) (result i32)
      (drop (call $emit (i32.const 16) (i32.const 8) (local.get $p) (local.get $n)))
      (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 102)) (then (call $error (i32.const 32) (i32.const 21)) (return (i32.const 1))))
      (call $output (local.get $p) (local.get $n))
      (i32.const 0)))`);

/** run(input): sets a message with wasp.error, then traps (what the AssemblyScript kit's abort does). */
export const errorThenTrap = () =>
  wat(`(module ${output} ${error} ${bumpAllocator}
    (data (i32.const 16) "index out of range in parse")
    (func (export "run") (param $p i32) (param $n i32) (result i32)
      (call $error (i32.const 16) (i32.const 27))
      unreachable))`);

/** run(input): logs the input at info level (2), then echoes it. */
export const logger = () =>
  wat(`(module ${output} ${log} ${bumpAllocator}
    (func (export "run") (param $p i32) (param $n i32) (result i32)
      (call $log (i32.const 2) (local.get $p) (local.get $n))
      (call $output (local.get $p) (local.get $n))
      (i32.const 0)))`);

/** run(input): echoes the input; wasp_free traps. */
export const freeTrapper = () =>
  wat(`(module ${output} ${allocator(1, 'unreachable')}
    (func (export "run") (param $p i32) (param $n i32) (result i32)
      (call $output (local.get $p) (local.get $n))
      (i32.const 0)))`);

/**
 * WASI: run(input) writes 1 KiB of "x" and a newline to stdout (fd 1) through
 * fd_write, then echoes its input.
 */
export const chattyWasi = () =>
  wat(`(module ${output}
    (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    ${bumpAllocator}
    (func (export "run") (param $p i32) (param $n i32) (result i32)
      (memory.fill (i32.const 64) (i32.const 120) (i32.const 1024))
      (i32.store8 (i32.const 1088) (i32.const 10))
      ;; one iovec at 32: (64, 1025); bytes written at 48
      (i32.store (i32.const 32) (i32.const 64))
      (i32.store (i32.const 36) (i32.const 1025))
      (drop (call $fd_write (i32.const 1) (i32.const 32) (i32.const 1) (i32.const 48)))
      (call $output (local.get $p) (local.get $n))
      (i32.const 0)))`);

/**
 * A start function that asks the host (`host.ready`) whether it may start and
 * traps when told no: a module whose instantiation the test controls. run traps
 * when its input starts with "t", else echoes it.
 */
export const gatedStart = () =>
  wat(`(module ${output}
    (import "host" "ready" (func $ready (result i32)))
    ${bumpAllocator}
    (func $start (if (i32.eqz (call $ready)) (then unreachable)))
    (start $start)
    (func (export "run") (param $p i32) (param $n i32) (result i32)
      (if (i32.and (i32.ne (local.get $n) (i32.const 0)) (i32.eq (i32.load8_u (local.get $p)) (i32.const 116))) (then unreachable))
      (call $output (local.get $p) (local.get $n))
      (i32.const 0)))`);

/** Writes a fixture into a fresh directory, for pipelines that load plugins from disk. */
export async function fixtureFile(bytes: Uint8Array, name = 'plugin.wasm'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wasp-hostile-'));
  const file = join(dir, name);
  await writeFile(file, bytes);
  return file;
}

/** As recurser, with a wasp_free that loops a little: a checked entry that sees the deadline passed. */
export const recurserLoopingFree = () =>
  recurser('(local $i i32) (block $d (loop $l (br_if $d (i32.ge_u (local.get $i) (i32.const 3))) (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l)))');

/** run(input): calls the host function plugin.cb with its input and catches whatever it throws (catch_all), then outputs "swallowed". */
export const callbackSwallower = () =>
  wat(`(module ${output}
    (import "plugin" "cb" (func $cb (param i32 i32)))
    ${bumpAllocator}
    (data (i32.const 16) "swallowed")
    (func (export "run") (param $p i32) (param $n i32) (result i32)
      (try (do (call $cb (local.get $p) (local.get $n))) (catch_all))
      (call $output (i32.const 16) (i32.const 9))
      (i32.const 0)))`, { exceptions: true });

/** run(input): grows its shared memory by a page and outputs 4 bytes from the new page. */
export const sharedMemory = () =>
  wat(`(module ${output}
    (memory (export "memory") 1 16 shared)
    (func (export "wasp_alloc") (param $n i32) (result i32) (i32.const 1024))
    (func (export "wasp_free") (param i32 i32))
    (func (export "run") (param $p i32) (param $n i32) (result i32)
      (drop (memory.grow (i32.const 1)))
      (call $output (i32.const 70000) (i32.const 4))
      (i32.const 0)))`, { threads: true });

/** run(input): loops forever, each turn asking the host to read all of its 16 MiB memory as the error message (wasp.error). */
export const costlyErrorLoop = () =>
  wat(`(module ${error}
    (memory (export "memory") 256)
    (func (export "wasp_alloc") (param $n i32) (result i32) (i32.const 1024))
    (func (export "wasp_free") (param i32 i32))
    (func (export "run") (param $p i32) (param $n i32) (result i32)
      (loop $forever
        (call $error (i32.const 0) (i32.const 16777216))
        (br $forever))
      (i32.const 0)))`);

/** WASI: run(input) calls random_get(0, N), N the input's first four bytes (little endian), and outputs the errno (4 bytes). */
export const randomGetter = () =>
  wat(`(module ${output}
    (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
    ${bumpAllocator}
    (func (export "run") (param $p i32) (param $n i32) (result i32)
      (i32.store (i32.const 0) (call $random (i32.const 0) (i32.load (local.get $p))))
      (call $output (i32.const 0) (i32.const 4))
      (i32.const 0)))`);

/** WASI: run(input) writes to stdout in one fd_write of `pieces` one-byte pieces, over a 2 MiB memory with no line break in it. */
export const stdoutPieces = (pieces: number) =>
  wat(`(module
    (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 32)
    (func (export "wasp_alloc") (param i32) (result i32) (i32.const 1024))
    (func (export "wasp_free") (param i32 i32))
    (func (export "run") (param $p i32) (param $n i32) (result i32) (local $i i32)
      (block $d (loop $l
        (br_if $d (i32.ge_u (local.get $i) (i32.const ${pieces})))
        (i32.store (i32.add (i32.const 4096) (i32.mul (local.get $i) (i32.const 8))) (i32.const 16))
        (i32.store (i32.add (i32.const 4100) (i32.mul (local.get $i) (i32.const 8))) (i32.const 1))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
      (drop (call $fd_write (i32.const 1) (i32.const 4096) (i32.const ${pieces}) (i32.const 8)))
      (i32.const 0)))`);

/** WASI: run(input) loops forever on random_get over its whole 16 MiB memory. */
export const randomLoop = () =>
  wat(`(module
    (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
    (memory (export "memory") 256)
    (func (export "wasp_alloc") (param $n i32) (result i32) (i32.const 1024))
    (func (export "wasp_free") (param i32 i32))
    (func (export "run") (param $p i32) (param $n i32) (result i32)
      (loop $forever
        (drop (call $random (i32.const 0) (i32.const 16777216)))
        (br $forever))
      (i32.const 0)))`);

/**
 * WASI: run(input) opens /flood (under the preopened fd 3) and writes 64 KiB to it as many times
 * as the input's first byte says, stopping at the first error; outputs three i32: path_open's
 * errno, the last fd_write errno and the writes that succeeded. Needs a preopen (a WASI file).
 * With `setSize`, the file's size is set to it first (fd_filestat_set_size, an i64 literal).
 */
export const fileFlood = (setSize?: string) =>
  wat(`(module ${output}
    (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_filestat_set_size" (func $set_size (param i32 i64) (result i32)))
    ${allocator(2)}
    (data (i32.const 200) "/flood")
    (func (export "run") (param $p i32) (param $n i32) (result i32) (local $i i32) (local $fd i32) (local $e i32) (local $count i32)
      (local.set $count (i32.load8_u (local.get $p)))
      (i32.store (i32.const 0) (call $path_open (i32.const 3) (i32.const 0) (i32.const 201) (i32.const 5) (i32.const 1) (i64.const 0x40) (i64.const 0) (i32.const 1) (i32.const 100)))
      (local.set $fd (i32.load (i32.const 100)))
      ${setSize === undefined ? '' : `(drop (call $set_size (local.get $fd) (i64.const ${setSize})))`}
      (i32.store (i32.const 32) (i32.const 65536)) (i32.store (i32.const 36) (i32.const 65536))
      (block $d (loop $l
        (br_if $d (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $e (call $fd_write (local.get $fd) (i32.const 32) (i32.const 1) (i32.const 48)))
        (br_if $d (local.get $e))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
      (i32.store (i32.const 4) (local.get $e))
      (i32.store (i32.const 8) (local.get $i))
      (call $output (i32.const 0) (i32.const 12))
      (i32.const 0)))`);
