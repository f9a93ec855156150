// W3C trace context through pipelines: an input's traceparent and tracestate reach every output,
// side output and dead letter it causes, unchanged, on the embedded bus, core NATS and JetStream.
// Flights are reused from input to input, so each test also sends inputs with other trace
// headers and none, and checks that no message takes its trace from a neighbour.
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { headers as natsHeaders, type Msg, type NatsConnection, type Subscription } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { completeLogger } from '../../src/engine/logger.js';
import { loadPipelineConfig } from '../../src/pipeline/config/load.js';
import { DEAD_LETTER_HEADERS, Pipeline } from '../../src/pipeline/pipeline.js';
import type { NativeStageFunction } from '../../src/pipeline/stages/native-stage.js';
import { connectNats } from '../../src/transport/connect.js';
import { Headers } from '../../src/transport/headers.js';
import { NatsTransport } from '../../src/transport/nats.js';
import { eventually } from '../helpers/cli.js';
import { NatsServer } from '../helpers/nats-server.js';
import { embeddedPipeline, TEXT_DEAD_LETTER, textPipelineYaml, textPlugin, writeConfig } from '../helpers/pipelines.js';

const text = (d: Uint8Array) => Buffer.from(d).toString();

/** A trace context as a producer sends it: traceparent (version, trace id, parent span id, flags) and tracestate. */
function traceContext(n: number) {
  const hex = (width: number) => n.toString(16).padStart(width, '0');
  return { traceparent: `00-${'4bf92f3577b34da6'}${hex(16)}-${'00f067aa'}${hex(8)}-01`, tracestate: `wasp=t${n},other=v${n}` };
}

/** What a test looks at in each message: where it went, its payload and its trace headers. */
interface Seen {
  subject: string;
  data: string;
  traceparent: string | undefined;
  tracestate: string | undefined;
  stage: string | undefined;
  reason: string | undefined;
}

function seen(subject: string, data: Uint8Array, get: (name: string) => string | undefined): Seen {
  return {
    subject,
    data: text(data),
    traceparent: get('traceparent'),
    tracestate: get('tracestate'),
    stage: get(DEAD_LETTER_HEADERS.stage),
    reason: get(DEAD_LETTER_HEADERS.errorReason),
  };
}

/** The messages on a subject, by payload, with their trace headers. */
function bySubject(messages: Seen[], subject: string): Record<string, Pick<Seen, 'traceparent' | 'tracestate'>> {
  const out: Record<string, Pick<Seen, 'traceparent' | 'tracestate'>> = {};
  for (const m of messages) if (m.subject === subject) out[m.data] = { traceparent: m.traceparent, tracestate: m.tracestate };
  return out;
}

const t1 = traceContext(1);
const t2 = traceContext(2);
const none = { traceparent: undefined, tracestate: undefined };

// words flat-maps a line into words; audit emits each word to audit.text and passes it on; check
// fails a word with an x, which is dead-lettered.
const threeStages = (mode: 'inline' | 'worker') => `
  - { name: words, plugin: text, function: words }
  - { name: audit, plugin: text, function: audit, emits: [audit.>], pool: { size: 2, mode: ${mode} } }
  - { name: check, plugin: text, function: fail_on_x }`;

/** Inputs for threeStages: two traced, one not, each causing outputs, side outputs and a dead letter. */
const inputs = [
  { line: 'one box', headers: t1 },
  { line: 'two fox', headers: t2 },
  { line: 'three axe', headers: undefined },
];

/** What threeStages gives for `inputs`: every message with the trace headers of the input it came from. */
const expected = {
  'text.out': { one: t1, two: t2, three: none },
  'audit.text': { one: t1, box: t1, two: t2, fox: t2, three: none, axe: none },
  'text.dlq': { box: t1, fox: t2, axe: none },
};

describe('trace context on the embedded bus', () => {
  const yaml = (stages: string) => textPipelineYaml('trace', stages, TEXT_DEAD_LETTER);

  async function run(stages: string, lines: typeof inputs) {
    const p = await embeddedPipeline(yaml(stages));
    for (const { line, headers } of lines) {
      const h = headers === undefined ? undefined : new Headers().set('traceparent', headers.traceparent).set('tracestate', headers.tracestate);
      p.bus.publish('text.in', Buffer.from(line), h);
    }
    await p.pipeline.drain();
    return p.seen.filter((m) => m.subject !== 'text.in').map((m) => seen(m.subject, m.data, (name) => m.headers?.get(name)));
  }

  it('one stage: each of an input\'s outputs carries its traceparent and tracestate', async () => {
    const messages = await run('  - { name: words, plugin: text, function: words }', [
      { line: 'a b c', headers: t1 },
      { line: 'd e', headers: t2 },
      { line: 'f', headers: undefined },
    ]);
    expect(bySubject(messages, 'text.out')).toEqual({ a: t1, b: t1, c: t1, d: t2, e: t2, f: none });
  });

  it('one stage: a side output and the dead letter of a trap carry the input\'s trace context', async () => {
    const messages = await run(
      `  - { name: audit, plugin: text, function: audit, emits: [audit.>] }
  - { name: trap, plugin: text, function: trap_on_x }`,
      [
        { line: 'ox', headers: t1 },
        { line: 'ok', headers: t2 },
      ],
    );
    expect(bySubject(messages, 'audit.text')).toEqual({ ox: t1, ok: t2 });
    expect(bySubject(messages, 'text.out')).toEqual({ ok: t2 });
    expect(bySubject(messages, 'text.dlq')).toEqual({ ox: t1 });
    expect(messages.find((m) => m.subject === 'text.dlq')?.stage).toBe('trap');
  });

  it('three stages inline: outputs, side outputs and dead letters of each input carry its trace context', async () => {
    const messages = await run(threeStages('inline'), inputs);
    for (const [subject, want] of Object.entries(expected)) expect(bySubject(messages, subject), subject).toEqual(want);
  });

  it('three stages, the middle one in two worker threads: the same', async () => {
    const messages = await run(threeStages('worker'), inputs);
    for (const [subject, want] of Object.entries(expected)) expect(bySubject(messages, subject), subject).toEqual(want);
  });
});

describe('trace context through a real nats-server', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const running: { pipeline: Pipeline; transport: NatsTransport }[] = [];
  const subscriptions: Subscription[] = [];
  const logger = completeLogger({});

  beforeAll(async () => {
    server = await NatsServer.start();
    nc = await connect({ servers: server.url });
    jsm = await jetstreamManager(nc);
  });
  afterEach(async () => {
    for (const sub of subscriptions.splice(0)) sub.unsubscribe();
    for (const { pipeline, transport } of running.splice(0)) {
      pipeline.close();
      await transport.close().catch(() => {});
    }
  });
  afterAll(async () => {
    await nc?.close().catch(() => {});
    await server?.dispose();
  });

  // A last stage in JavaScript whose output for "big" is over the server's max_payload (1 MiB):
  // that publish fails, and the input is dead-lettered for it (the other kind of dead letter).
  const grow: Record<string, NativeStageFunction> = { grow: (d) => (text(d) === 'big' ? [new Uint8Array(2 << 20)] : [d]) };
  const stages = `${threeStages('inline')}
  - { name: grow, plugin: text, function: identity }`;
  const lines = [...inputs, { line: 'big', headers: traceContext(3) }];
  const want = {
    ...expected,
    'audit.text': { ...expected['audit.text'], big: traceContext(3) },
    // the input itself, dead-lettered because its output could not be published
    'text.dlq': { ...expected['text.dlq'], big: traceContext(3) },
  };

  async function start(yaml: string) {
    const config = await loadPipelineConfig(await writeConfig(yaml));
    const transport = new NatsTransport(await connectNats(config.nats!, logger), logger);
    const pipeline = await Pipeline.create(config, { transport, logger, native: grow });
    running.push({ pipeline, transport });
    await pipeline.start();
    return pipeline;
  }

  /** What the pipeline publishes under the test's prefix (outputs and dead letters) and to audit.text (side outputs). */
  async function collect(prefix: string): Promise<Seen[]> {
    const got: Seen[] = [];
    const record = (subject: string) => (_: unknown, m: Msg) =>
      got.push(seen(subject, m.data, (name) => (m.headers?.has(name) ? m.headers.get(name) : undefined)));
    subscriptions.push(
      nc.subscribe(`${prefix}.text.out`, { callback: record('text.out') }),
      nc.subscribe(`${prefix}.text.dlq`, { callback: record('text.dlq') }),
      nc.subscribe('audit.text', { callback: record('audit.text') }),
    );
    await nc.flush();
    return got;
  }

  const traced = (headers: (typeof lines)[number]['headers']) => {
    if (headers === undefined) return undefined;
    const h = natsHeaders();
    h.set('traceparent', headers.traceparent);
    h.set('tracestate', headers.tracestate);
    return h;
  };

  function check(messages: Seen[]) {
    for (const [subject, trace] of Object.entries(want)) expect(bySubject(messages, subject), subject).toEqual(trace);
    expect(messages.find((m) => m.subject === 'text.dlq' && m.data === 'big')?.reason).toBe('too-large');
    expect(messages.find((m) => m.subject === 'text.dlq' && m.data === 'box')?.stage).toBe('check');
  }

  // every message the inputs cause: 3 outputs, 7 side outputs, 4 dead letters
  const total = 3 + 7 + 4;

  it('core NATS: outputs, side outputs and both kinds of dead letter carry their input\'s trace context', async () => {
    const got = await collect('core');
    await start(`name: trace-core
nats: { servers: "${server.url}" }
plugins: { text: { path: ${textPlugin} } }
input: { subject: core.text.in }
stages:${stages}
output: { subject: core.text.out }
deadLetter: { subject: core.text.dlq }
`);
    for (const { line, headers } of lines) nc.publish('core.text.in', Buffer.from(line), { headers: traced(headers) });
    await eventually(() => got.length, (n) => n >= total, 10_000);
    check(got);
  });

  it('JetStream input: the same, every message stored in its stream with its input\'s trace context', async () => {
    await jsm.streams.add({ name: 'TIN', subjects: ['js.text.in'] });
    await jsm.streams.add({ name: 'TOUT', subjects: ['js.text.out', 'audit.text'] });
    await jsm.streams.add({ name: 'TDLQ', subjects: ['js.text.dlq'] });
    const got = await collect('js');
    const pipeline = await start(`name: trace-js
nats: { servers: "${server.url}" }
plugins: { text: { path: ${textPlugin} } }
input: { stream: TIN, consumer: trace, subject: js.text.in }
stages:${stages}
output: { subject: js.text.out }
deadLetter: { subject: js.text.dlq }
`);
    const js = jsm.jetstream();
    for (const { line, headers } of lines) await js.publish('js.text.in', Buffer.from(line), { headers: traced(headers) });
    await eventually(() => got.length, (n) => n >= total, 10_000);
    check(got);
    // what the streams hold is what was seen: the trace headers were stored with each message
    const stored = [];
    for (const [stream, n] of [['TOUT', 3 + 7], ['TDLQ', 4]] as const) {
      for (let seq = 1; seq <= n; seq++) {
        const m = await jsm.streams.getMessage(stream, { seq });
        stored.push(seen(m.subject.replace(/^js\./, ''), m.data, (name) => (m.header.has(name) ? m.header.get(name) : undefined)));
      }
    }
    check(stored);
    // every input had a dead letter, so each is terminated once it is stored
    await eventually(() => pipeline.stats.inFlight, (n) => n === 0, 10_000);
    expect(pipeline.stats).toMatchObject({ received: 4, acked: 0, termed: 4, naked: 0 });
  });
});
