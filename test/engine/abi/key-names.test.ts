// The names an Extism plugin's config and var keys are remembered by: a key is answered undecoded
// only when every one of its bytes matches a remembered one.
import { describe, expect, it } from 'vitest';
import { KeyNames } from '../../../src/engine/abi/extism/key-names.js';

describe('KeyNames', () => {
  const memory = Buffer.alloc(4096);
  let decoded = 0;
  const keys = new KeyNames((at, n) => (decoded++, memory.toString('utf8', at, at + n)));
  const put = (at: number, text: string) => memory.write(text, at, 'utf8');
  const name = (at: number, text: string) => keys.name(memory, at, put(at, text));

  it('tells apart keys that differ only in their last byte, or only in length', () => {
    decoded = 0;
    expect(name(0, 'total1')).toBe('total1');
    expect(name(100, 'total2')).toBe('total2');
    expect(name(200, 'total')).toBe('total');
    expect(name(300, 'total1')).toBe('total1');
    expect(name(400, 'total2')).toBe('total2');
    expect(decoded).toBe(3);
  });

  it('decodes afresh a key evicted by eight newer ones, and every key longer than 64 bytes', () => {
    decoded = 0;
    for (let i = 0; i < 9; i++) expect(name(i * 16, `k${i}`)).toBe(`k${i}`);
    expect(decoded).toBe(9);
    expect(name(1000, 'k0')).toBe('k0');
    expect(decoded).toBe(10);
    const long = 'é'.repeat(40);
    expect(name(2000, long)).toBe(long);
    expect(name(2000, long)).toBe(long);
    expect(decoded).toBe(12);
  });
});
