import { describe } from '../engine/errors.js';
import { ConfigError, formatProblem, loadPipelineConfig, type ConfigProblem } from '../pipeline/config/load.js';
import type { CommandIO } from './command.js';
import { UsageError } from './usage.js';

export function formatProblems(problems: ConfigProblem[]): string {
  return problems.map((p) => `${formatProblem(p)}\n`).join('');
}

/** `wasp validate <config>...`: every problem of every file, without touching NATS. */
export async function validateCommand(argv: string[], io: CommandIO): Promise<number> {
  const files = argv.filter((a) => !a.startsWith('--'));
  const unknown = argv.find((a) => a.startsWith('--'));
  if (unknown !== undefined) throw new UsageError(`unknown option ${unknown}`);
  if (files.length === 0) throw new UsageError('wasp validate needs at least one config file');
  let failed = 0;
  for (const file of files) {
    try {
      await loadPipelineConfig(file);
      io.stdout.write(`${file}: ok\n`);
    } catch (error) {
      // Anything but a ConfigError is a bug in the checks; it fails this file, not the files after it.
      const problems = error instanceof ConfigError ? error.problems : [{ file, line: 1, column: 1, path: '', message: `cannot check the file: ${describe(error)}` }];
      failed++;
      io.stderr.write(formatProblems(problems));
    }
  }
  return failed > 0 ? 1 : 0;
}
