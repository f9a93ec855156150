// The committed kernel (kernel-wasm.ts) is what kernel.wat assembles to, and its block rules hold.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM build script without type declarations
import { kernelSource } from '../../../src/engine/abi/extism/build-kernel.mjs';
import { KERNEL_WASM_BASE64 } from '../../../src/engine/abi/extism/kernel-wasm.js';
import { root } from '../../helpers/plugins.js';

describe('Extism kernel', () => {
  it('kernel-wasm.ts is what kernel.wat assembles to (npm run build:kernel)', async () => {
    expect(await readFile(`${root}src/engine/abi/extism/kernel-wasm.ts`, 'utf8')).toBe(await kernelSource());
  });

  it('blocks: lengths, offsets that name no block, the last block given back, a size it cannot hold', () => {
    const host = { config_get: () => 0, var_get: () => 0, var_set: () => {}, log: () => {}, log_level: () => 2, memory: new WebAssembly.Memory({ initial: 1, maximum: 16_384 }) };
    const k = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(KERNEL_WASM_BASE64, 'base64')), { host }).exports as Record<string, (...a: never[]) => never>;
    const call = (name: string, ...args: unknown[]) => (k[name] as (...a: unknown[]) => unknown)(...args);
    call('host_reset');
    const a = call('alloc', 5n) as bigint;
    const b = call('alloc', 100n) as bigint;
    expect(a).toBeGreaterThan(0n);
    expect(call('length', a)).toBe(5n);
    expect(call('length', b)).toBe(100n);
    expect(call('length', 0n)).toBe(0n);
    expect(call('length', b + 1000n)).toBe(0n);
    expect(call('length', 1n << 40n)).toBe(0n);
    call('free', b);
    expect(call('alloc', 100n)).toBe(b); // the last block came back
    expect(call('alloc', 1n << 33n)).toBe(0n);
    call('store_u64', a, 0x0102030405060708n);
    expect(call('load_u8', a)).toBe(8);
    call('host_reset');
    expect(call('length', a)).toBe(0n); // a new call starts empty
    const big = call('host_alloc', 8 << 20) as number; // grows its memory
    expect(big).toBeGreaterThan(0);
    expect(call('host_length', big)).toBe(8 << 20);
  });
});
