// The options `wasp run` and `wasp worker` share, checked the same way by both: a bad value is a
// usage mistake (exit 2), found before anything starts.
import { LOG_LEVELS, type LogLevel } from '../engine/logger.js';
import { HttpListenError, parseAddress } from '../observe/http.js';
import { LOG_FORMATS, type LogFormat } from './stderr-logger.js';
import { UsageError } from './usage.js';

export function logLevelOption(value: string | undefined): LogLevel {
  if (!LOG_LEVELS.includes(value as LogLevel)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  return value as LogLevel;
}

export function logFormatOption(value: string | undefined): LogFormat {
  if (!LOG_FORMATS.includes(value as LogFormat)) throw new UsageError(`--log-format must be one of ${LOG_FORMATS.join(', ')}`);
  return value as LogFormat;
}

/** --http HOST:PORT, its shape checked now; whether it can be listened on is found when it is. */
export function httpOption(value: string | undefined): string {
  if (!value) throw new UsageError('--http needs HOST:PORT');
  try {
    parseAddress(value);
  } catch (error) {
    if (error instanceof HttpListenError) throw new UsageError(error.message);
    throw error;
  }
  return value;
}
