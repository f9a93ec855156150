// npm run bench (JetStream part): what a message costs in CPU, not only how fast they go. A
// one-stage JetStream pipeline (`wasp run`, a Wasm identity stage) against a bare nats.js relay
// with the same guarantees (bench/latency-relay.ts: 256 unacked, publish with a JetStream ack and
// a message id, ack the input once the publish is acked), each as 1, 2 and 3 processes of their
// own on one durable pull consumer, over an input stream filled beforehand.
//   node dist/bench/jetstream.bench.js
// BENCH_JS_MESSAGES inputs a run (50,000 by default); BENCH_JS_ROUNDS rounds of the one-process
// runs (3 by default), which the two targets compare: wasp run's CPU per message at most half the
// relay's, and at most the nats-server's.
// For each run: the rate from the first to the last output, and the CPU time (utime + stime of
// every thread, /proc/PID/stat) per message of each process, of them all, and of the nats-server,
// sampled at the first and at the last output. Every input must be stored exactly once in the
// output stream: the bench reads it back and counts what is missing or doubled.
// Where the time of the pipeline goes: bench/jetstream.profile.ts.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AckPolicy, jetstream, jetstreamManager, type ConsumerConfig, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { NatsServer } from '../test/helpers/nats-server.js';
import { spawnSut, type Sut } from './processes.js';
import { writeResult } from './results-dir.js';
import { num, table } from './table.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const waspBin = `${root}dist/src/cli/wasp.js`;
const relayScript = fileURLToPath(new URL('./latency-relay.js', import.meta.url));
const plugin = `${root}pipelines/text/text.wasm`;
export const N = Number(process.env.BENCH_JS_MESSAGES ?? 100_000);
/**
 * CPU per message is measured from this output on, to the last: before it the processes are
 * still compiling what they run (V8's optimising compiler, on threads of their own, counts as
 * their CPU time), a one-time cost that made a run of 50,000 inputs read a third more per message
 * for `wasp run` than its steady state. The figures from the first output are kept beside them.
 */
export const WARM_OUTPUTS = Math.max(1, Math.floor(N / 5));
const BYTES = 64;
const PROCESS_COUNTS = [1, 2, 3];
/**
 * The consumer's max_ack_pending (input.maxAckPending) that one `wasp run` is also measured with,
 * one run each: how the window, and with it the pull's batch (the window, at most 256), shape
 * throughput. BENCH_JS_ONLY=windows runs only these, and writes no results.
 */
const WINDOWS = [64, 128, 256, 1024, 4096];
const ONLY_WINDOWS = process.env.BENCH_JS_ONLY === 'windows';
/**
 * Rounds of the one-process runs, which the targets compare: one run's CPU per message moves by a
 * third on a shared machine, so each target is the median of its ratio over the rounds, each
 * ratio between runs of the same round.
 */
const ROUNDS = Number(process.env.BENCH_JS_ROUNDS ?? 3);
const IN_STREAM = 'JSIN';
const OUT_STREAM = 'JSOUT';
const IN_SUBJECT = 'js.in';
const OUT_SUBJECT = 'js.out';
/** what `wasp run` and the relay allow in flight, and so what the bench takes to hold them back */
const MAX_ACK_PENDING = 256;
/** `wasp run`'s defaults for a stream input (input.ackWaitMs, input.maxDeliver) */
const ACK_WAIT_MS = 30_000;
const MAX_DELIVER = 5;
/** longer than the ack wait, so that an input redelivered after a lost ack cannot be stored twice */
const DUPLICATE_WINDOW_MS = 4 * ACK_WAIT_MS;
/** a run is over when every input is out, or when no new output came for this long (the rest is lost) */
const IDLE_MS = 5_000;
const FIRST_OUTPUT_MS = 20_000;
const WASP_CPU_VS_RELAY_TARGET = 0.5;
const WASP_CPU_VS_SERVER_TARGET = 1;

export interface System {
  name: string;
  how: string;
  consumer: string;
  /** the consumer's max_ack_pending, which the bench holds back before it releases the processes */
  window: number;
  /** the consumer exactly as the processes create or want it, so that none of them changes it on start */
  consumerConfig: Partial<ConsumerConfig>;
  /** the pipeline file the processes run, if they run one */
  pipeline?: (url: string) => string;
  args(url: string, yaml: string): string[];
  ready: RegExp;
  /** inputs one process handled, from what it said as it ended */
  handled(stderr: string): number | undefined;
}

const relayConsumer = { ack_policy: AckPolicy.Explicit, max_ack_pending: MAX_ACK_PENDING };

function relay(name: string, how: string, flags: string[]): System {
  return {
    name,
    how,
    consumer: 'relay',
    window: MAX_ACK_PENDING,
    consumerConfig: { durable_name: 'relay', ...relayConsumer },
    args: (url) => [relayScript, 'jetstream', url, IN_STREAM, 'relay', OUT_SUBJECT, ...flags],
    ready: /relaying/,
    handled: (stderr) => {
      const m = /relayed (\d+)/.exec(stderr);
      return m === null ? undefined : Number(m[1]);
    },
  };
}

/** `wasp run` on a consumer with `window` unacked messages at most (input.maxAckPending). */
export function waspRun(window = MAX_ACK_PENDING): System {
  return {
    name: window === MAX_ACK_PENDING ? 'wasp run' : `wasp run, maxAckPending ${window}`,
    how: `wasp run: stream ${IN_STREAM} (durable, ${window} unacked) -> Wasm identity (inline, 1 instance) -> ${OUT_SUBJECT} (stream ${OUT_STREAM}), dead letters discarded`,
    consumer: 'wasp',
    window,
    consumerConfig: { durable_name: 'wasp', ack_policy: AckPolicy.Explicit, max_ack_pending: window, ack_wait: ACK_WAIT_MS * 1_000_000, max_deliver: MAX_DELIVER },
    pipeline: (url) => pipelineYaml(url, window),
    args: (_url, yaml) => [waspBin, 'run', yaml, '--log-format', 'json'],
    ready: /running on/,
    handled: (stderr) => {
      const line = stderr.split('\n').find((l) => l.includes('"msg":"summary"'));
      return line === undefined ? undefined : (JSON.parse(line) as { acked: number }).acked;
    },
  };
}

export const SYSTEMS: System[] = [
  waspRun(),
  relay('relay', `nats.js defaults: consume ${IN_STREAM} (${MAX_ACK_PENDING} unacked), publish to ${OUT_SUBJECT} with ack and msgID, then ack`, []),
  relay('relay, noAsyncTraces', 'the same with noAsyncTraces: true, as wasp run connects', ['--no-async-traces']),
];

export function pipelineYaml(url: string, window = MAX_ACK_PENDING): string {
  // the pool as the latency bench has it, so that the two benches measure the same pipeline
  return `name: jetstream-bench
nats: { servers: "${url}" }
plugins: { text: { path: ${plugin} } }
input: { stream: ${IN_STREAM}, consumer: wasp, maxAckPending: ${window} }
stages: [{ name: identity, plugin: text, function: identity, pool: { size: 1, mode: inline } }]
output: { subject: ${OUT_SUBJECT} }
deadLetter: { discard: true }
`;
}

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** utime + stime of a process, all its threads, in seconds (fields 14 and 15 of /proc/PID/stat, counted after the command's name). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

interface Sample {
  ms: number;
  /** the monotonic clock in us, which V8's CPU profiles also use: for cutting a profile to the same window */
  monotonicUs: number;
  /** distinct outputs seen so far */
  outputs: number;
  server: number;
  processes: number[];
}

function sample(outputs: number, serverPid: number, pids: number[]): Sample {
  return { ms: performance.now(), monotonicUs: Number(process.hrtime.bigint() / 1000n), outputs, server: cpuSeconds(serverPid), processes: pids.map(cpuSeconds) };
}

/** The message with id `i`: the id in its first four bytes, the rest filler. */
function message(i: number): Uint8Array {
  const data = new Uint8Array(BYTES).fill(0x61);
  new DataView(data.buffer).setUint32(0, i, true);
  return data;
}

const idOf = (data: Uint8Array): number => (data.length === BYTES ? new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0, true) : -1);

/** Every output on the subject as it is published (a republished one too, which the stream then drops), with CPU samples at the first, at WARM_OUTPUTS and at the last. */
class OutputWatch {
  readonly #seen = new Uint8Array(N);
  distinct = 0;
  republished = 0;
  /** outputs that are none of the inputs: a bug somewhere */
  strangers = 0;
  first: Sample | undefined;
  /** taken at output WARM_OUTPUTS: where the steady state is measured from */
  warm: Sample | undefined;
  /** taken at the last output, or, while outputs are missing, at most 50 ms after the latest */
  latest: Sample | undefined;
  lastOutputMs = 0;
  readonly done: Promise<void>;
  #resolve = (): void => {};
  readonly #sub: Subscription;

  constructor(
    nc: NatsConnection,
    readonly serverPid: number,
    readonly pids: number[],
  ) {
    this.done = new Promise((resolve) => (this.#resolve = resolve));
    this.#sub = nc.subscribe(OUT_SUBJECT, { callback: (_, m) => this.#take(m.data) });
  }

  /** Before the processes end: their /proc entries go with them. */
  close(): void {
    if (!this.#sub.isClosed()) this.#sub.unsubscribe();
  }

  #take(data: Uint8Array): void {
    const id = idOf(data);
    if (id < 0 || id >= N) {
      this.strangers++;
      return;
    }
    if (this.#seen[id] !== 0) {
      this.republished++;
      return;
    }
    this.#seen[id] = 1;
    this.distinct++;
    this.lastOutputMs = performance.now();
    if (this.distinct === 1) this.first = this.latest = sample(1, this.serverPid, this.pids);
    else if (this.distinct === WARM_OUTPUTS || this.distinct === N || this.lastOutputMs - this.latest!.ms >= 50) this.latest = sample(this.distinct, this.serverPid, this.pids);
    if (this.distinct === WARM_OUTPUTS) this.warm = this.latest;
    if (this.distinct === N) this.#resolve();
  }

  /** Resolves when every input is out, or nothing came for IDLE_MS (or nothing at all for FIRST_OUTPUT_MS). */
  async settle(): Promise<void> {
    const released = performance.now();
    while (this.distinct < N) {
      const quiet = this.first === undefined ? performance.now() - released > FIRST_OUTPUT_MS : performance.now() - this.lastOutputMs > IDLE_MS;
      if (quiet) return;
      await Promise.race([this.done, new Promise((r) => setTimeout(r, 100))]);
    }
  }
}



/** Starts them all at once; if one fails, the others are stopped too. */
async function spawnAll(count: number, args: string[], ready: RegExp): Promise<Sut[]> {
  const started = await Promise.allSettled(Array.from({ length: count }, () => spawnSut(args, ready)));
  const suts = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s) => s.status === 'rejected');
  if (failed !== undefined) {
    for (const s of suts) await s.stop();
    throw failed.reason;
  }
  return suts;
}

async function freshStreams(jsm: JetStreamManager): Promise<void> {
  for (const name of [IN_STREAM, OUT_STREAM]) await jsm.streams.delete(name).catch(() => {});
  await jsm.streams.add({ name: IN_STREAM, subjects: [IN_SUBJECT] });
  await jsm.streams.add({ name: OUT_STREAM, subjects: [OUT_SUBJECT], duplicate_window: DUPLICATE_WINDOW_MS * 1_000_000 });
}

/** N messages into the input stream; with core NATS publishes, since only the count stored matters, checked after. */
async function fill(nc: NatsConnection, jsm: JetStreamManager): Promise<void> {
  for (let i = 0; i < N; i++) {
    nc.publish(IN_SUBJECT, message(i));
    if (i % 1000 === 999) await nc.flush();
  }
  await nc.flush();
  const deadline = Date.now() + 10_000;
  let stored = 0;
  while ((stored = (await jsm.streams.info(IN_STREAM)).state.messages) < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (stored !== N) throw new Error(`the input stream holds ${stored} messages, not ${N}`);
}

/**
 * Takes the consumer's whole window of unacked messages, so that the processes, started one by
 * one, all wait for input until the bench gives the window back (nak): they then start together,
 * and none of the time they take to start is measured.
 */
async function holdWindow(js: JetStreamClient, consumer: string, window: number): Promise<JsMsg[]> {
  const held: JsMsg[] = [];
  const c = await js.consumers.get(IN_STREAM, consumer);
  for (let attempt = 0; held.length < window && attempt < 5; attempt++) {
    for await (const m of await c.fetch({ max_messages: window - held.length, expires: 2_000 })) held.push(m);
  }
  if (held.length < window) throw new Error(`could hold only ${held.length} of the consumer's ${window} unacked messages`);
  return held;
}

interface StoredCheck {
  stored: number;
  distinct: number;
  duplicates: number;
  lost: number;
}

/** Reads the output stream back: every input's id once, and nothing else. */
async function checkStored(js: JetStreamClient, jsm: JetStreamManager): Promise<StoredCheck> {
  const { messages: stored, last_seq: lastSeq } = (await jsm.streams.info(OUT_STREAM)).state;
  const seen = new Uint8Array(N);
  let distinct = 0;
  let duplicates = 0;
  if (stored > 0) {
    const reader = await (await js.consumers.get(OUT_STREAM)).consume({ max_messages: 1000 });
    for await (const m of reader) {
      const id = idOf(m.data);
      if (id >= 0 && id < N && seen[id] === 0) {
        seen[id] = 1;
        distinct++;
      } else duplicates++;
      if (m.seq === lastSeq || distinct + duplicates === stored) break;
    }
  }
  return { stored, distinct, duplicates, lost: N - distinct };
}

export interface Run {
  system: string;
  processes: number;
  round: number;
  msgPerSec: number;
  seconds: number;
  /** per process: inputs it handled (as it said when it ended), and its CPU time per message in us */
  perProcess: { handled: number | null; cpuUsPerMessage: number }[];
  /** all the processes' CPU time per message, from output WARM_OUTPUTS to the last (the steady state) */
  cpuUsPerMessage: number;
  serverCpuUsPerMessage: number;
  /** the same from the first output: warming up included */
  wholeRunCpuUsPerMessage: number;
  wholeRunServerCpuUsPerMessage: number;
  /** outputs published more than once (the output stream drops the repeats) */
  republished: number;
  strangers: number;
  stored: StoredCheck;
  complete: boolean;
  /** from giving the held window back to the first output */
  releaseToFirstOutputMs: number;
}

/** What a run needs of the server: a connection to it, its process and a folder for pipeline files. */
export interface Bench {
  url: string;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  serverPid: number;
  dir: string;
}

/**
 * One run: fresh streams, the input filled, `count` processes of `system` (node started with
 * `nodeFlags`) released together, measured between the first and the last output, CPU also from
 * output WARM_OUTPUTS (`window`, on the monotonic clock, is that steady part), then stopped and the
 * output stream read back.
 */
export async function measure(bench: Bench, system: System, count: number, round = 1, nodeFlags: string[] = []): Promise<{ run: Run; window: { fromUs: number; toUs: number } }> {
  const { nc, js, jsm, serverPid, dir, url } = bench;
  const yaml = join(dir, 'pipeline.yaml');
  if (system.pipeline !== undefined) await writeFile(yaml, system.pipeline(url));
  await freshStreams(jsm);
  await fill(nc, jsm);
  await jsm.consumers.add(IN_STREAM, system.consumerConfig);
  const held = await holdWindow(js, system.consumer, system.window);
  let suts: Sut[] = [];
  let watch: OutputWatch | undefined;
  let releaseToFirstOutputMs = NaN;
  try {
    suts = await spawnAll(count, [...nodeFlags, ...system.args(url, yaml)], system.ready);
    watch = new OutputWatch(nc, serverPid, suts.map((s) => s.pid));
    await nc.flush();
    const released = performance.now();
    for (const m of held) m.nak();
    await nc.flush();
    await watch.settle();
    watch.close();
    if (watch.first === undefined) throw new Error(`${system.name}: no output within ${FIRST_OUTPUT_MS / 1000} s of the release`);
    releaseToFirstOutputMs = watch.first.ms - released;
  } finally {
    watch?.close();
    for (const s of suts) await s.stop();
  }
  const { first, latest } = watch;
  // a run that stopped short of WARM_OUTPUTS is measured from its first output
  const warm = watch.warm ?? first!;
  const stored = await checkStored(js, jsm);
  const outputs = latest!.outputs - first!.outputs;
  const seconds = (latest!.ms - first!.ms) / 1000;
  const cpu = (i: number) => latest!.processes[i]! - first!.processes[i]!;
  const steadyOutputs = latest!.outputs - warm.outputs;
  const steadyCpu = (i: number) => latest!.processes[i]! - warm.processes[i]!;
  const perProcess = suts.map((s, i) => {
    const handled = system.handled(s.stderr()) ?? null;
    return { handled, cpuUsPerMessage: round3(handled ? (cpu(i) / handled) * 1e6 : NaN) };
  });
  const run: Run = {
    system: system.name,
    processes: count,
    round,
    msgPerSec: Math.round(outputs / seconds),
    seconds: round3(seconds),
    perProcess,
    cpuUsPerMessage: round3((suts.reduce((sum, _, i) => sum + steadyCpu(i), 0) / steadyOutputs) * 1e6),
    serverCpuUsPerMessage: round3(((latest!.server - warm.server) / steadyOutputs) * 1e6),
    wholeRunCpuUsPerMessage: round3((suts.reduce((sum, _, i) => sum + cpu(i), 0) / outputs) * 1e6),
    wholeRunServerCpuUsPerMessage: round3(((latest!.server - first!.server) / outputs) * 1e6),
    republished: watch.republished,
    strangers: watch.strangers,
    stored,
    complete: watch.distinct === N,
    releaseToFirstOutputMs: round3(releaseToFirstOutputMs),
  };
  return { run, window: { fromUs: warm.monotonicUs, toUs: latest!.monotonicUs } };
}

/** A nats-server with JetStream for the run, its pid known (for /proc), stopped and removed whatever happens in `body`. */
export async function withServer<T>(body: (bench: Bench) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'wasp-jetstream-'));
  const pidFile = join(dir, 'nats-server.pid');
  try {
    const server = await NatsServer.start({ args: ['-P', pidFile] });
    try {
      const serverPid = Number((await readFile(pidFile, 'utf8')).trim());
      const nc = await connect({ servers: server.url });
      try {
        return await body({ url: server.url, nc, js: jetstream(nc), jsm: await jetstreamManager(nc), serverPid, dir });
      } finally {
        await nc.close();
      }
    } finally {
      await server.dispose();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function round3(x: number): number {
  return Number.isFinite(x) ? Number(x.toPrecision(3)) : NaN;
}

interface Target {
  target: string;
  /** the median of the rounds' ratios */
  value: number;
  rounds: number[];
  met: boolean;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return round3(sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2);
}

function targetsFor(runs: Run[]): Record<string, Target> {
  const one = (system: string, round: number) => runs.find((r) => r.system === system && r.processes === 1 && r.round === round);
  const vsRelay: number[] = [];
  const vsServer: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const [wasp, relayRun] = [one('wasp run', round), one('relay', round)];
    if (wasp && relayRun) vsRelay.push(round3(wasp.cpuUsPerMessage / relayRun.cpuUsPerMessage));
    if (wasp) vsServer.push(round3(wasp.cpuUsPerMessage / wasp.serverCpuUsPerMessage));
  }
  const targets: Record<string, Target> = {};
  if (vsRelay.length > 0) {
    const value = median(vsRelay);
    targets.waspCpuVsRelay = { target: `wasp run CPU/msg <= ${WASP_CPU_VS_RELAY_TARGET} x the bare relay's (nats.js defaults), one process each`, value, rounds: vsRelay, met: value <= WASP_CPU_VS_RELAY_TARGET };
  }
  if (vsServer.length > 0) {
    const value = median(vsServer);
    targets.waspCpuVsServer = { target: `wasp run CPU/msg <= ${WASP_CPU_VS_SERVER_TARGET} x the nats-server's in the same run, one process`, value, rounds: vsServer, met: value <= WASP_CPU_VS_SERVER_TARGET };
  }
  return targets;
}

function print(runs: Run[], targets: Record<string, Target>): void {
  console.log(`\nJetStream, ${N.toLocaleString('en')} inputs of ${BYTES} B stored beforehand, one durable pull consumer (${MAX_ACK_PENDING} unacked), ${cpus().length} cores`);
  const order = (r: Run): number => (r.processes * 100 + r.round) * 10 + SYSTEMS.findIndex((s) => s.name === r.system);
  const body = [...runs].sort((a, b) => order(a) - order(b)).map((r) => [
    r.system,
    r.processes,
    r.round,
    r.msgPerSec,
    r.perProcess.map((p) => num(p.cpuUsPerMessage)).join(' / '),
    num(r.cpuUsPerMessage),
    num(r.serverCpuUsPerMessage),
    `${num(r.wholeRunCpuUsPerMessage)} / ${num(r.wholeRunServerCpuUsPerMessage)}`,
    r.stored.stored,
    r.stored.duplicates,
    r.stored.lost,
    r.republished,
  ]);
  console.log(table(['system', 'processes', 'round', 'msg/s', 'CPU us/msg each', 'CPU us/msg (sum)', 'server CPU us/msg', 'from 1st output: sum / server', 'stored', 'dup', 'lost', 'republished'], body, 1));
  console.log(
    `(CPU us/msg each: a process's CPU time from the first output over the inputs it handled; sum: all the processes' over the messages from output ${WARM_OUTPUTS.toLocaleString('en')} ` +
      `(warmed up) to the last; server: nats-server's over the same; from 1st output: both from the first output, warming up included; dup/lost: read back from the output stream)`,
  );
  for (const [name, t] of Object.entries(targets)) {
    console.log(`target ${name}: ${num(t.value)}, median of ${t.rounds.map((x) => num(x)).join(', ')} (${t.target}): ${t.met ? 'met' : 'NOT MET'}`);
  }
}

interface WindowRun {
  maxAckPending: number;
  run: Run;
}

function printWindows(runs: WindowRun[]): void {
  if (runs.length === 0) return;
  console.log(`\nwasp run, one process, by the consumer's max_ack_pending (the pull's batch is that, at most 256), one run each`);
  const body = runs.map(({ maxAckPending, run }) => [maxAckPending, run.msgPerSec, num(run.cpuUsPerMessage), num(run.serverCpuUsPerMessage)]);
  console.log(table(['maxAckPending', 'msg/s', 'CPU us/msg', 'server CPU us/msg'], body, 1));
}

async function main(): Promise<void> {
  const started = Date.now();
  const elapsed = (): string => `[${Math.round((Date.now() - started) / 1000)} s]`;
  const loadBefore = loadavg()[0]!;
  console.log(`JetStream CPU bench: load average ${loadBefore.toFixed(2)} on ${cpus().length} cores before it starts`);
  const runs: Run[] = [];
  const windowRuns: WindowRun[] = [];
  const failures: { run: string; error: string }[] = [];
  let serverVersion: string | undefined;
  await withServer(async (bench) => {
    serverVersion = bench.nc.info?.version;
    // the systems take turns within each process count, in an order that flips each round, so that a drift of the machine favours none
    const plan: { count: number; round: number; systems: System[]; sweep?: true }[] = PROCESS_COUNTS.flatMap((count) =>
      Array.from({ length: count === 1 ? ROUNDS : 1 }, (_, i) => ({ count, round: i + 1, systems: i % 2 === 0 ? SYSTEMS : [...SYSTEMS].reverse() })),
    );
    const sweep = WINDOWS.map((window) => ({ count: 1, round: 1, systems: [waspRun(window)], sweep: true as const }));
    for (const { count, round, systems, sweep: inSweep } of [...(ONLY_WINDOWS ? [] : plan), ...sweep]) {
      for (const system of systems) {
        const what = inSweep ? `wasp run, maxAckPending ${system.window}` : `${system.name} x ${count}${count === 1 ? `, round ${round}` : ''}`;
        try {
          const { run: r } = await measure(bench, system, count, round);
          if (inSweep) windowRuns.push({ maxAckPending: system.window, run: r });
          else runs.push(r);
          const s = r.stored;
          console.log(
            `${elapsed()} ${what}: ${r.msgPerSec.toLocaleString('en')} msg/s, CPU ${num(r.cpuUsPerMessage)} us/msg (${r.perProcess.map((p) => `${num(p.cpuUsPerMessage)} over ${p.handled ?? '?'}`).join(', ')}), ` +
              `server ${num(r.serverCpuUsPerMessage)} us/msg; stored ${s.stored}, duplicates ${s.duplicates}, lost ${s.lost}, republished ${r.republished}`,
          );
          if (!r.complete || s.lost > 0 || s.duplicates > 0 || r.strangers > 0) {
            failures.push({ run: what, error: `stored ${s.stored} of ${N}: ${s.lost} lost, ${s.duplicates} duplicates; ${r.strangers} outputs that were no input` });
          }
        } catch (error) {
          console.log(`${elapsed()} ${what}: FAILED ${(error as Error).message}`);
          failures.push({ run: what, error: (error as Error).message });
        }
      }
    }
  });
  const targets = targetsFor(runs);
  if (!ONLY_WINDOWS) print(runs, targets);
  printWindows(windowRuns);
  for (const f of failures) console.log(`FAILED ${f.run}: ${f.error}`);
  const seconds = Math.round((Date.now() - started) / 1000);
  console.log(`JetStream CPU bench took ${seconds} s`);
  if (ONLY_WINDOWS) {
    if (failures.length > 0) process.exitCode = 1;
    return;
  }
  await writeResult('jetstream.json', {
    date: new Date().toISOString(),
    node: process.version,
    natsServer: serverVersion ?? null,
    cores: cpus().length,
    loadAverage: { before: round3(loadBefore), after: round3(loadavg()[0]!) },
    messages: N,
    warmOutputs: WARM_OUTPUTS,
    messageBytes: BYTES,
    maxAckPending: MAX_ACK_PENDING,
    rounds: ROUNDS,
    seconds,
    systems: SYSTEMS.map((s) => ({ name: s.name, how: s.how })),
    note:
      'rate between the first and the last output (observed on the output subject, a subscription of the bench that the server CPU includes); ' +
      `CPU per message (cpuUsPerMessage, serverCpuUsPerMessage, the targets) from output ${WARM_OUTPUTS} (warmed up) to the last, and from the first (wholeRun...); ` +
      'CPU = utime + stime of all threads from /proc/PID/stat (10 ms ticks); the processes start held back (the bench holds the consumer\'s unacked window) and are released together',
    runs,
    windows: windowRuns.map(({ maxAckPending, run }) => ({ maxAckPending, msgPerSec: run.msgPerSec, cpuUsPerMessage: run.cpuUsPerMessage, serverCpuUsPerMessage: run.serverCpuUsPerMessage, complete: run.complete })),
    targets,
    failures,
  });
  if (failures.length > 0) process.exitCode = 1;
}

// the profile (jetstream.profile.ts) imports the runs without running the bench
if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
