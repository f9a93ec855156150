// npm start: the demo pipeline in pipelines/text on the embedded bus, fed the
// sample lines; prints what comes out on each subject and a per-stage summary.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { completeLogger } from '../engine/logger.js';
import { loadPipelineFile } from '../pipeline/config/load.js';
import { DEAD_LETTER_HEADERS, Pipeline } from '../pipeline/pipeline.js';
import { EmbeddedBus, EmbeddedTransport } from '../transport/embedded.js';
import { summary, summaryContext } from './status.js';

const dir = fileURLToPath(new URL('../../../pipelines/text/', import.meta.url));
const { config, plugins } = await loadPipelineFile(`${dir}pipeline.yaml`);
const bus = new EmbeddedBus();
const show = (label: string) => (m: { subject: string; data: Uint8Array; headers?: { get(name: string): string | undefined } }) => {
  const why = m.headers?.get(DEAD_LETTER_HEADERS.error);
  console.log(`${label.padEnd(10)} ${m.subject.padEnd(11)} ${Buffer.from(m.data).toString()}${why ? `   (${why})` : ''}`);
};
bus.subscribe('text.out', show('output'));
bus.subscribe('audit.>', show('side out'));
bus.subscribe('text.dlq', show('dead'));

const pipeline = await Pipeline.create(config, { transport: new EmbeddedTransport(bus), logger: completeLogger(), plugins });
await pipeline.start();
console.log(`pipeline ${config.name}: ${config.stages.map((s) => `${s.name} (${s.function})`).join(' -> ')}\n`);
for (const line of (await readFile(`${dir}sample.txt`, 'utf8')).split('\n').filter((l) => l.length > 0)) {
  console.log(`input      text.in     ${line}`);
  bus.publish('text.in', Buffer.from(line));
}
await pipeline.drain();
console.log(`\n${summary(pipeline.stats, summaryContext(config))}`);
