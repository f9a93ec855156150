import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Callback } from './callbacks.js';
import {
  FunctionNotFoundError,
  MemoryLimitError,
  PluginCompileError,
  PluginHashMismatchError,
  PluginLoadError,
  UnresolvedImportError,
  type ErrorContext,
} from './errors.js';
import { formatType, HOST_IMPORTS, sameType } from './host-imports.js';
import { WASI_MODULES, type WasiOptions } from './wasi.js';
import { capMemory, readModuleInfo, WasmFormatError, type ExportInfo, type FuncType, type ImportInfo } from './wasm-binary.js';

export type PluginSource = string | URL | Uint8Array;

export interface PluginOptions {
  /** Hex SHA-256 of the module file: a module whose hash differs is refused. */
  sha256?: string;
  /** Hard cap on linear memory in 64 KiB pages: memory.grow past it fails inside the plugin. */
  memoryLimitPages?: number;
  /** Largest single output the host accepts from the plugin (default 16 MiB). */
  maxOutputBytes?: number;
  /** Default WASI world for instances; getInstance may override it. */
  wasi?: WasiOptions;
}

export const DEFAULT_MAX_OUTPUT_BYTES = 16 * 1024 * 1024;
const MAX_PAGES = 65536;

/**
 * A registered plugin: the module compiled once, its imports resolved and its
 * exports' signatures known. Instances are made from it without recompiling.
 */
export class Plugin {
  readonly exports: readonly ExportInfo[];
  readonly imports: readonly ImportInfo[];
  readonly usesWasi: boolean;
  readonly maxOutputBytes: number;
  readonly #functions: Map<string, FuncType>;

  constructor(
    readonly name: string,
    readonly module: WebAssembly.Module,
    readonly sha256: string,
    info: { imports: ImportInfo[]; exports: ExportInfo[] },
    readonly callbacks: readonly Callback[],
    readonly options: PluginOptions,
  ) {
    this.exports = info.exports;
    this.imports = info.imports;
    this.usesWasi = info.imports.some((i) => WASI_MODULES.has(i.module));
    this.maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    this.#functions = new Map(info.exports.filter((e) => e.type !== undefined).map((e) => [e.name, e.type!]));
  }

  /** The Wasm signature of an exported function. */
  functionType(name: string): FuncType {
    const type = this.#functions.get(name);
    if (type === undefined) {
      throw new FunctionNotFoundError(`plugin ${this.name} exports no function ${name}`, { plugin: this.name, function: name });
    }
    return type;
  }

  hasFunction(name: string): boolean {
    return this.#functions.has(name);
  }
}

/** The registerPlugin phase: load, verify, cap memory, compile and resolve imports. */
export async function compilePlugin(
  name: string,
  source: PluginSource,
  options: PluginOptions,
  callbacks: ReadonlyMap<string, Callback>,
): Promise<Plugin> {
  const context: ErrorContext = { plugin: name };
  const bytes = await load(source, context);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (options.sha256 !== undefined && options.sha256.toLowerCase() !== sha256) {
    throw new PluginHashMismatchError(options.sha256, sha256, context);
  }

  let info;
  try {
    info = readModuleInfo(bytes);
  } catch (cause) {
    if (cause instanceof WasmFormatError) {
      throw new PluginCompileError(`plugin ${name}: ${describeSource(source)} is not a valid WebAssembly module: ${cause.message}`, {
        ...context,
        cause,
      });
    }
    throw cause;
  }

  let code: Uint8Array = bytes;
  if (options.memoryLimitPages !== undefined) code = limitMemory(bytes, info, options.memoryLimitPages, context);

  let module: WebAssembly.Module;
  try {
    module = await WebAssembly.compile(code as Uint8Array<ArrayBuffer>);
  } catch (cause) {
    throw new PluginCompileError(`plugin ${name}: ${describeSource(source)} failed to compile: ${(cause as Error).message}`, {
      ...context,
      cause,
    });
  }
  const resolved = resolveImports(info.imports, callbacks, context);
  return new Plugin(name, module, sha256, info, resolved, options);
}

function limitMemory(bytes: Uint8Array, info: ReturnType<typeof readModuleInfo>, pages: number, context: ErrorContext): Uint8Array {
  if (!Number.isInteger(pages) || pages < 1 || pages > MAX_PAGES) {
    throw new MemoryLimitError(`plugin ${context.plugin}: memoryLimitPages must be an integer from 1 to ${MAX_PAGES}`, context);
  }
  if (info.memory !== undefined && info.memory.min > pages) {
    throw new MemoryLimitError(
      `plugin ${context.plugin}: the module needs ${info.memory.min} pages of memory at start, more than memoryLimitPages ${pages}`,
      context,
    );
  }
  return capMemory(bytes, info, pages);
}

/** Every import must be a wasp host function, WASI, or a registered callback of the same Wasm signature. */
function resolveImports(imports: ImportInfo[], callbacks: ReadonlyMap<string, Callback>, context: ErrorContext): Callback[] {
  const used: Callback[] = [];
  for (const imp of imports) {
    const refuse = (reason: string): never => {
      throw new UnresolvedImportError(imp.module, imp.name, reason, context);
    };
    if (imp.kind !== 'function') refuse(`is a ${imp.kind}; the engine provides only functions`);
    const type = imp.type!;
    if (imp.module === 'wasp') {
      const expected = HOST_IMPORTS[imp.name];
      if (expected === undefined) refuse(`is not a wasp host function (${Object.keys(HOST_IMPORTS).join(', ')})`);
      else if (!sameType(expected, type)) refuse(`has type ${formatType(type)}, expected ${formatType(expected)}`);
    } else if (WASI_MODULES.has(imp.module)) {
      continue;
    } else {
      const callback = callbacks.get(`${imp.module}.${imp.name}`);
      if (callback === undefined) refuse('has no callback: add it with engine.addCallback before registering the plugin');
      else if (!sameType(callback.wasmType, type)) {
        refuse(`has type ${formatType(type)}, but the callback's signature needs ${formatType(callback.wasmType)}`);
      } else used.push(callback);
    }
  }
  return used;
}

async function load(source: PluginSource, context: ErrorContext): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source;
  try {
    if (source instanceof URL && source.protocol !== 'file:') {
      const response = await fetch(source);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      return new Uint8Array(await response.arrayBuffer());
    }
    return new Uint8Array(await readFile(source));
  } catch (cause) {
    throw new PluginLoadError(`plugin ${context.plugin}: cannot read ${describeSource(source)}: ${(cause as Error).message}`, {
      ...context,
      cause,
    });
  }
}

function describeSource(source: PluginSource): string {
  return source instanceof Uint8Array ? `the ${source.length}-byte module` : String(source);
}
