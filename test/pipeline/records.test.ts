// One record per input, passed on by single-output stages (see src/pipeline/work.ts): what that
// must not break when stages flat-map, keep records asynchronously, dead-letter or emit.
import { describe, expect, it } from 'vitest';
import { completeLogger } from '../../src/engine/logger.js';
import { loadPipelineConfig } from '../../src/pipeline/config/load.js';
import { DEAD_LETTER_HEADERS, Pipeline } from '../../src/pipeline/pipeline.js';
import { EmbeddedBus, EmbeddedTransport } from '../../src/transport/embedded.js';
import { Headers } from '../../src/transport/headers.js';
import type { Message } from '../../src/transport/transport.js';
import { embeddedPipeline, textPlugin, writeConfig } from '../helpers/pipelines.js';

const config = (stages: string, extra = '') => `
name: records
plugins:
  text: { path: ${textPlugin} }
input: { subject: data.in }  # no x in it: tag's output carries it, and fail_on_x fails on x
stages:
${stages}
output: { subject: text.out }
${extra}`;

const text = (data: Uint8Array) => Buffer.from(data).toString();

describe('one record per input through the stages', () => {
  it('keeps every output of a flat-mapping stage distinct through the stages after it', async () => {
    // words splits; the native stage doubles each word (several outputs again) and keeps what it got
    const bus = new EmbeddedBus();
    const out: Message[] = [];
    bus.subscribe('text.out', (m) => out.push(m));
    const received: Uint8Array[] = [];
    const file = await writeConfig(
      config(`  - { name: words, plugin: text, function: words }
  - { name: twice, plugin: text, function: identity }
  - { name: upper, plugin: text, function: upper }
  - { name: tag, plugin: text, function: tag }`),
    );
    const pipeline = await Pipeline.create(await loadPipelineConfig(file), {
      transport: new EmbeddedTransport(bus),
      logger: completeLogger(),
      native: {
        twice: (data) => {
          received.push(data);
          return [data, Buffer.from(`${text(data)}2`)];
        },
      },
    });
    await pipeline.start();
    bus.publish('data.in', Buffer.from('one two'), new Headers().set('X-Tag', 'a'));
    bus.publish('data.in', Buffer.from('three'), undefined);
    expect(out.map((m) => text(m.data))).toEqual([
      'data.in;a;ONE',
      'data.in;a;ONE2',
      'data.in;a;TWO',
      'data.in;a;TWO2',
      'data.in;-;THREE',
      'data.in;-;THREE2',
    ]);
    // what an earlier stage was handed is never written over by the stages after it
    expect(received.map(text)).toEqual(['one', 'two', 'three']);
    expect(new Set(out.map((m) => m.data)).size).toBe(6);
    expect(pipeline.stats.stages.map((s) => [s.name, s.in, s.out])).toEqual([
      ['words', 2, 3],
      ['twice', 3, 6],
      ['upper', 6, 6],
      ['tag', 6, 6],
    ]);
    await pipeline.drain();
    expect(pipeline.stats).toMatchObject({ received: 2, published: 6, acked: 2, naked: 0, termed: 0 });
  });

  it('dead-letters what the failing stage got after earlier stages passed the record on', async () => {
    const p = await embeddedPipeline(
      config(
        `  - { name: tag, plugin: text, function: tag }
  - { name: audit, plugin: text, function: audit, emits: [audit.>] }
  - { name: check, plugin: text, function: fail_on_x }`,
        'deadLetter: { subject: text.dlq }',
      ),
    );
    p.bus.publish('data.in', Buffer.from('ok'), new Headers().set('X-Tag', 'a'));
    p.bus.publish('data.in', Buffer.from('box'), new Headers().set('X-Tag', 'b').set('Trace', 't9'));
    p.bus.publish('data.in', Buffer.from('fine'), undefined);
    expect(p.on('text.out')).toEqual(['data.in;a;ok', 'data.in;-;fine']);
    // the side output and the dead letter carry the record as their stage saw it, with the input's headers
    expect(p.on('audit.text')).toEqual(['data.in;a;ok', 'data.in;b;box', 'data.in;-;fine']);
    expect(p.on('text.dlq')).toEqual(['data.in;b;box']);
    const dead = p.seen.find((m) => m.subject === 'text.dlq')!;
    expect(dead.headers?.get(DEAD_LETTER_HEADERS.stage)).toBe('check');
    expect(dead.headers?.get(DEAD_LETTER_HEADERS.subject)).toBe('data.in');
    expect(dead.headers?.get('Trace')).toBe('t9');
    // the input's own headers are not the dead letter's: a later output carries none of its headers
    expect(p.seen.find((m) => m.subject === 'text.out' && text(m.data) === 'data.in;-;fine')?.headers).toBeUndefined();
    await p.pipeline.drain();
    expect(p.pipeline.stats).toMatchObject({ received: 3, published: 2, deadLettered: 1, acked: 2, termed: 1 });
  });

  it('hands a worker stage records it keeps while later inputs pass through the stages before it', async () => {
    const p = await embeddedPipeline(
      config(
        `  - { name: words, plugin: text, function: words }
  - { name: check, plugin: text, function: fail_on_x, pool: { size: 2, mode: worker } }
  - { name: tag, plugin: text, function: tag }
  - { name: upper, plugin: text, function: upper }`,
        'deadLetter: { subject: text.dlq }',
      ),
    );
    // the worker stage dead-letters some words after the stage before it has handed on the rest
    const inputs = Array.from({ length: 200 }, (_, i) => (i % 10 === 3 ? `w${i} x${i}` : i % 10 === 7 ? `x${i} w${i}` : `w${i} v${i}`));
    p.send('data.in', ...inputs);
    await p.pipeline.drain();
    const words = inputs.flatMap((s) => s.split(' '));
    expect(p.on('text.out')).toEqual(words.filter((w) => !w.includes('x')).map((w) => `DATA.IN;-;${w.toUpperCase()}`));
    expect(p.on('text.dlq')).toEqual(words.filter((w) => w.includes('x')));
    expect(p.pipeline.stats).toMatchObject({ received: 200, published: 360, deadLettered: 40, acked: 160, termed: 40 });
  });

  it('acks an input whose every output a stage dropped, and counts it', async () => {
    const p = await embeddedPipeline(
      config(`  - { name: words, plugin: text, function: words }
  - { name: upper, plugin: text, function: upper }`),
    );
    p.send('data.in', '', 'a b', '');
    expect(p.on('text.out')).toEqual(['A', 'B']);
    await p.pipeline.drain();
    expect(p.pipeline.stats.stages[0]).toMatchObject({ in: 3, out: 2, dropped: 2 });
    expect(p.pipeline.stats).toMatchObject({ received: 3, published: 2, acked: 3 });
  });
});
