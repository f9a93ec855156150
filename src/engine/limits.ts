// What one plugin may take from its host, with the defaults every engine and
// pipeline starts from. Nothing a plugin does may hang, crash or exhaust the
// host, so each limit is on unless turned off or raised on purpose.
import { InvalidOptionError, MemoryLimitError, type ErrorContext } from './errors.js';

export interface PluginLimits {
  /** Deadline of every call and instantiation in ms; 0 turns it off (the module then runs uninstrumented). Default 10,000. */
  timeoutMs: number;
  /** Cap on linear memory in 64 KiB pages, up to 65,536 (4 GiB); memory.grow past it fails inside the plugin. Default 1,024 (64 MiB). */
  memoryLimitPages: number;
  /** Largest single output or side output the host accepts. Default 16 MiB. */
  maxOutputBytes: number;
  /** Everything one call hands the host (outputs, side outputs, log lines), in bytes. Default 4 x maxOutputBytes, at least 1 MiB. */
  maxCallBytes: number;
  /** Side outputs one call may emit. Default 1,024. */
  maxEmitsPerCall: number;
}

export const DEFAULT_TIMEOUT_MS = 10_000;
/** The longest a Node timer waits (2^31 - 1 ms, 24.8 days): a longer one fires at once. */
export const MAX_TIMER_MS = 2_147_483_647;
export const DEFAULT_MEMORY_LIMIT_PAGES = 1024;
export const DEFAULT_MAX_OUTPUT_BYTES = 16 * 1024 * 1024;
export const DEFAULT_MAX_EMITS_PER_CALL = 1024;
export const MAX_PAGES = 65536;
/** A WebAssembly page. */
export const PAGE_BYTES = 65536;
/** A small maxOutputBytes still leaves a call room for many outputs (a flatMap) by default. */
const MIN_DEFAULT_CALL_BYTES = 1024 * 1024;

/**
 * How many loop iterations or function entries an instrumented module runs
 * between two looks at the clock (see deadline/instrument.ts): a look costs a
 * host call, so rarely enough to be lost in the work, often enough that a
 * deadline is met to within milliseconds.
 */
export const DEADLINE_STEPS = 10_000;

/** What every output, side output or log line costs against maxCallBytes besides its bytes: a flood of empty ones is not free. */
export const RECORD_COST = 64;
/** Longest log line (wasp.log, WASI stdout/stderr) passed on; the rest of the line is cut. */
export const MAX_LOG_LINE_BYTES = 4096;
/** A host call doing at least this much work the plugin sized (bytes to read or fill) looks at the deadline first. */
export const HOST_WORK_LOOK_BYTES = 4096;
/** Longest subject a plugin may emit to (NATS's whole control line is 4 KiB by default). */
export const MAX_SUBJECT_BYTES = 1024;
/** Pool sizes past these are refused, not run into an out-of-memory crash. */
export const MAX_INLINE_POOL_SIZE = 256;
export const MAX_WORKER_POOL_SIZE = 64;

/** The limits a plugin runs with: its own options over the engine's over the defaults, each checked. */
export function resolveLimits(own: Partial<PluginLimits>, defaults: Partial<PluginLimits>, context: ErrorContext): PluginLimits {
  const pick = <K extends keyof PluginLimits>(key: K): PluginLimits[K] | undefined => own[key] ?? defaults[key];
  const maxOutputBytes = pick('maxOutputBytes') ?? DEFAULT_MAX_OUTPUT_BYTES;
  const limits: PluginLimits = {
    timeoutMs: pick('timeoutMs') ?? DEFAULT_TIMEOUT_MS,
    memoryLimitPages: pick('memoryLimitPages') ?? DEFAULT_MEMORY_LIMIT_PAGES,
    maxOutputBytes,
    maxCallBytes: pick('maxCallBytes') ?? Math.max(4 * maxOutputBytes, MIN_DEFAULT_CALL_BYTES),
    maxEmitsPerCall: pick('maxEmitsPerCall') ?? DEFAULT_MAX_EMITS_PER_CALL,
  };
  const { memoryLimitPages } = limits;
  if (!Number.isInteger(memoryLimitPages) || memoryLimitPages < 1 || memoryLimitPages > MAX_PAGES) {
    throw new MemoryLimitError(`plugin ${context.plugin}: memoryLimitPages must be an integer from 1 to ${MAX_PAGES}`, context);
  }
  checkTimeout(limits.timeoutMs, context);
  for (const key of ['maxOutputBytes', 'maxCallBytes', 'maxEmitsPerCall'] as const) {
    const value = limits[key];
    if (!Number.isSafeInteger(value) || value < 1) throw new InvalidOptionError(key, `plugin ${context.plugin}: ${key} must be a positive integer`, context);
  }
  return limits;
}

/** A deadline is a whole number of milliseconds, 0 for none. */
export function checkTimeout(timeoutMs: number, context: ErrorContext): number {
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > MAX_TIMER_MS) {
    throw new InvalidOptionError('timeoutMs', `plugin ${context.plugin}: timeoutMs must be a whole number of milliseconds up to ${MAX_TIMER_MS} (0 for no deadline)`, context);
  }
  return timeoutMs;
}
