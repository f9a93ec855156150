// Draws bench/results/chart.svg from the JSON results: per-call cost (log
// scale) of Wasp against a direct call and Extism's JS SDK, per-message
// throughput as a share of the bare relay (64 B, one stage), and the pipeline
// matrix: cost per message against the number of stages for each transport and
// message size, and every cell's share of its bare relay; then latency percentiles at a share of
// each system's maximum rate, and what metrics cost. Plain SVG, no dependencies.
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const results = fileURLToPath(new URL('../../bench/results/', import.meta.url));

interface Bar {
  label: string;
  value: number;
  text: string;
  colour: string;
}

interface HeadlineRow {
  transport: string;
  variant: string;
  msgPerSec: number;
  ofBareRelay: number | null;
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

interface MatrixRow {
  transport: string;
  bytes: number;
  stages: number;
  variant: 'bare relay' | 'Wasm' | 'native JS';
  usPerMessage: number;
  ofBareRelay: number | null;
}

const STAGE_COUNTS = [1, 2, 4, 8];
const sizeLabel = (bytes: number): string => (bytes >= 1024 ? `${bytes / 1024} KiB` : `${bytes} B`);
const short = (x: number): string => x.toLocaleString('en', { maximumSignificantDigits: 3 });
const duration = (us: number): string => (us >= 1e6 ? `${short(us / 1e6)} s` : us >= 1e3 ? `${short(us / 1e3)} ms` : `${short(us)} us`);

/**
 * One transport at one size: us per message against the number of stages,
 * Wasm and native JS, over the bare relay as a dashed floor. Linear in the
 * stage count, so a constant cost per stage shows as a straight line.
 */
function stagePlot(rows: MatrixRow[], title: string, x0: number, y0: number, w: number, h: number): string {
  const relay = rows.find((r) => r.variant === 'bare relay');
  const yMax = Math.max(...rows.map((r) => r.usPerMessage)) * 1.1;
  const [left, top, plotW, plotH] = [x0 + 44, y0 + 10, w - 56, h - 34];
  const x = (stages: number) => left + (stages / 8) * plotW;
  const y = (us: number) => top + plotH - (us / yMax) * plotH;
  const parts = [
    `<text x="${x0}" y="${y0}" font-weight="bold">${escape(title)}</text>`,
    `<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#ccc"/>`,
    ...[0, 0.5, 1].map((f) => `<text x="${left - 4}" y="${y(f * yMax) + 4}" text-anchor="end" fill="#666">${short(f * yMax)}</text>`),
    ...STAGE_COUNTS.map((s) => `<text x="${x(s)}" y="${top + plotH + 14}" text-anchor="middle" fill="#666">${s}</text>`),
  ];
  if (relay) parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${y(relay.usPerMessage)}" y2="${y(relay.usPerMessage)}" stroke="${COLOURS.bare}" stroke-dasharray="4 3"/>`);
  for (const [variant, colour] of [['Wasm', COLOURS.wasp], ['native JS', COLOURS.native]] as const) {
    const points = rows.filter((r) => r.variant === variant).map((r) => [x(r.stages), y(r.usPerMessage)] as const);
    parts.push(`<polyline points="${points.map((p) => p.join(',')).join(' ')}" fill="none" stroke="${colour}" stroke-width="2"/>`);
    parts.push(...points.map(([px, py]) => `<circle cx="${px}" cy="${py}" r="3" fill="${colour}"/>`));
  }
  return parts.join('\n');
}

/** Each cell's throughput as a share of its bare relay, coloured from red (none) to green (all of it). */
function ratioGrid(matrix: MatrixRow[], x0: number, y0: number): { svg: string; height: number } {
  const groups = [...new Set(matrix.map((r) => `${r.transport}|${r.bytes}`))];
  const [labelW, cellW, rowH] = [150, 62, 20];
  const parts = [`<text x="${x0}" y="${y0}" font-weight="bold">Share of the bare relay's throughput, same transport and size</text>`];
  const headers = [...STAGE_COUNTS.map((s) => `Wasm x${s}`), ...STAGE_COUNTS.map((s) => `JS x${s}`)];
  headers.forEach((h, i) => parts.push(`<text x="${x0 + labelW + i * cellW + cellW / 2}" y="${y0 + 18}" text-anchor="middle" fill="#666">${h}</text>`));
  groups.forEach((g, row) => {
    const [transport, bytes] = g.split('|') as [string, string];
    const ry = y0 + 24 + row * rowH;
    parts.push(`<text x="${x0}" y="${ry + 14}">${escape(`${transport}, ${sizeLabel(Number(bytes))}`)}</text>`);
    const cells = (['Wasm', 'native JS'] as const).flatMap((v) => STAGE_COUNTS.map((s) => matrix.find((r) => `${r.transport}|${r.bytes}` === g && r.variant === v && r.stages === s)));
    cells.forEach((r, i) => {
      const ratio = r?.ofBareRelay ?? null;
      const fill = ratio === null ? '#eee' : `hsl(${Math.round(120 * Math.min(1, ratio))}, 60%, 80%)`;
      const cx = x0 + labelW + i * cellW;
      parts.push(
        `<rect x="${cx + 1}" y="${ry + 1}" width="${cellW - 2}" height="${rowH - 2}" fill="${fill}"/>`,
        `<text x="${cx + cellW / 2}" y="${ry + 14}" text-anchor="middle">${ratio === null ? '-' : ratio < 0.1 ? ratio.toPrecision(2) : ratio.toFixed(2)}</text>`,
      );
    });
  });
  return { svg: parts.join('\n'), height: 24 + groups.length * rowH };
}

/** The matrix: a grid of stage plots, a transport a row and a size a column, then the ratio grid. */
function matrixPanels(matrix: MatrixRow[], x0: number, y0: number, width: number): { svg: string; height: number } {
  if (matrix.length === 0) return { svg: '', height: 0 };
  const transports = [...new Set(matrix.map((r) => r.transport))];
  const sizes = [...new Set(matrix.map((r) => r.bytes))].sort((a, b) => a - b);
  const [cellW, cellH] = [width / sizes.length, 170];
  const legend = `<text x="${x0}" y="${y0}" font-weight="bold">Per message, us, against stages (dashed: bare relay; <tspan fill="${COLOURS.wasp}">Wasm stages</tspan>, <tspan fill="${COLOURS.native}">native JS stages</tspan>; each plot its own scale)</text>`;
  const parts = [legend];
  transports.forEach((t, row) =>
    sizes.forEach((bytes, col) => {
      const rows = matrix.filter((r) => r.transport === t && r.bytes === bytes);
      if (rows.length > 0) parts.push(stagePlot(rows, `${t}, ${sizeLabel(bytes)}`, x0 + col * cellW, y0 + 28 + row * cellH, cellW - 16, cellH - 10));
    }),
  );
  const gridY = y0 + 28 + transports.length * cellH + 20;
  const grid = ratioGrid(matrix, x0, gridY);
  parts.push(grid.svg);
  return { svg: parts.join('\n'), height: gridY - y0 + grid.height };
}

interface LatencyRun {
  load: number;
  targetMsgPerSec: number;
  lost: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
}

interface LatencyResults {
  date: string;
  loadAverage?: { before: number; after: number };
  systems: { transport: string; variant: string; maxMsgPerSec: number; runs: LatencyRun[] }[];
  metricsCost: { ratio: number; cpuRatio: number; rounds: { ratio: number }[] } | null;
}

/**
 * Latency: a row per system and load, p99.9, p99 and p50 drawn over one another (lighter to
 * darker) on a log scale, with 1 ms marked; then what metrics cost, as a line of text.
 */
function latencyPanels(latency: LatencyResults | undefined, x0: number, y0: number, width: number): { svg: string; height: number } {
  if (latency === undefined || latency.systems.length === 0) return { svg: '', height: 0 };
  const rows = latency.systems.flatMap((s) => s.runs.map((r) => ({ s, r })));
  const [labelW, rowH, textW] = [300, 22, 230];
  const [left, plotW] = [x0 + labelW, width - labelW - textW];
  const floor = 10;
  const ceiling = 10 ** Math.ceil(Math.log10(Math.max(1000, ...rows.map(({ r }) => r.p999Us || 0))));
  const x = (us: number): number => left + (Math.log10(Math.min(ceiling, Math.max(floor, us)) / floor) / Math.log10(ceiling / floor)) * plotW;
  const top = y0 + 14;
  const bottom = top + rows.length * rowH;
  const parts = [
    `<text x="${x0}" y="${y0}" font-weight="bold">Latency, publish to output (log scale): <tspan fill-opacity="0.35">p99.9</tspan>, <tspan fill-opacity="0.65">p99</tspan>, p50, at a share of each system's maximum rate</text>`,
    `<text x="${left + plotW + 30}" y="${y0}" fill="#666">p50 / p99 / p99.9</text>`,
  ];
  for (let us = floor; us <= ceiling; us *= 10) {
    parts.push(`<line x1="${x(us)}" x2="${x(us)}" y1="${top}" y2="${bottom}" stroke="#eee"/>`, `<text x="${x(us)}" y="${bottom + 14}" text-anchor="middle" fill="#666">${duration(us)}</text>`);
  }
  parts.push(`<line x1="${x(1000)}" x2="${x(1000)}" y1="${top - 4}" y2="${bottom}" stroke="#c00" stroke-dasharray="4 3"/>`, `<text x="${x(1000) + 4}" y="${top + 2}" fill="#c00">1 ms</text>`);
  rows.forEach(({ s, r }, i) => {
    const y = top + i * rowH;
    const colour = s.variant === 'Wasm stage' ? COLOURS.wasp : s.variant === 'bare relay' ? COLOURS.bare : '#c8ced6';
    const label = `${s.transport}, ${s.variant}, ${Math.round(r.load * 100)}% (${r.targetMsgPerSec.toLocaleString('en')}/s)`;
    parts.push(`<text x="${x0}" y="${y + 14}">${escape(label)}</text>`);
    for (const [us, opacity] of [[r.p999Us, 0.35], [r.p99Us, 0.65], [r.p50Us, 1]] as const) {
      parts.push(`<rect x="${left}" y="${y + 3}" width="${Math.max(1, x(us) - left).toFixed(1)}" height="${rowH - 6}" fill="${colour}" fill-opacity="${opacity}"/>`);
    }
    const lost = r.lost > 0 ? `, ${r.lost.toLocaleString('en')} lost` : '';
    parts.push(`<text x="${left + plotW + 30}" y="${y + 14}">${escape(`${duration(r.p50Us)} / ${duration(r.p99Us)} / ${duration(r.p999Us)}${lost}`)}</text>`);
  });
  let height = bottom + 14 - y0;
  const cost = latency.metricsCost;
  if (cost) {
    const text = `Metrics on (--http), core NATS pipeline: ${cost.ratio.toFixed(2)} of its maximum rate without them, ${cost.cpuRatio.toFixed(2)}x its CPU per message (medians of ${cost.rounds.length} paired rounds)`;
    parts.push(`<text x="${x0}" y="${y0 + height + 24}">${escape(text)}</text>`);
    height += 24;
  }
  return { svg: parts.join('\n'), height };
}

async function readOptional<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export async function drawChart(): Promise<string> {
  const engine = JSON.parse(await readFile(`${results}engine.json`, 'utf8'));
  const pipeline = JSON.parse(await readFile(`${results}pipeline.json`, 'utf8')) as { date: string; rows: HeadlineRow[]; matrix?: MatrixRow[] };
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
  const perMessage: Bar[] = pipeline.rows.map((r) => ({
    label: `${r.transport}: ${r.variant}`,
    value: r.ofBareRelay ?? 0,
    text: `${r.msgPerSec.toLocaleString('en')} msg/s (${r.ofBareRelay === null ? '?' : Math.round(r.ofBareRelay * 100)}%)`,
    colour: r.variant === 'Wasm stage' ? COLOURS.wasp : r.variant.startsWith('native') ? COLOURS.native : COLOURS.bare,
  }));
  const width = 960;
  const top = panel('Per call, ns (log scale): Wasp vs a direct export call vs Extism JS SDK', perCall, 20, 30, width, log);
  const y1 = 30 + 14 + perCall.length * 22 + 40;
  const middle = panel('Per message, 64 B, one stage: share of the bare relay (best of the rounds)', perMessage, 20, y1, width, (v) => Math.min(v, 1.2) / 1.2);
  const y2 = y1 + 14 + perMessage.length * 22 + 40;
  const matrix = matrixPanels(pipeline.matrix ?? [], 20, y2, width - 40);
  // the latency bench is the newest part: a results directory from before it draws without it
  const latency = await readOptional<LatencyResults>(`${results}latency.json`);
  const y3 = y2 + matrix.height + 40;
  const latencyPart = latencyPanels(latency, 20, y3, width - 40);
  const height = (latencyPart.height > 0 ? y3 + latencyPart.height : y2 + matrix.height) + 30;
  // its tails depend on what else ran on the machine: the load average says how much did
  const load = latency?.loadAverage ? ` (load average ${latency.loadAverage.before}-${latency.loadAverage.after})` : '';
  const latencyDate = latency ? `, latency ${escape(String(latency.date).slice(0, 10))}${load}` : '';
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
${top}
${middle}
${matrix.svg}
${latencyPart.svg}
<text x="20" y="${height - 10}" fill="#666">npm run bench: per call ${escape(String(engine.date).slice(0, 10))}, per message ${escape(String(pipeline.date).slice(0, 10))}${latencyDate}, Node ${escape(engine.node)}, ${engine.cores} cores</text>
</svg>
`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await writeFile(`${results}chart.svg`, await drawChart());
  console.log('written to bench/results/chart.svg');
}
