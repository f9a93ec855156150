// Draws bench/results/chart.svg from the JSON results: per-call cost (log
// scale) of Wasp against a direct call and Extism's JS SDK, and per-message
// throughput as a share of the bare relay. Plain SVG, no dependencies.
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const results = fileURLToPath(new URL('../../bench/results/', import.meta.url));

interface Bar {
  label: string;
  value: number;
  text: string;
  colour: string;
}

const COLOURS = { direct: '#9aa5b1', wasp: '#e8a317', extism: '#5b8def', native: '#7cb87c', bare: '#9aa5b1' };

function panel(title: string, bars: Bar[], x0: number, y0: number, width: number, scale: (v: number) => number): string {
  const rowHeight = 22;
  const labelWidth = 250;
  const parts = [`<text x="${x0}" y="${y0}" font-weight="bold">${escape(title)}</text>`];
  bars.forEach((bar, i) => {
    const y = y0 + 14 + i * rowHeight;
    const w = Math.max(1, scale(bar.value) * (width - labelWidth - 190));
    parts.push(
      `<text x="${x0}" y="${y + 14}">${escape(bar.label)}</text>`,
      `<rect x="${x0 + labelWidth}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowHeight - 6}" fill="${bar.colour}"/>`,
      `<text x="${x0 + labelWidth + w + 6}" y="${y + 14}">${escape(bar.text)}</text>`,
    );
  });
  return parts.join('\n');
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export async function drawChart(): Promise<string> {
  const engine = JSON.parse(await readFile(`${results}engine.json`, 'utf8'));
  const pipeline = JSON.parse(await readFile(`${results}pipeline.json`, 'utf8')).rows as { transport: string; variant: string; msgPerSec: number; ofBareRelay: number }[];
  const perCall: Bar[] = [];
  for (const g of engine.groups as { name: string; rows: { name: string; nsPerOp: number }[] }[]) {
    if (!g.name.includes('Extism')) continue;
    const what = g.name.split(',')[0];
    for (const r of g.rows) {
      const colour = r.name.startsWith('Extism') ? COLOURS.extism : r.name.startsWith('direct') ? COLOURS.direct : COLOURS.wasp;
      perCall.push({ label: `${what}: ${r.name}`, value: r.nsPerOp, text: `${r.nsPerOp.toLocaleString('en')} ns`, colour });
    }
  }
  const max = Math.max(...perCall.map((b) => b.value));
  const log = (v: number): number => Math.log10(Math.max(1, v)) / Math.log10(max);
  const perMessage: Bar[] = pipeline.map((r) => ({
    label: `${r.transport}: ${r.variant}`,
    value: r.ofBareRelay,
    text: `${r.msgPerSec.toLocaleString('en')} msg/s (${Math.round(r.ofBareRelay * 100)}%)`,
    colour: r.variant === 'Wasm stage' ? COLOURS.wasp : r.variant.startsWith('native') ? COLOURS.native : COLOURS.bare,
  }));
  const width = 900;
  const top = panel('Per call, ns (log scale): Wasp vs a direct export call vs Extism JS SDK', perCall, 20, 30, width, log);
  const y1 = 30 + 14 + perCall.length * 22 + 40;
  const bottom = panel('Per message, 64 B, one stage: share of the bare relay', perMessage, 20, y1, width, (v) => Math.min(v, 1.2) / 1.2);
  const height = y1 + 14 + perMessage.length * 22 + 30;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
${top}
${bottom}
<text x="20" y="${height - 10}" fill="#666">npm run bench, ${escape(String(engine.date).slice(0, 10))}, Node ${escape(engine.node)}, ${engine.cores} cores</text>
</svg>
`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await writeFile(`${results}chart.svg`, await drawChart());
  console.log('written to bench/results/chart.svg');
}
