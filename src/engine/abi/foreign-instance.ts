// An instance of a plugin built for another ABI than wasp/1: the same calls as Instance, each
// handed to the ABI's adapter. A subclass rather than a check in Instance's calls, so that wasp/1
// calls, the hot path, look at nothing they do not need.
import { Instance, type Arg, type FuncSpec, type InstanceOptions, type RawResult } from '../instance.js';
import type { Logger } from '../logger.js';
import type { Plugin } from '../plugin.js';
import type { AbiCalls } from './abi.js';

export class ForeignInstance extends Instance {
  readonly #calls: AbiCalls;

  constructor(plugin: Plugin, logger: Logger, options: InstanceOptions) {
    super(plugin, logger, options);
    this.#calls = this.abiCalls!;
  }

  override call(name: string, ...args: Arg[]): number | bigint | undefined {
    return this.#calls.call(name, args);
  }

  override callString(name: string, ...args: Arg[]): string | null {
    return this.#calls.callString(name, args);
  }

  override callBytes(name: string, ...args: Arg[]): Uint8Array | null {
    return this.#calls.callBytes(name, args);
  }

  override callRaw(name: string, ...args: Arg[]): RawResult {
    return this.#calls.callRaw(name, args) as RawResult;
  }

  override callOutputs(name: string, ...args: Arg[]): Uint8Array[] {
    return this.#calls.callOutputs(name, args);
  }

  // A stage's message is bytes whatever was handed over, as a worker pool sends it.
  override callFlat(name: string, arg: Uint8Array | string): Uint8Array | Uint8Array[] | null {
    return this.#calls.callBytes(name, [typeof arg === 'string' ? Buffer.from(arg, 'utf8') : arg]);
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override func(name: string, spec: FuncSpec): (...args: Arg[]) => any {
    this.plugin.functionType(name); // a missing export fails here, not on first call
    const calls = this.#calls;
    switch (spec.result) {
      case 'string':
        return (...args) => calls.callString(name, args);
      case 'bytes':
        return (...args) => calls.callBytes(name, args);
      case 'outputs':
        return (...args) => calls.callOutputs(name, args);
      default:
        return (...args) => calls.call(name, args);
    }
  }
}

/** An instance of the plugin, of the class its ABI calls for. */
export function createInstance(plugin: Plugin, logger: Logger, options: InstanceOptions = {}): Instance {
  return plugin.abi === 'wasp/1' ? new Instance(plugin, logger, options) : new ForeignInstance(plugin, logger, options);
}
