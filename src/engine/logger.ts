/** The host's logger, shaped like the seed's wrapped logger; fields are structured context. */
export interface Logger {
  trace(message: string, fields?: Record<string, unknown>): void;
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export type LogLevel = keyof Logger;

/** Index = the level number a plugin passes to wasp.log. */
export const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error'];

const noop = (): void => {};

/** Fills the methods a partial logger leaves out with no-ops; no logger at all means silence. */
export function completeLogger(logger: Partial<Logger> = {}): Logger {
  const out = {} as Logger;
  for (const level of LOG_LEVELS) out[level] = logger[level]?.bind(logger) ?? noop;
  return out;
}

/** A logger that adds `fields` to every line (a worker's lines name their pipeline). */
export function withFields(logger: Logger, fields: Record<string, unknown>): Logger {
  const out = {} as Logger;
  for (const level of LOG_LEVELS) out[level] = (message, more) => logger[level](message, more === undefined ? fields : { ...fields, ...more });
  return out;
}
