import { WaspError } from '../engine/errors.js';

/** A mistake in how the command was invoked: exit 2 with the command's synopsis. */
export class UsageError extends WaspError {
  override name = 'UsageError';
}
