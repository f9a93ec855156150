import { describe, expect, it } from 'vitest';
import { ConfigError, loadPipelineConfig, parsePipelineConfig, type ConfigProblem } from '../../../src/pipeline/config/load.js';
import { kits, watExample } from '../../helpers/plugins.js';
import { textPlugin, writeConfig } from '../../helpers/pipelines.js';

async function problems(text: string, env: Record<string, string> = {}): Promise<Omit<ConfigProblem, 'file'>[]> {
  try {
    await parsePipelineConfig(text, 'p.yaml', { env });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems.map(({ file: _, ...p }) => p);
  }
  throw new Error('expected problems');
}

const valid = `name: t
plugins:
  text: { path: ${textPlugin} }
input: { subject: in.> }
stages:
  - { name: upper, plugin: text, function: upper }
output: { subject: out }
`;

describe('pipeline config', () => {
  it('normalizes a minimal file: defaults, shapes, absolute paths', async () => {
    const file = await writeConfig(valid.replace(textPlugin, './text.wasm').replace('name: t', 'name: t'), 'p.yaml');
    const config = await loadPipelineConfig(file, { checkPlugins: false });
    expect(config.plugins.text!.path).toBe(file.replace('p.yaml', 'text.wasm'));
    expect(config.input).toEqual({ kind: 'subject', subject: 'in.>', queue: undefined, maxPending: 65536, maxPendingBytes: 64 * 1024 * 1024 });
    expect(config.stages[0]).toEqual({ name: 'upper', plugin: 'text', function: 'upper', pool: { size: 1, mode: 'inline' }, emits: [], ordered: true });
    expect(config.output).toEqual({ kind: 'subject', subject: 'out' });
  });

  it('normalizes stream input, stdout output, pools and NATS servers, with ${ENV}', async () => {
    const config = await parsePipelineConfig(
      `name: t
nats: { servers: "\${NATS_URL}, nats://b:4222", user: "\${USER_NAME:-wasp}", token: "a$$b" }
plugins: { text: { path: ${textPlugin} } }
input: { stream: S, consumer: c }
stages: [{ name: a, plugin: text, function: upper, pool: { size: 3 } }]
output: { stdout: true }
deadLetter: { discard: true }
`,
      'p.yaml',
      { env: { NATS_URL: 'nats://a:4222' } },
    );
    expect(config.nats).toMatchObject({ servers: ['nats://a:4222', 'nats://b:4222'], user: 'wasp', token: 'a$b' });
    expect(config.input).toEqual({ kind: 'stream', stream: 'S', consumer: 'c', subject: undefined, maxAckPending: 256, ackWaitMs: 30000, maxDeliver: 5 });
    expect(config.stages[0]!.pool).toEqual({ size: 3, mode: 'inline' });
    expect(config.output).toEqual({ kind: 'stdout' });
  });

  it('reads JSON through the same parser', async () => {
    const json = JSON.stringify({ name: 'j', plugins: { text: { path: textPlugin } }, input: { stdin: true }, stages: [{ name: 'u', plugin: 'text', function: 'upper' }], output: { stdout: true } });
    expect((await parsePipelineConfig(json, 'p.json')).input).toEqual({ kind: 'stdin' });
  });

  it('points at unknown keys, wrong types and missing keys, all at once', async () => {
    expect(
      await problems(`name: t
plugins:
  text: { path: ${textPlugin}, colour: red }
input: { subject: in }
stages:
  - name: upper
    plugin: text
    pool: many
output: { subject: out }
extra: 1
`),
    ).toEqual([
      { line: 3, column: '  text: { path: '.length + textPlugin.length + ', '.length + 1, path: 'plugins.text.colour', message: 'unknown key' },
      { line: 6, column: 5, path: 'stages[0].function', message: expect.stringMatching(/expected string/) },
      { line: 8, column: 11, path: 'stages[0].pool', message: 'a number of instances, or { size, mode: inline | worker }' },
      { line: 10, column: 1, path: 'extra', message: 'unknown key' },
    ]);
  });

  it('requires exactly one input and one output, and well-formed subjects', async () => {
    const p = await problems(`name: t
plugins: { text: { path: ${textPlugin} } }
input:
  subject: in
  stdin: true
  queue: q
stages: [{ name: u, plugin: text, function: upper, emits: [audit.>.x] }]
output: { subject: out.*, stdout: true }
deadLetter:
  subject: dl q
`);
    expect(p.map((x) => [x.line, x.path, x.message])).toEqual([
      [4, 'input', 'needs exactly one of subject, stream (+ consumer) or stdin: true'],
      [7, 'stages[0].emits[0]', expect.stringMatching(/not a valid NATS subject pattern/)],
      [8, 'output.subject', expect.stringMatching(/not a valid NATS subject to publish to/)],
      [8, 'output', 'needs exactly one of subject or stdout: true'],
      [10, 'deadLetter.subject', expect.stringMatching(/not a valid NATS subject to publish to/)],
    ]);
    const stream = await problems(valid.replace('input: { subject: in.> }', 'input: { stream: S }'));
    // the schema's problem, and the one found across keys in the same run
    expect(stream.map((x) => x.message)).toEqual([
      'a stream input needs a consumer',
      'a stream input needs a NATS connection (nats:)',
      expect.stringMatching(/^a JetStream input needs deadLetter/),
    ]);
    const noNats = await problems(valid.replace('input: { subject: in.> }', 'input: { stream: S, consumer: c }').concat('deadLetter: { discard: true }\n'));
    expect(noNats.map((x) => [x.path, x.message])).toEqual([['input.stream', 'a stream input needs a NATS connection (nats:)']]);
    const queued = await problems(valid.replace('input: { subject: in.> }', 'input: { stdin: true, queue: q }'));
    expect(queued.map((x) => [x.path, x.message])).toEqual([['input.queue', 'queue goes with a subject input, not with stream or stdin']]);
  });

  it('refuses names, URLs and durations the server, nats.js or a timer would take badly', async () => {
    // each once passed validation: a queue with a space broke the connection of every pipeline
    // sharing it, a tls:// URL was dialled in plain text, an empty or ws:// URL was retried
    // forever, a stage name with a line break lost every dead letter, and a duration past a
    // timer's range fired at once or reached the server as a number it could not read
    const p = await problems(`name: t
nats: { servers: ["nats://127.0.0.1:4222", "", "ws://127.0.0.1:8080", "%%%", "host:4222"], publishAckTimeoutMs: 3000000000 }
plugins: { text: { path: ${textPlugin}, timeoutMs: 9007199254740991 } }
input: { stream: "A.B", consumer: "c x", ackWaitMs: 9007199254740991 }
stages: [{ name: "bad\\r\\nX-Inj: 1", plugin: text, function: upper, timeoutMs: 2147483648 }]
output: { subject: out }
deadLetter: { discard: true }
`);
    expect(p.map((x) => [x.path, x.message])).toEqual([
      ['nats.servers[1]', expect.stringMatching(/not a NATS server URL/)],
      ['nats.servers[2]', expect.stringMatching(/not a NATS server URL .*websockets are not supported/)],
      ['nats.servers[3]', expect.stringMatching(/not a NATS server URL/)],
      ['nats.publishAckTimeoutMs', expect.stringMatching(/at most 2147483647 ms/)],
      ['plugins.text.timeoutMs', expect.stringMatching(/at most 2147483647 ms/)],
      ['input.stream', expect.stringMatching(/not a valid stream name/)],
      ['input.consumer', expect.stringMatching(/not a valid consumer name/)],
      ['input.ackWaitMs', expect.stringMatching(/at most 2147483647 ms/)],
      ['stages[0].name', 'no line breaks or other control characters'],
      ['stages[0].timeoutMs', expect.stringMatching(/at most 2147483647 ms/)],
    ]);
    const queue = await problems(valid.replace('input: { subject: in.> }', 'input: { subject: in.>, queue: "a b" }'));
    expect(queue.map((x) => [x.path, x.message])).toEqual([['input.queue', expect.stringMatching(/not a valid queue group name/)]]);
    // NATS takes dots in a queue group (one protocol token); only spaces break it
    await expect(parsePipelineConfig(valid.replace('input: { subject: in.> }', 'input: { subject: in.>, queue: orders.workers }'), 'p.yaml')).resolves.toBeDefined();
    // a list holds one URL an item: the comma form is for the single string
    const listed = await problems(`${valid}nats: { servers: ["nats://a:4222,nats://b:4223"] }\n`);
    expect(listed.map((x) => x.path)).toEqual(['nats.servers[0]']);
    const tls = await parsePipelineConfig(`${valid}nats: { servers: "tls://127.0.0.1:4222, 127.0.0.1:4223" }\n`, 'p.yaml');
    expect(tls.nats?.servers).toEqual(['tls://127.0.0.1:4222', '127.0.0.1:4223']);
    // a pool that is a map says what is wrong inside it, not only "Invalid input"
    const pools = await problems(
      valid.replace('function: upper }', 'function: upper, pool: { size: 2, mode: bogus } }\n  - { name: v, plugin: text, function: upper, pool: "x" }'),
    );
    expect(pools.map((x) => [x.path, x.message])).toEqual([
      ['stages[0].pool.mode', expect.stringMatching(/expected one of "inline"\|"worker"/)],
      ['stages[1].pool', 'a number of instances, or { size, mode: inline | worker }'],
    ]);
    // a malformed plugin is one problem, not also "no plugin named text" at every stage using it
    const malformed = await problems(valid.replace(`path: ${textPlugin} }`, `path: ${textPlugin}, timeoutMs: -1 }`));
    expect(malformed.map((x) => x.path)).toEqual(['plugins.text.timeoutMs']);
    // a path that is there but no file is not "no such file"
    for (const [path, what] of [['/tmp', 'a directory'], ['/dev/null', 'not a regular file']]) {
      const notFile = await problems(valid.replace(`path: ${textPlugin}`, `path: ${path}`));
      expect(notFile.map((x) => [x.path, x.message])).toEqual([['plugins.text.path', `${path} is ${what}, not a file`]]);
    }
  });

  it('checks references, files and the plugins themselves', async () => {
    const c = kits.find((k) => k.language === 'c')!.path;
    const p = await problems(`name: t
plugins:
  text: { path: ${textPlugin} }
  wat: { path: ${watExample}, sha256: "${'0'.repeat(64)}" }
  c: { path: ${c} }
  gone: { path: /nonexistent/x.wasm }
input: { subject: in }
stages:
  - { name: a, plugin: text, function: nope }
  - { name: a, plugin: text, function: upper }
  - { name: b, plugin: ghost, function: upper }
  - { name: c, plugin: c, function: half_f32 }
output: { subject: out }
`);
    expect(p.map((x) => [x.line, x.path, x.message])).toEqual([
      [10, 'stages[1].name', 'another stage is already named a'],
      [11, 'stages[2].plugin', 'no plugin named ghost is declared under plugins'],
      [9, 'stages[0].function', 'plugin text exports no function nope'],
      [4, 'plugins.wat.sha256', expect.stringMatching(/sha256 is [0-9a-f]{64}, expected 0{64}/)],
      [5, 'plugins.c.path', 'unsatisfied import plugin.call_me: pipelines provide no host callbacks'],
      [6, 'plugins.gone.path', 'no such file: /nonexistent/x.wasm'],
    ]);
  });

  it('reports schema problems and the problems across keys and files in one run', async () => {
    const p = await problems(`name: bad name
plugins:
  text: { path: ${textPlugin} }
  gone: { path: /nonexistent/y.wasm }
input: { subject: in }
stages:
  - { name: a, plugin: text, function: nope }
  - { name: b, plugin: text, function: upper, pool: 0 }
  - { name: a, plugin: ghost, function: upper }
output: { subject: out }
`);
    expect(p.map((x) => [x.line, x.path, x.message])).toEqual([
      [1, 'name', 'letters, digits, - and _ only'],
      [8, 'stages[1].pool', expect.stringMatching(/Too small|Invalid input/)],
      [9, 'stages[2].name', 'another stage is already named a'],
      [9, 'stages[2].plugin', 'no plugin named ghost is declared under plugins'],
      [7, 'stages[0].function', 'plugin text exports no function nope'],
      [4, 'plugins.gone.path', 'no such file: /nonexistent/y.wasm'],
    ]);
  });

  it('checks function signatures and reports corrupt modules', async () => {
    const garbage = await writeConfig('not wasm', 'bad.wasm');
    const p = await problems(`name: t
plugins:
  wat: { path: ${watExample} }
  bad: { path: ${garbage} }
input: { subject: in }
stages:
  - { name: a, plugin: wat, function: sum }
  - { name: b, plugin: wat, function: half_f32 }
output: { subject: out }
`);
    expect(p.map((x) => [x.line, x.path, x.message])).toEqual([
      [8, 'stages[1].function', 'function half_f32 has type (f32) -> f32; a stage of a wasp/1 plugin needs (i32, i32) -> i32'],
      [4, 'plugins.bad.path', expect.stringMatching(/is not a valid WebAssembly module/)],
    ]);
  });

  it('reports YAML syntax errors and unset variables where they are', async () => {
    expect(await problems('name: t\nplugins: [unclosed\n')).toEqual([expect.objectContaining({ line: 3, path: '' })]);
    const unset = await problems(valid.replace('output: { subject: out }', 'output:\n  subject: ${OUT_SUBJECT}'));
    expect(unset).toEqual([{ line: 8, column: 12, path: 'output.subject', message: 'environment variable OUT_SUBJECT is not set' }]);
  });

  it('names the file in the error and refuses a missing file', async () => {
    const error = await loadPipelineConfig('/nonexistent/pipeline.yaml').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/^\/nonexistent\/pipeline.yaml: 1 problem\(s\)\n\/nonexistent\/pipeline.yaml:1:1: \(top\): cannot read the file/);
  });
});
