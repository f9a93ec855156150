import { findWorkers } from '../fleet/discovery.js';
import { FleetStore } from '../fleet/store.js';
import type { CommandIO } from './command.js';
import { onFleet, parseFleetArgs } from './fleet-connect.js';
import { table } from './show.js';
import { UsageError } from './usage.js';


/** `wasp ls`: the deployed pipelines, their revision, plugins and module digests, and the workers running them. */
export async function lsCommand(argv: string[], io: CommandIO): Promise<number> {
  const { positionals, values } = parseFleetArgs(argv, {}, 'ls');
  if (positionals.length > 0) throw new UsageError('wasp ls takes no arguments');
  return onFleet(io, values, 'ls', async (nc) => {
    const store = await FleetStore.open(nc);
    const [pipelines, workers] = await Promise.all([store.list(), findWorkers(nc)]);
    if (pipelines.length === 0) {
      io.stdout.write('no pipelines deployed\n');
      return 0;
    }
    const rows = [['PIPELINE', 'REVISION', 'DEPLOYED', 'PLUGINS', 'WORKERS']];
    for (const { name, deployment, error } of pipelines) {
      if (deployment === undefined) {
        rows.push([name, '?', '', `unreadable: ${error?.message ?? ''}`, '']);
        continue;
      }
      const plugins = Object.entries(deployment.modules).map(([plugin, m]) => `${plugin}=sha256:${m.sha256.slice(0, 12)}`).join(',');
      const on = workers.flatMap((w) => {
        const p = w.running.find((r) => r.name === name && r.state === 'running');
        return p ? [`${w.host}:${w.pid}@${p.revision}`] : [];
      });
      const back = deployment.rolledBackFrom ? ` (=${deployment.rolledBackFrom})` : '';
      rows.push([name, `${deployment.revision}${back}`, `${deployment.deployedAt.slice(0, 19)}Z ${deployment.deployedBy}`, plugins, on.join(',') || '-']);
    }
    io.stdout.write(table(rows));
    return 0;
  });
}
