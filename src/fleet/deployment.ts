// A deployed revision of a pipeline, as stored in the pipelines bucket: the pipeline file as a
// value (the same schema `wasp validate` checks), each plugin pinned to its module's SHA-256,
// which the modules bucket stores it under. Nothing in it points at the deploying machine.
import { hostname } from 'node:os';
import { z } from 'zod';
import { DEFAULT_PUBLISH_ACK_TIMEOUT_MS, DEFAULT_PUBLISH_RETRY_MS, pipelineFromValue, type NatsSettings, type PipelineConfig, type PipelineFile } from '../pipelines.js';
import { DeploymentFormatError, NotDeployableError } from './errors.js';

/** Bumped when a worker could no longer read what an older one wrote. */
export const DEPLOYMENT_FORMAT = 1;

const deploymentSchema = z.object({
  format: z.literal(DEPLOYMENT_FORMAT),
  name: z.string(),
  revision: z.number().int().min(1),
  deployedAt: z.string(),
  deployedBy: z.string(),
  /** the revision this one restores, for a rollback */
  rolledBackFrom: z.number().int().min(1).optional(),
  /** the pipeline file, without its NATS connection (a worker brings its own) */
  pipeline: z.record(z.string(), z.unknown()),
  /** nats.publishAckTimeoutMs and nats.publishRetryMs of the file, which are the pipeline's, not the connection's */
  publish: z.object({ ackTimeoutMs: z.number().optional(), retryMs: z.number().optional() }),
  /** module digests by plugin name, and their sizes */
  modules: z.record(z.string(), z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/), size: z.number().int().min(0) })),
});

export type Deployment = z.infer<typeof deploymentSchema>;

/** What `wasp deploy` stores for a pipeline file it validated, before the store gives it a revision. */
export type DeploymentDraft = Omit<Deployment, 'revision' | 'deployedAt' | 'deployedBy' | 'format'>;

/**
 * The pipeline as a worker will run it. Refused, with every reason: stdin and stdout (a worker has
 * neither), and WASI files (they are on this machine only). A subject input without a queue group
 * gets `wasp-<name>`, so the workers share its messages instead of each handling all of them.
 */
export function draftDeployment(file: PipelineFile, config: PipelineConfig, digests: Record<string, { sha256: string; size: number }>): { draft: DeploymentDraft; notes: string[] } {
  const problems: string[] = [];
  const notes: string[] = [];
  if (config.input.kind === 'stdin') problems.push('input: stdin cannot be deployed (a worker has no stdin): read a subject or a stream');
  if (config.output.kind === 'stdout') problems.push('output: stdout cannot be deployed (a worker has no stdout): publish to a subject');
  for (const [name, plugin] of Object.entries(config.plugins)) {
    if (Object.keys(plugin.wasi?.files ?? {}).length > 0) problems.push(`plugins.${name}.wasi.files: files on this machine cannot be deployed with the pipeline`);
  }
  if (problems.length > 0) throw new NotDeployableError(config.name, problems);

  const { nats, ...rest } = file;
  const pipeline: Record<string, unknown> = structuredClone(rest) as Record<string, unknown>;
  const plugins = pipeline.plugins as Record<string, Record<string, unknown>>;
  for (const [name, plugin] of Object.entries(plugins)) plugin.sha256 = digests[name]!.sha256;
  const input = pipeline.input as Record<string, unknown>;
  if (config.input.kind === 'subject' && config.input.queue === undefined) {
    input.queue = `wasp-${config.name}`;
    notes.push(`input ${config.input.subject}: queue group wasp-${config.name}, so the workers share its messages`);
  }
  return {
    draft: {
      name: config.name,
      pipeline,
      publish: { ackTimeoutMs: nats?.publishAckTimeoutMs, retryMs: nats?.publishRetryMs },
      modules: digests,
    },
    notes,
  };
}

/** Who deployed: shown by `wasp ls`. */
export function deployer(): string {
  return `${process.env.USER ?? 'unknown'}@${hostname()}`;
}

/** A stored value as a Deployment, or the reason it is not one. */
export function readDeployment(key: string, value: Uint8Array): Deployment {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(value).toString('utf8'));
  } catch (error) {
    throw new DeploymentFormatError(`pipeline ${key}: the stored deployment is not JSON (${(error as Error).message})`, key);
  }
  const parsed = deploymentSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new DeploymentFormatError(`pipeline ${key}: the stored deployment is not one this Wasp reads (${issue.path.join('.') || '(top)'}: ${issue.message})`, key);
  }
  if (parsed.data.name !== key) throw new DeploymentFormatError(`pipeline ${key}: the stored deployment names pipeline ${parsed.data.name}`, key);
  return parsed.data;
}

/** The config a worker runs a deployment with: its own NATS connection, the deployment's publish settings. */
export function deploymentConfig(deployment: Deployment, nats: NatsSettings): PipelineConfig {
  const where = `nats-kv:${deployment.name}@${deployment.revision}`;
  const config = pipelineFromValue(deployment.pipeline, where);
  for (const [name, plugin] of Object.entries(config.plugins)) {
    const module = deployment.modules[name];
    if (module === undefined || plugin.sha256?.toLowerCase() !== module.sha256) {
      throw new DeploymentFormatError(`pipeline ${deployment.name} revision ${deployment.revision}: plugin ${name} is not pinned to a stored module`, deployment.name);
    }
  }
  return {
    ...config,
    nats: { ...nats, publishAckTimeoutMs: deployment.publish.ackTimeoutMs ?? DEFAULT_PUBLISH_ACK_TIMEOUT_MS, publishRetryMs: deployment.publish.retryMs ?? DEFAULT_PUBLISH_RETRY_MS },
  };
}
