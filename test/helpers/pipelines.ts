import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { completeLogger, type Logger } from '../../src/engine/logger.js';
import { loadPipelineConfig } from '../../src/pipeline/config/load.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import type { NativeStageFunction } from '../../src/pipeline/stages/native-stage.js';
import { EmbeddedBus, EmbeddedTransport } from '../../src/transport/embedded.js';
import type { Message } from '../../src/transport/transport.js';
import { root } from './plugins.js';

export const textPlugin = `${root}pipelines/text/text.wasm`;

/**
 * A pipeline of the text plugin's functions from text.in to text.out: `stages` as YAML list items,
 * `extra` the top-level keys after output (TEXT_DEAD_LETTER, tests:, ...).
 */
export function textPipelineYaml(name: string, stages: string, extra = ''): string {
  return `
name: ${name}
plugins:
  text: { path: ${textPlugin} }
input: { subject: text.in }
stages:
${stages}
output: { subject: text.out }
${extra}`;
}

export const TEXT_DEAD_LETTER = 'deadLetter: { subject: text.dlq }\n';

/** Writes a pipeline config into a fresh directory and returns its path. */
export async function writeConfig(yaml: string, name = 'pipeline.yaml'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wasp-pipeline-'));
  const file = join(dir, name);
  await writeFile(file, yaml);
  return file;
}

/** A pipeline on the embedded bus, with everything published on the bus recorded by subject. */
export async function embeddedPipeline(yaml: string, logger: Partial<Logger> = {}, native?: Record<string, NativeStageFunction>) {
  const bus = new EmbeddedBus();
  const seen: Message[] = [];
  bus.subscribe('>', (m) => seen.push(m));
  const config = await loadPipelineConfig(await writeConfig(yaml));
  const pipeline = await Pipeline.create(config, { transport: new EmbeddedTransport(bus), logger: completeLogger(logger), native });
  await pipeline.start();
  const send = (subject: string, ...lines: string[]) => {
    for (const line of lines) bus.publish(subject, Buffer.from(line));
  };
  const on = (subject: string) => seen.filter((m) => m.subject === subject).map((m) => Buffer.from(m.data).toString());
  return { bus, pipeline, send, seen, on };
}
