// imported rather than the global, which is an accessor on globalThis: about 10 ns less a reading, on the message path
import { performance } from 'node:perf_hooks';
import { map, type Subscription } from 'rxjs';
import { Engine } from '../engine/engine.js';
import { describe, type WaspError } from '../engine/errors.js';
import type { Logger } from '../engine/logger.js';
import type { Plugin } from '../engine/plugin.js';
import { pipelineTracing } from '../observe/tracing.js';
import { UnsafeDeadLetterError } from '../transport/errors.js';
import { classify, FailureLog, reasonOf } from '../transport/failures.js';
import { Headers } from '../transport/headers.js';
import { lineFlow, linePublisher, lineSource } from '../transport/stdio.js';
import type { Delivery, Publisher, PublishKind, Source, Transport } from '../transport/transport.js';
import { MISSING_DEAD_LETTER, type PipelineConfig } from './config/schema.js';
import { Flights, type Flight } from './flight.js';
import { pluginOptions } from './plugin-options.js';
import { nativeStage, type NativeStageFunction } from './stages/native-stage.js';
import { pluginStage, type Stage, type StageHost, type StageSpec } from './stages/plugin-stage.js';
import { PipelineStats, StageStats } from './stats.js';
import type { Work } from './work.js';

export interface PipelineIO {
  transport: Transport;
  logger: Logger;
  /** for `input: { stdin: true }` and `output: { stdout: true }` */
  stdin?: NodeJS.ReadableStream;
  stdout?: NodeJS.WritableStream;
  /** JavaScript functions in place of the named stages' plugin calls (embedding, benchmarks). */
  native?: Record<string, NativeStageFunction>;
  /** modules by plugin name, in place of their paths (a worker fetched them); a plugin's sha256 pin still applies */
  modules?: Record<string, Uint8Array>;
  /** plugins the loader compiled (loadPipelineFile), by name: not compiled again */
  plugins?: ReadonlyMap<string, Plugin>;
  /** timings, for metrics; without it nothing is timed */
  timings?: PipelineTimings;
}

/** What a pipeline times when asked: each stage's calls and each input's way through. */
export interface PipelineTimings {
  /** a function taking one call's duration in seconds, per stage */
  stageCall(stage: string): (seconds: number) => void;
  /** an input's time from arrival until everything it caused was accepted (or it was settled otherwise), in seconds */
  settled(seconds: number, outcome: 'ack' | 'nak' | 'term'): void;
}

/** Headers a dead letter carries besides the message's own. */
export const DEAD_LETTER_HEADERS = {
  stage: 'Wasp-Stage',
  plugin: 'Wasp-Plugin',
  function: 'Wasp-Function',
  error: 'Wasp-Error',
  errorType: 'Wasp-Error-Type',
  subject: 'Wasp-Subject',
  /** a publish failure: what made it fail (e.g. too-large, stream-deleted; see failures.ts) */
  errorReason: 'Wasp-Error-Reason',
  /** a publish failure: the subject the failed publish went to */
  publishSubject: 'Wasp-Publish-Subject',
  /** JetStream input: how many times the input was delivered */
  deliveries: 'Wasp-Deliveries',
  /** the payload was cut to fit the server's max_payload: its original size in bytes */
  payloadTruncated: 'Wasp-Payload-Truncated',
} as const;

/**
 * A running pipeline: a source observable, one operator per stage, and a sink.
 * It settles every input (ack, nak or term) once everything the input caused
 * has been accepted, and drains on request.
 */
export class Pipeline {
  readonly stats: PipelineStats;
  readonly done: Promise<void>;
  #resolveDone!: () => void;
  #rejectDone!: (error: unknown) => void;
  #source: Source | undefined;
  #subscription: Subscription | undefined;
  #sourceComplete = false;
  readonly #stages: { spec: StageSpec; stage: Stage }[] = [];
  /** every stage is a plugin stage, whose calls note the clock on the flight (native ones do not) */
  #everyStageTimed = false;
  #publisher!: Publisher;
  #output!: (work: Work) => Promise<void> | void;
  readonly #failures: FailureLog;
  readonly #flights = new Flights((flight, outcome) => {
    if (flight.startedAt !== 0) {
      // settled in the run of code that timed its last call (nothing published waits for an answer): that reading is now
      const now = flight.settlesLater || !this.#everyStageTimed ? performance.now() : flight.clock;
      this.io.timings!.settled((now - flight.startedAt) / 1000, outcome);
    }
    this.#settled(outcome);
  });

  private constructor(
    readonly config: PipelineConfig,
    readonly engine: Engine,
    readonly io: PipelineIO,
  ) {
    this.stats = new PipelineStats(config.stages.map((s) => new StageStats(s.name)));
    this.#flights.timed = io.timings !== undefined;
    this.#failures = new FailureLog(io.logger);
    this.done = new Promise((resolve, reject) => {
      this.#resolveDone = resolve;
      this.#rejectDone = reject;
    });
    this.done.catch(() => {}); // observed by whoever awaits it; never an unhandled rejection
  }

  /** Registers the plugins (compiling each once) and builds the stages; nothing flows until start(). */
  static async create(config: PipelineConfig, io: PipelineIO): Promise<Pipeline> {
    const engine = new Engine({ logger: io.logger });
    for (const [name, plugin] of Object.entries(config.plugins)) {
      const compiled = io.plugins?.get(name);
      if (compiled !== undefined) await engine.addPlugin(compiled);
      else await engine.registerPlugin(name, io.modules?.[name] ?? plugin.path, await pluginOptions(plugin));
    }
    return new Pipeline(config, engine, io);
  }

  /** Starts the stages (every instance up, or the reason none can be) and then the input. */
  async start(): Promise<void> {
    const { config, io } = this;
    const input = config.input;
    const atLeastOnce = input.kind === 'stream';
    // a failed input would be terminated with nothing kept of it
    if (atLeastOnce && config.deadLetter === undefined) throw new UnsafeDeadLetterError(MISSING_DEAD_LETTER, 'missing', undefined);
    this.#publisher = await io.transport.publisher({
      atLeastOnce,
      output: config.output.kind === 'subject' ? config.output.subject : undefined,
      deadLetter: config.deadLetter,
      ackWaitMs: input.kind === 'stream' ? input.ackWaitMs : undefined,
      ackTimeoutMs: config.nats?.publishAckTimeoutMs,
      retryMs: config.nats?.publishRetryMs,
    });
    const output = config.output;
    if (output.kind === 'stdout') {
      const lines = linePublisher(io.stdout ?? process.stdout, { flow: lineFlow(this) });
      this.#output = (work) => lines.publish('stdout', work.data, undefined, undefined);
    } else {
      this.#output = (work) => this.#publisher.publish(output.subject, work.data, work.headers, work.flight.nextId('out'), 'out', work.flight);
    }
    const host: StageHost = {
      sideOutput: (work, subject, data) => this.#publish(work.flight, subject, data, work.headers, work.flight.nextId('emit'), 'emit'),
      fail: (work, spec, error) => this.#deadLetter(work, spec, error),
    };
    // asked once: with no tracing SDK registered by now, no stage spends anything on spans
    const tracing = pipelineTracing(config.name);
    for (const [i, spec] of config.stages.entries()) {
      const native = io.native?.[spec.name];
      const stats = this.stats.stages[i]!;
      const traced = tracing?.stage(spec);
      const stage = native ? nativeStage(native, spec, stats, host, traced) : pluginStage(this.engine, spec, stats, host, io.timings?.stageCall(spec.name), traced, i === 0);
      this.#stages.push({ spec, stage });
    }
    this.#everyStageTimed = config.stages.every((spec) => io.native?.[spec.name] === undefined);
    // A module that cannot instantiate fails here, in either mode, before any input is taken.
    try {
      await Promise.all(this.#stages.map(({ stage }) => stage.ready()));
    } catch (error) {
      this.close();
      throw error;
    }

    this.#source = config.input.kind === 'stdin' ? lineSource(io.stdin ?? process.stdin, { flow: lineFlow(this) }) : await io.transport.source(config.input);
    const dropped = this.#source.dropped;
    if (dropped !== undefined) this.stats.countInputDrops(dropped);
    // The flight is the input's record through every stage (see Work), reused once settled.
    const flights = this.#flights;
    const toWork = map((delivery: Delivery): Work => {
      this.stats.received++;
      return flights.take(delivery);
    });
    const stream = this.#stages.reduce((s, { stage }) => s.pipe(stage.operator), this.#source.deliveries.pipe(toWork));
    this.#subscription = stream.subscribe({
      next: (work) => {
        this.stats.published++;
        let result: Promise<void> | void;
        try {
          result = this.#output(work);
        } catch (error) {
          result = Promise.reject(error); // a publisher that throws: the same as one that says it failed
        }
        this.#track(work.flight, result, 'out');
        work.flight.release();
      },
      error: (error: unknown) => {
        io.logger.error('input failed', { error: describe(error) });
        this.#rejectDone(error);
      },
      complete: () => {
        this.#sourceComplete = true;
        this.#checkDone();
      },
    });
    // core NATS: the subscription is in place on the server before start() says the pipeline runs
    await this.#source.ready;
  }

  /** Stops taking input, lets everything in flight settle, and closes the stages. */
  async drain(): Promise<void> {
    // publishes being retried give up now: their inputs are nak'ed for the next process
    this.#flights.draining = true;
    await this.#source?.stop();
    this.#sourceComplete = true;
    this.#checkDone();
    try {
      await this.done;
    } finally {
      this.close();
    }
  }

  /** The input's lag as its server counts it (a JetStream consumer's pending and ack-pending); undefined where none is kept. */
  async lag(): Promise<{ pending: number; ackPending: number } | undefined> {
    return this.#source?.lag?.();
  }

  close(): void {
    this.#subscription?.unsubscribe();
    for (const { stage } of this.#stages) stage.close();
  }

  #publish(flight: Flight, subject: string, data: Uint8Array, headers: Headers | undefined, msgId: string | undefined, kind: PublishKind): void {
    let result: Promise<void> | void;
    try {
      result = this.#publisher.publish(subject, data, headers, msgId, kind, flight);
    } catch (error) {
      result = Promise.reject(error);
    }
    this.#track(flight, result, kind);
  }

  #track(flight: Flight, result: Promise<void> | void, kind: PublishKind): void {
    if (result !== undefined) flight.track(result, kind === 'dlq' ? this.#onDeadLetterError : this.#onPublishError);
  }

  /**
   * An output or side output that failed. Transient, with deliveries left: the input is nak'ed
   * and redelivered (false). Permanent, or transient at the input's last delivery (or on an input
   * nothing redelivers): the input is dead-lettered once (true). One function for every publish.
   */
  readonly #onPublishError = (error: unknown, flight: Flight): boolean => {
    this.stats.publishErrors++;
    const kind = classify(error);
    const reason = reasonOf(error);
    const left = flight.delivery.deliveriesLeft;
    if (kind === 'transient' && left !== undefined && left > 0) {
      this.#failures.warn(`publish ${reason} retried`, `${describe(error)} (${reason}, transient); the input will be redelivered`);
      return false;
    }
    if (kind === 'permanent') this.stats.publishRejected++;
    else if (left !== undefined) this.stats.outOfDeliveries++;
    this.#failures.warn(
      `publish ${reason} dead-lettered`,
      kind === 'permanent'
        ? `${describe(error)} (${reason}, permanent); the input is dead-lettered`
        : `${describe(error)} (${reason}, transient); ${left === undefined ? 'nothing redelivers the input' : 'that was the input\'s last delivery'}, so it is dead-lettered`,
    );
    this.#deadLetterInput(flight, error);
    return true;
  };

  /**
   * A dead letter the server did not take. JetStream: the input is nak'ed, not terminated, so it
   * stays in its stream (and is redelivered while it has deliveries left). Elsewhere it is lost,
   * and said so.
   */
  readonly #onDeadLetterError = (error: unknown, flight: Flight): boolean => {
    this.stats.deadLetterErrors++;
    const left = flight.delivery.deliveriesLeft;
    const then =
      left === undefined ? 'the failed message is lost' : left > 0 ? 'the input will be redelivered' : 'the input had no delivery left: it stays in its stream, unacknowledged';
    this.#failures.error(`dead letter ${reasonOf(error)}`, `dead letter not published: ${describe(error)} (${reasonOf(error)}, ${classify(error)}); ${then}`);
    return left === undefined;
  };

  /** Dead-letters an input whose publish failed: its own data and headers, and what failed. */
  #deadLetterInput(flight: Flight, error: unknown): void {
    if (!flight.claimPublishFailure()) return;
    flight.deadLettered();
    this.stats.deadLettered++;
    const delivery = flight.delivery;
    const failed = error instanceof Error ? error : new Error(String(error));
    const subject = (error as { subject?: unknown }).subject;
    const target = this.config.deadLetter?.subject;
    if (target === undefined) {
      this.#logFailed(failed.message, { subject: delivery.subject, publishSubject: subject });
      return;
    }
    const headers = delivery.headers?.clone() ?? new Headers();
    headers
      .set(DEAD_LETTER_HEADERS.error, oneLine(failed.message))
      .set(DEAD_LETTER_HEADERS.errorType, failed.name)
      .set(DEAD_LETTER_HEADERS.errorReason, reasonOf(error))
      .set(DEAD_LETTER_HEADERS.subject, delivery.subject);
    if (typeof subject === 'string') headers.set(DEAD_LETTER_HEADERS.publishSubject, subject);
    // one id for it across redeliveries, whichever of the input's publishes failed first
    this.#sendDeadLetter(flight, target, delivery.data, headers, delivery.id === undefined ? undefined : `${delivery.id}:dlq:publish`);
  }

  #deadLetter(work: Work, spec: StageSpec, error: WaspError): void {
    work.flight.deadLettered();
    this.stats.deadLettered++;
    const fields = { stage: spec.name, plugin: spec.plugin, function: spec.function, subject: work.subject };
    const target = this.config.deadLetter?.subject;
    if (target === undefined) {
      this.#logFailed(error.message, fields);
      return;
    }
    const headers = work.headers?.clone() ?? new Headers();
    headers
      // one line each: a function is named by the module's export, which may hold any character
      .set(DEAD_LETTER_HEADERS.stage, oneLine(spec.name))
      .set(DEAD_LETTER_HEADERS.plugin, oneLine(spec.plugin))
      .set(DEAD_LETTER_HEADERS.function, oneLine(spec.function))
      .set(DEAD_LETTER_HEADERS.error, oneLine(error.message))
      .set(DEAD_LETTER_HEADERS.errorType, error.name)
      .set(DEAD_LETTER_HEADERS.subject, work.subject);
    this.io.logger.debug(`dead-lettered: ${error.message}`, fields);
    this.#sendDeadLetter(work.flight, target, work.data, headers, work.flight.nextId('dlq'));
  }

  /** No dead-letter subject (a core NATS or stdin input without one, or `discard: true`): the log is the record. */
  #logFailed(message: string, fields: Record<string, unknown>): void {
    const discard = this.config.deadLetter?.discard === true ? ' (deadLetter: { discard: true }: dropped)' : '';
    this.io.logger.error(`message failed: ${message}${discard}`, fields);
  }

  /**
   * Publishes a dead letter. A payload too large to travel with its headers is cut to what fits,
   * and Wasp-Payload-Truncated gives its size: a dead letter is never refused for its size.
   */
  #sendDeadLetter(flight: Flight, target: string, data: Uint8Array, headers: Headers, msgId: string | undefined): void {
    if (flight.delivery.id !== undefined) headers.set(DEAD_LETTER_HEADERS.deliveries, String(flight.delivery.redeliveries + 1));
    let payload = data;
    const room = this.#publisher.room?.(headers, msgId);
    if (room !== undefined && data.length > room) {
      headers.set(DEAD_LETTER_HEADERS.payloadTruncated, String(data.length));
      payload = data.subarray(0, Math.max(0, this.#publisher.room!(headers, msgId)));
      this.stats.truncatedDeadLetters++;
    }
    this.#publish(flight, target, payload, headers, msgId, 'dlq');
  }

  // One function for every flight, rather than a closure per message.

  #settled(outcome: 'ack' | 'nak' | 'term'): void {
    if (outcome === 'ack') this.stats.acked++;
    else if (outcome === 'nak') this.stats.naked++;
    else this.stats.termed++;
    this.#checkDone();
  }

  #checkDone(): void {
    if (this.#sourceComplete && this.stats.inFlight === 0) this.#resolveDone();
  }
}

function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}
