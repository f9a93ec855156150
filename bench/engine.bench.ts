// npm run bench: per-call cost of the engine against a direct export call and
// a hand-written minimal reference of the same marshalling, all in one run.
import { readFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import createPlugin from '@extism/extism';
import { Bench } from 'tinybench';
import wabtInit from 'wabt';
import { Engine } from '../src/index.js';
import { reference } from './reference.js';
import { writeResult } from './results-dir.js';
import { table } from './table.js';
import { KERNEL_WASM_BASE64 } from '../src/engine/abi/extism/kernel-wasm.js';
import { waspGoPlugin } from '../test/helpers/wasp-go.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const BATCH = 1000; // calls per timed sample: one call is too short for the timer
const GO_WASP_SUM_NS = 2929; // the seed's BenchmarkSumGoWASM

interface Row {
  name: string;
  nsPerOp: number;
  rme: number;
  ratio: number;
}
interface Group {
  name: string;
  baseline: string;
  rows: Row[];
  target?: { row: string; maxRatio?: number; minRatio?: number; met: boolean };
}

const languages = [
  ['AssemblyScript', 'plugins/assemblyscript/examples.wasm'],
  ['C', 'plugins/c/examples.wasm'],
  ['Rust', 'plugins/rust/examples.wasm'],
  ['WAT', 'plugins/wat/examples.wasm'],
] as const;

const TIME_MS = Number(process.env.BENCH_TIME_MS ?? 300);
// This machine's timings drift by tens of percent between runs of the same
// code; every task runs in each of several rounds and keeps its best round,
// so a baseline and its candidates are measured close together in time.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
type Task = [string, () => unknown];
const plan: { group: string; baseline: string; target?: [string, number] | [string, number, 'min']; tasks: Task[] }[] = [];
let sink: unknown;

// Each task gets a loop of its own (a fresh Function), so its call site sees
// one callee and the JIT treats every task alike; a shared loop would turn
// megamorphic and charge every task for it.
// The task's name goes into the source as a comment: V8 shares what it learned among functions
// of identical source, which made a second, identical task measure up to 8% slower than the first.
function batch(fn: () => unknown, name: string): () => void {
  const loop = new Function('fn', 'n', 'keep', `/* ${name.replace(/\*\//g, '')} */ return function () { for (let i = 0; i < n; i++) keep(fn()); }`);
  return loop(fn, BATCH, (v: unknown) => (sink = v)) as () => void;
}

// Extism's calls return promises; each sample awaits BATCH of them, then lets the SDK free the blocks the calls left.
function batchAsync(fn: () => Promise<unknown>, reset: () => Promise<unknown>): () => Promise<void> {
  return async () => {
    for (let i = 0; i < BATCH; i++) sink = await fn();
    await reset();
  };
}
const asyncTasks = new Map<() => unknown, () => Promise<void>>();

const nativeSum = (a: number, b: number): number => (a + b) | 0;
plan.push({ group: 'sum, native JS', baseline: 'native JS function', tasks: [['native JS function', () => nativeSum(3, 2)]] });

const bytes20 = new Uint8Array(20).map((_, i) => i);
const kib = new Uint8Array(1024).map((_, i) => i & 0xff);
const string20 = 'Wasp plugin, hello!!';

for (const [language, path] of languages) {
  const engine = new Engine();
  engine.addCallback('plugin', 'call_me', (s: string) => s, { params: ['string'], result: 'string' });
  const plugin = await engine.registerPlugin(language, `${root}${path}`);
  const inst = await engine.getInstance(language);
  const ref = await reference(plugin.moduleFor(0)); // the bare module: no deadline checks in the reference
  const direct = ref.exports.sum as (a: number, b: number) => number;
  const sum = inst.func('sum', { params: ['i32', 'i32'], result: 'number' });
  const reverse = inst.func('reverse', { params: ['bytes'], result: 'bytes' });
  const hello = inst.func('hello', { params: ['string'], result: 'string' });
  const refReverse = ref.bytes('reverse');
  const refHello = ref.string('hello');

  // The targets are the issue's: a numeric call() within 2x a direct export call,
  // string and bytes round trips within 1.2x the hand-written reference.
  plan.push({
    group: `sum, ${language}`,
    baseline: 'direct export call',
    target: ['engine call()', 2],
    tasks: [
      ['direct export call', () => direct(3, 2)],
      ['engine call()', () => inst.call('sum', 3, 2)],
      ['typed handle', () => sum(3, 2)],
    ],
  });
  plan.push({
    group: `bytes 20 B round trip, ${language}`,
    baseline: 'hand-written reference',
    target: ['engine callBytes()', 1.2],
    tasks: [
      ['hand-written reference', () => refReverse(bytes20)],
      ['engine callBytes()', () => inst.callBytes('reverse', bytes20)],
      ['typed handle', () => reverse(bytes20)],
    ],
  });
  plan.push({
    group: `string 20 chars round trip, ${language}`,
    baseline: 'hand-written reference',
    target: ['engine callString()', 1.2],
    tasks: [
      ['hand-written reference', () => refHello(string20)],
      ['engine callString()', () => inst.callString('hello', string20)],
      ['typed handle', () => hello(string20)],
    ],
  });
  // No target here: at this size the output copy dominates and GC pauses, not the engine, decide the spread.
  plan.push({
    group: `bytes 1 KiB round trip, ${language}`,
    baseline: 'hand-written reference',
    tasks: [
      ['hand-written reference', () => refReverse(kib)],
      ['engine callBytes()', () => inst.callBytes('reverse', kib)],
    ],
  });
}

// ABI wasp-go: the Go Wasp example plugin's functions (sum, hello, reverse) in its conventions (a
// WAT module written for them, test/helpers/wasp-go.ts: Go Wasp's own builds carry no licence),
// against the same work by the wasp/1 WAT example, in the same run.
{
  const engine = new Engine();
  engine.addCallback('env', 'call_me', (s: string) => s, { params: ['string'], result: 'string' });
  const wabt = await wabtInit();
  const go = wabt.parseWat('wasp-go.wat', waspGoPlugin(), { bulk_memory: true });
  await engine.registerPlugin('go', go.toBinary({}).buffer);
  await engine.registerPlugin('wat', `${root}plugins/wat/examples.wasm`);
  const goInst = await engine.getInstance('go');
  const watInst = await engine.getInstance('wat');
  const bare = new WebAssembly.Instance(engine.plugin('go').moduleFor(0), { env: { raise_error: () => {}, call_me: () => 0 } });
  const direct = bare.exports.sum as (a: number, b: number) => number;
  (bare.exports._start as () => void)();
  plan.push({
    group: 'sum, wasp-go (WAT in Go Wasp\'s conventions)',
    baseline: 'direct export call',
    tasks: [
      ['direct export call', () => direct(3, 2)],
      ['engine call()', () => goInst.call('sum', 3, 2)],
    ],
  });
  plan.push({
    group: 'string 20 chars round trip, wasp-go against wasp/1 (WAT)',
    baseline: 'wasp/1 callString()',
    target: ['wasp-go callString()', 1.5],
    tasks: [
      ['wasp/1 callString()', () => watInst.callString('hello', string20)],
      ['wasp-go callString()', () => goInst.callString('hello', string20)],
    ],
  });
  plan.push({
    group: 'bytes 20 B round trip, wasp-go against wasp/1 (WAT)',
    baseline: 'wasp/1 callBytes()',
    tasks: [
      ['wasp/1 callBytes()', () => watInst.callBytes('reverse', bytes20)],
      ['wasp-go callBytes()', () => goInst.callBytes('reverse', bytes20)],
    ],
  });
}

// What the inline deadline costs (modules instrumented to look at the clock; see src/engine/deadline):
// the same calls on an instance with the default deadline and on one without (timeoutMs: 0), in the same run.
{
  const deadlineTarget = 1.1;
  for (const [language, path] of languages) {
    const engine = new Engine();
    engine.addCallback('plugin', 'call_me', (s: string) => s, { params: ['string'], result: 'string' });
    await engine.registerPlugin(language, `${root}${path}`);
    const timed = await engine.getInstance(language);
    const plain = await engine.getInstance(language, { timeoutMs: 0 });
    const pairs: [string, (i: typeof timed) => unknown][] = [
      ['sum', (i) => i.call('sum', 3, 2)],
      ['bytes 20 B round trip', (i) => i.callBytes('reverse', bytes20)],
      ['string 20 chars round trip', (i) => i.callString('hello', string20)],
    ];
    for (const [what, call] of pairs) {
      plan.push({
        group: `deadline cost, ${what}, ${language}`,
        baseline: 'timeoutMs: 0',
        target: ['deadline (default)', deadlineTarget],
        tasks: [
          ['timeoutMs: 0', () => call(plain)],
          ['deadline (default)', () => call(timed)],
        ],
      });
    }
  }
  // The CPU-heavy stage of pipelines/text/workers.yaml: tight loops, where the checks sit.
  const engine = new Engine();
  await engine.registerPlugin('text', `${root}pipelines/text/text.wasm`);
  const timed = await engine.getInstance('text');
  const plain = await engine.getInstance('text', { timeoutMs: 0 });
  const input = new Uint8Array(16).fill(97);
  plan.push({
    group: 'deadline cost, burn stage (16 B x 2,000 rounds)',
    baseline: 'timeoutMs: 0',
    target: ['deadline (default)', deadlineTarget],
    tasks: [
      ['timeoutMs: 0', () => plain.callBytes('burn', input)],
      ['deadline (default)', () => timed.callBytes('burn', input)],
    ],
  });
}

// The same work through Extism's JS SDK: a plugin with the logic of plugins/wat/examples.wat, for Extism's ABI.
{
  const wabt = await wabtInit();
  const wat = await readFile(`${root}bench/extism/plugin.wat`, 'utf8');
  const extismPlugin = wabt.parseWat('plugin.wat', wat).toBinary({}).buffer;
  const extism = await createPlugin({ wasm: [{ data: extismPlugin }] }, { useWasi: false, runInWorker: false });
  const engine = new Engine();
  await engine.registerPlugin('wat', `${root}plugins/wat/examples.wasm`);
  const inst = await engine.getInstance('wat');
  // the very same Extism plugin through Wasp (ABI extism, detected)
  await engine.registerPlugin('extism-plugin', extismPlugin);
  const same = await engine.getInstance('extism-plugin');
  const ref = await reference(engine.plugin('wat').moduleFor(0));
  const direct = ref.exports.sum as (a: number, b: number) => number;
  const sumInput = new Uint8Array(8);
  new DataView(sumInput.buffer).setInt32(0, 3, true);
  new DataView(sumInput.buffer).setInt32(4, 2, true);
  const reset = () => extism.reset();
  const ext = (fn: () => Promise<unknown>): (() => unknown) => {
    const marker = () => undefined;
    asyncTasks.set(marker, batchAsync(fn, reset));
    return marker;
  };
  // Baselines: the same Extism plugin through Wasp; beside it the same logic as a wasp/1 plugin.
  plan.push({
    group: 'sum, Wasp vs Extism JS SDK',
    baseline: 'Wasp, the Extism plugin',
    target: ['Extism JS SDK', 10, 'min'],
    tasks: [
      ['direct export call', () => direct(3, 2)],
      ['engine call() (wasp/1 plugin)', () => inst.call('sum', 3, 2)],
      ['Wasp, the Extism plugin', () => same.callBytes('sum', sumInput)],
      ['Extism JS SDK', ext(() => extism.call('sum', sumInput))],
    ],
  });
  plan.push({
    group: 'string 20 chars, Wasp vs Extism JS SDK',
    baseline: 'Wasp, the Extism plugin',
    target: ['Extism JS SDK', 10, 'min'],
    tasks: [
      ['engine callString() (wasp/1 plugin)', () => inst.callString('hello', string20)],
      ['Wasp, the Extism plugin', () => same.callString('hello', string20)],
      ['Extism JS SDK', ext(async () => (await extism.call('hello', string20))?.text())],
    ],
  });
  plan.push({
    group: 'bytes 1 KiB, Wasp vs Extism JS SDK',
    baseline: 'Wasp, the Extism plugin',
    target: ['Extism JS SDK', 10, 'min'],
    tasks: [
      ['engine callBytes() (wasp/1 plugin)', () => inst.callBytes('reverse', kib)],
      ['Wasp, the Extism plugin', () => same.callBytes('reverse', kib)],
      ['Extism JS SDK', ext(async () => (await extism.call('reverse', kib))?.bytes())],
    ],
  });

  // An Extism plugin from a real PDK through both hosts (test/fixtures/extism): through Wasp it runs as ABI extism.
  const vowelsInput = 'Wasp runs Extism plugins too';
  const fixtures = `${root}test/fixtures/extism`;
  // (The 20-byte round trip is the hello group above, the same plugin through both hosts. Extism's
  // own echo.wasm takes the JS SDK over a millisecond a call, which would make this run last minutes.)
  for (const [file, fn, input, group] of [['code.wasm', 'count_vowels', vowelsInput, 'count_vowels (Extism\'s code.wasm, Rust PDK), Wasp vs Extism JS SDK']] as const) {
    const data = new Uint8Array(await readFile(`${fixtures}/${file}`));
    const theirs = await createPlugin({ wasm: [{ data }] }, { useWasi: false, runInWorker: false });
    await engine.registerPlugin(file, data);
    const ours = await engine.getInstance(file);
    // as the SDK runs it inline: nothing can stop a runaway call
    const undeadlined = await engine.getInstance(file, { timeoutMs: 0 });
    const expected = (await theirs.call(fn, input))?.text();
    if (ours.callString(fn, input) !== expected) throw new Error(`${file}: Wasp and the Extism JS SDK disagree on ${fn}`);
    // The floor any host has: the plugin's own Wasm with Wasp's kernel and nothing else (vars and
    // config answered as absent, no deadline, no checks), called as a hand-written host would.
    const kernelMemory = new WebAssembly.Memory({ initial: 1 });
    const kernel = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(KERNEL_WASM_BASE64, 'base64')), {
      host: { memory: kernelMemory, config_get: () => 0, var_get: () => 0, var_set: () => undefined, log: () => undefined, log_level: () => 2 },
    });
    const bare = new WebAssembly.Instance(new WebAssembly.Module(data), { 'extism:host/env': kernel.exports as WebAssembly.ModuleImports });
    const begin = kernel.exports.host_begin as (n: number) => number;
    const run = bare.exports[fn] as () => number;
    const alone = () => {
      const n = Buffer.byteLength(input);
      const p = begin(n);
      const mem = Buffer.from(kernelMemory.buffer);
      mem.write(input, p, n, 'utf8');
      run();
      const out = Buffer.from(kernelMemory.buffer);
      return out.toString('utf8', out.readUInt32LE(0), out.readUInt32LE(0) + out.readUInt32LE(4));
    };
    if (!alone().startsWith('{"count":')) throw new Error(`${file}: the plugin alone gave ${alone()}`);
    const theirReset = () => theirs.reset();
    const theirCall = (): (() => unknown) => {
      const marker = () => undefined;
      asyncTasks.set(marker, batchAsync(async () => (await theirs.call(fn, input))?.text(), theirReset));
      return marker;
    };
    plan.push({
      group,
      baseline: 'engine callString()',
      target: ['Extism JS SDK', 10, 'min'],
      tasks: [
        ['the plugin alone (kernel only, no deadline)', alone],
        ['engine callString()', () => ours.callString(fn, input)],
        ['engine callString(), timeoutMs: 0', () => undeadlined.callString(fn, input)],
        ['Extism JS SDK', theirCall()],
      ],
    });
  }
}

// BENCH_ONLY=text: only the groups whose name contains it (every plugin is still set up, as in a full run); nothing is written.
const only = process.env.BENCH_ONLY;
if (only !== undefined) plan.splice(0, plan.length, ...plan.filter((p) => p.group.includes(only)));
const loops = new Map(plan.flatMap(({ group, tasks }) => tasks.map(([name, fn]) => [`${group} | ${name}`, asyncTasks.get(fn) ?? batch(fn, `${group} | ${name}`)] as const)));
const best = new Map<string, { ns: number; rme: number }>();
for (let round = 1; round <= ROUNDS; round++) {
  console.error(`round ${round}/${ROUNDS}: ${loops.size} benchmarks, ${BATCH} calls per sample...`);
  const bench = new Bench({ time: TIME_MS, warmupTime: 100 });
  // A collection before each task, so no task pays for the garbage of the one before it (node --expose-gc).
  const collect = (globalThis as { gc?: () => void }).gc;
  for (const [key, loop] of loops) bench.add(key, loop, { beforeAll: () => collect?.() });
  await bench.run();
  for (const task of bench.tasks) {
    const result = task.result;
    if (!result || !('latency' in result)) throw new Error(`benchmark ${task.name} did not complete: ${JSON.stringify(result)}`);
    const ns = (result.latency.p50 * 1e6) / BATCH; // the median sample: a GC pause lands in some samples, not in every task alike
    if (ns < (best.get(task.name)?.ns ?? Infinity)) best.set(task.name, { ns, rme: result.latency.rme });
  }
}
void sink;

const nsOf = (key: string): { ns: number; rme: number } => best.get(key)!;

const groups: Group[] = plan.map(({ group, baseline, target, tasks }) => {
  const base = nsOf(`${group} | ${baseline}`).ns;
  const rows = tasks.map(([name]) => {
    const { ns, rme } = nsOf(`${group} | ${name}`);
    return { name, nsPerOp: round(ns), rme: round(rme), ratio: round(ns / base) };
  });
  const out: Group = { name: group, baseline, rows };
  if (target) {
    const row = rows.find((r) => r.name === target[0])!;
    out.target =
      target[2] === 'min'
        ? { row: target[0], minRatio: target[1], met: row.ratio >= target[1] }
        : { row: target[0], maxRatio: target[1], met: row.ratio <= target[1] };
  }
  return out;
});

// The seed's table: sum per plugin language, against Go Wasp's 2,929 ns.
const seedTable = groups
  .filter((g) => g.name.startsWith('sum, ') && g.baseline === 'direct export call')
  .map((g) => {
    const row = g.rows.find((r) => r.name === 'engine call()') ?? g.rows[0]!;
    return { language: g.name.slice(5), nsPerOp: row.nsPerOp, fasterThanGoWasp: round(GO_WASP_SUM_NS / row.nsPerOp) };
  });

for (const g of groups) {
  const t = g.target;
  const goal = t ? `   (target: ${t.row} ${t.minRatio !== undefined ? `>= ${t.minRatio}` : `<= ${t.maxRatio}`}x: ${t.met ? 'met' : 'NOT MET'})` : '';
  console.log(`\n${g.name}${goal}`);
  console.log(table(['', 'ns/op', '±%', `x ${g.baseline}`], g.rows.map((r) => [r.name, r.nsPerOp, r.rme, r.ratio])));
}
console.log('\nsum per plugin language (the seed table; Go Wasp took 2,929 ns)');
console.log(table(['', 'ns/op', 'x faster than Go Wasp'], seedTable.map((r) => [r.language, r.nsPerOp, r.fasterThanGoWasp])));

const results = {
  date: new Date().toISOString(),
  node: process.version,
  cpu: cpus()[0]?.model,
  cores: cpus().length,
  callsPerSample: BATCH,
  rounds: ROUNDS,
  note: 'ns/op is the median sample of the best round; ratios compare figures from the same run',
  groups,
  seedTable,
  targetsMet: groups.filter((g) => g.target).every((g) => g.target!.met) && seedTable.every((r) => r.fasterThanGoWasp >= 10),
};
if (only === undefined) {
  console.log(`\nall targets met: ${results.targetsMet}`);
  await writeResult('engine.json', results);
} else {
  console.log(`\nBENCH_ONLY=${only}: nothing written`);
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
