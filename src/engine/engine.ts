import { defineCallback, type Callback, type CallbackFunction, type CallbackSignature } from './callbacks.js';
import { PluginCompileError, PluginExistsError, PluginNotFoundError } from './errors.js';
import { Instance, type InstanceOptions } from './instance.js';
import { createInstance } from './abi/foreign-instance.js';
import { completeLogger, type Logger } from './logger.js';
import type { PluginLimits } from './limits.js';
import { compilePlugin, type Plugin, type PluginOptions, type PluginSource } from './plugin.js';
import { createPool, type PluginPool, type PoolOptions } from './pool/pool.js';
import { initWasi } from './wasi.js';

/** The engine's logger, and the limits its plugins get unless they set their own (see PluginLimits for the defaults). */
export interface EngineOptions extends Partial<PluginLimits> {
  /** Where the engine and plugins (wasp.log, WASI stdout and stderr) write; silent by default. Missing methods are no-ops. */
  logger?: Partial<Logger>;
}

/**
 * The plugin host. registerPlugin compiles a module once; getInstance makes a
 * sandboxed instance of it as often as needed; instance calls never recompile.
 */
export class Engine {
  readonly logger: Logger;
  readonly #callbacks = new Map<string, Callback>();
  readonly #plugins = new Map<string, Plugin>();
  readonly #limits: Partial<PluginLimits>;

  constructor(options: EngineOptions = {}) {
    const { logger, ...limits } = options;
    this.logger = completeLogger(logger);
    this.#limits = limits;
  }

  /** Makes a host function importable by plugins as `namespace.name`; add it before registering those plugins. */
  addCallback(namespace: string, name: string, fn: CallbackFunction, signature: CallbackSignature): this {
    const callback = defineCallback(namespace, name, fn, signature);
    const key = `${namespace}.${name}`;
    if (this.#callbacks.has(key)) throw new PluginExistsError(`callback ${key} is already defined`);
    this.#callbacks.set(key, callback);
    return this;
  }

  /** Loads (path, URL or bytes), verifies and compiles a module, and resolves its imports. */
  async registerPlugin(name: string, source: PluginSource, options: PluginOptions = {}): Promise<Plugin> {
    if (this.#plugins.has(name)) throw new PluginExistsError(`plugin ${name} is already registered`, { plugin: name });
    const plugin = await compilePlugin(name, source, options, this.#callbacks, this.#limits);
    if (plugin.usesWasi) await initWasi();
    if (this.#plugins.has(name)) throw new PluginExistsError(`plugin ${name} is already registered`, { plugin: name });
    this.#plugins.set(name, plugin);
    this.logger.debug('registered plugin', {
      plugin: name,
      sha256: plugin.sha256,
      exports: plugin.exports.length,
      wasi: plugin.usesWasi,
    });
    return plugin;
  }

  /**
   * Registers a plugin another registerPlugin already compiled (a config loader checking it), so it
   * is not compiled twice. Its host functions must be this engine's, as registerPlugin would have
   * resolved them.
   */
  async addPlugin(plugin: Plugin): Promise<Plugin> {
    const name = plugin.name;
    if (this.#plugins.has(name)) throw new PluginExistsError(`plugin ${name} is already registered`, { plugin: name });
    for (const callback of plugin.callbacks) {
      if (this.#callbacks.get(`${callback.namespace}.${callback.name}`) !== callback) {
        throw new PluginCompileError(`plugin ${name} was compiled with a host function ${callback.namespace}.${callback.name} this engine does not have`, { plugin: name });
      }
    }
    if (plugin.usesWasi) await initWasi();
    this.#plugins.set(name, plugin);
    return plugin;
  }

  plugin(name: string): Plugin {
    const plugin = this.#plugins.get(name);
    if (plugin === undefined) throw new PluginNotFoundError(`no plugin named ${name} is registered`, { plugin: name });
    return plugin;
  }

  get plugins(): Plugin[] {
    return [...this.#plugins.values()];
  }

  unregisterPlugin(name: string): void {
    this.plugin(name);
    this.#plugins.delete(name);
  }

  /** A fresh sandboxed instance: its own memory, and its own WASI world when the plugin uses WASI. */
  async getInstance(name: string, options: InstanceOptions = {}): Promise<Instance> {
    return this.getInstanceSync(name, options);
  }

  /**
   * A pool of instances of a plugin behind one async call: inline (in this
   * thread) or in worker threads for CPU-heavy plugins; `await pool.ready()`
   * before relying on it (a module that cannot instantiate fails there).
   */
  createPool(name: string, options: PoolOptions = {}): PluginPool {
    return createPool(this, name, options);
  }

  /** getInstance without the promise, for pools that replace instances on the hot path. */
  getInstanceSync(name: string, options: InstanceOptions = {}): Instance {
    return createInstance(this.plugin(name), this.logger, options);
  }
}
