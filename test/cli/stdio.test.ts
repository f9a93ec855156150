// `wasp run` between shell pipes: bytes untouched, memory bounded by a slow reader, a reader that goes away.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { waspBin } from '../helpers/cli.js';
import { root } from '../helpers/plugins.js';

function runStdin(): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [waspBin, 'run', 'pipelines/text/stdin.yaml'], { cwd: root });
}

function collect(stream: NodeJS.ReadableStream): { chunks: Buffer[]; text: () => string } {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { chunks, text: () => Buffer.concat(chunks).toString() };
}

const exited = (child: ChildProcessWithoutNullStreams) =>
  new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

/** The process's resident memory in MB, or undefined once it is gone. */
function rssMB(pid: number): number | undefined {
  try {
    const kB = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kB === undefined ? undefined : Number(kB) / 1024;
  } catch {
    return undefined;
  }
}

describe('wasp run with stdin and stdout', () => {
  it('passes bytes that are not UTF-8 through untouched; an empty line and a last line without \\n are messages', async () => {
    const child = runStdin();
    const out = collect(child.stdout);
    const err = collect(child.stderr);
    const code = exited(child);
    // upper changes a-z only; \r stays, the empty line is a message the stage drops
    child.stdin.end(Buffer.concat([Buffer.from('ab'), Buffer.from('fffe00800d', 'hex'), Buffer.from('\nx\r\n\nlast')]));
    expect(await code).toBe(0);
    expect(Buffer.concat(out.chunks)).toEqual(Buffer.concat([Buffer.from('AB'), Buffer.from('fffe00800d', 'hex'), Buffer.from('\nX\r\nLAST\n')]));
    expect(err.text()).toMatch(/summary: 4 in, 3 out, 0 failed \(logged: no deadLetter\)/);
  });

  it('keeps memory bounded while its stdout is read slowly: 2,000,000 lines, all out, in order', async () => {
    const count = 2_000_000;
    const limitMB = 300;
    const input = Buffer.from(Array.from({ length: count }, (_, i) => `line ${i}\n`).join(''));
    const expected = Buffer.from(input.toString().toUpperCase());
    const child = runStdin();
    const err = collect(child.stderr);
    const code = exited(child);
    let peakMB = 0;
    const sampler = setInterval(() => {
      const mb = rssMB(child.pid!);
      if (mb === undefined) return;
      peakMB = Math.max(peakMB, mb);
      if (mb > limitMB) child.kill('SIGKILL'); // no runaway process when it fails
    }, 20);
    child.stdin.on('error', () => {}); // gone when killed
    void (async () => {
      for (let at = 0; at < input.length && child.exitCode === null; at += 65536) {
        if (!child.stdin.write(input.subarray(at, at + 65536))) await new Promise((resolve) => child.stdin.once('drain', resolve));
      }
      child.stdin.end();
    })();
    // The reader: nothing for a second, then a chunk at a time, each compared with what is due.
    let received = 0;
    let same = true;
    setTimeout(() => {
      child.stdout.on('data', (c: Buffer) => {
        same &&= c.equals(expected.subarray(received, received + c.length));
        received += c.length;
      });
    }, 1000);
    const exitCode = await code;
    clearInterval(sampler);
    console.log(`wasp run, 2,000,000 lines to a slow reader: peak RSS ${peakMB.toFixed(0)} MB`);
    expect(peakMB).toBeLessThan(limitMB);
    expect(exitCode).toBe(0);
    expect({ received, same }).toEqual({ received: expected.length, same: true });
    expect(err.text()).toMatch(/summary: 2000000 in, 2000000 out/);
  }, 30_000);

  it('ends at once with exit 1 and a one-line message when its reader goes away (EPIPE), as `| head -1` does', async () => {
    const child = runStdin();
    const err = collect(child.stderr);
    const code = exited(child);
    child.stdin.on('error', () => {});
    let feeding = true;
    void (async () => {
      for (let i = 0; feeding && child.exitCode === null; i++) {
        if (!child.stdin.write(`line ${i}\n`.repeat(1000))) await new Promise((resolve) => child.stdin.once('drain', resolve));
      }
    })();
    const first = await new Promise<string>((resolve) => child.stdout.once('data', (c: Buffer) => resolve(c.toString().split('\n')[0]!)));
    expect(first).toBe('LINE 0');
    child.stdout.destroy(); // what head does after its line
    const started = Date.now();
    const exitCode = await code;
    feeding = false;
    expect(Date.now() - started).toBeLessThan(3000);
    expect(exitCode).toBe(1);
    expect(err.text()).toMatch(/^error: stdout was closed by its reader \(EPIPE\) after \d+ lines?; stopping$/m);
    expect(err.text()).not.toMatch(/^\s+at /m); // no stack trace
  });

  it('ends with exit 1 naming the line when a line is longer than 16 MiB, after writing the lines before it', async () => {
    const child = runStdin();
    const out = collect(child.stdout);
    const err = collect(child.stderr);
    const code = exited(child);
    child.stdin.on('error', () => {});
    child.stdin.write('ok\n');
    child.stdin.end(Buffer.alloc(16 * 1024 * 1024 + 1, 'x'));
    expect(await code).toBe(1);
    expect(out.text()).toBe('OK\n');
    expect(err.text()).toMatch(/^error: stdin: line 2 is longer than 16777216 bytes, the most one message may hold; stopping there$/m);
  });
});
