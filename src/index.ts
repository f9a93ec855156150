export { Engine, type EngineOptions } from './engine/engine.js';
export { Plugin, DEFAULT_MAX_OUTPUT_BYTES, type PluginOptions, type PluginSource } from './engine/plugin.js';
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
export type { PluginPool, PoolMessage, PoolOptions, PoolResult } from './engine/pool/pool.js';
export type { CallbackFunction, CallbackSignature, CallbackType } from './engine/callbacks.js';
export type { Logger, LogLevel } from './engine/logger.js';
export type { WasiOptions } from './engine/wasi.js';
export type { ExportInfo, ImportInfo, FuncType, ValType } from './engine/wasm-binary.js';
export { EMIT_ACCEPTED, EMIT_BAD_POINTER, EMIT_NO_EMITTER, EMIT_REFUSED } from './engine/host-imports.js';
export * from './engine/errors.js';
