import { Observable } from 'rxjs';
import { describe } from '../../engine/errors.js';
import { completeLogger } from '../../engine/logger.js';
import { FireAndForget } from '../../transport/delivery.js';
import { Headers } from '../../transport/headers.js';
import type { Delivery, Publisher, PublishKind, Source, Transport } from '../../transport/transport.js';
import { defaultCaseSubject } from '../config/cases.js';
import type { LoadedPipeline } from '../config/load.js';
import type { PipelineConfig, TestCase } from '../config/schema.js';
import { Pipeline } from '../pipeline.js';
import { bytesOf, compareCase, type Mismatch } from './compare.js';

/** A message the pipeline published during a case. */
export interface Recorded {
  subject: string;
  data: Uint8Array;
  headers: Record<string, string>;
}

/** What a case produced, by kind, in the order it was published. */
export interface CaseOutputs {
  outputs: Recorded[];
  sideOutputs: Recorded[];
  deadLetters: Recorded[];
}

export interface CaseResult {
  name: string;
  passed: boolean;
  /** what differs from what the case expects; empty when it passed */
  mismatches: Mismatch[];
  /** warnings and errors the pipeline logged, to show beside a failure */
  log: string[];
  ms: number;
}

/** How long a case may take before it counts as failed (a stage with timeoutMs: 0 stuck in a loop never ends). */
export const DEFAULT_CASE_TIMEOUT_MS = 30_000;

/**
 * Runs one test case in process: the pipeline as loaded (its plugins compiled once, for every
 * case), its input replaced by the case's messages and its outputs recorded, whatever its `nats:`
 * and `input` say. Everything runs as a core NATS input would: no redelivery, a failed message
 * dead-lettered (or logged) at once.
 */
export async function runCase(loaded: LoadedPipeline, testCase: TestCase, timeoutMs = DEFAULT_CASE_TIMEOUT_MS): Promise<CaseResult> {
  const started = performance.now();
  const log: string[] = [];
  const logger = completeLogger({
    warn: (message) => log.push(`warn: ${message}`),
    error: (message) => log.push(`error: ${message}`),
  });
  const source = loaded.config.input;
  const subject = defaultCaseSubject(source);
  const inputs = testCase.input.map(
    (m) => new FireAndForget(m.subject ?? subject ?? 'test', bytesOf(m.data), m.headers === undefined ? undefined : new Headers(Object.entries(m.headers).map(([k, v]) => [k, [v]]))),
  );
  const transport = new CaseTransport(inputs, loaded.config.output.kind === 'stdout');
  const config: PipelineConfig = {
    ...loaded.config,
    nats: undefined,
    input: { kind: 'subject', subject: source.kind === 'stdin' ? 'stdin' : (source.subject ?? '>'), maxPending: Infinity, maxPendingBytes: Infinity },
    output: { kind: 'subject', subject: loaded.config.output.kind === 'subject' ? loaded.config.output.subject : 'stdout' },
  };
  const finish = (mismatches: Mismatch[]): CaseResult => ({ name: testCase.name, passed: mismatches.length === 0, mismatches, log, ms: performance.now() - started });

  let pipeline: Pipeline | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    pipeline = await Pipeline.create(config, { transport, logger, plugins: loaded.plugins });
    await pipeline.start();
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    if ((await Promise.race([pipeline.done.then(() => 'done' as const), timedOut])) === 'timeout') {
      return finish([{ path: '', message: `did not finish within ${timeoutMs} ms (${pipeline.stats.inFlight} of ${inputs.length} message(s) still in flight)` }]);
    }
    return finish(compareCase(testCase, transport.recorded));
  } catch (error) {
    return finish([{ path: '', message: `the pipeline failed: ${describe(error)}` }]);
  } finally {
    clearTimeout(timer);
    pipeline?.close();
  }
}

/** The case's messages as the input, and a record of everything published. */
class CaseTransport implements Transport {
  readonly name = 'test case';
  readonly recorded: CaseOutputs = { outputs: [], sideOutputs: [], deadLetters: [] };

  constructor(
    readonly inputs: readonly Delivery[],
    /** outputs go to standard output in a run, as lines with no headers */
    readonly stdout: boolean,
  ) {}

  async source(): Promise<Source> {
    const deliveries = new Observable<Delivery>((subscriber) => {
      for (const input of this.inputs) subscriber.next(input);
      subscriber.complete();
    });
    return { deliveries, stop: async () => {} };
  }

  async publisher(): Promise<Publisher> {
    const lists: Record<PublishKind, Recorded[]> = { out: this.recorded.outputs, emit: this.recorded.sideOutputs, dlq: this.recorded.deadLetters };
    return {
      publish: (subject, data, headers, _msgId, kind = 'out') => {
        const plain = kind === 'out' && this.stdout;
        lists[kind].push({ subject, data: data.slice(), headers: plain || headers === undefined ? {} : Object.fromEntries([...headers].map(([k, v]) => [k, v[0] ?? ''])) });
      },
    };
  }

  async close(): Promise<void> {}
}
