import { LOG_LEVELS, type Logger, type LogLevel } from '../engine/logger.js';

export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/**
 * Logs as lines on stderr (stdout is for messages); levels below `level` are dropped. `json`:
 * one object per line, `time`, `level` and `msg` first, then the fields (pipeline, stage, ...).
 */
export function stderrLogger(stream: NodeJS.WritableStream, level: LogLevel = 'info', beforeWrite: () => void = () => {}, format: LogFormat = 'text'): Logger {
  const min = LOG_LEVELS.indexOf(level);
  const logger = {} as Logger;
  for (const [i, name] of LOG_LEVELS.entries()) {
    logger[name] =
      i < min
        ? () => {}
        : format === 'json'
          ? (message, fields) => {
              beforeWrite();
              stream.write(`${JSON.stringify({ time: new Date().toISOString(), level: name, msg: message, ...fields })}\n`);
            }
          : (message, fields) => {
            beforeWrite();
            const extra = fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : '';
            stream.write(`${new Date().toISOString()} ${name.toUpperCase().padEnd(5)} ${message}${extra}\n`);
          };
  }
  return logger;
}
