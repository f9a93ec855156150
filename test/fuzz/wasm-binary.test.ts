import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { PluginCompileError } from '../../src/engine/errors.js';

const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
const section = (id: number, ...content: number[]): number[] => [id, content.length, ...content];
const typeNone = section(1, 1, 0x60, 0, 0); // one type: () -> ()

async function registerError(bytes: number[]): Promise<unknown> {
  try {
    await new Engine().registerPlugin('m', new Uint8Array(bytes));
  } catch (error) {
    return error;
  }
  throw new Error('expected registerPlugin to fail');
}

// Malformed modules the fuzz harness (fuzz/) produces; each must be refused as a PluginCompileError.
describe('malformed module metadata', () => {
  it('refuses an export name that is not UTF-8', async () => {
    const bytes = [...header, ...typeNone, ...section(3, 1, 0), ...section(7, 1, 2, 0xff, 0xfe, 0, 0), ...section(10, 1, 2, 0, 0x0b)];
    const error = await registerError(bytes);
    expect(error).toBeInstanceOf(PluginCompileError);
    expect((error as Error).message).toMatch(/UTF-8/);
  });

  it('refuses an import module name that is not UTF-8', async () => {
    const error = await registerError([...header, ...typeNone, ...section(2, 1, 2, 0xc0, 0x80, 1, 0x66, 0, 0)]);
    expect(error).toBeInstanceOf(PluginCompileError);
  });

  it('refuses a parameter count past 2^32', async () => {
    const error = await registerError([...header, ...section(1, 1, 0x60, 0xff, 0xff, 0xff, 0xff, 0x1f, 0)]);
    expect(error).toBeInstanceOf(PluginCompileError);
  });
});
