// npm run bench (latency part): how long a message takes through a one-stage pipeline, as users
// run it (`wasp run` on a YAML file, its own process), on core NATS and on JetStream, against a
// bare relay in a process of its own as the floor; and what turning metrics on (--http) costs.
// Each system's maximum rate is measured first (a bounded number in flight); it is then fed open
// loop at 10%, 50% and 90% of that rate, every message carrying its publish time, and the bench
// reports p50, p99, p99.9 and the maximum of publish-to-output, the rate achieved and what was lost.
// Publisher (a worker thread) and receiver share the bench process, and so one clock. The bench
// starts its own nats-server (JetStream in a temporary directory) and stops everything it started.
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { NatsServer } from '../test/helpers/nats-server.js';
import { spawnSut, type Sut } from './processes.js';
import { nowNs, runOf, sentNsOf, seqOf } from './latency-message.js';
import type { PublisherJob, PublisherReport } from './latency-publisher.js';
import { writeResult } from './results-dir.js';
import { num, table } from './table.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const waspBin = `${root}dist/src/cli/wasp.js`;
const relayScript = fileURLToPath(new URL('./latency-relay.js', import.meta.url));
const plugin = `${root}pipelines/text/text.wasm`;
const BYTES = 64;
const LOADS = [0.1, 0.5, 0.9];
/** in flight while the maximum rate is measured: enough that the system never waits for input, few enough to stay under every pending limit */
const WINDOW = 1000;
const WARM_UP_SECONDS = 1;
const MAX_SECONDS = Number(process.env.BENCH_LATENCY_MAX_SECONDS ?? 3);
const LOAD_SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 4);
const METRICS_ROUNDS = Number(process.env.BENCH_LATENCY_METRICS_ROUNDS ?? 8);
const METRICS_SECONDS = 1.5;
/** a run is over when everything sent came back, or nothing did for this long (the rest is lost) */
const SETTLE_IDLE_MS = 1000;
const SETTLE_MAX_MS = 15_000;
const P99_TARGET_US = 1000;
const METRICS_TARGET = 0.95;
/** only the parts whose label contains this (say "core NATS", "relay" or "metrics"), to look at one closely */
const ONLY = process.env.BENCH_LATENCY_ONLY;
const chosen = (what: string): boolean => ONLY === undefined || what.includes(ONLY);

type Transport = 'core NATS' | 'JetStream';
type Variant = 'Wasm stage' | 'bare relay' | 'no relay';

export interface LoadRun {
  load: number;
  targetMsgPerSec: number;
  achievedMsgPerSec: number;
  sent: number;
  received: number;
  lost: number;
  duplicates: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
}

export interface SystemResult {
  transport: Transport;
  variant: Variant;
  /** what it is, in a few words: the process, its input and its output */
  how: string;
  maxMsgPerSec: number;
  runs: LoadRun[];
  /** clients the server cut off as slow consumers while this system ran (a cause of loss on core NATS) */
  slowConsumers: number;
  /** what `wasp run` counted over all its runs, from its summary line: what it dropped on input says where a loss was */
  waspSummary?: { received: number; published: number; inputDropped: number; deadLettered: number };
}

export interface MetricsRound {
  withoutMsgPerSec: number;
  withMsgPerSec: number;
  /** with / without: 1 is free */
  ratio: number;
  withoutCpuUsPerMessage: number;
  withCpuUsPerMessage: number;
  /** with / without: 1 is free */
  cpuRatio: number;
}

export interface MetricsCost {
  rounds: MetricsRound[];
  /** the median of the rounds' rate ratios */
  ratio: number;
  /** the median of the rounds' CPU-per-message ratios */
  cpuRatio: number;
}

interface Target {
  target: string;
  value: number;
  met: boolean;
}

/** A process under test: started, ready, stopped (drained) at the end. */
/** The summary `wasp run --log-format json` logs as it ends. */
function waspSummary(stderr: string): SystemResult['waspSummary'] {
  const line = stderr.split('\n').find((l) => l.includes('"msg":"summary"'));
  if (line === undefined) return undefined;
  const { received, published, inputDropped, deadLettered } = JSON.parse(line) as Record<string, number>;
  return { received: received!, published: published!, inputDropped: inputDropped!, deadLettered: deadLettered! };
}

/** The server's count of slow consumers so far, from its monitoring endpoint. */
async function slowConsumers(server: NatsServer): Promise<number> {
  const varz = (await (await fetch(`${server.monitorUrl}/varz`)).json()) as { slow_consumers?: number };
  return varz.slow_consumers ?? 0;
}

interface System {
  transport: Transport;
  variant: Variant;
  how: string;
  /** the subject the bench publishes to, and the one it times outputs on */
  input: string;
  output: string;
  start(url: string, dir: string, jsm: JetStreamManager): Promise<Sut>;
}

const started = Date.now();
const elapsed = (): string => `[${Math.round((Date.now() - started) / 1000)} s]`;
let runs = 0;


function pipelineYaml(url: string, input: string, output: string, deadLetter = ''): string {
  return `name: latency
nats: { servers: "${url}" }
plugins: { text: { path: ${plugin} } }
input: ${input}
stages: [{ name: identity, plugin: text, function: identity, pool: { size: 1, mode: inline } }]
output: { subject: ${output} }
${deadLetter}`;
}

async function waspRun(dir: string, name: string, yaml: string, extra: string[] = []): Promise<Sut & { metricsUrl?: string }> {
  const file = join(dir, `${name}.yaml`);
  await writeFile(file, yaml);
  const sut = await spawnSut([waspBin, 'run', file, '--log-format', 'json', ...extra], /running on/);
  const metricsUrl = /serving \/metrics.* on (http:\/\/[^\s"]+)/.exec(sut.stderr())?.[1];
  return metricsUrl === undefined ? sut : { ...sut, metricsUrl };
}

/** Fresh input and output streams for a JetStream system, bounded so that a long bench cannot fill the disk. */
async function freshStreams(jsm: JetStreamManager): Promise<void> {
  for (const name of ['LATIN', 'LATOUT']) await jsm.streams.delete(name).catch(() => {});
  await jsm.streams.add({ name: 'LATIN', subjects: ['lat.js.in'], max_msgs: 500_000 });
  await jsm.streams.add({ name: 'LATOUT', subjects: ['lat.js.out'], max_msgs: 500_000 });
}

/** `wasp run` on core NATS, on subjects of its own (`prefix`.in, `prefix`.out), with more arguments if any. */
function corePipeline(prefix: string, extra: string[] = []): System & { start(url: string, dir: string): Promise<Sut & { metricsUrl?: string }> } {
  const [input, output] = [`${prefix}.in`, `${prefix}.out`];
  return {
    transport: 'core NATS',
    variant: 'Wasm stage',
    how: `wasp run${extra.length > 0 ? ` ${extra.join(' ')}` : ''}: subject -> identity (inline, 1 instance) -> subject`,
    input,
    output,
    start: (url, dir) => waspRun(dir, prefix, pipelineYaml(url, `{ subject: ${input} }`, output), extra),
  };
}

function systems(): System[] {
  return [
    {
      // what the bench itself takes (publish, the server, receive), under every other figure
      transport: 'core NATS',
      variant: 'no relay',
      how: 'the bench publishes straight to the subject it times',
      input: 'lat.direct',
      output: 'lat.direct',
      start: async (): Promise<Sut> => ({ pid: 0, stderr: () => '', stop: async () => {} }), // nothing of its own to measure
    },
    corePipeline('lat.core'),
    {
      transport: 'core NATS',
      variant: 'bare relay',
      how: 'nats.js process: subscribe, publish',
      input: 'lat.relay.in',
      output: 'lat.relay.out',
      start: (url) => spawnSut([relayScript, 'core', url, 'lat.relay.in', 'lat.relay.out'], /relaying/),
    },
    {
      transport: 'JetStream',
      variant: 'Wasm stage',
      how: 'wasp run: stream LATIN (durable, 256 unacked) -> identity -> stream LATOUT',
      input: 'lat.js.in',
      output: 'lat.js.out',
      start: async (url, dir, jsm) => {
        await freshStreams(jsm);
        return waspRun(dir, 'jetstream', pipelineYaml(url, '{ stream: LATIN, consumer: wasp, maxAckPending: 256 }', 'lat.js.out', 'deadLetter: { discard: true }\n'));
      },
    },
    {
      transport: 'JetStream',
      variant: 'bare relay',
      how: 'nats.js process: consume LATIN (256 unacked), publish to LATOUT with ack and id, ack',
      input: 'lat.js.in',
      output: 'lat.js.out',
      start: async (url, _dir, jsm) => {
        await freshStreams(jsm);
        return spawnSut([relayScript, 'jetstream', url, 'LATIN', 'relay', 'lat.js.out'], /relaying/);
      },
    },
  ];
}

/** What came back in one run: each sequence number once, and how long it took. */
class Recording {
  distinct = 0;
  duplicates = 0;
  latenciesNs: number[] = [];
  #seen = new Uint8Array(1 << 16);

  constructor(
    readonly run: number,
    private readonly counter: Int32Array,
  ) {}

  take(data: Uint8Array, receivedNs: number): void {
    // a message of an earlier run came too late: it was counted lost there
    if (data.length !== BYTES || runOf(data) !== this.run) return;
    const seq = seqOf(data);
    while (seq >= this.#seen.length) {
      const grown = new Uint8Array(this.#seen.length * 2);
      grown.set(this.#seen);
      this.#seen = grown;
    }
    if (this.#seen[seq] !== 0) {
      this.duplicates++;
      return;
    }
    this.#seen[seq] = 1;
    this.latenciesNs.push(receivedNs - sentNsOf(data));
    Atomics.store(this.counter, 0, ++this.distinct);
  }
}

/** Times every output on one subject, for whichever run is current. */
class Receiver {
  #current: Recording | undefined;
  readonly #sub: Subscription;

  constructor(nc: NatsConnection, subject: string) {
    this.#sub = nc.subscribe(subject, { callback: (_, m) => this.#current?.take(m.data, nowNs()) });
  }

  begin(counter: Int32Array): Recording {
    return (this.#current = new Recording(++runs, counter));
  }

  close(): void {
    this.#sub.unsubscribe();
  }
}

/** One publisher worker, start to report; it is terminated whatever happens. */
async function publishRun(job: Omit<PublisherJob, 'shared' | 'run'>, receiver: Receiver): Promise<{ report: PublisherReport; recording: Recording }> {
  const shared = new SharedArrayBuffer(8);
  const recording = receiver.begin(new Int32Array(shared));
  const worker = new Worker(new URL('./latency-publisher.js', import.meta.url), { workerData: { ...job, run: recording.run, shared } satisfies PublisherJob });
  try {
    const ended = new Promise<never>((_, reject) => {
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the publisher exited (${code}) before it reported`)));
    });
    ended.catch(() => {}); // once it has reported, its exit is no news
    const next = (): Promise<unknown> => Promise.race([once(worker, 'message').then(([m]) => m), ended]);
    await next(); // connected
    worker.postMessage('go');
    const report = (await next()) as PublisherReport;
    return { report, recording };
  } finally {
    await worker.terminate();
  }
}

/** Waits until every message sent came back, or none has for SETTLE_IDLE_MS. */
async function settle(recording: Recording, sent: number): Promise<void> {
  const deadline = Date.now() + SETTLE_MAX_MS;
  let last = -1;
  let lastMove = Date.now();
  while (recording.distinct < sent && Date.now() < deadline) {
    if (recording.distinct !== last) [last, lastMove] = [recording.distinct, Date.now()];
    if (Date.now() - lastMove > SETTLE_IDLE_MS) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Closed loop with WINDOW in flight: the outputs a second the system sustains, and what came back once it settled. */
async function maxRateRun(url: string, system: System, receiver: Receiver, seconds: number): Promise<{ rate: number; recording: Recording }> {
  const { report, recording } = await publishRun({ url, subject: system.input, bytes: BYTES, seconds, window: WINDOW }, receiver);
  const rate = recording.distinct / report.seconds;
  await settle(recording, report.sent);
  if (recording.distinct === 0) throw new Error(`${label(system)}: no output at all`);
  return { rate, recording };
}

async function maxRate(url: string, system: System, receiver: Receiver, seconds: number): Promise<number> {
  return (await maxRateRun(url, system, receiver, seconds)).rate;
}

/** Open loop at `rate`: what each message took, at the nearest rank. */
async function loadRun(url: string, system: System, receiver: Receiver, load: number, max: number): Promise<LoadRun> {
  const rate = Math.max(1, Math.round(load * max));
  const { report, recording } = await publishRun({ url, subject: system.input, bytes: BYTES, seconds: LOAD_SECONDS, rate }, receiver);
  await settle(recording, report.sent);
  const sorted = Float64Array.from(recording.latenciesNs).sort();
  const at = (p: number): number => (sorted.length === 0 ? NaN : round3(sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]! / 1000));
  return {
    load,
    targetMsgPerSec: rate,
    achievedMsgPerSec: Math.round(report.sent / report.seconds),
    sent: report.sent,
    received: recording.distinct,
    lost: report.sent - recording.distinct,
    duplicates: recording.duplicates,
    p50Us: at(0.5),
    p99Us: at(0.99),
    p999Us: at(0.999),
    maxUs: at(1),
  };
}

/**
 * The bench alone (publishing straight to the subject it times) at the rate of the p99 target,
 * half the core NATS pipeline's maximum: what the machine takes, server and bench, with no
 * pipeline in between. Undefined when either was not measured.
 */
async function floorAtTarget(url: string, nc: NatsConnection, results: SystemResult[]): Promise<LoadRun | undefined> {
  const wasm = results.find((r) => r.transport === 'core NATS' && r.variant === 'Wasm stage');
  const alone = systems().find((s) => s.transport === 'core NATS' && s.variant === 'no relay')!;
  if (wasm === undefined || !results.some((r) => r.transport === 'core NATS' && r.variant === 'no relay')) return undefined;
  console.log(`${elapsed()} ${label(alone)}, at half the Wasm stage's maximum (the p99 target's rate)`);
  const receiver = new Receiver(nc, alone.output);
  try {
    await nc.flush();
    const run = await loadRun(url, alone, receiver, 0.5, wasm.maxMsgPerSec);
    console.log(`${elapsed()}   p50 ${num(run.p50Us)} us, p99 ${num(run.p99Us)} us, p99.9 ${num(run.p999Us)} us, lost ${run.lost}`);
    return run;
  } finally {
    receiver.close();
  }
}

async function measureSystem(server: NatsServer, nc: NatsConnection, jsm: JetStreamManager, dir: string, system: System): Promise<SystemResult> {
  console.log(`${elapsed()} ${label(system)}: ${system.how}`);
  const url = server.url;
  const slowBefore = await slowConsumers(server);
  const sut = await system.start(url, dir, jsm);
  const receiver = new Receiver(nc, system.output);
  let result: SystemResult | undefined;
  try {
    await nc.flush();
    await maxRate(url, system, receiver, WARM_UP_SECONDS);
    const max = await maxRate(url, system, receiver, MAX_SECONDS);
    console.log(`${elapsed()}   maximum ${Math.round(max).toLocaleString('en')} msg/s`);
    const loadRuns: LoadRun[] = [];
    for (const load of LOADS) {
      const r = await loadRun(url, system, receiver, load, max);
      console.log(`${elapsed()}   ${pct(load)}: p50 ${num(r.p50Us)} us, p99 ${num(r.p99Us)} us, p99.9 ${num(r.p999Us)} us, lost ${r.lost}`);
      loadRuns.push(r);
    }
    result = { transport: system.transport, variant: system.variant, how: system.how, maxMsgPerSec: Math.round(max), runs: loadRuns, slowConsumers: 0 };
  } finally {
    receiver.close();
    await sut.stop();
  }
  result.slowConsumers = (await slowConsumers(server)) - slowBefore;
  const summary = waspSummary(sut.stderr());
  return summary === undefined ? result : { ...result, waspSummary: summary };
}

/**
 * The core NATS pipeline with and without --http, both running, in alternating rounds of its
 * maximum rate (the order flipped each round, so that a drift of the machine favours neither).
 * Each round pairs the two; the figure is the median of the rounds' ratios, since one round of
 * either can lose a second to another process on a shared machine. The processes' CPU time per
 * message is measured alongside: other work on the machine moves it far less than a rate.
 */
async function measureMetricsCost(url: string, nc: NatsConnection, dir: string): Promise<MetricsCost> {
  console.log(`${elapsed()} metrics: core NATS pipeline, maximum rate without and with --http 127.0.0.1:0, ${METRICS_ROUNDS} alternating rounds of ${METRICS_SECONDS} s`);
  const plain = corePipeline('lat.plain');
  const metered = corePipeline('lat.metered', ['--http', '127.0.0.1:0']);
  const suts: Sut[] = [];
  const receivers: Receiver[] = [];
  try {
    const plainSut = await plain.start(url, dir);
    suts.push(plainSut);
    const meteredSut = await metered.start(url, dir);
    suts.push(meteredSut);
    if (meteredSut.metricsUrl === undefined) throw new Error(`wasp run --http did not say where it serves /metrics:\n${meteredSut.stderr()}`);
    const plainReceiver = new Receiver(nc, plain.output);
    const meteredReceiver = new Receiver(nc, metered.output);
    receivers.push(plainReceiver, meteredReceiver);
    await nc.flush();
    await maxRate(url, plain, plainReceiver, WARM_UP_SECONDS);
    await maxRate(url, metered, meteredReceiver, WARM_UP_SECONDS);
    const measure = {
      without: () => measuredMaxRate(url, plain, plainReceiver, plainSut.pid),
      with: () => measuredMaxRate(url, metered, meteredReceiver, meteredSut.pid),
    };
    const rounds: MetricsRound[] = [];
    for (let round = 0; round < METRICS_ROUNDS; round++) {
      const order = round % 2 === 0 ? (['without', 'with'] as const) : (['with', 'without'] as const);
      const got = { without: undefined as RateAndCpu | undefined, with: undefined as RateAndCpu | undefined };
      for (const which of order) got[which] = await measure[which]();
      const [without, withIt] = [got.without!, got.with!];
      const r: MetricsRound = {
        withoutMsgPerSec: Math.round(without.rate),
        withMsgPerSec: Math.round(withIt.rate),
        ratio: round3(withIt.rate / without.rate),
        withoutCpuUsPerMessage: round3(without.cpuUsPerMessage),
        withCpuUsPerMessage: round3(withIt.cpuUsPerMessage),
        cpuRatio: round3(withIt.cpuUsPerMessage / without.cpuUsPerMessage),
      };
      rounds.push(r);
      console.log(
        `${elapsed()}   round ${round + 1}: without ${r.withoutMsgPerSec.toLocaleString('en')} msg/s, ${num(r.withoutCpuUsPerMessage)} us CPU/msg; ` +
          `with ${r.withMsgPerSec.toLocaleString('en')} msg/s, ${num(r.withCpuUsPerMessage)} us CPU/msg (rate ${num(r.ratio)}, CPU ${num(r.cpuRatio)})`,
      );
    }
    await expectCounted(meteredSut.metricsUrl);
    return { rounds, ratio: median(rounds.map((r) => r.ratio)), cpuRatio: median(rounds.map((r) => r.cpuRatio)) };
  } finally {
    for (const r of receivers) r.close();
    for (const s of suts) await s.stop();
  }
}

interface RateAndCpu {
  rate: number;
  cpuUsPerMessage: number;
}

/** The maximum rate, and the process's CPU time (all its threads) per message over the same run. */
async function measuredMaxRate(url: string, system: System, receiver: Receiver, pid: number | undefined): Promise<RateAndCpu> {
  const before = cpuSeconds(pid);
  const { rate, recording } = await maxRateRun(url, system, receiver, METRICS_SECONDS);
  return { rate, cpuUsPerMessage: ((cpuSeconds(pid) - before) / recording.distinct) * 1e6 };
}

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** utime + stime of a process, every thread of it, from /proc/PID/stat (fields 14 and 15, after the command's name). */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return round3(sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2);
}

/** The metered process really was counting: its /metrics shows the messages received. */
async function expectCounted(metricsUrl: string): Promise<void> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  const received = /^wasp_messages_total\{[^}]*outcome="received"[^}]*\} (\d+)/m.exec(text);
  if (received === null || Number(received[1]) === 0) throw new Error(`/metrics counted no received messages:\n${text.slice(0, 2000)}`);
}

function targetsFor(results: SystemResult[], metrics: MetricsCost | undefined): Record<string, Target> {
  const targets: Record<string, Target> = {};
  const core = results.find((r) => r.transport === 'core NATS' && r.variant === 'Wasm stage')?.runs.find((r) => r.load === 0.5);
  if (core) targets.coreP99 = { target: `p99 < ${P99_TARGET_US} us, core NATS, one Wasm stage, 50% of its maximum rate`, value: core.p99Us, met: core.p99Us < P99_TARGET_US };
  if (metrics) targets.metricsCost = { target: `maximum rate with --http >= ${METRICS_TARGET} of without (metrics cost under 5%; median of paired rounds)`, value: metrics.ratio, met: metrics.ratio >= METRICS_TARGET };
  return targets;
}

const label = (s: { transport: string; variant: string }): string => `${s.transport}, ${s.variant}`;
const pct = (load: number): string => `${Math.round(load * 100)}%`;
function round3(x: number): number {
  return Number(x.toPrecision(3));
}

function print(results: SystemResult[], metrics: MetricsCost | undefined, targets: Record<string, Target>): void {
  console.log(`\nlatency, publish to output: ${BYTES} B, one stage, each system its own process, open loop for ${LOAD_SECONDS} s at a share of its own maximum`);
  const body = results.flatMap((s) =>
    s.runs.map((r) => [
      s.transport,
      s.variant,
      s.maxMsgPerSec.toLocaleString('en'),
      pct(r.load),
      r.targetMsgPerSec.toLocaleString('en'),
      r.achievedMsgPerSec.toLocaleString('en'),
      String(r.lost),
      num(r.p50Us),
      num(r.p99Us),
      num(r.p999Us),
      num(r.maxUs),
    ]),
  );
  console.log(table(['transport', 'system', 'max msg/s', 'load', 'target msg/s', 'achieved', 'lost', 'p50 us', 'p99 us', 'p99.9 us', 'max us'], body, 2));
  if (results.some((s) => s.runs.some((r) => r.received === 0))) console.log('(p50 ... max -: nothing came back in that run)');
  for (const s of results) {
    const w = s.waspSummary;
    const counted = w ? `; wasp run counted ${w.received.toLocaleString('en')} received, ${w.published.toLocaleString('en')} published, ${w.inputDropped} dropped on input, ${w.deadLettered} dead-lettered` : '';
    if (s.slowConsumers > 0 || w) console.log(`${label(s)}: ${s.slowConsumers} slow consumer(s) cut off by the server${counted}`);
  }
  if (metrics) {
    console.log(`\nmetrics (--http), core NATS pipeline, ${metrics.rounds.length} paired rounds at its maximum rate: with / without`);
    const body = metrics.rounds.map((r, i) => [String(i + 1), '', r.withoutMsgPerSec, r.withMsgPerSec, num(r.ratio), num(r.withoutCpuUsPerMessage), num(r.withCpuUsPerMessage), num(r.cpuRatio)]);
    body.push(['median', '', '', '', num(metrics.ratio), '', '', num(metrics.cpuRatio)]);
    console.log(table(['round', '', 'msg/s without', 'msg/s with', 'rate ratio', 'CPU us/msg without', 'CPU us/msg with', 'CPU ratio'], body, 2));
  }
  for (const [name, t] of Object.entries(targets)) console.log(`target ${name}: ${num(t.value)} (${t.target}): ${t.met ? 'met' : 'NOT MET'}`);
}

async function main(): Promise<void> {
  // latency on a shared machine is mostly about who else wants the cores: say how busy it was
  const loadBefore = loadavg()[0]!;
  console.log(`latency bench: load average ${loadBefore.toFixed(2)} on ${cpus().length} cores before it starts`);
  const server = await NatsServer.start({ monitor: true });
  const dir = await mkdtemp(join(tmpdir(), 'wasp-latency-'));
  const results: SystemResult[] = [];
  const failures: { system: string; error: string }[] = [];
  let metrics: MetricsCost | undefined;
  let floor: LoadRun | undefined;
  try {
    const nc = await connect({ servers: server.url });
    const jsm = await jetstreamManager(nc);
    for (const system of systems().filter((s) => chosen(label(s)))) {
      try {
        results.push(await measureSystem(server, nc, jsm, dir, system));
      } catch (error) {
        failures.push({ system: label(system), error: (error as Error).message });
      }
    }
    try {
      floor = await floorAtTarget(server.url, nc, results);
    } catch (error) {
      failures.push({ system: 'the bench alone at the target rate', error: (error as Error).message });
    }
    try {
      if (chosen('metrics')) metrics = await measureMetricsCost(server.url, nc, dir);
    } catch (error) {
      failures.push({ system: 'metrics cost', error: (error as Error).message });
    }
    await nc.close();
  } finally {
    await server.dispose();
    await rm(dir, { recursive: true, force: true });
  }
  const targets = targetsFor(results, metrics);
  print(results, metrics, targets);
  if (floor) {
    console.log(
      `the bench alone at the rate of that target (${floor.targetMsgPerSec.toLocaleString('en')} msg/s, core NATS, no pipeline): ` +
        `p50 ${num(floor.p50Us)} us, p99 ${num(floor.p99Us)} us, p99.9 ${num(floor.p999Us)} us: what this machine takes before any pipeline`,
    );
  }
  for (const f of failures) console.log(`FAILED ${f.system}: ${f.error}`);
  const seconds = Math.round((Date.now() - started) / 1000);
  console.log(`latency bench took ${seconds} s`);
  const out = {
    date: new Date().toISOString(),
    node: process.version,
    cores: cpus().length,
    /** the one-minute load average before and after: other work on the machine shows in the tails */
    loadAverage: { before: round3(loadBefore), after: round3(loadavg()[0]!) },
    messageBytes: BYTES,
    loadSeconds: LOAD_SECONDS,
    maxSeconds: MAX_SECONDS,
    window: WINDOW,
    seconds,
    note: `latency = output received - input published, one clock (the bench process); open loop at a share of each system's maximum rate (measured closed loop, ${WINDOW} in flight); publisher paced every ~0.1 ms`,
    systems: results,
    metricsCost: metrics ?? null,
    /** the bench alone (no pipeline) open loop at the rate the p99 target is measured at: the floor under it */
    coreFloorAtTargetRate: floor ?? null,
    targets,
    failures,
  };
  await writeResult('latency.json', out);
  if (failures.length > 0) process.exitCode = 1;
}

await main();
