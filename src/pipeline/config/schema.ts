// The pipeline config, described once: this schema validates files, gives
// the TypeScript type, and generates docs/pipeline.schema.json and
// docs/config.md (see docs.ts), so the three cannot drift apart.
import { z } from 'zod';
import { ABI_NAMES, type AbiName } from '../../engine/abi/abi.js';
import { isValidSubject } from '../../engine/subjects.js';
import { DEFAULT_MAX_PENDING, DEFAULT_MAX_PENDING_BYTES } from '../../transport/core.js';
import { isServerUrl } from '../../transport/server-url.js';
import {
  DEFAULT_MAX_EMITS_PER_CALL,
  DEFAULT_MAX_OUTPUT_BYTES,
  DEFAULT_MEMORY_LIMIT_PAGES,
  DEFAULT_TIMEOUT_MS,
  MAX_INLINE_POOL_SIZE,
  MAX_PAGES,
  MAX_TIMER_MS,
  MAX_WORKER_POOL_SIZE,
} from '../../engine/limits.js';

const subject = z
  .string()
  .refine((s) => isValidSubject(s, false), { message: 'not a valid NATS subject to publish to (tokens separated by dots, no wildcards or spaces)' });
const pattern = z
  .string()
  .refine((s) => isValidSubject(s, true), { message: 'not a valid NATS subject pattern (`*` is a whole token, `>` only the last)' });
const positiveInt = z.number().int().min(1);
const nonNegativeInt = z.number().int().min(0);
/** A duration in ms, at most what a Node timer can wait (24.8 days): past it a timer fires at once. */
const ms = (min: 0 | 1) => z.number().int().min(min).max(MAX_TIMER_MS, `at most ${MAX_TIMER_MS} ms (24.8 days), the longest a timer can wait`);
/** A queue group, stream or consumer name: what the server takes as one token of its protocol and its store. */
const natsName = (what: string) =>
  z
    .string()
    .min(1)
    .regex(/^[^\s\x00-\x1f\x7f.*>/\\]+$/, `not a valid ${what} name (no spaces, dots, *, > or slashes)`);
/** A name that goes into headers and logs: one line. */
const oneLineName = z
  .string()
  .min(1)
  .regex(/^[^\x00-\x1f\x7f]+$/, 'no line breaks or other control characters');
/** What a pipeline may be named: it becomes a key of the fleet's KV bucket and part of subjects and metrics. */
export const PIPELINE_NAME = /^[A-Za-z0-9_-]+$/;

/** Server URLs nats.js can dial, comma-separated: nats:// or tls://, or host:port. */
const serverUrls = z
  .string()
  .refine((s) => s.split(',').every((url) => isServerUrl(url.trim())), { message: 'not a NATS server URL (nats://host:port, tls://host:port or host:port; websockets are not supported)' });



const nats = z
  .strictObject({
    servers: z.union([serverUrls, z.array(z.string().refine(isServerUrl, { message: 'not a NATS server URL (nats://host:port, tls://host:port or host:port, one per item; websockets are not supported)' })).min(1)]).describe('NATS server URL (or several, comma-separated), or a list of them').meta({ examples: ['nats://127.0.0.1:4222'] }),
    user: z.string().optional().describe('user name for user/password authentication'),
    pass: z.string().optional().describe('password for user/password authentication'),
    token: z.string().optional().describe('authentication token'),
    creds: z.string().optional().describe('path of a .creds file (JWT and NKey seed), relative to the config file'),
    tls: z
      .strictObject({
        ca: z.string().optional().describe('CA certificate file, relative to the config file'),
        cert: z.string().optional().describe('client certificate file, relative to the config file'),
        key: z.string().optional().describe('client key file, relative to the config file'),
        handshakeFirst: z.boolean().optional().describe('start with the TLS handshake instead of the INFO exchange'),
      })
      .optional()
      .describe('TLS settings'),
    name: z.string().optional().describe('connection name shown by the server (default: wasp:<pipeline name>:<host>:<pid>, so each process is told apart)'),
    publishAckTimeoutMs: ms(1)
      .default(5000)
      .describe(
        'JetStream input: how long a JetStream publish (an output, side output or dead letter) waits for the stream\'s ack; past it the publish counts as a transient failure and is retried',
      ),
    publishRetryMs: ms(0)
      .default(30_000)
      .describe(
        'JetStream input: how long a publish that fails for a reason that passes on its own (no ack in time, the server away, a stream electing its leader) is retried in place, holding its input and telling the server it is still being worked on, before the input is nak\'ed and redelivered; a failover then costs no input a delivery. 0: nak at once',
      ),
  })
  .describe('NATS connection; without it the pipeline runs on the embedded in-process bus');

export const pluginSchema = z
  .strictObject({
    path: z.string().min(1).describe('the .wasm file, relative to the config file'),
    sha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits')
      .optional()
      .describe('pin: the module is refused when its SHA-256 differs'),
    timeoutMs: ms(0)
      .default(DEFAULT_TIMEOUT_MS)
      .describe('deadline of every call and instantiation in ms, in both pool modes: a call running longer fails with PluginTimeoutError, its instance is replaced and the message dead-lettered; 0 turns it off'),
    memoryLimitPages: z
      .number()
      .int()
      .min(1)
      .max(MAX_PAGES)
      .default(DEFAULT_MEMORY_LIMIT_PAGES)
      .describe('cap on linear memory in 64 KiB pages (1,024 = 64 MiB; up to 65,536 = 4 GiB); memory.grow past it fails inside the plugin'),
    maxOutputBytes: positiveInt.default(DEFAULT_MAX_OUTPUT_BYTES).describe('largest single output or side output accepted from the plugin (16 MiB)'),
    maxCallBytes: positiveInt.optional().describe('most bytes one call may hand the host in outputs, side outputs and log lines together (default 4 x maxOutputBytes, at least 1 MiB); past it the call fails with CallLimitError'),
    maxEmitsPerCall: positiveInt.default(DEFAULT_MAX_EMITS_PER_CALL).describe('most side outputs one call may emit; past it the call fails with CallLimitError'),
    abi: z
      .enum(ABI_NAMES as [AbiName, ...AbiName[]])
      .optional()
      .describe(
        'the ABI the plugin was built for (wasp/1, wasp-go, extism); detected from the module when left out. A wasp-go stage function takes the message as a length-prefixed bytes block and returns one (0: no output); an Extism function gets the message as its input, and its output, if it sets one, is the stage\'s output',
      ),
    config: z.record(z.string(), z.string()).optional().describe('ABI extism: what the plugin\'s config_get answers'),
    wasi: z
      .strictObject({
        env: z.record(z.string(), z.string()).optional().describe('environment variables the plugin sees'),
        args: z.array(z.string()).optional().describe('command-line arguments the plugin sees'),
        files: z
          .record(z.string(), z.string())
          .optional()
          .describe('files in the plugin\'s in-memory filesystem: absolute sandbox path -> host file relative to the config file'),
      })
      .optional()
      .describe('the plugin\'s WASI world; nothing of the host is reachable beyond it'),
  })
  .describe('a Wasm module, compiled once, instantiated per pool slot');

const input = z
  .strictObject({
    subject: pattern.optional().describe('core subject to subscribe to (wildcards allowed); with `stream`, the subject the stream captures when Wasp creates it'),
    queue: z
      .string()
      .regex(/^[^\s\x00-\x1f\x7f]+$/, 'not a valid queue group name (no spaces or control characters)')
      .optional()
      .describe('queue group: processes sharing it split the subject\'s messages'),
    maxPending: positiveInt
      .default(DEFAULT_MAX_PENDING)
      .describe('subject input: most messages received and not yet settled; past it (a slow consumer) messages are dropped and counted, as core NATS would. JetStream input loses none'),
    maxPendingBytes: positiveInt.default(DEFAULT_MAX_PENDING_BYTES).describe('subject input: most bytes of messages received and not yet settled (64 MiB); past it messages are dropped and counted'),
    stream: natsName('stream').optional().describe('JetStream stream to consume (at least once); created on `subject` if absent'),
    consumer: natsName('consumer').optional().describe('durable pull consumer name, created if absent; processes sharing it split the stream'),
    maxAckPending: positiveInt.default(256).describe('most messages in flight unacked: the backpressure bound (stream input)'),
    ackWaitMs: ms(1).default(30000).describe('how long the server waits for an ack before redelivering (stream input)'),
    maxDeliver: positiveInt
      .default(5)
      .describe(
        'most deliveries of a message (stream input; the consumer\'s max_deliver): a message whose publishes still fail transiently at its last delivery is dead-lettered with Wasp-Deliveries, never redelivered forever',
      ),
    stdin: z.literal(true).optional().describe('read one message per line from standard input; the run ends at end of input'),
  })
  .superRefine((v, ctx) => {
    const kinds = [v.stream !== undefined, v.stdin === true, v.subject !== undefined && v.stream === undefined].filter(Boolean).length;
    if (kinds !== 1) ctx.addIssue({ code: 'custom', message: 'needs exactly one of subject, stream (+ consumer) or stdin: true', path: [] });
    if (v.stream !== undefined && v.consumer === undefined) ctx.addIssue({ code: 'custom', message: 'a stream input needs a consumer', path: ['stream'] });
    if (v.consumer !== undefined && v.stream === undefined) ctx.addIssue({ code: 'custom', message: 'consumer goes with stream', path: ['consumer'] });
    if (v.queue !== undefined && (v.stream !== undefined || v.subject === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'queue goes with a subject input, not with stream or stdin', path: ['queue'] });
    }
  })
  .describe('where messages come from: exactly one of subject, stream + consumer, or stdin');

export const stageSchema = z
  .strictObject({
    name: oneLineName.describe('the stage\'s name, unique in the pipeline'),
    plugin: oneLineName.describe('a key of `plugins`'),
    function: oneLineName.describe('exported function with Wasm type (i32, i32) -> i32: gives 0, 1 or n outputs through wasp.output'),
    pool: z
      .union([
        positiveInt.max(MAX_INLINE_POOL_SIZE, `at most ${MAX_INLINE_POOL_SIZE} inline instances`),
        z
          .strictObject({
            size: positiveInt.describe(`instances: at most ${MAX_INLINE_POOL_SIZE} inline, ${MAX_WORKER_POOL_SIZE} workers`),
            mode: z.enum(['inline', 'worker']).default('inline').describe('where instances run: inline, in the pipeline\'s thread; worker, one instance per worker thread, for CPU-heavy stages'),
          })
          .superRefine((v, ctx) => {
            const max = v.mode === 'worker' ? MAX_WORKER_POOL_SIZE : MAX_INLINE_POOL_SIZE;
            if (v.size > max) ctx.addIssue({ code: 'custom', message: `at most ${max} ${v.mode === 'worker' ? 'workers' : 'inline instances'}`, path: ['size'] });
          }),
      ], { error: 'a number of instances, or { size, mode: inline | worker }' })
      .default(1)
      .describe('instances of this stage: a number, or { size, mode }'),
    emits: z.array(pattern).default([]).describe('subject patterns this stage may emit side outputs to; anything else is refused'),
    ordered: z.boolean().default(true).describe('output order = input order (worker pools may otherwise emit as calls finish)'),
    timeoutMs: ms(0)
      .optional()
      .describe('deadline of this stage\'s calls in ms, in both pool modes (default: the plugin\'s timeoutMs): a call running longer is stopped, its instance replaced and the message dead-lettered; 0 turns it off'),
  })
  .describe('one step: a plugin function as an RxJS operator');

const output = z
  .strictObject({
    subject: subject.optional().describe('subject to publish outputs to'),
    stdout: z.literal(true).optional().describe('write one message per line to standard output'),
  })
  .superRefine((v, ctx) => {
    if ((v.subject !== undefined) === (v.stdout === true)) ctx.addIssue({ code: 'custom', message: 'needs exactly one of subject or stdout: true', path: [] });
  })
  .describe('where outputs go: exactly one of subject or stdout');

const data = z
  .union([
    z.string(),
    z.strictObject({ base64: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'not base64 (A-Z, a-z, 0-9, + and /, padded with =)').describe('the bytes, base64-encoded') }),
  ])
  .describe('the message\'s data: text (sent as UTF-8), or { base64: ... } for binary');
const headers = z.record(z.string().min(1), z.string());

export const testCaseSchema = z
  .strictObject({
    name: z.string().min(1).describe('what the case shows; unique in the file'),
    input: z
      .array(
        z.strictObject({
          data,
          subject: subject.optional().describe('the subject it arrives on (default: the input\'s subject, when it is one subject)'),
          headers: headers.optional().describe('its headers'),
        }),
      )
      .min(1)
      .describe('messages sent to the pipeline, in order'),
    outputs: z
      .array(z.strictObject({ data, headers: headers.optional().describe('headers that must be present, with these values (others may be too)') }))
      .default([])
      .describe('the outputs expected, in order; left out: none'),
    sideOutputs: z
      .array(z.strictObject({ subject: subject.describe('the subject it was emitted to'), data, headers: headers.optional().describe('headers that must be present, with these values') }))
      .default([])
      .describe('the side outputs expected, in the order emitted; left out: none'),
    deadLetters: z
      .array(
        z.strictObject({
          data: data.describe('the failed input\'s data'),
          errorType: z.string().min(1).optional().describe('the Wasp-Error-Type header: the class of the error, e.g. PluginCallError'),
          headers: headers.optional().describe('other headers that must be present, with these values'),
        }),
      )
      .default([])
      .describe('the dead letters expected, in order; left out: none'),
  })
  .describe('one test case: messages in, and everything expected out');

export const testsSchema = z
  .array(testCaseSchema)
  .superRefine((cases, ctx) => {
    const seen = new Set<string>();
    cases.forEach((c, i) => {
      if (seen.has(c.name)) ctx.addIssue({ code: 'custom', message: `another case is already named ${c.name}`, path: [i, 'name'] });
      seen.add(c.name);
    });
  })
  .describe('test cases `wasp test` runs in process, without NATS, whatever `nats:` and `input` say: each case\'s messages are fed to the stages as a core subject input would feed them, and everything published is recorded (they may also be in NAME.test.yaml beside the file)');

/** NAME.test.yaml: test cases kept beside the pipeline file NAME.yaml. */
export const testFileSchema = z.strictObject({ tests: testsSchema }).describe('test cases for the pipeline file beside this one');

export type TestCase = z.output<typeof testCaseSchema>;
/** A message's data as written in a test case. */
export type TestData = z.output<typeof data>;

export const pipelineFileSchema = z
  .strictObject({
    name: z.string().regex(PIPELINE_NAME, 'letters, digits, - and _ only').describe('the pipeline\'s name'),
    nats: nats.optional(),
    plugins: z.record(z.string(), pluginSchema).refine((p) => Object.keys(p).length > 0, 'declare at least one plugin').describe('plugins by name'),
    input,
    stages: z.array(stageSchema).min(1).describe('the chain of stages, in order'),
    output,
    deadLetter: z
      .strictObject({
        subject: subject.optional().describe('subject failed messages are published to, with headers naming what failed; with a stream input a stream must capture it (or set core)'),
        core: z
          .boolean()
          .default(false)
          .describe('stream input: publish dead letters with core NATS, at most once, even where no stream captures the subject (a dead letter nobody receives is lost)'),
        discard: z
          .literal(true)
          .optional()
          .describe('no dead letters: a failed message is logged, counted and dropped (a stream input terminates it); the explicit opt-in a stream input needs to run without a dead-letter subject'),
      })
      .superRefine((v, ctx) => {
        if ((v.subject !== undefined) === (v.discard === true)) ctx.addIssue({ code: 'custom', message: 'needs exactly one of subject or discard: true', path: [] });
        if (v.core && v.subject === undefined) ctx.addIssue({ code: 'custom', message: 'core goes with subject', path: ['core'] });
      })
      .optional()
      .describe('where failed messages go; without it they are logged and counted (a stream input needs it: a subject a stream captures, core: true, or discard: true)'),
    tests: testsSchema.optional(),
  })
  .describe('A Wasp pipeline: Wasm plugin stages between an input and an output');

/** Why a stream input without deadLetter is refused, and how to fix it (checked by the loader and the pipeline). */
export const MISSING_DEAD_LETTER =
  'a JetStream input needs deadLetter: without it a message that fails is terminated and lost. Set deadLetter: { subject: <a subject a stream captures> }, ' +
  'or deadLetter: { discard: true } to terminate failed messages knowingly';

/** The file as written (after defaults). */
export type PipelineFile = z.output<typeof pipelineFileSchema>;

// The config as the pipeline and the transports consume it, derived from the schema's output: each
// input and output tagged with its kind, a pool always { size, mode }, paths absolute (normalize in
// load.ts). A key added to the schema appears here; none is written twice.
type FileInput = z.output<typeof input>;
type FileStage = z.output<typeof stageSchema>;
type FileNats = z.output<typeof nats>;
type FileDeadLetter = NonNullable<PipelineFile['deadLetter']>;
/** The keys of T a kind of input or output must have, made required. */
type Given<T, K extends keyof T> = { [P in K]-?: NonNullable<T[P]> };

export type SubjectInputConfig = { kind: 'subject' } & Given<FileInput, 'subject'> & Pick<FileInput, 'queue' | 'maxPending' | 'maxPendingBytes'>;
export type StreamInputConfig = { kind: 'stream' } & Given<FileInput, 'stream' | 'consumer'> & Pick<FileInput, 'subject' | 'maxAckPending' | 'ackWaitMs' | 'maxDeliver'>;
export type InputConfig = SubjectInputConfig | StreamInputConfig | { kind: 'stdin' };
export type OutputConfig = ({ kind: 'subject' } & Given<z.output<typeof output>, 'subject'>) | { kind: 'stdout' };
export type PluginConfig = PipelineFile['plugins'][string];
export type StageConfig = Omit<FileStage, 'pool'> & { pool: Exclude<FileStage['pool'], number> };
/** the connection: servers always a list */
export type NatsConfig = Omit<FileNats, 'servers'> & { servers: string[] };
/** subject, or discard (no subject); core: dead letters with core NATS even with a stream input */
export type DeadLetterConfig = Omit<FileDeadLetter, 'discard'> & { discard: boolean };

/** The config as the pipeline consumes it: shapes normalized, paths absolute. */
export interface PipelineConfig {
  name: PipelineFile['name'];
  /** the config file's absolute path */
  file: string;
  nats?: NatsConfig;
  plugins: Record<string, PluginConfig>;
  input: InputConfig;
  stages: StageConfig[];
  output: OutputConfig;
  deadLetter?: DeadLetterConfig;
}
