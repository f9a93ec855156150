import { readFile } from 'node:fs/promises';
import { map, type Subscription } from 'rxjs';
import { Engine } from '../engine/engine.js';
import { describe, type WaspError } from '../engine/errors.js';
import type { Logger } from '../engine/logger.js';
import { Headers } from '../transport/headers.js';
import { linePublisher, lineSource } from '../transport/stdio.js';
import type { Delivery, Publisher, Source, Transport } from '../transport/transport.js';
import type { PipelineConfig } from './config/schema.js';
import { Flights, type Flight } from './flight.js';
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
}

/** Headers a dead letter carries besides the message's own. */
export const DEAD_LETTER_HEADERS = {
  stage: 'Wasp-Stage',
  plugin: 'Wasp-Plugin',
  function: 'Wasp-Function',
  error: 'Wasp-Error',
  errorType: 'Wasp-Error-Type',
  subject: 'Wasp-Subject',
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
  #publisher!: Publisher;
  #output!: (work: Work) => Promise<void> | void;

  private constructor(
    readonly config: PipelineConfig,
    readonly engine: Engine,
    readonly io: PipelineIO,
  ) {
    this.stats = new PipelineStats(config.stages.map((s) => new StageStats(s.name)));
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
      const files: Record<string, Uint8Array> = {};
      for (const [sandboxPath, hostPath] of Object.entries(plugin.wasi?.files ?? {})) {
        files[sandboxPath] = new Uint8Array(await readFile(hostPath));
      }
      await engine.registerPlugin(name, plugin.path, {
        sha256: plugin.sha256,
        timeoutMs: plugin.timeoutMs,
        memoryLimitPages: plugin.memoryLimitPages,
        maxOutputBytes: plugin.maxOutputBytes,
        maxCallBytes: plugin.maxCallBytes,
        maxEmitsPerCall: plugin.maxEmitsPerCall,
        wasi: { env: plugin.wasi?.env, args: plugin.wasi?.args, files },
      });
    }
    return new Pipeline(config, engine, io);
  }

  /** Starts the stages (every instance up, or the reason none can be) and then the input. */
  async start(): Promise<void> {
    const { config, io } = this;
    const atLeastOnce = config.input.kind === 'stream';
    this.#publisher = await io.transport.publisher({ atLeastOnce });
    const output = config.output;
    if (output.kind === 'stdout') {
      const lines = linePublisher(io.stdout ?? process.stdout);
      this.#output = (work) => lines.publish('stdout', work.data, undefined, undefined);
    } else {
      this.#output = (work) => this.#publisher.publish(output.subject, work.data, work.headers, work.flight.nextId('out'));
    }
    const host: StageHost = {
      sideOutput: (work, subject, data) => this.#send(work, subject, data, work.headers, 'emit'),
      fail: (work, spec, error) => this.#deadLetter(work, spec, error),
    };
    for (const [i, spec] of config.stages.entries()) {
      const native = io.native?.[spec.name];
      const stats = this.stats.stages[i]!;
      const stage = native ? nativeStage(native, spec, stats, host) : pluginStage(this.engine, spec, stats, host);
      this.#stages.push({ spec, stage });
    }
    // A module that cannot instantiate fails here, in either mode, before any input is taken.
    try {
      await Promise.all(this.#stages.map(({ stage }) => stage.ready()));
    } catch (error) {
      this.close();
      throw error;
    }

    this.#source = config.input.kind === 'stdin' ? lineSource(io.stdin ?? process.stdin) : await io.transport.source(config.input);
    // The flight is the input's record through every stage (see Work), reused once settled.
    const flights = new Flights(this.#onSettled);
    const toWork = map((delivery: Delivery): Work => {
      this.stats.received++;
      return flights.take(delivery);
    });
    const stream = this.#stages.reduce((s, { stage }) => s.pipe(stage.operator), this.#source.deliveries.pipe(toWork));
    this.#subscription = stream.subscribe({
      next: (work) => {
        this.stats.published++;
        this.#track(work, this.#output(work));
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
  }

  /** Stops taking input, lets everything in flight settle, and closes the stages. */
  async drain(): Promise<void> {
    await this.#source?.stop();
    this.#sourceComplete = true;
    this.#checkDone();
    try {
      await this.done;
    } finally {
      this.close();
    }
  }

  close(): void {
    this.#subscription?.unsubscribe();
    for (const { stage } of this.#stages) stage.close();
  }

  #send(work: Work, subject: string, data: Uint8Array, headers: Headers | undefined, kind: 'emit' | 'dlq'): void {
    this.#track(work, this.#publisher.publish(subject, data, headers, work.flight.nextId(kind)));
  }

  #track(work: Work, result: Promise<void> | void): void {
    if (result !== undefined) work.flight.track(result, this.#onPublishError);
  }

  // One function for every publish, rather than a closure per message.
  readonly #onPublishError = (error: unknown): void => {
    this.stats.publishErrors++;
    this.io.logger.warn('publish failed; the input will be redelivered', { error: describe(error) });
  };

  #deadLetter(work: Work, spec: StageSpec, error: WaspError): void {
    work.flight.deadLettered();
    this.stats.deadLettered++;
    const fields = { stage: spec.name, plugin: spec.plugin, function: spec.function, subject: work.subject };
    const target = this.config.deadLetter?.subject;
    if (target === undefined) {
      this.io.logger.error(`message failed: ${error.message}`, fields);
      return;
    }
    const headers = work.headers?.clone() ?? new Headers();
    headers
      .set(DEAD_LETTER_HEADERS.stage, spec.name)
      .set(DEAD_LETTER_HEADERS.plugin, spec.plugin)
      .set(DEAD_LETTER_HEADERS.function, spec.function)
      .set(DEAD_LETTER_HEADERS.error, oneLine(error.message))
      .set(DEAD_LETTER_HEADERS.errorType, error.name)
      .set(DEAD_LETTER_HEADERS.subject, work.subject);
    this.io.logger.debug(`dead-lettered: ${error.message}`, fields);
    this.#send(work, target, work.data, headers, 'dlq');
  }

  // One function for every flight, rather than a closure per message.
  readonly #onSettled = (_: Flight, outcome: 'ack' | 'nak' | 'term'): void => this.#settled(outcome);

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
