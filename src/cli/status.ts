import type { PipelineConfig } from '../pipeline/config/schema.js';
import type { PipelineStats } from '../pipeline/stats.js';

/** What the summary may speak of: acks only where the input has them, dead letters only where they are sent. */
export interface SummaryContext {
  acks: boolean;
  failed: 'dead-lettered' | 'discarded' | 'logged';
}

export function summaryContext(config: PipelineConfig): SummaryContext {
  const dl = config.deadLetter;
  return { acks: config.input.kind === 'stream', failed: dl?.subject !== undefined ? 'dead-lettered' : dl?.discard ? 'discarded' : 'logged' };
}

/** One line: totals, each stage's in/out/dropped/failed, and the rate since the last line. */
export function statusLine(stats: PipelineStats, rate: number): string {
  const stages = stats.stages.map((s) => `${s.name} ${s.in}>${s.out} drop ${s.dropped} fail ${s.failed}`).join(' | ');
  const publishErrors = stats.publishErrors > 0 ? ` | pub err ${stats.publishErrors}` : '';
  const dropped = stats.inputDropped > 0 ? ` | slow drop ${stats.inputDropped}` : '';
  return `in ${stats.received}${dropped} | ${stages} | out ${stats.published} | dlq ${stats.deadLettered}${publishErrors} | ${Math.round(rate)} msg/s`;
}

/** The summary printed at exit. */
export function summary(stats: PipelineStats, context: SummaryContext): string {
  const seconds = (Date.now() - stats.startedAt) / 1000;
  const failed =
    context.failed === 'dead-lettered' ? `${stats.deadLettered} dead-lettered`
    : context.failed === 'discarded' ? `${stats.deadLettered} failed (discarded)`
    : `${stats.deadLettered} failed (logged: no deadLetter)`;
  const rows = stats.stages.map(
    (s) =>
      `  ${s.name.padEnd(16)} in ${String(s.in).padStart(9)}  out ${String(s.out).padStart(9)}  dropped ${String(s.dropped).padStart(7)}  failed ${String(s.failed).padStart(7)}  emitted ${String(s.emitted).padStart(7)}  refused emits ${s.refusedEmits}`,
  );
  return [
    `summary: ${stats.received} in, ${stats.published} out, ${failed} in ${seconds.toFixed(1)} s` +
      (context.acks ? ` (acked ${stats.acked}, nak'ed ${stats.naked}, terminated ${stats.termed})` : ''),
    ...rows,
    ...publishFailures(stats),
    ...(stats.inputDropped > 0
      ? [`  input dropped ${stats.inputDropped} message(s): more than maxPending or maxPendingBytes were waiting (a slow consumer); JetStream input drops none`]
      : []),
  ].join('\n');
}

/** The summary as log fields (--log-format json). */
export function summaryFields(stats: PipelineStats): Record<string, unknown> {
  const { received, published, deadLettered, acked, naked, termed, publishErrors, publishRejected, outOfDeliveries, deadLetterErrors, truncatedDeadLetters, inputDropped } = stats;
  return {
    seconds: Number(((Date.now() - stats.startedAt) / 1000).toFixed(1)),
    received, published, deadLettered, acked, naked, termed,
    publishErrors, publishRejected, outOfDeliveries, deadLetterErrors, truncatedDeadLetters, inputDropped,
    stages: stats.stages.map((s) => s.toJSON()),
  };
}

/** A line about failed publishes, only when there were any. */
function publishFailures(stats: PipelineStats): string[] {
  const { publishErrors, publishRejected, outOfDeliveries, deadLetterErrors, truncatedDeadLetters } = stats;
  if (publishErrors + deadLetterErrors + truncatedDeadLetters === 0) return [];
  return [
    `  publishes failed ${publishErrors} (refused for good ${publishRejected}, out of deliveries ${outOfDeliveries}),` +
      ` dead letters not published ${deadLetterErrors}, dead letters cut to fit ${truncatedDeadLetters}`,
  ];
}

/** Redraws the status line in place on a terminal, once a second. */
export class StatusLine {
  #timer: NodeJS.Timeout | undefined;
  #last = 0;
  #lastAt = Date.now();
  #shown = false;

  constructor(
    readonly stream: NodeJS.WritableStream & { isTTY?: boolean },
    readonly stats: PipelineStats,
  ) {}

  start(): void {
    if (!this.stream.isTTY) return;
    this.#timer = setInterval(() => this.#draw(), 1000);
    this.#timer.unref();
  }

  /** Clears the line so a log line can be written cleanly. */
  clear(): void {
    if (this.#shown) this.stream.write('\r\x1b[2K');
    this.#shown = false;
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.clear();
  }

  #draw(): void {
    const now = Date.now();
    const rate = ((this.stats.received - this.#last) * 1000) / Math.max(1, now - this.#lastAt);
    this.#last = this.stats.received;
    this.#lastAt = now;
    this.stream.write(`\r\x1b[2K${statusLine(this.stats, rate)}`);
    this.#shown = true;
  }
}
