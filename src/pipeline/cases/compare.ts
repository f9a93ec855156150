import { utf8OrUndefined } from '../../engine/utf8.js';
import { DEAD_LETTER_HEADERS } from '../pipeline.js';
import type { TestCase, TestData } from '../config/schema.js';
import type { CaseOutputs, Recorded } from './run.js';

/** One way a case's result differs from what it expects; `expected`/`actual` are shown as a diff. */
export interface Mismatch {
  /** e.g. outputs[1].data */
  path: string;
  message?: string;
  expected?: string;
  actual?: string;
}

/** A case's data as the bytes it stands for. */
export function bytesOf(data: TestData): Uint8Array {
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.base64, 'base64');
}

type Expected = { data: TestData; subject?: string; headers?: Record<string, string>; errorType?: string };

/** Every difference between what a case expects and what its run published, list by list, item by item. */
export function compareCase(testCase: TestCase, actual: CaseOutputs): Mismatch[] {
  return [
    ...compareList('outputs', testCase.outputs, actual.outputs),
    ...compareList('sideOutputs', testCase.sideOutputs, actual.sideOutputs),
    ...compareList(
      'deadLetters',
      testCase.deadLetters.map((d) => ({ ...d, headers: d.errorType === undefined ? d.headers : { ...d.headers, [DEAD_LETTER_HEADERS.errorType]: d.errorType } })),
      actual.deadLetters,
    ),
  ];
}

function compareList(name: string, expected: readonly Expected[], actual: readonly Recorded[]): Mismatch[] {
  const out: Mismatch[] = [];
  for (let i = 0; i < Math.max(expected.length, actual.length); i++) {
    const want = expected[i];
    const got = actual[i];
    const at = `${name}[${i}]`;
    if (want === undefined) {
      out.push({ path: at, message: 'not expected', actual: describeRecorded(got!) });
      continue;
    }
    if (got === undefined) {
      out.push({ path: at, message: `expected ${expected.length}, got ${actual.length}`, expected: showData(want.data) });
      continue;
    }
    if (want.subject !== undefined && want.subject !== got.subject) out.push({ path: `${at}.subject`, expected: want.subject, actual: got.subject });
    if (!Buffer.from(bytesOf(want.data)).equals(got.data)) out.push({ path: `${at}.data`, expected: showData(want.data), actual: showBytes(got.data) });
    for (const [header, value] of Object.entries(want.headers ?? {})) {
      const present = got.headers[header];
      if (present !== value) out.push({ path: `${at}.headers.${header}`, expected: JSON.stringify(value), actual: present === undefined ? '(absent)' : JSON.stringify(present) });
    }
  }
  return out;
}

function describeRecorded(r: Recorded): string {
  const errorType = r.headers[DEAD_LETTER_HEADERS.errorType];
  return `${r.subject} ${showBytes(r.data)}${errorType === undefined ? '' : ` (${errorType}: ${r.headers[DEAD_LETTER_HEADERS.error] ?? ''})`}`;
}

/** Longer data is cut here: a diff should point at the difference, not print megabytes. */
const SHOWN_CHARS = 200;

function showData(data: TestData): string {
  return typeof data === 'string' ? quote(data) : showBytes(bytesOf(data));
}

/** Text as a quoted string, anything that is not UTF-8 as base64, as a case would write it. */
export function showBytes(bytes: Uint8Array): string {
  const text = utf8OrUndefined(bytes);
  if (text !== undefined) return quote(text);
  const b64 = Buffer.from(bytes).toString('base64');
  return `{ base64: ${b64.length > SHOWN_CHARS ? `${b64.slice(0, SHOWN_CHARS)}... (${bytes.length} bytes)` : b64} }`;
}

function quote(text: string): string {
  return text.length > SHOWN_CHARS ? `${JSON.stringify(text.slice(0, SHOWN_CHARS))}... (${text.length} chars)` : JSON.stringify(text);
}
