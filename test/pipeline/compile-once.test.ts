import { afterEach, describe, expect, it, vi } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { PluginCompileError } from '../../src/engine/errors.js';
import { completeLogger } from '../../src/engine/logger.js';
import { loadPipelineFile } from '../../src/pipeline/config/load.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { EmbeddedBus, EmbeddedTransport } from '../../src/transport/embedded.js';
import { textPlugin, writeConfig } from '../helpers/pipelines.js';
import { wat } from '../helpers/plugins.js';

const yaml = `
name: once
plugins:
  text: { path: ${textPlugin} }
input: { subject: in }
stages:
  - { name: upper, plugin: text, function: upper }
output: { subject: out }
`;

describe('a module is compiled once, by the loader that checks it', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('Pipeline.create takes the loader\'s plugins without compiling, and runs them', async () => {
    const loaded = await loadPipelineFile(await writeConfig(yaml));
    expect([...loaded.plugins.keys()]).toEqual(['text']);
    const compile = vi.spyOn(WebAssembly, 'compile');
    const bus = new EmbeddedBus();
    const outputs: string[] = [];
    bus.subscribe('out', (m) => outputs.push(Buffer.from(m.data).toString()));
    const pipeline = await Pipeline.create(loaded.config, { transport: new EmbeddedTransport(bus), logger: completeLogger(), plugins: loaded.plugins });
    expect(compile).not.toHaveBeenCalled();
    await pipeline.start();
    bus.publish('in', Buffer.from('hello'));
    await pipeline.drain();
    expect(outputs).toEqual(['HELLO']);
    expect(pipeline.engine.plugin('text')).toBe(loaded.plugins.get('text'));

    // without them it compiles, which is what the spy above would have seen
    await Pipeline.create(loaded.config, { transport: new EmbeddedTransport(), logger: completeLogger() });
    expect(compile).toHaveBeenCalledTimes(1);
  });

  it('an engine refuses a plugin compiled against host functions it does not have', async () => {
    const source = await wat(`(module (import "host" "tick" (func)) (memory (export "memory") 1) (func (export "run") call 0))`);
    const first = new Engine().addCallback('host', 'tick', () => {}, { params: [] });
    const plugin = await first.registerPlugin('ticker', source);
    await expect(new Engine().addPlugin(plugin)).rejects.toBeInstanceOf(PluginCompileError);
    // one that has its own `host.tick` is not the engine it was resolved against either
    const other = new Engine().addCallback('host', 'tick', () => {}, { params: [] });
    await expect(other.addPlugin(plugin)).rejects.toBeInstanceOf(PluginCompileError);
    await expect(new Engine().addPlugin(await new Engine().registerPlugin('plain', await wat('(module (memory (export "memory") 1))')))).resolves.toBeDefined();
  });
});
