// npm run bench: every part of the bench in turn, each in a node process of its own (so that one
// part's heap, JIT state and worker threads cannot colour the next one's figures), then the chart.
//   node dist/bench/run.js [--save]
// --save writes into bench/results/ (the committed figures); without it a fresh temporary folder
// takes the results, so that a trial run never replaces them. BENCH_PARTS=alloc,chart runs only
// the parts named. A part that fails does not stop the others; the run then exits 1, naming it.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { shown } from './results-dir.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

interface Part {
  name: string;
  script: string;
  /** node flags: the parts that collect garbage between measurements need --expose-gc */
  flags: string[];
}

const PARTS: Part[] = [
  { name: 'engine', script: 'engine.bench.js', flags: ['--expose-gc'] },
  { name: 'pipeline', script: 'pipeline.bench.js', flags: ['--expose-gc'] },
  { name: 'worker', script: 'worker.bench.js', flags: [] },
  { name: 'alloc', script: 'alloc.bench.js', flags: [] },
  { name: 'fault', script: 'fault.bench.js', flags: [] },
  { name: 'latency', script: 'latency.bench.js', flags: [] },
  { name: 'jetstream', script: 'jetstream.bench.js', flags: [] },
  { name: 'chart', script: 'chart.js', flags: [] },
];

const USAGE = `usage: node dist/bench/run.js [--save]
  --save   write the results into bench/results/ (default: a new temporary folder, printed)
  BENCH_PARTS=alloc,chart   run only these parts (of ${PARTS.map((p) => p.name).join(', ')})`;

class UsageError extends Error {
  override name = 'UsageError';
}

function options(argv: string[]): { save: boolean; parts: Part[] } {
  let save = false;
  for (const arg of argv) {
    if (arg === '--save') save = true;
    else if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new UsageError(`unknown argument ${arg}`);
  }
  const wanted = process.env.BENCH_PARTS?.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (wanted === undefined || wanted.length === 0) return { save, parts: PARTS };
  const unknown = wanted.filter((w) => !PARTS.some((p) => p.name === w));
  if (unknown.length > 0) throw new UsageError(`BENCH_PARTS: no part named ${unknown.join(', ')}`);
  // in the usual order whatever the order given: the chart last, after what it draws
  return { save, parts: PARTS.filter((p) => wanted.includes(p.name)) };
}

/** Says so when the machine is busier than its cores: the figures then measure the other work too. */
function warnIfLoaded(when: string): void {
  const load = loadavg()[0]!;
  const cores = cpus().length;
  if (load > cores) {
    console.log(`WARNING (${when}): load average ${load.toFixed(2)} over the last minute, above this machine's ${cores} cores: other work competes for the CPU, so the figures of this run are unreliable`);
  }
}

/** Runs one part with the terminal as its output; resolves to why it failed, or undefined. */
async function runPart(part: Part, out: string): Promise<string | undefined> {
  const args = [...part.flags, join(root, 'dist/bench', part.script)];
  console.log(`\n== ${part.name}: node ${args.map(shown).join(' ')}`);
  const started = Date.now();
  const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit', env: { ...process.env, BENCH_OUT: out } });
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => {
    child.once('exit', (c, s) => resolve([c, s]));
    child.once('error', (e) => resolve([null, e.message]));
  });
  const seconds = Math.round((Date.now() - started) / 1000);
  if (code === 0) {
    console.log(`== ${part.name}: done in ${seconds} s`);
    return undefined;
  }
  const why = code !== null ? `exit code ${code}` : `${signal}`;
  console.log(`== ${part.name}: FAILED (${why}) after ${seconds} s`);
  return why;
}

async function main(): Promise<void> {
  let opts: ReturnType<typeof options>;
  try {
    opts = options(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n${USAGE}`);
    process.exit(2);
  }
  const out = opts.save ? join(root, 'bench/results') : await mkdtemp(join(tmpdir(), 'wasp-bench-results-'));
  await mkdir(out, { recursive: true });
  warnIfLoaded('at the start');
  console.log(`bench: ${opts.parts.map((p) => p.name).join(', ')}; results go to ${shown(out)}${opts.save ? '' : ' (--save writes bench/results/)'}`);
  const failed: string[] = [];
  for (const part of opts.parts) {
    const why = await runPart(part, out);
    if (why !== undefined) failed.push(`${part.name} (${why})`);
  }
  console.log('');
  warnIfLoaded('at the end');
  console.log(`results in ${shown(out)}`);
  if (failed.length > 0) {
    console.log(`FAILED: ${failed.join(', ')}${failed.length < opts.parts.length ? '; the other parts ran' : ''}`);
    process.exitCode = 1;
  }
}

await main();
