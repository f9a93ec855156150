// Pipelines on the embedded bus: stages as operators, side outputs, dead letters.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { completeLogger } from '../../src/engine/logger.js';
import { loadPipelineConfig } from '../../src/pipeline/config/load.js';
import { DEAD_LETTER_HEADERS, Pipeline } from '../../src/pipeline/pipeline.js';
import { EmbeddedTransport } from '../../src/transport/embedded.js';
import { Headers } from '../../src/transport/headers.js';
import { embeddedPipeline, textPipelineYaml, textPlugin, writeConfig } from '../helpers/pipelines.js';

const config = (stages: string, extra = '') => textPipelineYaml('test', stages, extra);

describe('pipeline on the embedded bus', () => {
  it('maps, filters and flat-maps through one stage each', async () => {
    const upper = await embeddedPipeline(config('  - { name: upper, plugin: text, function: upper }'));
    upper.send('text.in', 'hello', '', 'wasp');
    expect(upper.on('text.out')).toEqual(['HELLO', 'WASP']);
    expect(upper.pipeline.stats.stages[0]).toMatchObject({ in: 3, out: 2, dropped: 1, failed: 0 });

    const words = await embeddedPipeline(config('  - { name: words, plugin: text, function: words }'));
    words.send('text.in', 'a flat map', 'one');
    expect(words.on('text.out')).toEqual(['a', 'flat', 'map', 'one']);
    await Promise.all([upper.pipeline.drain(), words.pipeline.drain()]);
  });

  it('chains three stages in order', async () => {
    const p = await embeddedPipeline(
      config(`  - { name: words, plugin: text, function: words }
  - { name: upper, plugin: text, function: upper, pool: 3 }
  - { name: tag, plugin: text, function: tag }`),
    );
    p.send('text.in', 'one two', 'three');
    expect(p.on('text.out')).toEqual(['text.in;-;ONE', 'text.in;-;TWO', 'text.in;-;THREE']);
    expect(p.pipeline.stats.stages.map((s) => [s.name, s.in, s.out])).toEqual([
      ['words', 2, 3],
      ['upper', 3, 3],
      ['tag', 3, 3],
    ]);
    await p.pipeline.drain();
    expect(p.pipeline.stats).toMatchObject({ received: 2, published: 3, acked: 2 });
  });

  it('carries headers from input to output and lets plugins read them', async () => {
    const p = await embeddedPipeline(config('  - { name: tag, plugin: text, function: tag }'));
    p.bus.publish('text.in', Buffer.from('x'), new Headers().set('X-Tag', 'blue').set('Trace', 't1'));
    const out = p.seen.find((m) => m.subject === 'text.out')!;
    expect(Buffer.from(out.data).toString()).toBe('text.in;blue;x');
    expect(out.headers?.get('Trace')).toBe('t1');
  });

  it('publishes side outputs a stage may emit, with the message headers', async () => {
    const p = await embeddedPipeline(config('  - { name: audit, plugin: text, function: audit, emits: [audit.>] }'));
    p.bus.publish('text.in', Buffer.from('checked'), new Headers().set('Trace', 't2'));
    expect(p.on('audit.text')).toEqual(['checked']);
    expect(p.seen.find((m) => m.subject === 'audit.text')?.headers?.get('Trace')).toBe('t2');
    expect(p.on('text.out')).toEqual(['checked']);
    expect(p.pipeline.stats.stages[0]).toMatchObject({ emitted: 1, refusedEmits: 0 });
  });

  it('refuses and counts side outputs outside emits, and dead-letters the failed message', async () => {
    const p = await embeddedPipeline(config('  - { name: audit, plugin: text, function: audit, emits: [other.>] }', 'deadLetter: { subject: text.dlq }'));
    p.send('text.in', 'nope');
    expect(p.on('audit.text')).toEqual([]);
    expect(p.on('text.out')).toEqual([]);
    expect(p.on('text.dlq')).toEqual(['nope']);
    expect(p.pipeline.stats.stages[0]).toMatchObject({ refusedEmits: 1, failed: 1 });
  });

  it('dead-letters failing messages with headers naming what failed, and goes on', async () => {
    const p = await embeddedPipeline(
      config(
        `  - { name: words, plugin: text, function: words }
  - { name: check, plugin: text, function: fail_on_x }`,
        'deadLetter: { subject: text.dlq }',
      ),
    );
    p.bus.publish('text.in', Buffer.from('a'), undefined);
    p.bus.publish('text.in', Buffer.from('box ok'), new Headers().set('Trace', 't3'));
    p.bus.publish('text.in', Buffer.from('c'), undefined);
    expect(p.on('text.out')).toEqual(['a', 'ok', 'c']);
    // split by the first stage, one word failed by the second: the dead letter carries what the failing stage got
    expect(p.on('text.dlq')).toEqual(['box']);
    const dead = p.seen.find((m) => m.subject === 'text.dlq')!;
    expect(Object.fromEntries(Object.values(DEAD_LETTER_HEADERS).map((h) => [h, dead.headers?.get(h)]))).toEqual({
      'Wasp-Stage': 'check',
      'Wasp-Plugin': 'text',
      'Wasp-Function': 'fail_on_x',
      'Wasp-Error': 'plugin text: fail_on_x failed with status 1: contains x',
      'Wasp-Error-Type': 'PluginCallError',
      'Wasp-Subject': 'text.in',
    });
    expect(dead.headers?.get('Trace')).toBe('t3');
    await p.pipeline.drain();
    // the input whose one word was dead-lettered is terminated, though its other word went out
    expect(p.pipeline.stats).toMatchObject({ received: 3, published: 3, deadLettered: 1, acked: 2, termed: 1 });
  });

  it('replaces a trapped instance and dead-letters the message', async () => {
    const p = await embeddedPipeline(config('  - { name: trap, plugin: text, function: trap_on_x, pool: 2 }', 'deadLetter: { subject: text.dlq }'));
    p.bus.publish('text.in', Buffer.from('fine'), undefined);
    p.bus.publish('text.in', Buffer.from('xx'), new Headers().set('Trace', 't4'));
    p.bus.publish('text.in', Buffer.from('after'), undefined);
    p.bus.publish('text.in', Buffer.from('again'), undefined);
    expect(p.on('text.out')).toEqual(['fine', 'after', 'again']);
    const dead = p.seen.find((m) => m.subject === 'text.dlq')!;
    expect(Buffer.from(dead.data).toString()).toBe('xx');
    expect(dead.headers?.get(DEAD_LETTER_HEADERS.stage)).toBe('trap');
    expect(dead.headers?.get(DEAD_LETTER_HEADERS.plugin)).toBe('text');
    expect(dead.headers?.get(DEAD_LETTER_HEADERS.function)).toBe('trap_on_x');
    expect(dead.headers?.get(DEAD_LETTER_HEADERS.errorType)).toBe('PluginTrapError');
    expect(dead.headers?.get(DEAD_LETTER_HEADERS.error)).toMatch(/trap_on_x trapped: unreachable/);
    expect(dead.headers?.get(DEAD_LETTER_HEADERS.subject)).toBe('text.in');
    expect(dead.headers?.get('Trace')).toBe('t4');
    expect(p.pipeline.stats.stages[0]).toMatchObject({ failed: 1, replacedInstances: 1 });
    await p.pipeline.drain();
    expect(p.pipeline.stats).toMatchObject({ received: 4, deadLettered: 1, termed: 1, acked: 3 });
  });

  it('logs and counts failures when there is no dead-letter subject', async () => {
    const errors: string[] = [];
    const p = await embeddedPipeline(config('  - { name: check, plugin: text, function: fail_on_x }'), { error: (m: string) => errors.push(m) });
    p.send('text.in', 'x marks', 'ok');
    expect(p.on('text.out')).toEqual(['ok']);
    expect(errors).toEqual([expect.stringMatching(/message failed: .*contains x/)]);
    expect(p.pipeline.stats.deadLettered).toBe(1);
  });

  it('keeps input order through a pool of instances', async () => {
    const p = await embeddedPipeline(config('  - { name: upper, plugin: text, function: upper, pool: 4 }'));
    const inputs = Array.from({ length: 500 }, (_, i) => `m${i}`);
    p.send('text.in', ...inputs);
    expect(p.on('text.out')).toEqual(inputs.map((s) => s.toUpperCase()));
  });

  it('runs a stage in worker threads, keeping input order', async () => {
    const p = await embeddedPipeline(
      config(`  - { name: words, plugin: text, function: words, pool: { size: 2, mode: worker } }
  - { name: upper, plugin: text, function: upper }`),
    );
    const inputs = Array.from({ length: 400 }, (_, i) => `a${i} b${i}`);
    p.send('text.in', ...inputs);
    await p.pipeline.drain();
    expect(p.on('text.out')).toEqual(inputs.flatMap((s) => s.toUpperCase().split(' ')));
    expect(p.pipeline.stats).toMatchObject({ received: 400, published: 800, acked: 400 });
  });

  it('dead-letters a message that runs past a worker stage deadline, and goes on', async () => {
    const p = await embeddedPipeline(
      config('  - { name: spin, plugin: text, function: spin_on_x, pool: { size: 1, mode: worker }, timeoutMs: 200 }', 'deadLetter: { subject: text.dlq }'),
    );
    p.send('text.in', 'one', 'xx', 'two');
    await p.pipeline.drain();
    expect(p.on('text.out')).toEqual(['one', 'two']);
    const dead = p.seen.find((m) => m.subject === 'text.dlq')!;
    expect(Buffer.from(dead.data).toString()).toBe('xx');
    expect(dead.headers?.get(DEAD_LETTER_HEADERS.errorType)).toBe('PluginTimeoutError');
    expect(p.pipeline.stats).toMatchObject({ received: 3, deadLettered: 1, termed: 1, acked: 2 });
  });

  it('reads stdin line by line and writes stdout, ending drained at end of input', async () => {
    const file = await writeConfig(`
name: lines
plugins: { text: { path: ${textPlugin} } }
input: { stdin: true }
stages: [{ name: upper, plugin: text, function: upper }]
output: { stdout: true }
`);
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const chunks: Buffer[] = [];
    stdout.on('data', (c: Buffer) => chunks.push(c));
    const pipeline = await Pipeline.create(await loadPipelineConfig(file), {
      transport: new EmbeddedTransport(),
      logger: completeLogger(),
      stdin,
      stdout,
    });
    await pipeline.start();
    stdin.end('one\ntwo\n\nthree\n');
    await pipeline.done;
    expect(Buffer.concat(chunks).toString()).toBe('ONE\nTWO\nTHREE\n');
    expect(pipeline.stats).toMatchObject({ received: 4, published: 3, acked: 4 });
  });
});
