// Where every part of the bench writes its results, and where the chart reads them: the folder
// BENCH_OUT names (bench/run.ts sets it: bench/results/ with --save, else a temporary folder),
// or, for a part run on its own, a fresh temporary folder. A run alone must not overwrite the
// committed figures, which only a whole, saved run should replace.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';

let chosen: Promise<string> | undefined;

/** The results folder, created if need be; the same one for every call in a process. */
export function resultsDir(): Promise<string> {
  chosen ??= choose();
  return chosen;
}

async function choose(): Promise<string> {
  const out = process.env.BENCH_OUT;
  if (out !== undefined && out !== '') {
    const dir = resolve(out);
    await mkdir(dir, { recursive: true });
    return dir;
  }
  const dir = await mkdtemp(join(tmpdir(), 'wasp-bench-results-'));
  console.log(`BENCH_OUT is not set: results go to ${dir} (npm run bench -- --save writes bench/results/)`);
  return dir;
}

/** Writes one result file as indented JSON into the results folder and says where; resolves to its path. */
export async function writeResult(name: string, value: unknown): Promise<string> {
  const file = join(await resultsDir(), name);
  await writeFile(file, `${JSON.stringify(value, null, 2)}\n`);
  console.log(`written to ${shown(file)}`);
  return file;
}

/** A path as the user would type it: relative when it is under the working directory. */
export function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? path : rel;
}
