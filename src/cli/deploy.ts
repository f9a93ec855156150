import { readFile } from 'node:fs/promises';
import { ConfigError, formatWarning, loadPipelineFile } from '../pipeline/config/load.js';
import { PIPELINE_NAME } from '../pipeline/config/schema.js';
import { draftDeployment } from '../fleet/deployment.js';
import { NotDeployableError } from '../fleet/errors.js';
import { FleetStore, sha256Hex } from '../fleet/store.js';
import { waitForRollout } from '../fleet/rollout.js';
import type { CommandIO } from './command.js';
import { onFleet, parseFleetArgs } from './fleet-connect.js';
import { formatProblems } from './validate.js';
import { UsageError } from './usage.js';

const DEFAULT_WAIT_TIMEOUT_MS = 60_000;

function timeoutOf(value: string | boolean | undefined): number {
  if (value === undefined) return DEFAULT_WAIT_TIMEOUT_MS;
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms < 1) throw new UsageError('--timeout takes a whole number of milliseconds');
  return ms;
}

/**
 * `wasp deploy <pipeline.yaml>`: validates the file as `wasp validate` does, stores its modules
 * by digest and the pipeline as its next revision; `--rollback NAME [--to N]` deploys an
 * earlier revision again. `--wait` returns once every worker taking the pipeline runs it.
 */
export async function deployCommand(argv: string[], io: CommandIO): Promise<number> {
  const { positionals, values } = parseFleetArgs(
    argv,
    { wait: { type: 'boolean' }, timeout: { type: 'string' }, rollback: { type: 'string' }, to: { type: 'string' } },
    'deploy',
  );
  const timeoutMs = timeoutOf(values.timeout);
  const rollback = values.rollback as string | undefined;
  if (rollback === undefined && positionals.length !== 1) throw new UsageError('wasp deploy takes one pipeline file (or --rollback NAME)');
  if (rollback !== undefined && positionals.length !== 0) throw new UsageError('wasp deploy --rollback takes no pipeline file');
  if (values.to !== undefined && rollback === undefined) throw new UsageError('--to goes with --rollback');
  if (rollback !== undefined) checkPipelineName(rollback);
  const to = values.to === undefined ? undefined : Number(values.to);
  if (to !== undefined && (!Number.isInteger(to) || to < 1)) throw new UsageError('--to takes a revision number');

  let prepared: ({ bytes: Record<string, Uint8Array> } & ReturnType<typeof draftDeployment>) | undefined;
  if (rollback === undefined) {
    const file = positionals[0]!;
    let loaded;
    try {
      loaded = await loadPipelineFile(file);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      io.stderr.write(formatProblems(error.problems));
      return 1;
    }
    // workers run it on NATS, whatever the file says: its input is reachable there
    for (const w of loaded.warnings) if (w.kind !== 'unreachable-input') io.stderr.write(`${formatWarning(w)}\n`);
    const bytes: Record<string, Uint8Array> = {};
    const digests: Record<string, { sha256: string; size: number }> = {};
    for (const [name, plugin] of Object.entries(loaded.config.plugins)) {
      bytes[name] = new Uint8Array(await readFile(plugin.path));
      digests[name] = { sha256: sha256Hex(bytes[name]), size: bytes[name].length };
    }
    try {
      prepared = { bytes, ...draftDeployment(loaded.file, loaded.config, digests) };
    } catch (error) {
      if (!(error instanceof NotDeployableError)) throw error;
      io.stderr.write(`error: ${error.message}\n`);
      return 1;
    }
  }

  return onFleet(io, values, 'deploy', async (nc) => {
    const store = await FleetStore.open(nc);
    let deployment;
    if (prepared === undefined) {
      deployment = await store.rollback(rollback!, to);
      io.stdout.write(`rolled ${deployment.name} back: revision ${deployment.revision} is revision ${deployment.rolledBackFrom} again\n`);
    } else {
      let uploaded = 0;
      for (const bytes of Object.values(prepared.bytes)) if ((await store.putModule(bytes)).uploaded) uploaded++;
      const { draft, notes } = prepared;
      deployment = await store.deploy(draft);
      const count = Object.keys(prepared.bytes).length;
      io.stdout.write(`deployed ${deployment.name} revision ${deployment.revision} (${count} module(s): ${uploaded} uploaded, ${count - uploaded} already stored)\n`);
      for (const note of notes) io.stdout.write(`  note: ${note}\n`);
    }
    if (values.wait) {
      const workers = await waitForRollout(nc, deployment.name, deployment.revision, timeoutMs);
      io.stdout.write(`revision ${deployment.revision} running on ${workers.length} worker(s)\n`);
    }
    return 0;
  });
}

/** `wasp undeploy NAME`: removes the pipeline; workers drain and stop it. Its revisions stay for a later rollback. */
export async function undeployCommand(argv: string[], io: CommandIO): Promise<number> {
  const { positionals, values } = parseFleetArgs(argv, { wait: { type: 'boolean' }, timeout: { type: 'string' } }, 'undeploy');
  if (positionals.length !== 1) throw new UsageError('wasp undeploy takes one pipeline name');
  const name = checkPipelineName(positionals[0]!);
  const timeoutMs = timeoutOf(values.timeout);
  return onFleet(io, values, 'undeploy', async (nc) => {
    const store = await FleetStore.open(nc);
    if (!(await store.undeploy(name))) {
      io.stderr.write(`error: pipeline ${name} is not deployed\n`);
      return 1;
    }
    io.stdout.write(`undeployed ${name}\n`);
    if (values.wait) {
      await waitForRollout(nc, name, undefined, timeoutMs);
      io.stdout.write(`${name} stopped on every worker\n`);
    }
    return 0;
  });
}

/** A pipeline name as the config allows it: anything else (a wildcard, say) can name no deployment. */
function checkPipelineName(name: string): string {
  if (!PIPELINE_NAME.test(name)) throw new UsageError(`${name} is not a pipeline name (letters, digits, - and _ only)`);
  return name;
}
