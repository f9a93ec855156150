import { readFile } from 'node:fs/promises';
import { checkCaseInputs } from '../config/cases.js';
import { loadPipelineFile, type LoadedPipeline, type LoadOptions } from '../config/load.js';
import { testFileSchema, type TestCase } from '../config/schema.js';
import { ConfigError, readYaml } from '../config/yaml.js';

/** A pipeline file and the test cases written for it. */
export interface TestSuite {
  pipeline: LoadedPipeline;
  /** the file's own `tests:`, then those of NAME.test.yaml beside it */
  cases: { testCase: TestCase; file: string }[];
  /** NAME.test.yaml, when there is one */
  sidecar: string | undefined;
}

/** NAME.test.yaml (or .yml) beside NAME.yaml: where a pipeline's test cases may live instead. */
export function sidecarOf(file: string): string {
  const match = /\.(ya?ml|json)$/.exec(file);
  return match === null ? `${file}.test.yaml` : `${file.slice(0, match.index)}.test.${match[1] === 'json' ? 'yaml' : match[1]}`;
}

export function isSidecar(file: string): boolean {
  return /\.test\.ya?ml$/.test(file);
}

/** NAME.yaml for NAME.test.yaml. */
export function pipelineOfSidecar(file: string): string {
  return file.replace(/\.test(\.ya?ml)$/, '$1');
}

/**
 * Loads a pipeline file exactly as `wasp run` would (every check, every plugin compiled once) and
 * its test cases. Problems in either file come as one ConfigError per file.
 */
export async function loadTestSuite(file: string, options: LoadOptions = {}): Promise<TestSuite> {
  const pipeline = await loadPipelineFile(file, options);
  const cases = (pipeline.file.tests ?? []).map((testCase) => ({ testCase, file }));
  const sidecar = sidecarOf(file);
  let text: string | undefined;
  try {
    text = await readFile(sidecar, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConfigError(sidecar, [{ file: sidecar, line: 1, column: 1, path: '', message: `cannot read the file: ${(error as Error).message}` }]);
    }
  }
  if (text !== undefined) {
    const read = readYaml(text, sidecar, testFileSchema, options.env ?? process.env);
    if (read.data !== undefined) {
      checkCaseInputs(read.data.tests, pipeline.config.input, (path, message) => read.problem(['tests', ...path], message));
      const names = new Set(cases.map((c) => c.testCase.name));
      read.data.tests.forEach((c, i) => {
        if (names.has(c.name)) read.problem(['tests', i, 'name'], `${file} already has a case named ${c.name}`);
      });
    }
    if (read.problems.length > 0 || read.data === undefined) throw new ConfigError(sidecar, read.problems);
    cases.push(...read.data.tests.map((testCase) => ({ testCase, file: sidecar })));
  }
  return { pipeline, cases, sidecar: text === undefined ? undefined : sidecar };
}
