import { isPublishSubject, subjectMatches } from '../../engine/subjects.js';
import type { PipelineConfig, TestCase } from './schema.js';
import type { Path } from './yaml.js';

/**
 * The subject a test case's message arrives on when it names none: the input's subject when that
 * is one subject (a pattern would leave it open), `stdin` for standard input, as a run names it.
 */
export function defaultCaseSubject(input: PipelineConfig['input']): string | undefined {
  if (input.kind === 'stdin') return 'stdin';
  return input.subject !== undefined && isPublishSubject(input.subject) ? input.subject : undefined;
}

/**
 * What a test case's messages must be for the run to be one the pipeline could see: on a subject
 * its input receives, and for standard input, one line each with no subject or headers of its own.
 */
export function checkCaseInputs(cases: readonly TestCase[], input: PipelineConfig['input'], problem: (path: Path, message: string) => void): void {
  const fallback = defaultCaseSubject(input);
  cases.forEach((c, i) =>
    c.input.forEach((m, j) => {
      const at = (key: string): Path => [i, 'input', j, key];
      if (input.kind === 'stdin') {
        if (m.subject !== undefined) problem(at('subject'), 'a stdin input\'s messages are lines, with no subject to give');
        if (m.headers !== undefined) problem(at('headers'), 'a stdin input\'s messages are lines, with no headers');
        if (typeof m.data === 'string' && /[\r\n]/.test(m.data)) problem(at('data'), 'a stdin input reads one message per line: this data has a line break');
        if (typeof m.data !== 'string') problem(at('data'), 'a stdin input reads lines of text: give the data as a string');
        return;
      }
      const pattern = input.subject;
      if (m.subject === undefined && fallback === undefined) {
        problem([i, 'input', j], pattern === undefined ? 'the input names no subject: give this message one' : `the input's subject ${pattern} is a pattern: give this message a subject it matches`);
      } else if (m.subject !== undefined && pattern !== undefined && !subjectMatches(pattern, m.subject)) {
        problem(at('subject'), `${m.subject} is not a subject the input (${pattern}) receives`);
      }
    }),
  );
}
