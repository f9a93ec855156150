// Errors of deploying pipelines through NATS and running them on workers, as classes with fields.
import { WaspError } from '../index.js';

/** Why a pipeline file cannot be deployed as it is (it reads stdin, names local files...); `problems` lists each. */
export class NotDeployableError extends WaspError {
  override name = 'NotDeployableError';
  constructor(
    readonly pipeline: string,
    readonly problems: readonly string[],
  ) {
    super(`pipeline ${pipeline} cannot be deployed:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}

/** No deployed pipeline (or no such revision of it) by that name. */
export class DeploymentNotFoundError extends WaspError {
  override name = 'DeploymentNotFoundError';
  constructor(
    message: string,
    readonly pipeline: string,
    readonly revision?: number,
  ) {
    super(message);
  }
}

/** Another deploy of the same pipeline landed between reading its revision and writing the next. */
export class DeployConflictError extends WaspError {
  override name = 'DeployConflictError';
  constructor(readonly pipeline: string) {
    super(`pipeline ${pipeline} was deployed by someone else at the same moment; deploy again`);
  }
}

/** A stored deployment that is not one Wasp wrote (or a newer Wasp did): what is wrong with it. */
export class DeploymentFormatError extends WaspError {
  override name = 'DeploymentFormatError';
  constructor(
    message: string,
    readonly pipeline: string,
  ) {
    super(message);
  }
}

/** A module a deployment names is missing from the object store, or its bytes do not have its digest. */
export class ModuleIntegrityError extends WaspError {
  override name = 'ModuleIntegrityError';
  constructor(
    message: string,
    readonly sha256: string,
    readonly problem: 'missing' | 'digest-mismatch',
    readonly actual?: string,
  ) {
    super(message);
  }
}

/** `wasp deploy --wait` gave up: not every worker running the pipeline reported the revision in time, or one failed it. */
export class RolloutError extends WaspError {
  override name = 'RolloutError';
  constructor(
    message: string,
    readonly pipeline: string,
    readonly revision: number,
    readonly problem: 'timeout' | 'failed' | 'no-worker',
  ) {
    super(message);
  }
}
