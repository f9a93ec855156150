// `npm run fuzz` / `node dist/fuzz/run.js [--seed N] [--count N] [--only modules|configs] [--case N]... [--write DIR]`
//
// Mutates the committed example modules and pipeline files and checks that
// the engine and the config loader fail only with their own errors. Prints a
// summary and every failing case with the command that replays it; exits 1
// on any failure.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KINDS, type Kind } from './cases.js';
import { formatFailure, fuzz, type FuzzReport } from './harness.js';
import { generate } from './run-case.js';

const USAGE = `usage: node dist/fuzz/run.js [options]
  --seed N              seed of the run (default: random, printed)
  --count N             cases per kind (default 10000)
  --only modules|configs
  --case N              run only case N (repeatable), printing its outcome
  --workers N           worker processes (default: one per core)
  --max-seconds N       start no batch after N seconds (default 1800)
  --write DIR           write the input of every failing case to DIR`;

interface Args {
  seed: number;
  count: number;
  kinds: Kind[];
  cases: number[];
  workers: number | undefined;
  maxSeconds: number;
  write: string | undefined;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { seed: Math.floor(Math.random() * 2 ** 31), count: 10_000, kinds: [...KINDS], cases: [], workers: undefined, maxSeconds: 1800, write: undefined };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const int = (): number => {
      const v = value();
      if (!/^\d+$/.test(v)) throw new Error(`${flag} needs a non-negative integer, not ${v}`);
      return Number(v);
    };
    if (flag === '--seed') args.seed = int();
    else if (flag === '--count') args.count = int();
    else if (flag === '--case') args.cases.push(int());
    else if (flag === '--workers') args.workers = Math.max(1, int());
    else if (flag === '--max-seconds') args.maxSeconds = int();
    else if (flag === '--write') args.write = value();
    else if (flag === '--only') {
      const kind = value();
      if (!KINDS.includes(kind as Kind)) throw new Error(`--only takes modules or configs, not ${kind}`);
      args.kinds = [kind as Kind];
    } else if (flag === '--help' || flag === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown option ${flag}`);
  }
  return args;
}

function top(counts: Record<string, number>, n: number): string {
  return Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `${v} ${k}`)
    .join(', ');
}

function summary(r: FuzzReport): string {
  const lines = [
    `${r.kind}: ${r.ran} of ${r.planned} cases in ${(r.ms / 1000).toFixed(1)} s, ${r.failures.length} failed` +
      (r.slowest ? ` (slowest: case ${r.slowest.index}, ${Math.round(r.slowest.ms)} ms)` : ''),
    `  outcomes: ${top(r.outcomes, 12)}`,
  ];
  if (Object.keys(r.tally).length > 0) lines.push(`  ${r.kind === 'modules' ? 'export calls' : 'first problems'}: ${top(r.tally, r.kind === 'modules' ? 12 : 8)}`);
  return lines.join('\n');
}

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`error: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const verbose = args.cases.length > 0;
  console.log(`fuzz: seed ${args.seed}, ${verbose ? `cases ${args.cases.join(', ')}` : `${args.count} cases`} of ${args.kinds.join(' and ')}`);
  const stopAt = Date.now() + args.maxSeconds * 1000;
  let failed = 0;
  for (const kind of args.kinds) {
    const report = await fuzz({
      kind,
      seed: args.seed,
      count: args.count,
      indices: verbose ? args.cases : undefined,
      workers: args.workers,
      stopAt,
      onResult: verbose ? (r) => console.log(`${kind} case ${r.index}: ${r.ok ? 'ok' : 'FAIL'} ${r.outcome} (${Math.round(r.ms)} ms)\n  ${r.description}`) : undefined,
    });
    console.log(summary(report));
    for (const f of report.failures) console.log(formatFailure(f));
    if (args.write !== undefined && report.failures.length > 0) {
      mkdirSync(args.write, { recursive: true });
      for (const f of report.failures) {
        const file = join(args.write, `${kind}-${args.seed}-${f.index}.${kind === 'modules' ? 'wasm' : 'yaml'}`);
        writeFileSync(file, generate(kind, args.seed, f.index).input);
        console.log(`wrote ${file}`);
      }
    }
    failed += report.failures.length;
    if (report.ran < report.planned) console.log(`stopped after --max-seconds ${args.maxSeconds}: ${report.planned - report.ran} ${kind} cases not run`);
  }
  console.log(failed === 0 ? 'fuzz: no failures' : `fuzz: ${failed} failure(s)`);
  return failed === 0 ? 0 : 1;
}

process.exitCode = await main();
