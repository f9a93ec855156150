import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { root } from './plugins.js';

export const waspBin = `${root}dist/src/cli/wasp.js`;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built `wasp` CLI the way a user would (npm test builds it first). */
export function wasp(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  if (!existsSync(waspBin)) throw new Error(`${waspBin} is missing: run npm run build (npm test does it first)`);
  return new Promise((resolve) => {
    execFile(process.execPath, [waspBin, ...args], { cwd: options.cwd ?? root, env: options.env && { ...process.env, ...options.env } }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

export interface WaspProcess {
  child: import('node:child_process').ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once stderr contains the text (a log line the process prints). */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
}

/** Starts a long-running `wasp` process (wasp run) with extra environment. */
export function spawnWasp(args: string[], env: Record<string, string> = {}): WaspProcess {
  if (!existsSync(waspBin)) throw new Error(`${waspBin} is missing: run npm run build (npm test does it first)`);
  const child = spawn(process.execPath, [waspBin, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor: async (text, timeoutMs = 20_000) => {
      const deadline = Date.now() + timeoutMs;
      const found = () => (typeof text === 'string' ? err.includes(text) : text.test(err));
      while (!found()) {
        if (child.exitCode !== null) throw new Error(`wasp exited (${child.exitCode}) before printing ${text}:\n${err}`);
        if (Date.now() > deadline) throw new Error(`wasp did not print ${text} within ${timeoutMs} ms:\n${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

/** Polls until the check passes or the time is up. */
export async function eventually<T>(check: () => Promise<T> | T, done: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
