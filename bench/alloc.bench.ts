// node dist/bench/alloc.bench.js: heap bytes and objects allocated per message by an inline
// pipeline on the embedded bus (64 B messages through 1 and 4 Wasm identity stages), and where.
//
// Timings are noisy on a shared machine; allocation counts are not, so they are the measure here.
// Two figures per variant:
//  - exact: the growth of the heap over a run short enough that no GC happens in it (a large fixed
//    young generation, and a PerformanceObserver that throws the run away if a GC slipped in);
//  - tracked: V8's allocation tracker over a shorter run, which counts every object, collected or
//    not, by allocating stack; it should agree with the exact figure and says where.
// Not the sampling heap profiler: on Node 20 (V8 11.3) its samples misstate object sizes (a
// 48-byte object sampled as 144 bytes), so its figures are neither bytes nor objects.
// TurboFan charges what an inlined function allocates to the function it was inlined into, so the
// bench runs twice: as it normally runs, and with inlining off, where each allocation is charged
// to the function that made it (but escape analysis removes less, so the total may be higher).
// Allocation folding is off in both: it changes how allocations are grouped, not what is allocated.
import { spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import { completeLogger } from '../src/engine/logger.js';
import { loadPipelineConfig } from '../src/pipeline/config/load.js';
import { Pipeline } from '../src/pipeline/pipeline.js';
import { EmbeddedBus, EmbeddedTransport } from '../src/transport/embedded.js';
import { writeResult } from './results-dir.js';
import { table } from './table.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const N = Number(process.env.ALLOC_MESSAGES ?? 200_000);
const SIZE = Number(process.env.ALLOC_BYTES ?? 64);
const TRACKED = Number(process.env.ALLOC_TRACKED ?? 20_000); // tracking is slow; its counts are exact
const CHILD = 'WASP_ALLOC_CHILD';

interface Site {
  site: string;
  bytesPerMessage: number;
  objectsPerMessage: number;
}
interface Result {
  variant: string;
  exactBytesPerMessage: number | null;
  trackedBytesPerMessage: number;
  trackedObjectsPerMessage: number;
  sites: Site[];
}

async function pipelineFor(bus: EmbeddedBus, stages: number, native: boolean): Promise<Pipeline> {
  const dir = await mkdtemp(join(tmpdir(), 'wasp-alloc-'));
  const file = join(dir, 'alloc.yaml');
  const names = Array.from({ length: stages }, (_, i) => `identity${i}`);
  const list = names.map((name) => `{ name: ${name}, plugin: text, function: identity }`).join(', ');
  await writeFile(file, `name: alloc\nplugins: { text: { path: ${root}pipelines/text/text.wasm } }\ninput: { subject: a.in }\nstages: [${list}]\noutput: { subject: a.out }\n`);
  const identity = (data: Uint8Array): Uint8Array[] => [data];
  const config = await loadPipelineConfig(file);
  const pipeline = await Pipeline.create(config, { transport: new EmbeddedTransport(bus), logger: completeLogger(), native: native ? Object.fromEntries(names.map((n) => [n, identity])) : undefined });
  await pipeline.start();
  return pipeline;
}

function heapUsed(): number {
  let used = 0;
  for (const space of v8.getHeapSpaceStatistics()) used += space.space_used_size;
  return used;
}

/** Heap growth per message over a run with no GC in it, halving the run until one fits; null if none does. */
async function exact(run: (n: number) => void): Promise<number | null> {
  const gcs: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcs.push(entry.startTime);
  });
  observer.observe({ entryTypes: ['gc'] });
  try {
    for (let n = Math.min(N, 100_000); n >= 1000; n = Math.floor(n / 2)) {
      (globalThis as { gc?: () => void }).gc?.();
      const start = performance.now();
      const before = heapUsed();
      run(n);
      const after = heapUsed();
      await new Promise((r) => setTimeout(r, 10)); // gc entries arrive asynchronously
      if (!gcs.some((t) => t >= start)) return (after - before) / n;
    }
    return null;
  } finally {
    observer.disconnect();
  }
}

interface Snapshot {
  snapshot: { meta: { trace_function_info_fields: string[]; trace_node_fields: string[] } };
  trace_function_infos: number[];
  trace_tree: unknown[];
  strings: string[];
}

/**
 * Every allocation of a run, counted by V8's allocation tracker (what DevTools records as
 * "allocation instrumentation"): it counts collected objects too, exactly, by allocating stack.
 */
async function tracked(run: (n: number) => void, n: number): Promise<{ bytes: number; objects: number; sites: Site[] }> {
  const session = new Session();
  session.connect();
  const post = <T>(method: string, params?: object): Promise<T> =>
    new Promise((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result as T))));
  const chunks: string[] = [];
  session.on('HeapProfiler.addHeapSnapshotChunk', (m) => chunks.push(m.params.chunk));
  await post('HeapProfiler.enable');
  await post('HeapProfiler.startTrackingHeapObjects', { trackAllocations: true });
  run(n);
  await post('HeapProfiler.stopTrackingHeapObjects', { reportProgress: false });
  session.disconnect();

  const snap = JSON.parse(chunks.join('')) as Snapshot;
  const infoFields = snap.snapshot.meta.trace_function_info_fields;
  const nodeFields = snap.snapshot.meta.trace_node_fields;
  const F = infoFields.length;
  const [NAME, SCRIPT, LINE] = ['name', 'script_name', 'line'].map((f) => infoFields.indexOf(f)) as [number, number, number];
  const [FN, COUNT, SIZE, CHILDREN] = ['function_info_index', 'count', 'size', 'children'].map((f) => nodeFields.indexOf(f)) as [number, number, number, number];
  const nameOf = (i: number): string => {
    const script = snap.strings[snap.trace_function_infos[i * F + SCRIPT]!]!;
    return `${snap.strings[snap.trace_function_infos[i * F + NAME]!] || '(anonymous)'} ${script ? basename(script) : '(native)'}:${snap.trace_function_infos[i * F + LINE]! + 1}`;
  };
  const bySite = new Map<string, { bytes: number; objects: number }>();
  let bytes = 0;
  let objects = 0;
  // Only what the messages cost: under the loop that publishes them, not the inspector's own traffic.
  const walk = (tree: unknown[], caller: string, inRun: boolean): void => {
    for (let at = 0; at < tree.length; at += nodeFields.length) {
      const name = nameOf(tree[at + FN] as number);
      const count = tree[at + COUNT] as number;
      const size = tree[at + SIZE] as number;
      const counted = inRun || name.startsWith('run alloc.bench.js');
      if (counted && count > 0) {
        const site = `${name} <- ${caller}`;
        const entry = bySite.get(site) ?? { bytes: 0, objects: 0 };
        entry.bytes += size;
        entry.objects += count;
        bySite.set(site, entry);
        bytes += size;
        objects += count;
      }
      walk(tree[at + CHILDREN] as unknown[], name.split(' ')[0]!, counted);
    }
  };
  walk(snap.trace_tree, '', false);
  const sites = [...bySite]
    .map(([site, e]) => ({ site, bytesPerMessage: round(e.bytes / n), objectsPerMessage: round(e.objects / n) }))
    .filter((s) => s.objectsPerMessage >= 0.01)
    .sort((a, b) => b.bytesPerMessage - a.bytesPerMessage);
  return { bytes: bytes / n, objects: objects / n, sites };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

async function measure(stages: number, native: boolean): Promise<Result> {
  const bus = new EmbeddedBus();
  let received = 0;
  bus.subscribe('a.out', () => received++);
  const pipeline = await pipelineFor(bus, stages, native);
  const payload = new Uint8Array(SIZE).fill(97);
  const run = (n: number): void => {
    for (let i = 0; i < n; i++) bus.publish('a.in', payload);
  };
  run(50_000); // warm-up: every function on the path optimized
  const exactBytes = await exact(run);
  const s = await tracked(run, TRACKED);
  const expected = received;
  await pipeline.drain();
  if (pipeline.stats.acked !== expected) throw new Error(`${pipeline.stats.acked} of ${expected} inputs acked`);
  return {
    variant: `${stages} ${native ? 'native' : 'Wasm'} stage${stages === 1 ? '' : 's'}`,
    exactBytesPerMessage: exactBytes === null ? null : round(exactBytes),
    trackedBytesPerMessage: round(s.bytes),
    trackedObjectsPerMessage: round(s.objects),
    sites: s.sites,
  };
}

async function child(): Promise<void> {
  const results = [await measure(1, false), await measure(4, false), await measure(1, true)];
  process.stdout.write(JSON.stringify(results));
}

async function parent(): Promise<void> {
  const runs: { mode: string; results: Result[] }[] = [];
  const script = fileURLToPath(import.meta.url);
  const modes = [
    { name: 'as it runs (inlined callees charged to their caller)', flags: [] as string[] },
    { name: 'inlining off (charged to the allocating function)', flags: ['--no-turbo-inlining'] },
  ];
  console.log(`${N} messages of ${SIZE} B per variant, embedded bus, node ${process.version}`);
  for (const mode of modes) {
    const run = spawnSync(process.execPath, ['--expose-gc', '--min-semi-space-size=64', '--max-semi-space-size=64', '--no-turbo-allocation-folding', ...mode.flags, script], {
      env: { ...process.env, [CHILD]: '1' },
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    if (run.status !== 0) throw new Error(`alloc bench child failed:\n${run.stderr}`);
    const results = JSON.parse(run.stdout) as Result[];
    runs.push({ mode: mode.name, results });
    console.log(`\n== ${mode.name}`);
    const body = results.map((r) => [r.variant, r.exactBytesPerMessage, r.trackedBytesPerMessage, r.trackedObjectsPerMessage]);
    console.log(table(['variant', 'exact bytes/msg', 'tracked bytes/msg', 'tracked objects/msg'], body));
    if (results.some((r) => r.exactBytesPerMessage === null)) console.log('(exact -: a GC came in every run, down to the shortest tried)');
    for (const r of results) {
      console.log(`${r.variant}: where (bytes and objects per message)`);
      console.log(table(['site', 'bytes/msg', 'objects/msg'], r.sites.slice(0, 15).map((site) => [site.site, site.bytesPerMessage, site.objectsPerMessage])));
    }
  }
  await writeResult('alloc.json', { date: new Date().toISOString(), node: process.version, messages: N, bytes: SIZE, runs });
}

if (process.env[CHILD]) await child();
else await parent();
