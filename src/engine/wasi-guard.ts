// WASI calls whose work a plugin sizes, bounded by the host. @wasmer/wasi fills a buffer of
// whatever length random_get asks for and only then finds it does not fit (2 GiB asked of a
// 64 KiB memory took 54 s and 2 GB), and its in-memory files live in its own WebAssembly memory,
// shared by every instance in the process, which never shrinks: so random_get is answered here,
// checked first, and what an instance writes to files counts against a budget.
import { randomFillSync } from 'node:crypto';
import { EFAULT, ESUCCESS, iovecBytes } from './wasi-output.js';

const ENOSPC = 51;

export interface WasiGuard {
  /** The plugin's memory now, or undefined before it is known. */
  memory(): Uint8Array | undefined;
  /** Called before `bytes` of work the plugin asked for: looks at the deadline (and throws past it). */
  work(bytes: number): void;
  /** What the instance's files may take over its life: past it a write fails with ENOSPC. */
  fileBytes: number;
  /** Once, when a write first found the budget spent: the instance is to be replaced. */
  exhausted(): void;
}

type Fn = (...args: never[]) => unknown;

/** Replaces random_get, and guards the calls that grow files, in each WASI namespace of `imports`. */
export function guardWasi(imports: Record<string, Record<string, unknown>>, guard: WasiGuard): void {
  let spent = 0;
  let told = false;
  const charge = (bytes: number): boolean => {
    if (spent + bytes <= guard.fileBytes) {
      spent += bytes;
      return true;
    }
    if (!told) {
      told = true;
      guard.exhausted();
    }
    return false;
  };
  for (const ns of Object.values(imports)) {
    if (typeof ns.random_get === 'function') {
      ns.random_get = (buf: number, len: number): number => {
        const bytes = guard.memory();
        const at = buf >>> 0;
        const n = len >>> 0;
        if (bytes === undefined || at + n > bytes.length) return EFAULT;
        guard.work(n);
        if (n !== 0) randomFillSync(bytes, at, n);
        return ESUCCESS;
      };
    }
    for (const name of ['fd_write', 'fd_pwrite'] as const) {
      const original = ns[name] as Fn | undefined;
      if (typeof original !== 'function') continue;
      ns[name] = (fd: number, iovs: number, iovsLen: number, ...rest: unknown[]): unknown => {
        const memory = guard.memory();
        const total = memory === undefined ? -1 : iovecBytes(memory, iovs, iovsLen);
        if (total < 0) return EFAULT;
        guard.work(total);
        if (!charge(total)) return ENOSPC;
        return (original as (...args: unknown[]) => unknown)(fd, iovs, iovsLen, ...rest);
      };
    }
    // a file's size set or reserved is taken from the budget as written bytes are
    // sizes are u64: read signed, a negative one would have credited the budget
    const setSize = ns.fd_filestat_set_size as Fn | undefined;
    if (typeof setSize === 'function') {
      ns.fd_filestat_set_size = (fd: number, size: bigint): unknown =>
        charge(u64(size)) ? (setSize as (...args: unknown[]) => unknown)(fd, size) : ENOSPC;
    }
    const allocate = ns.fd_allocate as Fn | undefined;
    if (typeof allocate === 'function') {
      ns.fd_allocate = (fd: number, offset: bigint, len: bigint): unknown =>
        charge(u64(offset) + u64(len)) ? (allocate as (...args: unknown[]) => unknown)(fd, offset, len) : ENOSPC;
    }
  }
}

/** An i64 argument as the u64 WASI means, as a Number (past 2^53 it only needs to be over any budget). */
function u64(value: bigint): number {
  return Number(BigInt.asUintN(64, BigInt(value)));
}
