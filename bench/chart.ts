// Draws chart.svg in the results folder (bench/results-dir.ts) from the parts' JSON there: per-call
// cost of Wasp against a direct call and Extism's JS SDK; per-message throughput as a share of the
// bare relay (64 B, one stage); the pipeline matrix (cost per message against the number of stages
// for each transport and message size, and every cell's share of its bare relay); worker pools;
// allocations per message; latency percentiles at a share of each system's maximum rate, and what
// metrics cost. A part whose JSON is missing is left out, so a run of some parts still charts them.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resultsDir, shown } from './results-dir.js';
import { barPanel, GREY, line, linearScale, logScale, px, rect, text, xAxis, yAxis, type Bar, type Scale, type Section } from './svg.js';

const COLOURS = { direct: '#9aa5b1', wasp: '#e8a317', worker: '#b5651d', extism: '#5b8def', native: '#7cb87c', bare: '#9aa5b1', target: '#c00', exact: '#222' };
const WIDTH = 960;
const MARGIN = 20;
const GAP = 40;

export class NoResultsError extends Error {
  override name = 'NoResultsError';
  constructor(readonly dir: string) {
    super(`no bench results in ${dir}: run the parts there first, or chart the committed ones with BENCH_OUT=bench/results`);
  }
}

const short = (x: number): string => x.toLocaleString('en', { maximumSignificantDigits: 3 });
const duration = (us: number): string => (us >= 1e6 ? `${short(us / 1e6)} s` : us >= 1e3 ? `${short(us / 1e3)} ms` : `${short(us)} us`);
const nanos = (ns: number): string => (ns >= 1e3 ? duration(ns / 1e3) : `${short(ns)} ns`);
const percent = (share: number): string => `${Math.round(share * 100)}%`;
const perSecond = (n: number): string => (n >= 1e6 ? `${short(n / 1e6)}M` : n >= 1e3 ? `${short(n / 1e3)}k` : short(n));
const sizeLabel = (bytes: number): string => (bytes >= 1024 ? `${bytes / 1024} KiB` : `${bytes} B`);
const finite = (x: number | null | undefined): x is number => typeof x === 'number' && Number.isFinite(x);

interface EngineResults {
  date: string;
  node: string;
  cores: number;
  groups: { name: string; rows: { name: string; nsPerOp: number }[] }[];
}

interface HeadlineRow {
  transport: string;
  variant: string;
  msgPerSec: number;
  ofBareRelay: number | null;
}

interface MatrixRow {
  transport: string;
  bytes: number;
  stages: number;
  variant: 'bare relay' | 'Wasm' | 'native JS';
  usPerMessage: number;
  ofBareRelay: number | null;
}

interface PipelineResults {
  date: string;
  rows: HeadlineRow[];
  matrix?: MatrixRow[];
}

interface WorkerSummary {
  heavy: { inlinePerSec?: number; oneWorkerPerSec: number; twoWorkersPerSec: number; speedup: number };
  trivial: { inlinePerSec: number; workerPerSec: number; workerOverheadUs: number };
}

interface WorkerResults {
  date: string;
  heavyInputBytes: number;
  stages: WorkerSummary;
  poolApi: WorkerSummary;
}

interface AllocResults {
  date: string;
  bytes: number;
  runs: { mode: string; results: { variant: string; exactBytesPerMessage: number | null; trackedBytesPerMessage: number; trackedObjectsPerMessage: number }[] }[];
}

interface LatencyRun {
  load: number;
  targetMsgPerSec: number;
  lost: number;
  // null where nothing came back (JSON has no NaN)
  p50Us: number | null;
  p99Us: number | null;
  p999Us: number | null;
}

interface LatencyResults {
  date: string;
  loadAverage?: { before: number; after: number };
  systems: { transport: string; variant: string; maxMsgPerSec: number; runs: LatencyRun[] }[];
  metricsCost: { ratio: number; cpuRatio: number; rounds: { ratio: number }[] } | null;
}

export interface Results {
  engine?: EngineResults;
  pipeline?: PipelineResults;
  worker?: WorkerResults;
  alloc?: AllocResults;
  latency?: LatencyResults;
}

const FILES: Record<keyof Results, string> = { engine: 'engine.json', pipeline: 'pipeline.json', worker: 'worker.json', alloc: 'alloc.json', latency: 'latency.json' };

async function readOptional<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Every part's results found in `dir`; throws NoResultsError when there are none. */
export async function readResults(dir: string): Promise<Results> {
  const results: Results = {};
  for (const [part, file] of Object.entries(FILES) as [keyof Results, string][]) {
    const value = await readOptional<never>(join(dir, file));
    if (value !== undefined) results[part] = value;
  }
  if (Object.keys(results).length === 0) throw new NoResultsError(dir);
  return results;
}

/** Per call, log scale: the groups that run the same work through Wasp and through Extism's JS SDK. */
function perCallPanel(engine: EngineResults, x0: number, y0: number, width: number): Section {
  const bars: Bar[] = engine.groups
    .filter((g) => g.name.includes('Extism'))
    .flatMap((g) =>
      g.rows.map((r) => ({
        group: g.name.replace(/, Wasp vs Extism JS SDK$/, ''),
        label: r.name,
        value: r.nsPerOp,
        text: nanos(r.nsPerOp),
        colour: r.name.startsWith('Extism') ? COLOURS.extism : r.name.startsWith('direct') ? COLOURS.direct : COLOURS.wasp,
      })),
    );
  const values = bars.map((b) => b.value!);
  return barPanel(
    `Per call: Wasp (orange) against a direct export call (grey) and Extism's JS SDK (blue), the same plugin work`,
    bars,
    { x0, y0, width, labelWidth: 300, textWidth: 80 },
    (range) => logScale(Math.min(1, ...values), Math.max(...values), range, nanos, 'time per call, log scale (each tick 10x the one before)'),
  );
}

/** The 64 B, one-stage headline: each variant's throughput as a share of the bare relay on the same transport. */
function headlinePanel(pipeline: PipelineResults, x0: number, y0: number, width: number): Section {
  const bars: Bar[] = pipeline.rows.map((r) => ({
    group: r.transport,
    label: r.variant,
    value: r.ofBareRelay,
    text: `${r.msgPerSec.toLocaleString('en')} msg/s (${r.ofBareRelay === null ? '-' : percent(r.ofBareRelay)})`,
    colour: r.variant === 'Wasm stage' ? COLOURS.wasp : r.variant.startsWith('native') ? COLOURS.native : COLOURS.bare,
  }));
  const top = Math.max(1, ...bars.map((b) => b.value ?? 0));
  return barPanel('Per message, 64 B, one stage: throughput as a share of the bare relay (best of the rounds)', bars, { x0, y0, width, labelWidth: 160, textWidth: 200 }, (range) =>
    linearScale(top, range, percent, "share of the bare relay's messages per second, same transport (linear)"),
  );
}

const STAGE_COUNTS = [1, 2, 4, 8];

/**
 * One transport at one size: us per message against the number of stages, Wasm and native JS,
 * over the bare relay as a dashed floor. Linear in the stage count, so a constant cost per stage
 * shows as a straight line.
 */
function stagePlot(rows: MatrixRow[], title: string, x0: number, y0: number, w: number, h: number): string {
  const relay = rows.find((r) => r.variant === 'bare relay');
  const [left, top, right, bottom] = [x0 + 52, y0 + 18, x0 + w, y0 + h - 36];
  const xs = linearScale(8, [left, right], String, 'stages', STAGE_COUNTS);
  const ys = linearScale(Math.max(...rows.map((r) => r.usPerMessage)), [bottom, top], short, 'us / message');
  const parts = [text(x0, y0, title, { bold: true }), yAxis(ys, left, right, x0 + 12), xAxis(xs, bottom)];
  if (relay) parts.push(line(left, ys.at(relay.usPerMessage), right, ys.at(relay.usPerMessage), COLOURS.bare, '4 3'));
  for (const [variant, colour] of [['Wasm', COLOURS.wasp], ['native JS', COLOURS.native]] as const) {
    const points = rows.filter((r) => r.variant === variant).map((r) => [xs.at(r.stages), ys.at(r.usPerMessage)] as const);
    parts.push(`<polyline points="${points.map(([x, y]) => `${px(x)},${px(y)}`).join(' ')}" fill="none" stroke="${colour}" stroke-width="2"/>`);
    parts.push(...points.map(([x, y]) => `<circle cx="${px(x)}" cy="${px(y)}" r="3" fill="${colour}"/>`));
  }
  return parts.join('\n');
}

/** Each cell's throughput as a share of its bare relay, coloured from red (none) to green (all of it): a table, so no axes. */
function ratioGrid(matrix: MatrixRow[], x0: number, y0: number): Section {
  const groups = [...new Set(matrix.map((r) => `${r.transport}|${r.bytes}`))];
  const [labelW, cellW, rowH] = [150, 62, 20];
  const parts = [text(x0, y0, "Share of the bare relay's throughput, same transport and size", { bold: true })];
  const headers = [...STAGE_COUNTS.map((s) => `Wasm x${s}`), ...STAGE_COUNTS.map((s) => `JS x${s}`)];
  headers.forEach((h, i) => parts.push(text(x0 + labelW + i * cellW + cellW / 2, y0 + 18, h, { anchor: 'middle', fill: GREY })));
  groups.forEach((g, row) => {
    const [transport, bytes] = g.split('|') as [string, string];
    const ry = y0 + 24 + row * rowH;
    parts.push(text(x0, ry + 14, `${transport}, ${sizeLabel(Number(bytes))}`));
    const cells = (['Wasm', 'native JS'] as const).flatMap((v) => STAGE_COUNTS.map((s) => matrix.find((r) => `${r.transport}|${r.bytes}` === g && r.variant === v && r.stages === s)));
    cells.forEach((r, i) => {
      const ratio = r?.ofBareRelay ?? null;
      const fill = ratio === null ? '#eee' : `hsl(${Math.round(120 * Math.min(1, ratio))}, 60%, 80%)`;
      const cx = x0 + labelW + i * cellW;
      parts.push(rect(cx + 1, ry + 1, cellW - 2, rowH - 2, fill), text(cx + cellW / 2, ry + 14, ratio === null ? '-' : ratio < 0.1 ? ratio.toPrecision(2) : ratio.toFixed(2), { anchor: 'middle' }));
    });
  });
  return { svg: parts.join('\n'), height: 24 + groups.length * rowH };
}

/** The matrix: a grid of stage plots, a transport a row and a size a column, then the ratio grid. */
function matrixPanels(matrix: MatrixRow[], x0: number, y0: number, width: number): Section {
  const transports = [...new Set(matrix.map((r) => r.transport))];
  const sizes = [...new Set(matrix.map((r) => r.bytes))].sort((a, b) => a - b);
  const [cellW, cellH] = [width / sizes.length, 215];
  const legend = `<text x="${x0}" y="${y0}" font-weight="bold">Per message against stages, linear (dashed: bare relay; <tspan fill="${COLOURS.wasp}">Wasm stages</tspan>, <tspan fill="${COLOURS.native}">native JS stages</tspan>; each plot its own scale)</text>`;
  const parts = [legend];
  transports.forEach((t, row) =>
    sizes.forEach((bytes, col) => {
      const rows = matrix.filter((r) => r.transport === t && r.bytes === bytes);
      if (rows.length > 0) parts.push(stagePlot(rows, `${t}, ${sizeLabel(bytes)}`, x0 + col * cellW, y0 + 28 + row * cellH, cellW - 20, cellH - 10));
    }),
  );
  const gridY = y0 + 28 + transports.length * cellH + 20;
  const grid = ratioGrid(matrix, x0, gridY);
  parts.push(grid.svg);
  return { svg: parts.join('\n'), height: gridY - y0 + grid.height };
}

/** The worker bench's target (bench/worker.bench.ts): two workers move 1.7x what one does. */
const TWO_WORKERS_TARGET = 1.7;

interface SidePanel {
  title: string;
  bars: Bar[];
  scale: (max: number, range: [number, number]) => Scale;
}

/** A heading over two bar panels side by side, each on a scale of its own reaching its longest bar or mark. */
function sideBySide(title: string, panels: [SidePanel, SidePanel], x0: number, y0: number, width: number, labelWidth: number, textWidth: number): Section {
  const half = (width - 30) / 2;
  const drawn = panels.map((p, i) => {
    const max = Math.max(...p.bars.flatMap((b) => [b.value ?? 0, b.mark?.value ?? 0]));
    return barPanel(p.title, p.bars, { x0: x0 + i * (half + 30), y0: y0 + 24, width: half, labelWidth, textWidth }, (range) => p.scale(max, range));
  });
  return { svg: [text(x0, y0, title, { bold: true }), ...drawn.map((d) => d.svg)].join('\n'), height: 24 + Math.max(...drawn.map((d) => d.height)) };
}

/** Worker pools: the CPU-heavy stage's throughput with 1 and 2 workers (and inline), and what a worker costs a trivial stage. */
function workerPanels(worker: WorkerResults, x0: number, y0: number, width: number): Section {
  const ways = [['pipeline stage', worker.stages], ['engine pool API', worker.poolApi]] as const;
  const heavy: Bar[] = ways.flatMap(([way, s]) => [
    ...(finite(s.heavy.inlinePerSec) ? [{ group: way, label: 'inline', value: s.heavy.inlinePerSec, text: perSecond(s.heavy.inlinePerSec), colour: COLOURS.wasp }] : []),
    { group: way, label: '1 worker', value: s.heavy.oneWorkerPerSec, text: perSecond(s.heavy.oneWorkerPerSec), colour: COLOURS.worker },
    {
      group: way,
      label: '2 workers',
      value: s.heavy.twoWorkersPerSec,
      text: `${perSecond(s.heavy.twoWorkersPerSec)} (${s.heavy.speedup}x)`,
      colour: COLOURS.worker,
      mark: { value: TWO_WORKERS_TARGET * s.heavy.oneWorkerPerSec, colour: COLOURS.target },
    },
  ]);
  const trivial: Bar[] = ways.flatMap(([way, s]) => [
    { group: way, label: 'inline', value: s.trivial.inlinePerSec, text: perSecond(s.trivial.inlinePerSec), colour: COLOURS.wasp },
    { group: way, label: '1 worker', value: s.trivial.workerPerSec, text: `${perSecond(s.trivial.workerPerSec)} (${s.trivial.workerOverheadUs >= 0 ? '+' : ''}${s.trivial.workerOverheadUs} us/msg)`, colour: COLOURS.worker },
  ]);
  const rate = (max: number, range: [number, number]): Scale => linearScale(max, range, perSecond, 'messages per second (linear)');
  return sideBySide(
    'Worker pools: messages per second inline (orange) and in worker threads (brown)',
    [
      { title: `CPU-heavy stage (~20 us); red mark: ${TWO_WORKERS_TARGET}x one worker`, bars: heavy, scale: rate },
      { title: 'Trivial stage (identity, 64 B); in brackets: what a worker adds', bars: trivial, scale: rate },
    ],
    x0,
    y0,
    width,
    120,
    110,
  );
}

/** Allocations per message: bytes and objects by variant, as the code runs and with inlining off (where each allocation is charged to the function that made it). */
function allocPanels(alloc: AllocResults, x0: number, y0: number, width: number): Section {
  const rows = alloc.runs.flatMap((run) => run.results.map((r) => ({ group: run.mode, r, colour: r.variant.includes('Wasm') ? COLOURS.wasp : COLOURS.native })));
  const bytes: Bar[] = rows.map(({ group, r, colour }) => ({
    group,
    label: r.variant,
    value: r.trackedBytesPerMessage,
    text: `${short(r.trackedBytesPerMessage)} B${finite(r.exactBytesPerMessage) ? ` (${short(r.exactBytesPerMessage)})` : ''}`,
    colour,
    ...(finite(r.exactBytesPerMessage) ? { mark: { value: r.exactBytesPerMessage, colour: COLOURS.exact } } : {}),
  }));
  const objects: Bar[] = rows.map(({ group, r, colour }) => ({ group, label: r.variant, value: r.trackedObjectsPerMessage, text: short(r.trackedObjectsPerMessage), colour }));
  return sideBySide(
    `Heap allocated per message, ${alloc.bytes} B through an inline pipeline on the embedded bus (V8's allocation tracker)`,
    [
      { title: 'Bytes; black mark and in brackets: heap growth, no GC', bars: bytes, scale: (max, range) => linearScale(max, range, (v) => v.toLocaleString('en'), 'bytes per message (linear)') },
      { title: 'Objects', bars: objects, scale: (max, range) => linearScale(max, range, String, 'objects per message (linear)') },
    ],
    x0,
    y0,
    width,
    130,
    100,
  );
}

/**
 * Latency: a row per system and load, p99.9, p99 and p50 drawn over one another (lighter to
 * darker) on a log scale, with 1 ms marked; then what metrics cost, as a line of text.
 */
function latencyPanels(latency: LatencyResults, x0: number, y0: number, width: number): Section {
  const rows = latency.systems.flatMap((s) => s.runs.map((r) => ({ s, r })));
  const [labelW, rowH, textW] = [300, 22, 230];
  const seen = rows.flatMap(({ r }) => [r.p50Us, r.p99Us, r.p999Us]).filter(finite);
  const scale = logScale(10, Math.max(1000, ...seen), [x0 + labelW, x0 + width - textW], duration, 'publish to output, log scale (each tick 10x the one before)');
  const [left, right] = scale.range;
  const top = y0 + 14;
  const bottom = top + rows.length * rowH;
  const parts = [
    `<text x="${x0}" y="${y0}" font-weight="bold">Latency: <tspan fill-opacity="0.35">p99.9</tspan>, <tspan fill-opacity="0.65">p99</tspan>, p50, at a share of each system's maximum rate</text>`,
    text(right + 30, y0, 'p50 / p99 / p99.9', { fill: GREY }),
    xAxis(scale, bottom + 4, top),
    line(scale.at(1000), top - 4, scale.at(1000), bottom + 4, COLOURS.target, '4 3'),
    text(scale.at(1000) + 4, top + 2, '1 ms', { fill: COLOURS.target }),
  ];
  rows.forEach(({ s, r }, i) => {
    const y = top + i * rowH;
    const colour = s.variant === 'Wasm stage' ? COLOURS.wasp : s.variant === 'bare relay' ? COLOURS.bare : '#c8ced6';
    parts.push(text(x0, y + 14, `${s.transport}, ${s.variant}, ${percent(r.load)} (${r.targetMsgPerSec.toLocaleString('en')}/s)`));
    for (const [us, opacity] of [[r.p999Us, 0.35], [r.p99Us, 0.65], [r.p50Us, 1]] as const) {
      if (finite(us)) parts.push(rect(left, y + 3, Math.max(1, scale.at(us) - left), rowH - 6, colour, opacity));
    }
    const lost = r.lost > 0 ? `, ${r.lost.toLocaleString('en')} lost` : '';
    const figure = (us: number | null): string => (finite(us) ? duration(us) : '-');
    parts.push(text(right + 30, y + 14, `${figure(r.p50Us)} / ${figure(r.p99Us)} / ${figure(r.p999Us)}${lost}`));
  });
  let height = bottom + 40 - y0;
  const cost = latency.metricsCost;
  if (cost) {
    const note = `Metrics on (--http), core NATS pipeline: ${cost.ratio.toFixed(2)} of its maximum rate without them, ${cost.cpuRatio.toFixed(2)}x its CPU per message (medians of ${cost.rounds.length} paired rounds)`;
    parts.push(text(x0, y0 + height + 20, note));
    height += 20;
  }
  return { svg: parts.join('\n'), height };
}

/** Which run each part's figures come from, and on what: two lines. */
function footer(results: Results): string[] {
  const day = (r: { date: string } | undefined, what: string): string[] => (r ? [`${what} ${String(r.date).slice(0, 10)}`] : []);
  const dates = [...day(results.engine, 'per call'), ...day(results.pipeline, 'per message'), ...day(results.worker, 'workers'), ...day(results.alloc, 'allocations'), ...day(results.latency, 'latency')];
  // latency tails depend on what else ran on the machine: the load average says how much did
  const load = results.latency?.loadAverage ? [`load average ${results.latency.loadAverage.before}-${results.latency.loadAverage.after} during the latency part`] : [];
  const machine = results.engine ? [`Node ${results.engine.node}, ${results.engine.cores} cores`] : [];
  return [`npm run bench: ${dates.join(', ')}`, [...machine, ...load].join('; ')].filter((l) => l !== '');
}

export function drawChart(results: Results): string {
  const inner = WIDTH - 2 * MARGIN;
  const { engine, pipeline, worker, alloc, latency } = results;
  const sections: ((y: number) => Section)[] = [];
  if (engine) sections.push((y) => perCallPanel(engine, MARGIN, y, inner));
  if (pipeline) sections.push((y) => headlinePanel(pipeline, MARGIN, y, inner));
  if (pipeline?.matrix?.length) sections.push((y) => matrixPanels(pipeline.matrix!, MARGIN, y, inner));
  if (worker) sections.push((y) => workerPanels(worker, MARGIN, y, inner));
  if (alloc?.runs.length) sections.push((y) => allocPanels(alloc, MARGIN, y, inner));
  if (latency?.systems.length) sections.push((y) => latencyPanels(latency, MARGIN, y, inner));
  const drawn: string[] = [];
  let y = 30;
  for (const draw of sections) {
    const s = draw(y);
    drawn.push(s.svg);
    y += s.height + GAP;
  }
  const notes = footer(results).map((note, i) => text(MARGIN, y - 10 + i * 16, note, { fill: GREY }));
  const height = y + 16 * (notes.length - 1);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
${drawn.join('\n')}
${notes.join('\n')}
</svg>
`;
}

async function main(): Promise<void> {
  const dir = await resultsDir();
  const results = await readResults(dir);
  const missing = (Object.keys(FILES) as (keyof Results)[]).filter((part) => results[part] === undefined);
  if (missing.length > 0) console.log(`chart: no ${missing.map((p) => FILES[p]).join(', ')} in ${shown(dir)}; drawn without ${missing.length === 1 ? 'it' : 'them'}`);
  const file = join(dir, 'chart.svg');
  await writeFile(file, drawChart(results));
  console.log(`written to ${shown(file)}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main().catch((error: unknown) => {
    if (!(error instanceof NoResultsError)) throw error;
    console.error(error.message);
    process.exitCode = 1;
  });
}
