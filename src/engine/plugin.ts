import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { detectAbi, type AbiName, ABI_NAMES } from './abi/abi.js';
import { WASP_GO_HOST_IMPORTS, waspGoCallbackType } from './abi/wasp-go.js';
import { EXTISM_ENV, EXTISM_IMPORTS, EXTISM_OLD_PREFIX, EXTISM_REFUSED, extismCallbackType } from './abi/extism/extism.js';
import type { Callback } from './callbacks.js';
import { instrumentModule } from './deadline/instrument.js';
import {
  AbiError,
  describe,
  FunctionNotFoundError,
  InstanceStateError,
  MemoryLimitError,
  PluginCompileError,
  PluginHashMismatchError,
  PluginLoadError,
  UnresolvedImportError,
  type UnresolvedImportProblem,
  type ErrorContext,
} from './errors.js';
import { formatType, HOST_IMPORTS, sameType } from './host-imports.js';
import { DEADLINE_STEPS, resolveLimits, type PluginLimits } from './limits.js';
import { WASI_MODULES, type WasiOptions } from './wasi.js';
import { capMemory, readModuleInfo, WasmFormatError, type ExportInfo, type FuncType, type ImportInfo } from './wasm-binary.js';

export type PluginSource = string | URL | Uint8Array;

/** How a plugin is registered: its limits (each defaulting to the engine's, see PluginLimits), a pin, its WASI world. */
export interface PluginOptions extends Partial<PluginLimits> {
  /** Hex SHA-256 of the module file: a module whose hash differs is refused. */
  sha256?: string;
  /** Default WASI world for instances; getInstance may override it. */
  wasi?: WasiOptions;
  /** The ABI the plugin was built for; detected from its imports and exports when left out (see detectAbi). */
  abi?: AbiName;
  /** ABI extism: what the plugin's config_get answers. */
  config?: Record<string, string>;
}

/** A module compiled for each way it runs: instrumented for a deadline, or plain for callers who turn it off. */
interface Variants {
  timed?: WebAssembly.Module;
  plain?: WebAssembly.Module;
}

/**
 * A registered plugin: the module compiled once, its imports resolved and its
 * exports' signatures known. Instances are made from it without recompiling.
 */
export class Plugin {
  readonly exports: readonly ExportInfo[];
  readonly imports: readonly ImportInfo[];
  readonly usesWasi: boolean;
  readonly #functions: Map<string, FuncType>;
  readonly #variants: Variants;
  readonly #code: Uint8Array | undefined;

  constructor(
    readonly name: string,
    readonly sha256: string,
    info: { imports: readonly ImportInfo[]; exports: readonly ExportInfo[] },
    readonly callbacks: readonly Callback[],
    readonly limits: PluginLimits,
    readonly wasi: WasiOptions | undefined,
    variants: Variants,
    /** the module's bytes after the memory cap, to compile a variant not made yet (absent in workers) */
    code?: Uint8Array,
    /** the calling convention its exports and imports follow */
    readonly abi: AbiName = 'wasp/1',
    /** ABI extism: what config_get answers */
    readonly config?: Readonly<Record<string, string>>,
  ) {
    this.#code = code;
    this.exports = info.exports;
    this.imports = info.imports;
    this.usesWasi = info.imports.some((i) => WASI_MODULES.has(i.module));
    this.#functions = new Map(info.exports.filter((e) => e.type !== undefined).map((e) => [e.name, e.type!]));
    this.#variants = { ...variants };
  }

  get timeoutMs(): number {
    return this.limits.timeoutMs;
  }

  get maxOutputBytes(): number {
    return this.limits.maxOutputBytes;
  }

  /** The module instances of this plugin are made from, for its own deadline. */
  get module(): WebAssembly.Module {
    return this.moduleFor(this.limits.timeoutMs);
  }

  /**
   * The compiled module for a deadline: the instrumented one when there is a
   * deadline, the plain one when it is 0. The one registration did not make is
   * compiled on first use, once.
   */
  moduleFor(timeoutMs: number): WebAssembly.Module {
    const key = timeoutMs > 0 ? 'timed' : 'plain';
    const ready = this.#variants[key];
    if (ready !== undefined) return ready;
    const code = this.#code;
    if (code === undefined) {
      throw new InstanceStateError(`plugin ${this.name}: no ${key === 'timed' ? 'instrumented' : 'plain'} module here`, { plugin: this.name });
    }
    const module = key === 'timed' ? new WebAssembly.Module(instrument(code, this.name) as Uint8Array<ArrayBuffer>) : new WebAssembly.Module(code as Uint8Array<ArrayBuffer>);
    this.#variants[key] = module;
    return module;
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

/** The registerPlugin phase: load, verify, cap memory, compile (instrumented for the deadline) and resolve imports. */
export async function compilePlugin(
  name: string,
  source: PluginSource,
  options: PluginOptions,
  callbacks: ReadonlyMap<string, Callback>,
  defaults: Partial<PluginLimits> = {},
): Promise<Plugin> {
  const context: ErrorContext = { plugin: name };
  const limits = resolveLimits(options, defaults, context);
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

  const code = limitMemory(bytes, info, limits.memoryLimitPages, context);
  const abi = chooseAbi(options.abi, info, context);
  const resolved = resolveImports(info.imports, callbacks, context, abi);
  if (info.imports.some((i) => WASI_MODULES.has(i.module)) && !info.exports.some((e) => e.name === 'memory' && e.kind === 'memory')) {
    throw new PluginCompileError(`plugin ${name}: ${describeSource(source)} imports WASI but exports no memory for it to work in`, context);
  }
  const failed = (cause: unknown): PluginCompileError =>
    new PluginCompileError(`plugin ${name}: ${describeSource(source)} failed to compile: ${describe(cause)}`, { ...context, cause });
  // Validate before instrumenting, so a broken module is reported as itself rather than as whatever the instrumenter makes of it.
  if (!WebAssembly.validate(code as Uint8Array<ArrayBuffer>)) {
    throw await WebAssembly.compile(code as Uint8Array<ArrayBuffer>).then(
      () => failed(new Error('invalid module')),
      (cause: unknown) => failed(cause),
    );
  }
  const variants: Variants = {};
  try {
    if (limits.timeoutMs > 0) variants.timed = await WebAssembly.compile(instrument(code, name) as Uint8Array<ArrayBuffer>);
    else variants.plain = await WebAssembly.compile(code as Uint8Array<ArrayBuffer>);
  } catch (cause) {
    if (cause instanceof PluginCompileError) throw cause;
    throw failed(cause);
  }
  return new Plugin(name, sha256, info, resolved, limits, options.wasi, variants, code, abi, options.config && { ...options.config });
}

/** The module with its deadline checks (see deadline/instrument.ts), or a PluginCompileError saying why it cannot have them. */
function instrument(code: Uint8Array, name: string): Uint8Array {
  try {
    return instrumentModule(code, { steps: DEADLINE_STEPS });
  } catch (cause) {
    throw new PluginCompileError(
      `plugin ${name}: cannot add deadline checks: ${describe(cause)} (register it with timeoutMs: 0 to run it without a deadline)`,
      { plugin: name, cause },
    );
  }
}

function limitMemory(bytes: Uint8Array, info: ReturnType<typeof readModuleInfo>, pages: number, context: ErrorContext): Uint8Array {
  if (info.memory?.shared === true) {
    // A shared memory's buffer is not detached when it grows, so the host's views of it would stay
    // at the old size (and a view per access costs every call); plugins run one call at a time anyway.
    throw new PluginCompileError(`plugin ${context.plugin}: the module defines a shared memory (threads), which Wasp does not run: build it without threads`, context);
  }
  if (info.memory !== undefined && info.memory.min > pages) {
    throw new MemoryLimitError(
      `plugin ${context.plugin}: the module needs ${info.memory.min} pages of memory at start, more than memoryLimitPages ${pages}`,
      context,
    );
  }
  return capMemory(bytes, info, pages);
}

/** The ABI asked for, checked against the module, or the one the module shows. */
function chooseAbi(asked: AbiName | undefined, info: ReturnType<typeof readModuleInfo>, context: ErrorContext): AbiName {
  if (asked !== undefined && !ABI_NAMES.includes(asked)) {
    throw new AbiError(`plugin ${context.plugin}: unknown ABI ${String(asked)} (one of ${ABI_NAMES.join(', ')})`, context);
  }
  const abi = asked ?? detectAbi(info.imports, info.exports);
  return abi;
}

/** How one import of a module is answered, for an ABI and the callbacks at hand. */
export type ImportResolution =
  | { by: 'host' | 'wasi' }
  | { by: 'callback'; callback: Callback }
  | { by: 'refused'; reason: string; problem: UnresolvedImportProblem };

/** One import against what the engine offers: its own host functions for the ABI, WASI, or a callback. */
export function resolveImport(imp: ImportInfo, callbacks: ReadonlyMap<string, Callback>, abi: AbiName = 'wasp/1'): ImportResolution {
  const refused = (reason: string, problem: UnresolvedImportProblem): ImportResolution => ({ by: 'refused', reason, problem });
  if (imp.kind !== 'function') return refused(`is a ${imp.kind}; the engine provides only functions`, 'not-a-function');
  const type = imp.type!;
  const goHost = abi === 'wasp-go' && Object.hasOwn(WASP_GO_HOST_IMPORTS, imp.module) ? WASP_GO_HOST_IMPORTS[imp.module]! : undefined;
  if (goHost !== undefined && Object.hasOwn(goHost, imp.name)) {
    return sameType(goHost[imp.name]!, type) ? { by: 'host' } : refused(`has type ${formatType(type)}, expected ${formatType(goHost[imp.name]!)}`, 'wrong-type');
  }
  const kernelName =
    abi !== 'extism' ? undefined
    : imp.module === EXTISM_ENV ? imp.name
    : imp.module === 'env' && imp.name.startsWith(EXTISM_OLD_PREFIX) ? imp.name.slice(EXTISM_OLD_PREFIX.length)
    : undefined;
  if (kernelName !== undefined) {
    const expected =
      Object.hasOwn(EXTISM_IMPORTS, kernelName) ? EXTISM_IMPORTS[kernelName]
      : Object.hasOwn(EXTISM_REFUSED, kernelName) ? EXTISM_REFUSED[kernelName]
      : undefined;
    if (expected === undefined) return refused(`is not a function of Extism's kernel that Wasp offers (${Object.keys(EXTISM_IMPORTS).join(', ')})`, 'unknown-host-function');
    return sameType(expected, type) ? { by: 'host' } : refused(`has type ${formatType(type)}, expected ${formatType(expected)}`, 'wrong-type');
  }
  if (abi === 'wasp/1' && imp.module === 'wasp') {
    const expected = Object.hasOwn(HOST_IMPORTS, imp.name) ? HOST_IMPORTS[imp.name] : undefined;
    if (expected === undefined) return refused(`is not a wasp host function (${Object.keys(HOST_IMPORTS).join(', ')})`, 'unknown-host-function');
    return sameType(expected, type) ? { by: 'host' } : refused(`has type ${formatType(type)}, expected ${formatType(expected)}`, 'wrong-type');
  }
  if (WASI_MODULES.has(imp.module)) return { by: 'wasi' };
  const callback = callbacks.get(`${imp.module}.${imp.name}`);
  if (callback === undefined) return refused('has no callback: add it with engine.addCallback before registering the plugin', 'no-callback');
  const wanted = abi === 'wasp-go' ? waspGoCallbackType(callback.signature) : abi === 'extism' ? extismCallbackType(callback.signature) : callback.wasmType;
  return sameType(wanted, type) ? { by: 'callback', callback } : refused(`has type ${formatType(type)}, but the callback's signature needs ${formatType(wanted)}`, 'wrong-type');
}

/**
 * Every import must be a host function of the plugin's ABI, WASI, or a registered callback of
 * the Wasm signature the ABI gives it (wasp/1: a string is (ptr, len); wasp-go: one pointer).
 */
function resolveImports(imports: ImportInfo[], callbacks: ReadonlyMap<string, Callback>, context: ErrorContext, abi: AbiName = 'wasp/1'): Callback[] {
  const used: Callback[] = [];
  for (const imp of imports) {
    const resolution = resolveImport(imp, callbacks, abi);
    if (resolution.by === 'refused') throw new UnresolvedImportError(imp.module, imp.name, resolution.reason, context, resolution.problem);
    if (resolution.by === 'callback') used.push(resolution.callback);
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
