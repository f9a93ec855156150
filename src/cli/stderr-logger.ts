import { LOG_LEVELS, type Logger, type LogLevel } from '../engine/logger.js';

/** Logs as lines on stderr (stdout is for messages); levels below `level` are dropped. */
export function stderrLogger(stream: NodeJS.WritableStream, level: LogLevel = 'info', beforeWrite: () => void = () => {}): Logger {
  const min = LOG_LEVELS.indexOf(level);
  const logger = {} as Logger;
  for (const [i, name] of LOG_LEVELS.entries()) {
    logger[name] =
      i < min
        ? () => {}
        : (message, fields) => {
            beforeWrite();
            const extra = fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : '';
            stream.write(`${new Date().toISOString()} ${name.toUpperCase().padEnd(5)} ${message}${extra}\n`);
          };
  }
  return logger;
}
