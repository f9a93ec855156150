// Hostile plugins in pipelines, inline and in workers, and through `wasp run`:
// each attack ends in a dead letter, a typed error or a clear exit.
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { loadPipelineConfig, ConfigError } from '../../src/pipeline/config/load.js';
import { DEAD_LETTER_HEADERS, Pipeline } from '../../src/pipeline/pipeline.js';
import { EmbeddedTransport } from '../../src/transport/embedded.js';
import { completeLogger } from '../../src/engine/logger.js';
import { Headers } from '../../src/transport/headers.js';
import { wasp, waspBin } from '../helpers/cli.js';
import { amplifier, emitThenFail, emitTo, errorThenTrap, fixtureFile, freeTrapper, logger, memoryBomb, neverStarts, spinner } from '../helpers/hostile.js';
import { embeddedPipeline, writeConfig } from '../helpers/pipelines.js';
import { root } from '../helpers/plugins.js';

const pipelines: Pipeline[] = [];
afterEach(async () => {
  for (const p of pipelines.splice(0)) p.close();
});

const config = (path: string, stage: string, extra = 'deadLetter: { subject: dlq }') => `
name: hostile
plugins:
  p: { path: ${path} }
input: { subject: in }
stages:
  - { name: s, plugin: p, function: run, ${stage} }
output: { subject: out }
${extra}`;

async function run(path: string, stage: string, extra?: string, log = {}) {
  const p = await embeddedPipeline(config(path, stage, extra), log);
  pipelines.push(p.pipeline);
  return p;
}

describe.each([
  ['inline', 'pool: 1'],
  ['worker', 'pool: { size: 1, mode: worker }'],
] as const)('%s stage against hostile plugins', (mode, pool) => {
  it('dead-letters a message that loops past timeoutMs as PluginTimeoutError, and goes on', async () => {
    const p = await run(await fixtureFile(await spinner()), `${pool}, timeoutMs: 200`);
    p.send('in', 'one', 'spin', 'two');
    await p.pipeline.drain();
    expect(p.on('out')).toEqual(['one', 'two']);
    expect(p.on('dlq')).toEqual(['spin']);
    const dead = p.seen.find((m) => m.subject === 'dlq')!;
    expect(dead.headers?.get(DEAD_LETTER_HEADERS.errorType)).toBe('PluginTimeoutError');
    expect(p.pipeline.stats.stages[0]).toMatchObject({ failed: 1, replacedInstances: 1 });
  });

  it('drops the side outputs of a failed call (the dead letter is its one record)', async () => {
    const p = await run(await fixtureFile(await emitThenFail()), `${pool}, emits: [audit.>]`);
    p.send('in', 'fails', 'ok');
    await p.pipeline.drain();
    expect(p.on('audit.ok')).toEqual(['ok']); // not the failed call's, then or with the next call
    expect(p.on('out')).toEqual(['ok']);
    expect(p.on('dlq')).toEqual(['fails']);
    expect(p.pipeline.stats.stages[0]).toMatchObject({ emitted: 1, failed: 1 });
  });

  it('refuses and counts invalid emit subjects without crashing', async () => {
    const p = await run(await fixtureFile(await emitTo()), `${pool}, emits: ['>']`);
    p.send('in', 'a b', 'audit.*', 'audit..x', 'fine.subject');
    await p.pipeline.drain();
    expect(p.on('out')).toEqual(['1', '1', '1', '5']);
    expect(p.on('fine.subject')).toEqual(['fine.subject']);
    expect(p.pipeline.stats.stages[0]).toMatchObject({ emitted: 1, refusedEmits: 3, failed: 0 });
  });

  it('puts the message set with wasp.error before a trap into the dead letter', async () => {
    const p = await run(await fixtureFile(await errorThenTrap()), pool);
    p.send('in', 'x');
    await p.pipeline.drain();
    const dead = p.seen.find((m) => m.subject === 'dlq')!;
    expect(dead.headers?.get(DEAD_LETTER_HEADERS.error)).toMatch(/index out of range in parse/);
    expect(dead.headers?.get(DEAD_LETTER_HEADERS.errorType)).toBe('PluginTrapError');
  });

  it('replaces an instance whose wasp_free trapped', async () => {
    const p = await run(await fixtureFile(await freeTrapper()), pool);
    p.send('in', 'a', 'b', 'c');
    await p.pipeline.drain();
    expect(p.on('out')).toEqual(['a', 'b', 'c']);
    expect(p.pipeline.stats.stages[0]).toMatchObject({ failed: 0, replacedInstances: 3 });
  });

  it('sends plugin logs to the pipeline logger with plugin and stage', async () => {
    const logged: [string, Record<string, unknown> | undefined][] = [];
    const p = await run(await fixtureFile(await logger()), pool, '', { info: (m: string, f?: Record<string, unknown>) => logged.push([m, f]) });
    p.send('in', 'said hello');
    await p.pipeline.drain();
    expect(logged).toContainEqual(['said hello', expect.objectContaining({ plugin: 'p', stage: 's' })]);
  });

  it('passes headers larger than the worker rings', async () => {
    const p = await run(await fixtureFile(await logger()), pool);
    p.bus.publish('in', Buffer.from('big'), new Headers().set('X-Big', 'h'.repeat(700 * 1024)));
    await p.pipeline.drain();
    expect(p.on('out')).toEqual(['big']);
    expect(p.seen.find((m) => m.subject === 'out')?.headers?.get('X-Big')?.length).toBe(700 * 1024);
  });

  it('fails start-up when the module can never instantiate', async () => {
    const file = await writeConfig(config(await fixtureFile(await neverStarts()), pool));
    const pipeline = await Pipeline.create(await loadPipelineConfig(file), { transport: new EmbeddedTransport(), logger: completeLogger() });
    pipelines.push(pipeline);
    await expect(pipeline.start()).rejects.toMatchObject({ name: 'PluginTrapError', plugin: 'p' });
  });
});

describe('pipeline config for limits and deadlines', () => {
  it('gives every plugin a deadline and a memory cap by default, and takes timeoutMs on inline stages', async () => {
    const file = await writeConfig(config('./p.wasm', 'pool: 2, timeoutMs: 500'));
    const loaded = await loadPipelineConfig(file, { checkPlugins: false });
    expect(loaded.plugins.p).toMatchObject({ timeoutMs: 10_000, memoryLimitPages: 1024, maxEmitsPerCall: 1024 });
    expect(loaded.stages[0]).toMatchObject({ timeoutMs: 500, pool: { size: 2, mode: 'inline' } });
  });

  it('refuses pools that would exhaust the host', async () => {
    for (const pool of ['pool: 100000', 'pool: { size: 300, mode: worker }']) {
      const file = await writeConfig(config('./p.wasm', pool));
      const error = await loadPipelineConfig(file, { checkPlugins: false }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems[0]!.message).toMatch(/at most/);
    }
  });
});

function runWithStdin(args: string[]) {
  const child = spawn(process.execPath, [waspBin, ...args], { cwd: root });
  let stderr = '';
  let stdout = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, stderr: () => stderr, stdout: () => stdout };
}

describe('wasp run against hostile plugins', () => {
  const children: ReturnType<typeof runWithStdin>['child'][] = [];
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  });

  it('drains on SIGTERM while a plugin loops: the message fails at the deadline, the run exits 0', async () => {
    const file = await writeConfig(`
name: spin
plugins: { p: { path: ${await fixtureFile(await spinner())} } }
input: { stdin: true }
stages: [{ name: s, plugin: p, function: run, timeoutMs: 1000 }]
output: { stdout: true }
`);
    const p = runWithStdin(['run', file]);
    children.push(p.child);
    p.child.stdin.write('before\n');
    const deadline = Date.now() + 20_000;
    while (!p.stdout().includes('before') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    p.child.stdin.write('spin forever\n');
    await new Promise((r) => setTimeout(r, 200)); // the loop has begun: the process can only take the signal after the deadline
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(p.stdout()).toBe('before\n');
    expect(p.stderr()).toMatch(/PluginTimeoutError|ran past its 1000 ms deadline/);
    expect(p.stderr()).toMatch(/SIGTERM: draining/);
    expect(p.stderr()).toMatch(/summary: 2 in, 1 out, 1 failed \(logged: no deadLetter\)/);
  });

  it.each([
    ['emits to invalid subjects from a worker', emitTo, 'pool: { size: 1, mode: worker }, emits: [">"]', 'a b\naudit.*\nok.x\n', '1\n1\n5\n', /summary: 3 in, 3 out, 0 failed \(logged: no deadLetter\)/],
    ['grows memory with no cap set', memoryBomb, 'pool: 1', 'go\n', null, /summary: 1 in, 1 out, 0 failed \(logged: no deadLetter\)/],
    ['hands the host 5 GiB in one call', amplifier, 'pool: 1', 'go\n', '', /summary: 1 in, 0 out, 1 failed \(logged: no deadLetter\)/],
    ['loops in a worker, at the plugin\'s timeoutMs', spinner, 'pool: { size: 1, mode: worker }', 'a\nspin\nb\n', 'a\nb\n', /summary: 3 in, 2 out, 1 failed \(logged: no deadLetter\)/],
  ] as const)('survives a plugin that %s', async (_, fixture, pool, input, expected, summary) => {
    const file = await writeConfig(`
name: hostile
plugins: { p: { path: ${await fixtureFile(await fixture())}, timeoutMs: 300 } }
input: { stdin: true }
stages: [{ name: s, plugin: p, function: run, ${pool} }]
output: { stdout: true }
`);
    const p = runWithStdin(['run', file]);
    children.push(p.child);
    p.child.stdin.end(input);
    expect(await p.exited).toBe(0);
    if (expected === null) expect(p.stdout().length).toBe(5); // 4 bytes of page count and the newline: the default cap held
    else expect(p.stdout()).toBe(expected);
    expect(p.stderr()).toMatch(summary);
  });

  it('exits 1 with the reason when a module can never instantiate', async () => {
    const file = await writeConfig(`
name: never
plugins: { p: { path: ${await fixtureFile(await neverStarts())} } }
input: { stdin: true }
stages: [{ name: s, plugin: p, function: run }]
output: { stdout: true }
`);
    const result = await wasp(['run', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/plugin p: instantiation failed/);
  });
});
