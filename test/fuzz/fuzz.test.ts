import { describe, expect, it } from 'vitest';
import { formatFailure, fuzz } from '../../fuzz/harness.js';

// A fixed slice of what `npm run fuzz` runs (10,000 cases of each kind, a random seed):
// the same generators and checks, in the same worker processes (dist/fuzz, built by pretest).
// Generous time bounds: other test files share the machine.
describe('fuzz, seed 1', () => {
  it('1,500 mutated modules register and run, or fail with a WaspError', async () => {
    const report = await fuzz({ kind: 'modules', seed: 1, count: 1500, caseTimeoutMs: 15_000 });
    expect(report.failures.map(formatFailure)).toEqual([]);
    expect(report.ran).toBe(1500);
    expect(report.outcomes.ran).toBeGreaterThan(30); // the mutants reach the calls, not just the parser
  });

  it('1,000 mutated pipeline files give a config or a ConfigError with positions', async () => {
    const report = await fuzz({ kind: 'configs', seed: 1, count: 1000, caseTimeoutMs: 15_000, slowMs: 5000 });
    expect(report.failures.map(formatFailure)).toEqual([]);
    expect(report.ran).toBe(1000);
    expect(report.outcomes.config).toBeGreaterThan(10);
  });
});
