// A process a bench measures (wasp run, a relay): started on node, ready once its stderr says so,
// stopped with SIGTERM so that it drains and says what it handled, SIGKILL if it hangs.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

export interface Sut {
  pid: number;
  stderr(): string;
  stop(): Promise<void>;
}

/** Starts node on a script and resolves once its stderr matches `ready`; an exit before that rejects with what it said. */
export async function spawnSut(args: string[], ready: RegExp, keepBytes = 16_000): Promise<Sut> {
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (chunk: Buffer) => (err = (err + chunk.toString()).slice(-keepBytes)));
  const sut = { pid: child.pid!, stderr: () => err, stop: () => stopChild(child) };
  const deadline = Date.now() + 20_000;
  try {
    while (!ready.test(err)) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${args.join(' ')} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${err}`);
      if (Date.now() > deadline) throw new Error(`${args.join(' ')} was not ready within 20 s:\n${err}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  } catch (error) {
    await sut.stop();
    throw error;
  }
  return sut;
}

/** SIGTERM (wasp run and the relays drain, then say what they handled), SIGKILL if it has not ended 10 s later. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await gone;
  clearTimeout(timer);
}
