// What the parent and the worker processes of the fuzz harness share: the
// kinds of case, a case's result, and where the repository is.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mix, Rng } from './rng.js';

export type Kind = 'modules' | 'configs';
export const KINDS: readonly Kind[] = ['modules', 'configs'];

/** How one case ended; `ok` is false when the contract was broken. */
export interface Verdict {
  ok: boolean;
  /** a short class of outcome for the summary, e.g. "register: PluginCompileError" */
  outcome: string;
  /** for a failure: what was thrown, with its stack */
  detail?: string;
  /** finer counts for the summary: for modules, how the export calls ended; for configs, the kind of the first problem */
  tally?: Record<string, number>;
}

/** A generated input and how it was made. */
export interface Mutant<T> {
  input: T;
  /** the base and the mutations, e.g. "plugins/c/examples.wasm: flip(code#9+120 bit 3); drop(export#7)" */
  description: string;
}

export interface CaseResult extends Verdict {
  kind: Kind;
  seed: number;
  index: number;
  /** what the case is: its base input and the mutations applied */
  description: string;
  ms: number;
}

/** The repository root: the nearest directory above this file with a package.json (from fuzz/ or dist/fuzz/). */
export const root = findRoot(dirname(fileURLToPath(import.meta.url)));

function findRoot(dir: string): string {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, 'package.json'))) return d;
    if (dirname(d) === d) throw new Error(`no package.json above ${dir}`);
  }
}

/** Every case draws from its own generator, so it can be replayed alone from (seed, kind, index). */
export function caseRng(seed: number, kind: Kind, index: number): Rng {
  return new Rng(mix(seed, kind === 'modules' ? 1 : 2, index));
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}\n${(error.stack ?? '').split('\n').slice(1, 8).join('\n')}`;
  return `thrown non-Error: ${String(error)}`;
}
