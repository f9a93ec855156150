// How one variant of the pipeline bench runs on each transport, and the check
// that it delivered exactly what it was sent: a run that fails the check
// rejects, so it never becomes a number.
import { AckPolicy, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { completeLogger } from '../src/engine/logger.js';
import { parsePipelineConfig } from '../src/pipeline/config/load.js';
import { Pipeline } from '../src/pipeline/pipeline.js';
import { EmbeddedBus, EmbeddedTransport } from '../src/transport/embedded.js';
import { NatsTransport } from '../src/transport/nats.js';
import type { Transport } from '../src/transport/transport.js';

export type Kind = 'bare relay' | 'Wasm' | 'native JS';

export interface Case {
  bytes: number;
  /** 0 for the bare relay */
  stages: number;
  kind: Kind;
  messages: number;
}

export interface Timing {
  seconds: number;
  /** c.messages, or a multiple of it where a run repeated the set to last long enough */
  messages: number;
}

/** Runs a case once and resolves to how long its messages took; rejects when the run was broken. */
export type Runner = (c: Case) => Promise<Timing>;

const FILL = 97;
// every 1024th message has all its bytes checked; the rest their size, sequence number and last byte
const FULL_CHECK_MASK = 1023;
// a run whose output stops growing for this long has lost messages
const STALL_MS = 10_000;
// Cheap embedded variants get through a message set in a few milliseconds, where one GC pause
// would swamp the figure: they repeat the set until the timed part has lasted this long.
const MIN_EMBEDDED_SECONDS = 0.1;
const silent = completeLogger();
const identity = (data: Uint8Array): Uint8Array[] => [data];
let runs = 0;

/** Writes a sequence number into a message's first four bytes (little-endian), where the receiver reads it back. */
function stamp(message: Uint8Array, seq: number): void {
  message[0] = seq & 0xff;
  message[1] = (seq >>> 8) & 0xff;
  message[2] = (seq >>> 16) & 0xff;
  message[3] = (seq >>> 24) & 0xff;
}

function sequenceOf(data: Uint8Array): number {
  return (data[0]! | (data[1]! << 8) | (data[2]! << 16) | (data[3]! << 24)) >>> 0;
}

// compared with memcmp (Buffer.equals): a byte loop over 64 KiB would cost more than the relay being measured
const fillers = new Map<number, Buffer>();
function filled(data: Uint8Array): boolean {
  let filler = fillers.get(data.length);
  if (filler === undefined) fillers.set(data.length, (filler = Buffer.alloc(data.length - 4, FILL)));
  return Buffer.from(data.buffer, data.byteOffset + 4, data.length - 4).equals(filler);
}

/**
 * One buffer per message: nats.js queues the caller's buffer rather than a
 * copy until it writes to the socket, so a reused buffer would change
 * messages already published.
 */
export function messageSet(bytes: number, count: number): Uint8Array[] {
  return Array.from({ length: count }, (_, seq) => {
    const message = new Uint8Array(bytes).fill(FILL);
    stamp(message, seq);
    return message;
  });
}

/** What arrived against what was sent: every sequence number exactly once, at the right size, its filler intact. */
export class Tally {
  count = 0;
  readonly #seen: Uint8Array;
  readonly #faults: string[] = [];
  #faultCount = 0;

  constructor(
    readonly sent: number,
    readonly bytes: number,
  ) {
    this.#seen = new Uint8Array(sent);
  }

  take(data: Uint8Array): void {
    const seq = sequenceOf(data);
    const fault =
      data.length !== this.bytes ? `${data.length} bytes`
      : seq >= this.sent ? 'unknown sequence number'
      : this.#seen[seq] !== 0 ? 'duplicate'
      : data[data.length - 1] !== FILL || ((seq & FULL_CHECK_MASK) === 0 && !filled(data)) ? 'content changed'
      : undefined;
    if (fault !== undefined) {
      this.#fault(`#${seq} ${fault}`);
      return;
    }
    this.#seen[seq] = 1;
    this.count++;
  }

  /** Messages taken, intact or not: a run is over when this reaches the number sent. */
  get arrived(): number {
    return this.count + this.#faultCount;
  }

  /** Throws unless every message arrived once and intact. */
  verify(what: string): void {
    if (this.count === this.sent && this.#faultCount === 0) return;
    const faults = this.#faultCount === 0 ? '' : `; ${this.#faultCount} bad, e.g. ${this.#faults.join(', ')}`;
    throw new Error(`${what}: ${this.count} of ${this.sent} arrived intact${faults}`);
  }

  #fault(what: string): void {
    this.#faultCount++;
    if (this.#faults.length < 3) this.#faults.push(what);
  }
}

/** Resolves once progress() reaches its goal; rejects when it stops moving for STALL_MS. */
async function progressTo(goal: number, progress: () => number | Promise<number>, what: string, pollMs: number): Promise<void> {
  let last = -1;
  let lastMove = Date.now();
  for (;;) {
    const now = await progress();
    if (now >= goal) return;
    if (now !== last) [last, lastMove] = [now, Date.now()];
    if (Date.now() - lastMove > STALL_MS) throw new Error(`${what}: stalled at ${now} of ${goal}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

export function sizeLabel(bytes: number): string {
  return bytes >= 1024 ? `${bytes / 1024} KiB` : `${bytes} B`;
}

function label(c: Case): string {
  return c.kind === 'bare relay' ? `${sizeLabel(c.bytes)} bare relay` : `${sizeLabel(c.bytes)}, ${c.stages} ${c.kind} stage(s)`;
}

/** A pipeline of `stages` identity stages, Wasm (pipelines/text/text.wasm) or native JS; created, not started. */
async function pipelineFor(transport: Transport, c: Case, input: string, output: string, natsUrl?: string): Promise<Pipeline> {
  const plugin = new URL('../../pipelines/text/text.wasm', import.meta.url).pathname;
  const names = Array.from({ length: c.stages }, (_, i) => `identity${i}`);
  const stages = names.map((name) => `{ name: ${name}, plugin: text, function: identity }`).join(', ');
  const nats = natsUrl ? `nats: { servers: "${natsUrl}" }\n` : '';
  // The bench checks that every message arrived; a JetStream input must say what becomes of failures, and none fail here.
  const deadLetter = input.includes('stream:') ? 'deadLetter: { discard: true }\n' : '';
  const yaml = `name: bench\n${nats}plugins: { text: { path: ${plugin} } }\ninput: ${input}\nstages: [${stages}]\noutput: ${output}\n${deadLetter}`;
  const config = await parsePipelineConfig(yaml, 'bench.yaml');
  const native = c.kind === 'native JS' ? Object.fromEntries(names.map((n) => [n, identity])) : undefined;
  return Pipeline.create(config, { transport, logger: silent, native });
}

/** The embedded bus: delivery is synchronous, so the publish loop's time is the whole cost, and one buffer restamped per message is safe. */
export function embeddedRunner(): Runner {
  return async (c) => {
    const bus = new EmbeddedBus();
    const message = new Uint8Array(c.bytes).fill(FILL);
    const publish = (count: number) => {
      for (let seq = 0; seq < count; seq++) {
        stamp(message, seq);
        bus.publish('bench.in', message);
      }
    };
    let tally = new Tally(Math.min(10_000, Math.ceil(c.messages / 4)), c.bytes);
    bus.subscribe('bench.out', (m) => tally.take(m.data));
    const stop = await embeddedRelay(bus, c);
    publish(tally.sent); // warm-up
    tally.verify(`${label(c)}, warm-up`);
    const timing = { seconds: 0, messages: 0 };
    globalThis.gc?.();
    while (timing.seconds < MIN_EMBEDDED_SECONDS) {
      tally = new Tally(c.messages, c.bytes);
      const start = process.hrtime.bigint();
      publish(c.messages);
      timing.seconds += Number(process.hrtime.bigint() - start) / 1e9;
      timing.messages += c.messages;
      tally.verify(label(c));
    }
    await stop();
    return timing;
  };
}

async function embeddedRelay(bus: EmbeddedBus, c: Case): Promise<() => Promise<void>> {
  if (c.kind === 'bare relay') {
    const off = bus.subscribe('bench.in', (m) => bus.publish('bench.out', m.data));
    return async () => off();
  }
  const p = await pipelineFor(new EmbeddedTransport(bus), c, '{ subject: bench.in }', '{ subject: bench.out }');
  await p.start();
  return () => p.drain();
}

/**
 * Core NATS: this connection publishes to bench.N.in and counts what comes
 * back on bench.N.out, through a relay or pipeline on a connection of its own.
 */
export function coreNatsRunner(nc: NatsConnection, natsUrl: string, messagesFor: (c: Case) => Uint8Array[]): Runner {
  return async (c) => {
    const subject = `bench.${++runs}`;
    const messages = messagesFor(c);
    let tally = new Tally(Math.min(1000, Math.ceil(c.messages / 10)), c.bytes);
    const sub = nc.subscribe(`${subject}.out`, { callback: (_, m) => tally.take(m.data) });
    const stop = await coreRelay(c, subject, natsUrl);
    try {
      await nc.flush();
      await publishAll(nc, `${subject}.in`, messages, tally, `${label(c)}, warm-up`);
      tally.verify(`${label(c)}, warm-up`);
      tally = new Tally(c.messages, c.bytes);
      globalThis.gc?.();
      const start = process.hrtime.bigint();
      await publishAll(nc, `${subject}.in`, messages, tally, label(c));
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      tally.verify(label(c));
      return { seconds, messages: c.messages };
    } finally {
      sub.unsubscribe();
      await stop();
    }
  };
}

/** Publishes the first tally.sent messages and waits until they are all back. */
async function publishAll(nc: NatsConnection, subject: string, messages: Uint8Array[], tally: Tally, what: string): Promise<void> {
  // A flush every MiB (1000 messages at most) keeps the publisher from running so far ahead of the
  // relay that the server cuts the relay off as a slow consumer.
  const window = Math.max(1, Math.min(1000, Math.floor((1 << 20) / messages[0]!.length)));
  for (let seq = 0; seq < tally.sent; seq++) {
    nc.publish(subject, messages[seq]!);
    if (seq % window === window - 1) await nc.flush();
  }
  await progressTo(tally.sent, () => tally.arrived, what, 1);
}

async function coreRelay(c: Case, subject: string, natsUrl: string): Promise<() => Promise<void>> {
  const conn = await connect({ servers: natsUrl });
  if (c.kind === 'bare relay') {
    conn.subscribe(`${subject}.in`, { callback: (_, m) => conn.publish(`${subject}.out`, m.data) });
    await conn.flush();
    return () => conn.close();
  }
  const p = await pipelineFor(new NatsTransport(conn, silent), c, `{ subject: ${subject}.in }`, `{ subject: ${subject}.out }`, natsUrl);
  await p.start();
  await conn.flush();
  return async () => {
    await p.drain();
    await conn.close();
  };
}

/** A relay or pipeline on its own connection, set up before the clock starts and started after. */
interface StreamRelay {
  consumer: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * JetStream: BENCHIN is filled before the clock starts, the relay or
 * pipeline consumes it into BENCHOUT, and the clock stops when BENCHOUT holds
 * them all. Both streams are fresh for every run.
 */
export async function jetStreamRunner(nc: NatsConnection, natsUrl: string, messagesFor: (c: Case) => Uint8Array[]): Promise<Runner> {
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  return async (c) => {
    await freshStreams(jsm);
    await prefill(js, messagesFor(c), c.messages);
    const relay = c.kind === 'bare relay' ? await bareStreamRelay(natsUrl) : await streamPipeline(c, natsUrl);
    globalThis.gc?.();
    const start = process.hrtime.bigint();
    let seconds: number;
    try {
      await relay.start();
      // a stream info request every 5 ms: the clock's granularity, against runs of a few hundred ms
      await progressTo(c.messages, async () => (await jsm.streams.info('BENCHOUT')).state.messages, label(c), 5);
      seconds = Number(process.hrtime.bigint() - start) / 1e9;
    } finally {
      await relay.stop();
    }
    await verifyAcked(jsm, relay.consumer, c);
    await verifyStored(js, jsm, c);
    await dropStreams(jsm);
    return { seconds, messages: c.messages };
  };
}

async function dropStreams(jsm: JetStreamManager): Promise<void> {
  for (const name of ['BENCHIN', 'BENCHOUT']) await jsm.streams.delete(name).catch(() => {});
}

async function freshStreams(jsm: JetStreamManager): Promise<void> {
  await dropStreams(jsm);
  await jsm.streams.add({ name: 'BENCHIN', subjects: ['benchjs.in'] });
  await jsm.streams.add({ name: 'BENCHOUT', subjects: ['benchjs.out'] });
}

async function prefill(js: JetStreamClient, messages: Uint8Array[], count: number): Promise<void> {
  const window = Math.max(16, Math.min(1000, Math.floor((4 << 20) / messages[0]!.length)));
  for (let i = 0; i < count; i += window) {
    await Promise.all(messages.slice(i, Math.min(count, i + window)).map((m) => js.publish('benchjs.in', m)));
  }
}

/**
 * The floor: consume, publish with a JetStream ack and the pipeline's message
 * id for the input, then ack the input (nak on a failed publish, as the
 * pipeline does), with as many in flight as the pipeline allows.
 */
async function bareStreamRelay(natsUrl: string): Promise<StreamRelay> {
  const conn = await connect({ servers: natsUrl });
  const cjs = jetstream(conn);
  const cjsm = await jetstreamManager(conn);
  let stopConsuming = (): void => {};
  return {
    consumer: 'relay',
    start: async () => {
      await cjsm.consumers.add('BENCHIN', { durable_name: 'relay', ack_policy: AckPolicy.Explicit, max_ack_pending: 256 });
      const messages = await (await cjs.consumers.get('BENCHIN', 'relay')).consume({ max_messages: 256 });
      stopConsuming = () => void messages.stop();
      void (async () => {
        for await (const m of messages) {
          cjs.publish('benchjs.out', m.data, { msgID: `BENCHIN:${m.info.streamSequence}:out:0` }).then(
            () => m.ack(),
            () => m.nak(),
          );
        }
      })();
    },
    stop: async () => {
      stopConsuming();
      await conn.close();
    },
  };
}

async function streamPipeline(c: Case, natsUrl: string): Promise<StreamRelay> {
  const conn = await connect({ servers: natsUrl });
  const p = await pipelineFor(new NatsTransport(conn, silent), c, '{ stream: BENCHIN, consumer: wasp, maxAckPending: 256 }', '{ subject: benchjs.out }', natsUrl);
  return {
    consumer: 'wasp',
    start: () => p.start(),
    stop: async () => {
      await p.drain();
      await conn.close();
    },
  };
}

/** Every input was acked: the consumer's ack floor reached the last input. */
async function verifyAcked(jsm: JetStreamManager, consumer: string, c: Case): Promise<void> {
  await progressTo(c.messages, async () => (await jsm.consumers.info('BENCHIN', consumer)).ack_floor.stream_seq, `${label(c)}: inputs acked`, 20);
}

/** BENCHOUT holds each message exactly once, intact (a duplicate publish would have been dropped by its message id). */
async function verifyStored(js: JetStreamClient, jsm: JetStreamManager, c: Case): Promise<void> {
  const stored = (await jsm.streams.info('BENCHOUT')).state.messages;
  if (stored !== c.messages) throw new Error(`${label(c)}: BENCHOUT holds ${stored} messages, ${c.messages} were sent`);
  const tally = new Tally(c.messages, c.bytes);
  const messages = await (await js.consumers.get('BENCHOUT')).consume();
  let read = 0;
  for await (const m of messages) {
    tally.take(m.data);
    if (++read === c.messages) break;
  }
  await messages.stop();
  tally.verify(`${label(c)}, read back from BENCHOUT`);
}
