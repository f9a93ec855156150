import { findWorkers, type WorkerReport } from '../fleet/discovery.js';
import type { CommandIO } from './command.js';
import { onFleet, parseFleetArgs } from './fleet-connect.js';
import { table } from './show.js';
import { UsageError } from './usage.js';

/** Rates are the difference of two rounds of stats this far apart. */
const SAMPLE_MS = 1_000;

/** `wasp status`: the workers' reports gathered per pipeline: revisions, workers, rates, in flight, failures. */
export async function statusCommand(argv: string[], io: CommandIO): Promise<number> {
  const { positionals, values } = parseFleetArgs(argv, {}, 'status');
  if (positionals.length > 0) throw new UsageError('wasp status takes no arguments');
  return onFleet(io, values, 'status', async (nc) => {
    const first = await findWorkers(nc);
    const started = Date.now();
    await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
    const second = await findWorkers(nc);
    const seconds = (Date.now() - started) / 1000;
    if (second.length === 0) {
      io.stdout.write('no worker answered\n');
      return 0;
    }
    io.stdout.write(table(statusRows(first, second, seconds)));
    return 0;
  });
}

/** One row per pipeline, summed over the workers in the second round; rates from the change since the first. */
export function statusRows(first: WorkerReport[], second: WorkerReport[], seconds: number): string[][] {
  const before = new Map(first.flatMap((w) => w.running.map((p) => [`${w.id}/${p.name}/${p.revision}`, p.stats] as const)));
  const rows = new Map<string, { revisions: Set<string>; workers: number; inRate: number; outRate: number; inFlight: number; failed: number; dead: number; problems: string[] }>();
  for (const w of second) {
    for (const p of w.running) {
      const row = rows.get(p.name) ?? { revisions: new Set(), workers: 0, inRate: 0, outRate: 0, inFlight: 0, failed: 0, dead: 0, problems: [] };
      rows.set(p.name, row);
      if (p.failed) row.problems.push(`${w.host}:${w.pid}: revision ${p.failed.revision ?? '?'} failed: ${p.failed.error}`);
      if (p.state !== 'running' || p.stats === undefined) continue;
      row.revisions.add(String(p.revision));
      row.workers++;
      const was = before.get(`${w.id}/${p.name}/${p.revision}`);
      row.inRate += (p.stats.received - (was?.received ?? p.stats.received)) / seconds;
      row.outRate += (p.stats.published - (was?.published ?? p.stats.published)) / seconds;
      row.inFlight += p.stats.inFlight;
      row.failed += p.stats.failed;
      row.dead += p.stats.deadLettered;
    }
  }
  const out = [['PIPELINE', 'REVISION', 'WORKERS', 'IN/S', 'OUT/S', 'IN FLIGHT', 'FAILED', 'DEAD LETTERS', 'PROBLEMS']];
  for (const [name, r] of [...rows].sort(([a], [b]) => a.localeCompare(b))) {
    out.push([name, [...r.revisions].join(',') || '-', String(r.workers), r.inRate.toFixed(0), r.outRate.toFixed(0), String(r.inFlight), String(r.failed), String(r.dead), r.problems.join('; ') || '-']);
  }
  return out;
}
