import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { completeLogger } from '../../src/engine/logger.js';
import { SignatureError } from '../../src/engine/errors.js';
import { InlinePool } from '../../src/pipeline/pool.js';
import { textPlugin } from '../helpers/pipelines.js';

const text = (data: Uint8Array) => Buffer.from(data).toString();

describe('InlinePool', () => {
  it('calls the stage function flat: null for no output, the output for one, an array for several', async () => {
    const engine = new Engine({ logger: completeLogger() });
    await engine.registerPlugin('text', textPlugin);
    const words = new InlinePool(engine, 'text', 'words', 1, {}).take();
    expect(words.call(Buffer.from(''))).toBeNull();
    const one = words.call(Buffer.from('one'));
    expect(one).toBeInstanceOf(Uint8Array);
    expect(text(one as Uint8Array)).toBe('one');
    const several = words.call(Buffer.from('a flat map'));
    expect(Array.isArray(several) && several.map(text)).toEqual(['a', 'flat', 'map']);
    // an output is a copy: the next call does not change it
    words.call(Buffer.from('zzz'));
    expect(text(one as Uint8Array)).toBe('one');
  });

  it('checks the function when it makes a slot, not on the first message', async () => {
    const engine = new Engine({ logger: completeLogger() });
    await engine.registerPlugin('text', textPlugin);
    expect(() => new InlinePool(engine, 'text', 'wasp_alloc', 1, {})).toThrow(SignatureError);
  });
});
