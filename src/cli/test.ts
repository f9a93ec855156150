import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parse } from 'yaml';
import { describe } from '../engine/errors.js';
import { MAX_TIMER_MS } from '../engine/limits.js';
import { DEFAULT_CASE_TIMEOUT_MS, runCase, type CaseResult } from '../pipeline/cases/run.js';
import { isSidecar, loadTestSuite, pipelineOfSidecar } from '../pipeline/cases/suite.js';
import { ConfigError } from '../pipeline/config/load.js';
import type { CommandIO } from './command.js';
import { UsageError } from './usage.js';
import { formatProblems } from './validate.js';

const PIPELINE_FILE = /\.(ya?ml|json)$/;

/**
 * `wasp test <pipeline.yaml | dir>...`: runs the test cases written beside each pipeline, in
 * process. Prints each case and a diff for each failing one; exit 1 when any fails, when a file
 * cannot be loaded, or when nothing was found to test.
 */
export async function testCommand(argv: string[], io: CommandIO): Promise<number> {
  const { targets, timeoutMs } = parseTestArgs(argv);
  const files: string[] = [];
  let failed = 0;
  for (const target of targets) {
    const info = await stat(target).catch(() => undefined);
    if (info === undefined) {
      io.stderr.write(`${target}: no such file or directory\n`);
      failed++;
    } else if (info.isDirectory()) {
      files.push(...(await pipelinesWithTests(target)));
    } else {
      // a test file names the pipeline beside it
      files.push(isSidecar(target) ? pipelineOfSidecar(target) : target);
    }
  }
  let passed = 0;
  for (const file of [...new Set(files)]) {
    let suite;
    try {
      suite = await loadTestSuite(file);
    } catch (error) {
      failed++;
      io.stderr.write(error instanceof ConfigError ? formatProblems(error.problems) : `${file}: ${describe(error)}\n`);
      continue;
    }
    io.stdout.write(`${relative(process.cwd(), file) || file} (${suite.pipeline.config.name})\n`);
    if (suite.cases.length === 0) {
      io.stdout.write('  no test cases: add a tests: list to the file, or to a .test.yaml file beside it\n');
      failed++;
      continue;
    }
    for (const { testCase } of suite.cases) {
      const result = await runCase(suite.pipeline, testCase, timeoutMs);
      io.stdout.write(formatResult(result));
      if (result.passed) passed++;
      else failed++;
    }
  }
  if (passed + failed === 0) {
    io.stderr.write(`no pipeline with test cases found in ${targets.join(', ')}\n`);
    return 1;
  }
  io.stdout.write(`${passed + failed} case(s): ${passed} passed, ${failed} failed\n`);
  return failed > 0 ? 1 : 0;
}

function parseTestArgs(argv: string[]): { targets: string[]; timeoutMs: number } {
  const targets: string[] = [];
  let timeoutMs = DEFAULT_CASE_TIMEOUT_MS;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--timeout') {
      const value = argv[++i];
      if (value === undefined || !/^\d+$/.test(value) || Number(value) < 1 || Number(value) > MAX_TIMER_MS) {
        throw new UsageError(`--timeout needs a number of milliseconds from 1 to ${MAX_TIMER_MS}`);
      }
      timeoutMs = Number(value);
    } else if (arg.startsWith('--')) {
      throw new UsageError(`unknown option ${arg}`);
    } else {
      targets.push(arg);
    }
  }
  if (targets.length === 0) throw new UsageError('wasp test needs a pipeline file or a directory');
  return { targets, timeoutMs };
}

/** Pipeline files under a directory that have test cases: a `tests:` key, or a .test.yaml file beside them. */
async function pipelinesWithTests(dir: string): Promise<string[]> {
  const found: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  const names = new Set(entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)));
  for (const file of [...names].sort()) {
    if (file.split(/[\\/]/).some((part) => part === 'node_modules' || part.startsWith('.'))) continue;
    if (isSidecar(file)) {
      // a test file with no pipeline beside it is reported by loading that pipeline
      found.push(pipelineOfSidecar(file));
    } else if (PIPELINE_FILE.test(file) && (await hasTestsKey(file))) {
      found.push(file);
    }
  }
  return [...new Set(found)].sort();
}

/** A quick look, before the full load: YAML that is not a map with `tests:` is not a pipeline to test. */
async function hasTestsKey(file: string): Promise<boolean> {
  try {
    const value: unknown = parse(await readFile(file, 'utf8'), { logLevel: 'silent' });
    return value !== null && typeof value === 'object' && !Array.isArray(value) && 'tests' in value;
  } catch {
    return false;
  }
}

function formatResult(result: CaseResult): string {
  const ms = `(${result.ms < 10 ? result.ms.toFixed(1) : Math.round(result.ms)} ms)`;
  if (result.passed) return `  ✓ ${result.name} ${ms}\n`;
  const lines = [`  ✗ ${result.name} ${ms}`];
  for (const m of result.mismatches) {
    lines.push(`      ${[m.path, m.message].filter(Boolean).join(': ')}`);
    if (m.expected !== undefined) lines.push(`        - ${m.expected}`);
    if (m.actual !== undefined) lines.push(`        + ${m.actual}`);
  }
  if (result.log.length > 0) lines.push('      log:', ...result.log.map((l) => `        ${l}`));
  return `${lines.join('\n')}\n`;
}
