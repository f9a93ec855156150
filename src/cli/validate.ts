import { describe } from '../engine/errors.js';
import { isSidecar, loadTestSuite, pipelineOfSidecar } from '../pipeline/cases/suite.js';
import { ConfigError, formatProblem, formatWarning, type ConfigProblem } from '../pipeline/config/load.js';
import type { CommandIO } from './command.js';
import { UsageError } from './usage.js';

export function formatProblems(problems: ConfigProblem[]): string {
  return problems.map((p) => `${formatProblem(p)}\n`).join('');
}

/**
 * `wasp validate <config>...`: every problem of every file, without touching NATS. A pipeline's
 * test cases (its tests: list, NAME.test.yaml beside it) are checked with it; a NAME.test.yaml
 * given on its own is checked against the pipeline beside it. Warnings (see lint.ts) go to stderr
 * and fail the file only with --strict.
 */
export async function validateCommand(argv: string[], io: CommandIO): Promise<number> {
  const files = argv.filter((a) => !a.startsWith('--'));
  const strict = argv.includes('--strict');
  const unknown = argv.find((a) => a.startsWith('--') && a !== '--strict');
  if (unknown !== undefined) throw new UsageError(`unknown option ${unknown}`);
  if (files.length === 0) throw new UsageError('wasp validate needs at least one config file');
  let failed = 0;
  for (const file of new Set(files.map((f) => (isSidecar(f) ? pipelineOfSidecar(f) : f)))) {
    try {
      const suite = await loadTestSuite(file);
      const warnings = suite.pipeline.warnings;
      io.stderr.write(warnings.map((w) => `${formatWarning(w)}\n`).join(''));
      if (strict && warnings.length > 0) {
        failed++;
        continue;
      }
      io.stdout.write(`${file}: ok${warnings.length > 0 ? ` (${warnings.length} warning(s))` : ''}\n`);
      if (suite.sidecar !== undefined) io.stdout.write(`${suite.sidecar}: ok\n`);
    } catch (error) {
      // Anything but a ConfigError is a bug in the checks; it fails this file, not the files after it.
      const problems = error instanceof ConfigError ? error.problems : [{ file, line: 1, column: 1, path: '', message: `cannot check the file: ${describe(error)}` }];
      failed++;
      io.stderr.write(formatProblems(problems));
    }
  }
  return failed > 0 ? 1 : 0;
}
