// Prometheus metrics of running pipelines, through prom-client. Counters are read from the
// pipelines' own stats when scraped, so counting costs the hot path nothing; only the two
// latency histograms are fed per call and per message, and only when metrics are on.
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { FastHistogram } from './histogram.js';
import type { Pipeline, PipelineTimings } from '../pipeline/pipeline.js';
import type { PipelineStats } from '../pipeline/stats.js';

/** A pipeline being watched, under its name (a worker's revision changes the Pipeline, not the series). */
export interface Observed {
  name: string;
  pipeline: Pipeline;
  revision?: number;
}

/** Seconds: a Wasm call takes microseconds; a message through NATS a millisecond or so. */
const CALL_BUCKETS = [0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
const LATENCY_BUCKETS = [0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

type Labels = Record<string, string>;

/**
 * A counter mirroring counts kept elsewhere: at each scrape it goes up by what each source
 * counted since the last one. A new source (a pipeline's next revision) starts from zero, so
 * the series never goes down.
 */
class MirroredCounter {
  readonly counter: Counter<string>;
  readonly #last = new WeakMap<object, Map<string, number>>();

  constructor(registry: Registry, name: string, help: string, labelNames: string[]) {
    this.counter = new Counter({ name, help, labelNames, registers: [registry] });
  }

  observe(source: object, labels: Labels, value: number): void {
    let seen = this.#last.get(source);
    if (seen === undefined) this.#last.set(source, (seen = new Map()));
    const key = JSON.stringify(labels);
    const before = seen.get(key);
    const delta = value - (before ?? 0);
    // a series starts at 0 when first seen, so rate() has a value before anything happens
    if (delta > 0 || before === undefined) this.counter.inc(labels, Math.max(delta, 0));
    seen.set(key, value);
  }
}

export class WaspMetrics {
  readonly registry = new Registry();
  readonly #messages: MirroredCounter;
  readonly #stageMessages: MirroredCounter;
  readonly #sideOutputs: MirroredCounter;
  readonly #replaced: MirroredCounter;
  readonly #publishFailures: MirroredCounter;
  readonly #inFlight: Gauge<string>;
  readonly #poolSize: Gauge<string>;
  readonly #pending: Gauge<string>;
  readonly #ackPending: Gauge<string>;
  readonly #revision: Gauge<string>;
  readonly #calls: FastHistogram;
  readonly #latency: FastHistogram;
  readonly #pipelines: Gauge<string>;

  constructor(readonly observed: () => Observed[]) {
    const r = this.registry;
    collectDefaultMetrics({ register: r });
    this.#pipelines = new Gauge({ name: 'wasp_pipelines', help: 'Pipelines running in this process', registers: [r] });
    this.#messages = new MirroredCounter(r, 'wasp_messages_total', 'Messages by what became of them: received, published (outputs), dead_lettered, input_dropped (core NATS over its pending limits), acked, naked, termed', ['pipeline', 'outcome']);
    this.#stageMessages = new MirroredCounter(r, 'wasp_stage_messages_total', 'Messages through a stage: in, out, dropped (no output), failed', ['pipeline', 'stage', 'outcome']);
    this.#sideOutputs = new MirroredCounter(r, 'wasp_stage_side_outputs_total', 'Side outputs a stage\'s plugin emitted, and those refused (invalid subject, outside emits)', ['pipeline', 'stage', 'outcome']);
    this.#replaced = new MirroredCounter(r, 'wasp_stage_instances_replaced_total', 'Plugin instances (or worker threads) replaced after a trap or timeout', ['pipeline', 'stage']);
    this.#publishFailures = new MirroredCounter(r, 'wasp_publish_failures_total', 'Publishes that failed: failed (any), rejected (for good, the input dead-lettered at once)', ['pipeline', 'kind']);
    this.#inFlight = new Gauge({ name: 'wasp_messages_in_flight', help: 'Inputs received and not yet settled', labelNames: ['pipeline'], registers: [r] });
    this.#poolSize = new Gauge({ name: 'wasp_stage_pool_size', help: 'Instances (inline) or worker threads of a stage', labelNames: ['pipeline', 'stage', 'mode'], registers: [r] });
    this.#pending = new Gauge({ name: 'wasp_consumer_pending_messages', help: 'JetStream input: messages the consumer has not delivered yet', labelNames: ['pipeline'], registers: [r] });
    this.#ackPending = new Gauge({ name: 'wasp_consumer_ack_pending_messages', help: 'JetStream input: messages delivered and not yet acknowledged', labelNames: ['pipeline'], registers: [r] });
    this.#revision = new Gauge({ name: 'wasp_pipeline_revision', help: 'The deployed revision a worker runs', labelNames: ['pipeline'], registers: [r] });
    this.#calls = new FastHistogram(r, 'wasp_stage_call_duration_seconds', 'One plugin call of a stage, from submit to answer (worker stages: queueing included)', CALL_BUCKETS);
    this.#latency = new FastHistogram(r, 'wasp_message_latency_seconds', 'An input from arrival until everything it caused was accepted (or it was settled otherwise)', LATENCY_BUCKETS);
  }

  /** The hooks a pipeline times its calls and messages through. */
  timings(pipeline: string): PipelineTimings {
    const latency = {
      ack: this.#latency.series({ pipeline, outcome: 'ack' }),
      nak: this.#latency.series({ pipeline, outcome: 'nak' }),
      term: this.#latency.series({ pipeline, outcome: 'term' }),
    };
    return {
      stageCall: (stage) => this.#calls.series({ pipeline, stage }),
      settled: (seconds, outcome) => latency[outcome](seconds),
    };
  }

  /** The metrics in Prometheus text format, the mirrored ones brought up to date first. */
  async scrape(): Promise<string> {
    await this.#refresh();
    return this.registry.metrics();
  }

  async #refresh(): Promise<void> {
    const list = this.observed();
    this.#pipelines.set(list.length);
    this.#inFlight.reset();
    this.#poolSize.reset();
    this.#pending.reset();
    this.#ackPending.reset();
    this.#revision.reset();
    await Promise.all(
      list.map(async ({ name, pipeline, revision }) => {
        const stats = pipeline.stats;
        this.#mirror(name, stats);
        this.#inFlight.set({ pipeline: name }, stats.inFlight);
        if (revision !== undefined) this.#revision.set({ pipeline: name }, revision);
        for (const stage of pipeline.config.stages) this.#poolSize.set({ pipeline: name, stage: stage.name, mode: stage.pool.mode }, stage.pool.size);
        const lag = await pipeline.lag().catch(() => undefined);
        if (lag !== undefined) {
          this.#pending.set({ pipeline: name }, lag.pending);
          this.#ackPending.set({ pipeline: name }, lag.ackPending);
        }
      }),
    );
  }

  #mirror(pipeline: string, stats: PipelineStats): void {
    const m = this.#messages;
    m.observe(stats, { pipeline, outcome: 'received' }, stats.received);
    m.observe(stats, { pipeline, outcome: 'published' }, stats.published);
    m.observe(stats, { pipeline, outcome: 'dead_lettered' }, stats.deadLettered);
    m.observe(stats, { pipeline, outcome: 'input_dropped' }, stats.inputDropped);
    m.observe(stats, { pipeline, outcome: 'acked' }, stats.acked);
    m.observe(stats, { pipeline, outcome: 'naked' }, stats.naked);
    m.observe(stats, { pipeline, outcome: 'termed' }, stats.termed);
    this.#publishFailures.observe(stats, { pipeline, kind: 'failed' }, stats.publishErrors);
    this.#publishFailures.observe(stats, { pipeline, kind: 'rejected' }, stats.publishRejected);
    for (const s of stats.stages) {
      const stage = s.name;
      for (const [outcome, value] of [['in', s.in], ['out', s.out], ['dropped', s.dropped], ['failed', s.failed]] as const) this.#stageMessages.observe(s, { pipeline, stage, outcome }, value);
      this.#sideOutputs.observe(s, { pipeline, stage, outcome: 'emitted' }, s.emitted);
      this.#sideOutputs.observe(s, { pipeline, stage, outcome: 'refused' }, s.refusedEmits);
      this.#replaced.observe(s, { pipeline, stage }, s.replacedInstances);
    }
  }
}
