export { Engine, type EngineOptions } from './engine/engine.js';
export { Plugin, type PluginOptions, type PluginSource } from './engine/plugin.js';
export {
  DEFAULT_MAX_EMITS_PER_CALL,
  DEFAULT_MAX_OUTPUT_BYTES,
  DEFAULT_MEMORY_LIMIT_PAGES,
  DEFAULT_TIMEOUT_MS,
  MAX_INLINE_POOL_SIZE,
  MAX_WORKER_POOL_SIZE,
  type PluginLimits,
} from './engine/limits.js';
export {
  Instance,
  type Arg,
  type EmitHandler,
  type FuncSpec,
  type InstanceOptions,
  type MessageHeaders,
  type ParamKind,
  type RawResult,
  type ResultKind,
} from './engine/instance.js';
export type { PluginPool, PoolCounters, PoolDone, PoolMessage, PoolOptions, PoolResult } from './engine/pool/pool.js';
export type { CallbackFunction, CallbackSignature, CallbackType } from './engine/callbacks.js';
export type { Logger, LogLevel } from './engine/logger.js';
export type { WasiOptions } from './engine/wasi.js';
export type { ExportInfo, ImportInfo, FuncType, ValType } from './engine/wasm-binary.js';
export { EMIT_ACCEPTED, EMIT_BAD_POINTER, EMIT_INVALID_SUBJECT, EMIT_NO_EMITTER, EMIT_REFUSED } from './engine/host-imports.js';
export * from './engine/errors.js';
