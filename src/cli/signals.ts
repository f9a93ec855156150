import { constants as osConstants } from 'node:os';

/**
 * A second signal during a drain: the operator will not wait for it. The process ends at once
 * with 128 + the signal's number, as a shell reports a process a signal ended; what was in
 * flight is not settled (a JetStream input redelivers it, a core one is lost) and the log says how much.
 */
export function forceExit(signal: NodeJS.Signals, inFlight: number, logger: { warn(message: string): void }): never {
  logger.warn(`second ${signal}: stopping without finishing the drain; ${inFlight} input(s) in flight are not settled`);
  process.exit(128 + (osConstants.signals[signal] ?? 0));
}

