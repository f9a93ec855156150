// One fuzz case, from its number to its verdict: what the worker processes run.
import { caseRng, describeError, type CaseResult, type Kind, type Mutant, type Verdict } from './cases.js';
import { loadConfigBases, makeConfig, runConfig, type ConfigBase } from './configs.js';
import { loadModuleBases, makeModule, runModule, type Base } from './modules.js';

let moduleBases: Base[] | undefined;
let configBases: ConfigBase[] | undefined;

/** The input of a case and how it was made: a pure function of (kind, seed, index). */
export function generate(kind: Kind, seed: number, index: number): Mutant<Uint8Array | string> {
  const rng = caseRng(seed, kind, index);
  return kind === 'modules' ? makeModule(rng, (moduleBases ??= loadModuleBases())) : makeConfig(rng, (configBases ??= loadConfigBases()));
}

// Errors thrown outside the case's own awaits (a stray timer, a promise nobody awaited) break the contract too.
let stray: unknown[] = [];

/** Catches what escapes every case; call once in a process that runs cases. */
export function watchStrayErrors(): void {
  process.on('uncaughtException', (error) => stray.push(error));
  process.on('unhandledRejection', (error) => stray.push(error));
}

/** Hooks for a parent watching the case: when it starts, and each step of a module case (a call may hang). */
export interface CaseHooks {
  start?: (description: string) => Promise<void>;
  step?: (what: string) => Promise<void>;
}

export async function runCase(kind: Kind, seed: number, index: number, hooks: CaseHooks = {}): Promise<CaseResult> {
  let mutant: Mutant<Uint8Array | string>;
  try {
    mutant = generate(kind, seed, index);
  } catch (error) {
    return { kind, seed, index, description: '(the input could not be generated)', ms: 0, ok: false, outcome: 'harness error', detail: describeError(error) };
  }
  await hooks.start?.(mutant.description);
  stray = [];
  const t0 = performance.now();
  let verdict: Verdict;
  try {
    verdict = kind === 'modules' ? await runModule(mutant.input as Uint8Array, hooks.step) : await runConfig(mutant.input as string);
  } catch (error) {
    verdict = { ok: false, outcome: 'harness error', detail: describeError(error) };
  }
  const ms = performance.now() - t0;
  await new Promise((resolve) => setImmediate(resolve)); // let stray errors of this case surface before judging it
  if (stray.length > 0 && verdict.ok) verdict = { ok: false, outcome: 'uncaught error', detail: stray.map(describeError).join('\n') };
  return { kind, seed, index, description: mutant.description, ms, ...verdict };
}
