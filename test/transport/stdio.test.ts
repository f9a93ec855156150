// Line input and output (stdin, stdout): bytes untouched, bounded memory, a broken output ends the run.
import { PassThrough, Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { completeLogger } from '../../src/engine/logger.js';
import { loadPipelineConfig } from '../../src/pipeline/config/load.js';
import { Pipeline, type PipelineIO } from '../../src/pipeline/pipeline.js';
import { EmbeddedTransport } from '../../src/transport/embedded.js';
import { LineTooLongError, OutputStreamError } from '../../src/transport/errors.js';
import { linePublisher, lineSource, MAX_LINE_BYTES, MAX_LINES_IN_FLIGHT } from '../../src/transport/stdio.js';
import type { Delivery, Source } from '../../src/transport/transport.js';
import { textPlugin, writeConfig } from '../helpers/pipelines.js';

const hex = (s: string) => Buffer.from(s.replace(/ /g, ''), 'hex');
const tick = () => new Promise((resolve) => setImmediate(resolve));

/** Feeds bytes in pieces of `size` bytes, then ends the stream. */
function pieces(bytes: Buffer, size: number): PassThrough {
  const input = new PassThrough();
  for (let at = 0; at < bytes.length; at += size) input.write(bytes.subarray(at, at + size));
  input.end();
  return input;
}

/** Reads a source to its end, settling each delivery at once; the lines, and the error it ended with. */
function readAll(source: Source): Promise<{ lines: Buffer[]; error: unknown }> {
  const lines: Buffer[] = [];
  return new Promise((resolve) =>
    source.deliveries.subscribe({
      next: (d) => {
        lines.push(Buffer.from(d.data));
        d.ack();
      },
      error: (error: unknown) => resolve({ lines, error }),
      complete: () => resolve({ lines, error: undefined }),
    }),
  );
}

async function stdioPipeline(stdin: NodeJS.ReadableStream, stdout: NodeJS.WritableStream, native?: PipelineIO['native']) {
  const file = await writeConfig(`
name: lines
plugins: { text: { path: ${textPlugin} } }
input: { stdin: true }
stages: [{ name: s, plugin: text, function: upper }]
output: { stdout: true }
`);
  const pipeline = await Pipeline.create(await loadPipelineConfig(file), { transport: new EmbeddedTransport(), logger: completeLogger(), stdin, stdout, native });
  await pipeline.start();
  return pipeline;
}

const epipe = () => Object.assign(new Error('write EPIPE'), { code: 'EPIPE', errno: -32, syscall: 'write' });

describe('lineSource', () => {
  it('passes the bytes up to each \\n through untouched, \\r included, however the input is cut', async () => {
    const input = Buffer.concat([hex('ff fe 00 80 0d 0a'), Buffer.from('a\r\n\n\r\nlast')]);
    const expected = [hex('ff fe 00 80 0d'), Buffer.from('a\r'), Buffer.alloc(0), Buffer.from('\r'), Buffer.from('last')];
    for (const size of [1, 2, 3, 7, input.length]) {
      const { lines, error } = await readAll(lineSource(pieces(input, size)));
      expect(error).toBeUndefined();
      expect(lines).toEqual(expected);
    }
  });

  it('makes an empty line a message, a final line without \\n a message, and nothing of an empty input', async () => {
    expect((await readAll(lineSource(pieces(Buffer.from(''), 1)))).lines).toEqual([]);
    expect((await readAll(lineSource(pieces(Buffer.from('\n'), 1)))).lines).toEqual([Buffer.alloc(0)]);
    expect((await readAll(lineSource(pieces(Buffer.from('a\nb'), 4)))).lines.map(String)).toEqual(['a', 'b']);
    expect((await readAll(lineSource(pieces(Buffer.from('a\nb\n'), 4)))).lines.map(String)).toEqual(['a', 'b']);
  });

  it('ends with a LineTooLongError naming the line, after the lines before it, and stops reading', async () => {
    expect(MAX_LINE_BYTES).toBe(16 * 1024 * 1024);
    const input = pieces(Buffer.from('short\n12345678\n123456789\nnext\n'), 5);
    const { lines, error } = await readAll(lineSource(input, { maxLineBytes: 8 }));
    expect(lines.map(String)).toEqual(['short', '12345678']);
    expect(error).toBeInstanceOf(LineTooLongError);
    expect(error).toMatchObject({ input: 'stdin', line: 3, limit: 8, message: 'stdin: line 3 is longer than 8 bytes, the most one message may hold; stopping there' });

    // no newline at all, and an input that never ends: the limit, not the end, stops it
    const endless = new PassThrough();
    const ended = readAll(lineSource(endless, { maxLineBytes: 8 }));
    endless.write('abcde');
    endless.write('fghij');
    const result = await ended;
    expect(result).toMatchObject({ lines: [], error: { line: 1, limit: 8 } });
    expect(endless.listenerCount('data')).toBe(0);
  });

  it(`delivers at most ${MAX_LINES_IN_FLIGHT} lines the pipeline has not settled, and completes once all are`, async () => {
    const input = new PassThrough();
    input.end(Array.from({ length: 5000 }, (_, i) => `${i}\n`).join(''));
    const held: Delivery[] = [];
    let completed = false;
    lineSource(input).deliveries.subscribe({ next: (d) => held.push(d), complete: () => (completed = true) });
    for (let i = 0; i < 5; i++) await tick();
    expect(held.length).toBe(MAX_LINES_IN_FLIGHT);
    for (const d of held.slice(0, 10)) d.ack();
    await tick();
    expect(held.length).toBe(MAX_LINES_IN_FLIGHT + 10);
    for (let settled = 10; settled < 5000; settled++) {
      while (held.length <= settled) await tick();
      held[settled]!.ack();
    }
    expect(held.map((d) => String(d.data))).toEqual(Array.from({ length: 5000 }, (_, i) => `${i}`));
    await tick();
    expect(completed).toBe(true);
  });
});

describe('linePublisher', () => {
  it('writes each message and a \\n, bytes untouched, with one drain listener while the output is full', async () => {
    const output = new PassThrough({ highWaterMark: 16 });
    const publisher = linePublisher(output);
    expect(publisher.publish('stdout', hex('ff fe 00 80 0d'), undefined, undefined)).toBeUndefined();
    const results = Array.from({ length: 100 }, () => publisher.publish('stdout', Buffer.from('0123456789'), undefined, undefined));
    const blocked = results.filter((r) => r !== undefined);
    expect(blocked.length).toBeGreaterThan(0);
    expect(new Set(blocked).size).toBe(1); // one promise for every write until the output drains
    expect(output.listenerCount('drain')).toBe(1);
    const chunks: Buffer[] = [];
    output.on('data', (c: Buffer) => chunks.push(c));
    await blocked[0];
    expect(output.listenerCount('drain')).toBe(0);
    expect(Buffer.concat(chunks)).toEqual(Buffer.concat([hex('ff fe 00 80 0d 0a'), Buffer.from('0123456789\n'.repeat(100))]));
  });
});

describe('stdin to stdout', () => {
  it('stops reading while the output is full: 200,000 lines to a slow output, a bounded read-ahead, all in order', async () => {
    const count = 200_000;
    const stdin = Readable.from(
      (function* () {
        for (let i = 0; i < count; i += 5000) yield Array.from({ length: 5000 }, (_, j) => `line ${i + j}\n`).join('');
      })(),
      { objectMode: false },
    );
    let read = 0;
    let written = 0;
    let maxReadAhead = 0;
    let maxDrainListeners = 0;
    const out: Buffer[] = [];
    const stdout = new Writable({
      highWaterMark: 256,
      write(chunk: Buffer, _, callback) {
        out.push(chunk);
        for (const byte of chunk) if (byte === 10) written++;
        maxDrainListeners = Math.max(maxDrainListeners, stdout.listenerCount('drain'));
        if (maxReadAhead > 10_000) return callback(new Error(`read ${maxReadAhead} lines ahead of the output`)); // fail fast, unbounded
        setImmediate(callback); // a slow reader: one chunk a turn of the event loop
      },
    });
    // the stage counts what was read, so the read-ahead is known at every line
    const stage = (data: Uint8Array) => {
      maxReadAhead = Math.max(maxReadAhead, ++read - written);
      return [data];
    };
    const pipeline = await stdioPipeline(stdin, stdout, { s: stage });
    await pipeline.done;
    expect(written).toBe(count);
    expect(Buffer.concat(out).toString()).toBe(Array.from({ length: count }, (_, i) => `line ${i}\n`).join(''));
    console.log(`read-ahead: at most ${maxReadAhead} lines; drain listeners: at most ${maxDrainListeners}`);
    expect(maxReadAhead).toBeLessThanOrEqual(64);
    expect(maxDrainListeners).toBeLessThanOrEqual(1);
  });

  it('ends the run with an OutputStreamError when the reader goes away (EPIPE), and stops reading', async () => {
    const stdin = new PassThrough();
    let lines = 0;
    let gone = false;
    const stdout = new Writable({
      write(chunk: Buffer, _, callback) {
        if (gone) return callback(epipe());
        for (const byte of chunk) if (byte === 10) lines++;
        callback();
      },
    });
    const pipeline = await stdioPipeline(stdin, stdout);
    stdin.write(Array.from({ length: 100 }, (_, i) => `${i}\n`).join(''));
    while (lines < 100) await tick();
    gone = true;
    stdin.write('more\n');
    const error = await pipeline.done.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OutputStreamError);
    expect(error).toMatchObject({ output: 'stdout', code: 'EPIPE', linesWritten: 100, message: 'stdout was closed by its reader (EPIPE) after 100 lines; stopping' });
    pipeline.close();
    expect(stdin.listenerCount('data')).toBe(0);
  });

  it('does not end well when the last lines cannot be flushed after the end of input', async () => {
    const stdin = new PassThrough();
    const stdout = new Writable({
      write(_chunk, _, callback) {
        setTimeout(() => callback(epipe()), 20);
      },
    });
    const pipeline = await stdioPipeline(stdin, stdout);
    stdin.end('a\nb\n');
    await expect(pipeline.done).rejects.toBeInstanceOf(OutputStreamError);
    pipeline.close();
  });

  it('drains on request while stdin stays open: what was read is written, then it ends', async () => {
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const chunks: Buffer[] = [];
    stdout.on('data', (c: Buffer) => chunks.push(c));
    const pipeline = await stdioPipeline(stdin, stdout);
    stdin.write('one\ntwo\n');
    await tick();
    await pipeline.drain();
    expect(Buffer.concat(chunks).toString()).toBe('ONE\nTWO\n');
    expect(stdin.listenerCount('data')).toBe(0);
  });
});
