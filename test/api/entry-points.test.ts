// The package's entry points as a user imports them (by package name, through package.json's
// exports, from the built dist/): the engine's, and the one for embedding pipelines.
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from '../helpers/plugins.js';

function runModule(source: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--input-type=module', '-e', source], { cwd: root }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('entry points', () => {
  it('wasp-streams/pipelines runs a pipeline file on the embedded bus, and its errors are WaspErrors', async () => {
    const { code, stdout, stderr } = await runModule(`
      import { EmbeddedBus, EmbeddedTransport, Pipeline, parsePipelineConfig, UnsafeDeadLetterError, PublishRejectedError, ConfigError } from 'wasp-streams/pipelines';
      import { WaspError } from 'wasp-streams';
      const config = await parsePipelineConfig(
        'name: embedded\\nplugins: { text: { path: ./pipelines/text/text.wasm } }\\ninput: { subject: in }\\nstages: [{ name: upper, plugin: text, function: upper }]\\noutput: { subject: out }\\n',
        'embedded.yaml',
      );
      const bus = new EmbeddedBus();
      const out = [];
      bus.subscribe('out', (m) => out.push(Buffer.from(m.data).toString()));
      const pipeline = await Pipeline.create(config, { transport: new EmbeddedTransport(bus), logger: console });
      await pipeline.start();
      bus.publish('in', Buffer.from('hello'));
      await pipeline.drain();
      const bad = await parsePipelineConfig('name: 1', 'bad.yaml').catch((e) => e);
      console.log(JSON.stringify({
        out,
        errors: [UnsafeDeadLetterError, PublishRejectedError, ConfigError].map((E) => E.prototype instanceof WaspError),
        bad: bad instanceof ConfigError,
      }));
    `);
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual({ out: ['HELLO'], errors: [true, true, true], bad: true });
  });

  it('exports no internals: the pipeline entry has what embedding needs, the main one the engine', async () => {
    const { code, stdout, stderr } = await runModule(`
      const main = await import('wasp-streams');
      const pipelines = await import('wasp-streams/pipelines');
      console.log(JSON.stringify({ main: Object.keys(main), pipelines: Object.keys(pipelines) }));
    `);
    expect(code, stderr).toBe(0);
    const { main, pipelines } = JSON.parse(stdout) as { main: string[]; pipelines: string[] };
    expect(main).toEqual(expect.arrayContaining(['Engine', 'Plugin', 'Instance', 'WaspError', 'PluginTimeoutError']));
    expect(pipelines).toEqual(
      expect.arrayContaining(['Pipeline', 'loadPipelineConfig', 'loadPipelineFile', 'pipelineFromValue', 'EmbeddedTransport', 'NatsTransport', 'connectNats', 'TransientPublishError']),
    );
    for (const internal of ['Flight', 'Flights', 'AckBatch', 'Outage', 'FailureLog', 'coreSource', 'pluginStage']) {
      expect([...main, ...pipelines]).not.toContain(internal);
    }
  });

  it('the fleet runs pipelines as an embedding program would: through the two entry points, nothing deeper', async () => {
    const dir = join(root, 'src/fleet');
    const reached: string[] = [];
    for (const file of await readdir(dir)) {
      const text = await readFile(join(dir, file), 'utf8');
      for (const [, from] of text.matchAll(/^import .* from '(\.\.\/[^']+)';$/gm)) reached.push(`${file}: ${from}`);
    }
    expect(reached.length).toBeGreaterThan(0);
    expect(reached.filter((r) => !/: \.\.\/(index|pipelines|version)\.js$/.test(r))).toEqual([]);
  });
});
