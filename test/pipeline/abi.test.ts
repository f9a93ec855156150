// Pipelines of plugins built for another host: a wasp-go stage through stdin and stdout (`wasp
// run`), through NATS (inline and in workers), and validation against the plugin's ABI.
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completeLogger } from '../../src/engine/logger.js';
import { ConfigError, loadPipelineConfig } from '../../src/pipeline/config/load.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { connectNats } from '../../src/transport/connect.js';
import { NatsTransport } from '../../src/transport/nats.js';
import { eventually, waspBin } from '../helpers/cli.js';
import { NatsServer } from '../helpers/nats-server.js';
import { writeConfig } from '../helpers/pipelines.js';
import { root, wat } from '../helpers/plugins.js';
import { waspGoPlugin } from '../helpers/wasp-go.js';

/** A pipeline file beside a wasp-go plugin (reverse: bytes in, bytes out). */
async function goPipeline(body: string): Promise<string> {
  const file = await writeConfig(`name: go\nplugins: { go: { path: ./go.wasm } }\n${body}`);
  await writeFile(join(dirname(file), 'go.wasm'), await wat(waspGoPlugin({ callback: false }), { bulk_memory: true }));
  return file;
}

describe('pipelines of wasp-go plugins', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  beforeAll(async () => {
    server = await NatsServer.start({ jetstream: false });
    nc = await connect({ servers: server.url });
  });
  afterAll(async () => {
    await nc?.close();
    await server?.dispose();
  });

  it('wasp run: stdin through a wasp-go stage to stdout, bytes untouched', async () => {
    const file = await goPipeline('input: { stdin: true }\nstages: [{ name: rev, plugin: go, function: reverse }]\noutput: { stdout: true }\n');
    const child = spawn(process.execPath, [waspBin, 'run', file], { cwd: root });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.stdin.end(Buffer.concat([Buffer.from('abc\n'), Buffer.from('ff00fe', 'hex'), Buffer.from('\nZoë 🐝\n')]));
    expect(await code, err).toBe(0);
    expect(Buffer.concat(out)).toEqual(
      Buffer.concat([Buffer.from('cba\n'), Buffer.from('fe00ff', 'hex'), Buffer.from('\n'), Buffer.from(Buffer.from('Zoë 🐝').reverse()), Buffer.from('\n')]),
    );
  });

  for (const mode of ['inline', 'worker'] as const) {
    it(`NATS: a wasp-go stage ${mode}`, async () => {
      const file = await goPipeline(
        `nats: { servers: "${server.url}" }\ninput: { subject: go.${mode}.in }\nstages: [{ name: rev, plugin: go, function: reverse, pool: { size: 2, mode: ${mode} } }]\noutput: { subject: go.${mode}.out }\n`,
      );
      const config = await loadPipelineConfig(file);
      const logger = completeLogger();
      const transport = new NatsTransport(await connectNats(config.nats!, logger), logger);
      const pipeline = await Pipeline.create(config, { transport, logger });
      const seen: string[] = [];
      const sub = nc.subscribe(`go.${mode}.out`, { callback: (_, m) => seen.push(Buffer.from(m.data).toString()) });
      try {
        await nc.flush();
        await pipeline.start();
        for (let i = 0; i < 500; i++) nc.publish(`go.${mode}.in`, Buffer.from(`m${i}`));
        await eventually(() => seen.length, (n) => n === 500, 20_000);
        expect(new Set(seen)).toEqual(new Set(Array.from({ length: 500 }, (_, i) => [...`m${i}`].reverse().join(''))));
        await pipeline.drain();
      } finally {
        sub.unsubscribe();
        pipeline.close();
        await transport.close();
      }
    });
  }

  it('Extism plugins as stages: count_vowels with config through wasp run (stdin), echo through NATS in workers', async () => {
    const file = await writeConfig(`name: ext
plugins:
  code: { path: ${root}test/fixtures/extism/code.wasm, config: { vowels: aeiou } }
input: { stdin: true }
stages: [{ name: count, plugin: code, function: count_vowels }]
output: { stdout: true }
`);
    const child = spawn(process.execPath, [waspBin, 'run', file], { cwd: root });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.stdin.end('hello world\nAEIOU\n');
    expect(await code, err).toBe(0);
    // the config changes which letters count; the running total lives in the instance's vars
    expect(out).toBe('{"count":3,"total":3,"vowels":"aeiou"}\n{"count":0,"total":3,"vowels":"aeiou"}\n');

    const nats = await writeConfig(`name: ext-nats
nats: { servers: "${server.url}" }
plugins: { echo: { path: ${root}test/fixtures/extism/echo.wasm } }
input: { subject: ext.in }
stages: [{ name: echo, plugin: echo, function: echo, pool: { size: 2, mode: worker } }]
output: { subject: ext.out }
`);
    const config = await loadPipelineConfig(nats);
    const logger = completeLogger();
    const transport = new NatsTransport(await connectNats(config.nats!, logger), logger);
    const pipeline = await Pipeline.create(config, { transport, logger });
    const seen: string[] = [];
    const sub = nc.subscribe('ext.out', { callback: (_, m) => seen.push(Buffer.from(m.data).toString()) });
    try {
      await nc.flush();
      await pipeline.start();
      for (let i = 0; i < 300; i++) nc.publish('ext.in', Buffer.from(`e${i} 🐝`));
      await eventually(() => seen.length, (n) => n === 300, 20_000);
      expect(new Set(seen)).toEqual(new Set(Array.from({ length: 300 }, (_, i) => `e${i} 🐝`)));
      await pipeline.drain();
    } finally {
      sub.unsubscribe();
      pipeline.close();
      await transport.close();
    }
  });

  it('validation checks a stage function against its plugin\'s ABI', async () => {
    // detected as wasp-go: (i32) -> i32 is a stage
    await expect(loadPipelineConfig(await goPipeline('input: { stdin: true }\nstages: [{ name: rev, plugin: go, function: reverse }]\noutput: { stdout: true }\n'))).resolves.toBeDefined();
    // sum (i32, i32) -> i32 is not a wasp-go stage
    const sum = await loadPipelineConfig(await goPipeline('input: { stdin: true }\nstages: [{ name: s, plugin: go, function: sum }]\noutput: { stdout: true }\n')).catch((e: unknown) => e);
    expect(sum).toBeInstanceOf(ConfigError);
    expect((sum as ConfigError).problems.map((p) => p.message)).toEqual(['function sum has type (i32, i32) -> i32; a stage of a wasp-go plugin needs (i32) -> i32']);
    // told it is wasp/1, the module's Go Wasp import is refused first
    const forced = await loadPipelineConfig(
      await goPipeline('input: { stdin: true }\nstages: [{ name: rev, plugin: go, function: reverse }]\noutput: { stdout: true }\n').then(async (f) => {
        const { readFile } = await import('node:fs/promises');
        await writeFile(f, (await readFile(f, 'utf8')).replace('{ path: ./go.wasm }', '{ path: ./go.wasm, abi: wasp/1 }'));
        return f;
      }),
    ).catch((e: unknown) => e);
    expect((forced as ConfigError).problems.map((p) => p.message)).toEqual(['unsatisfied import env.raise_error: pipelines provide no host callbacks']);
  });
});
