import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { root } from './plugins.js';

export const waspBin = `${root}dist/src/cli/wasp.js`;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built `wasp` CLI the way a user would (npm test builds it first). */
export function wasp(args: string[], options: { cwd?: string } = {}): Promise<CliResult> {
  if (!existsSync(waspBin)) throw new Error(`${waspBin} is missing: run npm run build (npm test does it first)`);
  return new Promise((resolve) => {
    execFile(process.execPath, [waspBin, ...args], { cwd: options.cwd ?? root }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
