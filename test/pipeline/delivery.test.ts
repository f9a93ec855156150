// Nothing a message or a fault does may crash a pipeline, stall it or lose data silently: pipelines
// on a real nats-server with a 64 KiB max_payload, in this process (Pipeline + NatsTransport), and
// `wasp run` refusing configurations that would lose dead letters.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { completeLogger } from '../../src/engine/logger.js';
import { loadPipelineConfig } from '../../src/pipeline/config/load.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import type { NativeStageFunction } from '../../src/pipeline/stages/native-stage.js';
import { connectNats } from '../../src/transport/connect.js';
import { NatsTransport } from '../../src/transport/nats.js';
import { eventually, spawnWasp, type WaspProcess } from '../helpers/cli.js';
import { bumpAllocator } from '../helpers/hostile.js';
import { LimitedNatsServer } from '../helpers/limited-nats.js';
import { textPlugin, writeConfig } from '../helpers/pipelines.js';
import { wat } from '../helpers/plugins.js';

const MAX = 65_536;
const text = (d: Uint8Array) => Buffer.from(d).toString();

/** run(input): emits the input to side.x when it starts with "e"; outputs it unchanged. */
const sideEmitter = () =>
  wat(`(module
    (import "wasp" "output" (func $output (param i32 i32)))
    (import "wasp" "emit" (func $emit (param i32 i32 i32 i32) (result i32)))
    ${bumpAllocator}
    (data (i32.const 16) "side.x")
    (func (export "run") (param $p i32) (param $n i32) (result i32)
      (if (i32.and (i32.ne (local.get $n) (i32.const 0)) (i32.eq (i32.load8_u (local.get $p)) (i32.const 101)))
        (then (drop (call $emit (i32.const 16) (i32.const 6) (local.get $p) (local.get $n)))))
      (call $output (local.get $p) (local.get $n))
      (i32.const 0)))`);

describe('delivery under publish failures (real nats-server, max_payload 64 KiB)', () => {
  let server: LimitedNatsServer;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const running: { pipeline: Pipeline; transport: NatsTransport }[] = [];
  const processes: WaspProcess[] = [];
  let logs: { level: string; message: string }[] = [];
  const logger = completeLogger({
    info: (message: string) => logs.push({ level: 'info', message }),
    warn: (message: string) => logs.push({ level: 'warn', message }),
    error: (message: string) => logs.push({ level: 'error', message }),
  });

  beforeAll(async () => {
    server = await LimitedNatsServer.start(MAX);
    nc = await connect({ servers: server.url });
    jsm = await jetstreamManager(nc);
  });
  afterEach(async () => {
    for (const { pipeline, transport } of running.splice(0)) {
      pipeline.close();
      await transport.close().catch(() => {});
    }
    for (const p of processes.splice(0)) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    logs = [];
  });
  afterAll(async () => {
    await nc?.close().catch(() => {});
    await server?.dispose();
  });

  async function start(yaml: string, native?: Record<string, NativeStageFunction>) {
    const config = await loadPipelineConfig(await writeConfig(yaml));
    const transport = new NatsTransport(await connectNats(config.nats!, logger), logger);
    const pipeline = await Pipeline.create(config, { transport, logger, native });
    running.push({ pipeline, transport });
    let crashed: unknown;
    pipeline.done.catch((error: unknown) => (crashed = error));
    await pipeline.start();
    return { pipeline, crashed: () => crashed };
  }

  /** Every message a stream holds, in order. */
  async function stored(stream: string) {
    const { state } = await jsm.streams.info(stream);
    const out = [];
    for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) out.push(await jsm.streams.getMessage(stream, { seq }));
    return out;
  }
  const count = async (stream: string) => (await jsm.streams.info(stream)).state.messages;

  function collect(subject: string) {
    const got: { data: string; size: number; headers: Record<string, string> }[] = [];
    nc.subscribe(subject, {
      callback: (_, m) => {
        const headers: Record<string, string> = {};
        for (const k of m.headers?.keys() ?? []) headers[k] = m.headers!.get(k);
        got.push({ data: text(m.data), size: m.data.length, headers });
      },
    });
    return got;
  }

  const jetstreamYaml = (n: string, extra: { stage?: string; input?: string } = {}) => `name: js-${n}
nats: { servers: "${server.url}" }
plugins: { text: { path: ${textPlugin} } }
input: { stream: IN${n}, consumer: c, subject: in${n}.x${extra.input ?? ''} }
stages: [${extra.stage ?? '{ name: grow, plugin: text, function: identity }'}]
output: { subject: out${n}.x }
deadLetter: { subject: dlq${n}.x }
`;
  async function streams(n: string) {
    await jsm.streams.add({ name: `OUT${n}`, subjects: [`out${n}.x`] });
    await jsm.streams.add({ name: `DLQ${n}`, subjects: [`dlq${n}.x`] });
  }
  const grow: Record<string, NativeStageFunction> = { grow: (d) => (text(d) === 'big' ? [new Uint8Array(100_000)] : [d]) };

  it('core NATS: an output over max_payload is dead-lettered, counted and logged once; the run goes on', async () => {
    const out = collect('core1.out');
    const dlq = collect('core1.dlq');
    await nc.flush();
    const { pipeline, crashed } = await start(
      `name: core1
nats: { servers: "${server.url}" }
plugins: { text: { path: ${textPlugin} } }
input: { subject: core1.in }
stages: [{ name: grow, plugin: text, function: identity }]
output: { subject: core1.out }
deadLetter: { subject: core1.dlq }
`,
      grow,
    );
    nc.publish('core1.in', Buffer.from('a'));
    for (let i = 0; i < 30; i++) nc.publish('core1.in', Buffer.from('big'));
    nc.publish('core1.in', Buffer.from('b'));
    await eventually(() => [out.length, dlq.length], ([o, d]) => o === 2 && d === 30, 10_000);
    expect(out.map((m) => m.data)).toEqual(['a', 'b']);
    expect(dlq[0]).toMatchObject({
      data: 'big',
      headers: { 'Wasp-Error-Type': 'PublishRejectedError', 'Wasp-Error-Reason': 'too-large', 'Wasp-Publish-Subject': 'core1.out', 'Wasp-Subject': 'core1.in' },
    });
    expect(crashed()).toBeUndefined();
    expect(pipeline.stats).toMatchObject({ received: 32, deadLettered: 30, publishRejected: 30 });
    expect(logs.filter((l) => /publish to core1\.out refused: .*max_payload.*\(too-large, permanent\); the input is dead-lettered/.test(l.message))).toHaveLength(1);
  });

  it('core NATS: a dead letter too large for its payload carries Wasp-Payload-Truncated and what fits of it', async () => {
    const dlq = collect('core2.dlq');
    const out = collect('core2.out');
    await nc.flush();
    const failOnX: Record<string, NativeStageFunction> = {
      check: (d) => {
        if (d[0] === 0x78) throw new Error('contains x');
        return [d];
      },
    };
    const { crashed } = await start(
      `name: core2
nats: { servers: "${server.url}" }
plugins: { text: { path: ${textPlugin} } }
input: { subject: core2.in }
stages: [{ name: check, plugin: text, function: identity }]
output: { subject: core2.out }
deadLetter: { subject: core2.dlq }
`,
      failOnX,
    );
    const input = `x${'a'.repeat(MAX - 136)}`; // fits on its own; the dead-letter headers push it over
    nc.publish('core2.in', Buffer.from(input));
    nc.publish('core2.in', Buffer.from('ok'));
    await eventually(() => [dlq.length, out.length], ([d, o]) => d === 1 && o === 1, 10_000);
    expect(dlq[0]!.headers).toMatchObject({ 'Wasp-Payload-Truncated': String(input.length), 'Wasp-Error-Type': 'WaspError', 'Wasp-Stage': 'check' });
    expect(dlq[0]!.size).toBeGreaterThan(0);
    expect(dlq[0]!.size).toBeLessThan(input.length);
    expect(input.startsWith(dlq[0]!.data)).toBe(true);
    expect(crashed()).toBeUndefined();
  });

  it('JetStream: an output over max_payload is dead-lettered once as PublishRejectedError, and the input terminated, not redelivered', async () => {
    await streams('1');
    const { pipeline } = await start(jetstreamYaml('1'), grow);
    const js = jsm.jetstream();
    await js.publish('in1.x', Buffer.from('big'));
    await js.publish('in1.x', Buffer.from('after'));
    await eventually(async () => [await count('DLQ1'), await count('OUT1'), (await jsm.consumers.info('IN1', 'c')).num_ack_pending], ([d, o, p]) => d === 1 && o === 1 && p === 0, 10_000);
    const [dead] = await stored('DLQ1');
    expect(text(dead!.data)).toBe('big');
    expect(dead!.header.get('Wasp-Error-Type')).toBe('PublishRejectedError');
    expect(dead!.header.get('Wasp-Error-Reason')).toBe('too-large');
    expect(dead!.header.get('Wasp-Deliveries')).toBe('1');
    expect((await jsm.consumers.info('IN1', 'c')).num_redelivered).toBe(0);
    expect(pipeline.stats).toMatchObject({ received: 2, termed: 1, acked: 1, naked: 0 });
  });

  it('JetStream: 20 side outputs to a subject no stream captures are dead-lettered, and do not stall the consumer', async () => {
    await streams('2');
    const dir = await mkdtemp(join(tmpdir(), 'wasp-side-'));
    await writeFile(join(dir, 'side.wasm'), await sideEmitter());
    const { pipeline } = await start(
      jetstreamYaml('2', { stage: '{ name: side, plugin: side, function: run, emits: [side.>] }' }).replace(
        `plugins: { text: { path: ${textPlugin} } }`,
        `plugins: { side: { path: ${join(dir, 'side.wasm')} } }`,
      ),
    );
    const js = jsm.jetstream();
    for (let i = 0; i < 20; i++) await js.publish('in2.x', Buffer.from(`e${i}`));
    await eventually(() => count('DLQ2'), (n) => n === 20, 10_000);
    const sent = Date.now();
    await js.publish('in2.x', Buffer.from('good'));
    await eventually(async () => (await stored('OUT2')).map((m) => text(m.data)), (o) => o.includes('good'), 5_000);
    const promptly = Date.now() - sent;
    expect(promptly).toBeLessThan(2_000);
    const dead = await stored('DLQ2');
    expect(new Set(dead.map((m) => `${m.header.get('Wasp-Error-Type')} ${m.header.get('Wasp-Error-Reason')} ${m.header.get('Wasp-Publish-Subject')}`))).toEqual(
      new Set(['PublishRejectedError no-stream side.x']),
    );
    await eventually(() => jsm.consumers.info('IN2', 'c'), (info) => info.num_ack_pending === 0, 5_000);
    expect((await jsm.consumers.info('IN2', 'c')).num_redelivered).toBe(0);
    expect(pipeline.stats.termed).toBe(20);
  });

  it('JetStream: a transiently failing output (its stream deleted) ends in a dead letter with the delivery count after maxDeliver deliveries', async () => {
    await streams('3');
    const { pipeline } = await start(jetstreamYaml('3', { input: ', maxDeliver: 3' }), grow);
    await jsm.streams.delete('OUT3');
    await jsm.jetstream().publish('in3.x', Buffer.from('m'));
    await eventually(() => count('DLQ3'), (n) => n === 1, 15_000);
    const [dead] = await stored('DLQ3');
    expect(text(dead!.data)).toBe('m');
    expect(dead!.header.get('Wasp-Error-Type')).toBe('TransientPublishError');
    expect(dead!.header.get('Wasp-Error-Reason')).toBe('stream-deleted');
    expect(dead!.header.get('Wasp-Deliveries')).toBe('3');
    await eventually(() => jsm.consumers.info('IN3', 'c'), (info) => info.num_ack_pending === 0, 5_000);
    expect(pipeline.stats).toMatchObject({ received: 3, naked: 2, termed: 1 });
    expect(logs.filter((l) => /the stream capturing out3\.x was deleted/.test(l.message))).toHaveLength(1);
  });

  it('JetStream: the input is terminated only once its dead letter is accepted by the stream', async () => {
    await streams('4');
    const { pipeline } = await start(jetstreamYaml('4', { stage: '{ name: check, plugin: text, function: fail_on_x }' }));
    await jsm.streams.delete('DLQ4');
    await jsm.jetstream().publish('in4.x', Buffer.from('x marks'));
    // the dead letter cannot be stored: the input is nak'ed, not terminated, and comes back
    await eventually(() => pipeline.stats.deadLetterErrors, (n) => n >= 1, 10_000);
    await jsm.streams.add({ name: 'DLQ4', subjects: ['dlq4.x'] });
    await eventually(() => count('DLQ4'), (n) => n === 1, 10_000);
    const [dead] = await stored('DLQ4');
    expect(text(dead!.data)).toBe('x marks');
    expect(dead!.header.get('Wasp-Error-Type')).toBe('PluginCallError');
    await eventually(() => jsm.consumers.info('IN4', 'c'), (info) => info.num_ack_pending === 0, 5_000);
    expect(pipeline.stats.termed).toBe(1);
    expect(pipeline.stats.naked).toBeGreaterThanOrEqual(1);
  });

  /** Runs `wasp run` to its exit; one that is still running after timeoutMs is killed (and fails the test). */
  async function runToExit(config: string, timeoutMs = 20_000) {
    const p = spawnWasp(['run', config]);
    processes.push(p);
    const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
    const { code, signal } = await p.exited;
    clearTimeout(timer);
    return { code: code ?? signal, stderr: p.stderr() };
  }

  describe('wasp run refuses what would lose data', () => {
    const base = (deadLetter: string, n: string) => `name: refuse${n}
nats: { servers: "${server.url}" }
plugins: { text: { path: ${textPlugin} } }
input: { stream: RIN${n}, consumer: c, subject: rin${n}.x }
stages: [{ name: upper, plugin: text, function: upper }]
output: { subject: rout${n}.x }
${deadLetter}`;

    it('a JetStream input without deadLetter: exit 1, saying what would be lost and how to fix it', async () => {
      const { code, stderr } = await runToExit(await writeConfig(base('', '1')));
      expect(code).toBe(1);
      expect(stderr).toMatch(/input\.stream: a JetStream input needs deadLetter: .*terminated and lost.*deadLetter: \{ subject: .*\}.*deadLetter: \{ discard: true \}/);
    });

    it('with deadLetter: { discard: true } it runs', async () => {
      const p = spawnWasp(['run', await writeConfig(base('deadLetter: { discard: true }', '2'))]);
      processes.push(p);
      await p.waitFor('running');
      p.child.kill('SIGTERM');
      expect((await p.exited).code).toBe(0);
    });

    it('a dead-letter subject no stream captures: exit 1', async () => {
      const { code, stderr } = await runToExit(await writeConfig(base('deadLetter: { subject: nowhere.dlq }', '3')));
      expect(code).toBe(1);
      expect(stderr).toMatch(/no stream captures nowhere\.dlq/);
      expect(stderr).toMatch(/core: true/);
    });
  });
});
