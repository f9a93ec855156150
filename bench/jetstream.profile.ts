// Where a JetStream pipeline's time goes: one `wasp run` process (as jetstream.bench.ts runs it)
// under node --cpu-prof over an input stream filled beforehand, summarized by module and function:
//   node dist/bench/jetstream.profile.js [wasp|relay|relay-no-async-traces] [TOP]
// relay and relay-no-async-traces profile the bare nats.js relay instead, for comparison. It starts
// its own nats-server; BENCH_JS_MESSAGES inputs (100,000 by default) of 64 B. The profile is cut to
// the window the bench measures CPU in (from output WARM_OUTPUTS to the last), so that start-up,
// warming up and drain do not count, and
// both files stay for Chrome DevTools (Performance, load profile): the paths are printed.
// Unlike core-nats.profile.ts, the pipeline has a process of its own, so the profile holds
// nothing of the bench's publishing or receiving.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measure, N, SYSTEMS, withServer } from './jetstream.bench.js';
import { num } from './table.js';

const VARIANTS: Record<string, string> = { wasp: 'wasp run', relay: 'relay', 'relay-no-async-traces': 'relay, noAsyncTraces' };
const [variant = 'wasp', top = '25'] = process.argv.slice(2);
const system = SYSTEMS.find((s) => s.name === VARIANTS[variant]);
if (system === undefined) throw new Error(`unknown variant ${variant}: ${Object.keys(VARIANTS).join(', ')}`);

interface Profile {
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/**
 * Keeps the samples taken between `fromUs` and `toUs`. V8 stamps samples with the monotonic clock
 * in us, the clock the bench samples as process.hrtime, so the two windows are the same.
 */
function cut(profile: Profile, fromUs: number, toUs: number): Profile {
  const samples: number[] = [];
  const timeDeltas: number[] = [];
  let at = profile.startTime;
  let previous = fromUs;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0;
    if (at < fromUs || at > toUs) return;
    samples.push(id);
    timeDeltas.push(at - previous);
    previous = at;
  });
  return { ...profile, startTime: fromUs, endTime: toUs, samples, timeDeltas };
}

const dir = await mkdtemp(join(tmpdir(), 'wasp-jetstream-profile-'));
const { run, window } = await withServer((bench) => measure(bench, system, 1, 1, ['--cpu-prof', `--cpu-prof-dir=${dir}`]));
console.log(
  `${system.name}: ${N.toLocaleString('en')} inputs, ${run.msgPerSec.toLocaleString('en')} msg/s, CPU ${num(run.cpuUsPerMessage)} us/msg, ` +
    `nats-server ${num(run.serverCpuUsPerMessage)} us/msg (with the profiler on); stored ${run.stored.stored}, lost ${run.stored.lost}, duplicates ${run.stored.duplicates}`,
);
const written = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
if (written.length !== 1) throw new Error(`expected one profile in ${dir}, found ${written.length}: did the process exit normally on SIGTERM?`);
const whole = join(dir, written[0]!);
const profile = JSON.parse(await readFile(whole, 'utf8')) as Profile;
if (window.fromUs < profile.startTime || window.toUs > profile.endTime) {
  throw new Error(`the run's window (${window.fromUs}-${window.toUs} us) is not within the profile's (${profile.startTime}-${profile.endTime} us): the clocks differ`);
}
const file = join(dir, 'window.cpuprofile');
await writeFile(file, JSON.stringify(cut(profile, window.fromUs, window.toUs)));
console.log(`profile: ${whole} (whole process), ${file} (the steady state: the bench's CPU window)\n`);
const summary = spawn(process.execPath, [fileURLToPath(new URL('./profile-summary.js', import.meta.url)), file, top], { stdio: 'inherit' });
const [code] = (await once(summary, 'exit')) as [number | null];
process.exitCode = code ?? 1;
