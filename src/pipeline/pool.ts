import type { Engine } from '../engine/engine.js';
import type { Instance, InstanceOptions } from '../engine/instance.js';

/** One pooled instance with its stage function checked once. */
export interface PoolSlot {
  instance: Instance;
  /** the stage function's outputs: null for none, the output for one, an array for several (Instance.callFlat) */
  call: (data: Uint8Array) => Uint8Array | Uint8Array[] | null;
}

/**
 * The instances behind one inline stage, taken in turn. A slot whose instance
 * trapped is replaced before it is used again: the engine compiled the module
 * once, so a replacement costs an instantiation, not a compile.
 */
export class InlinePool {
  readonly #slots: PoolSlot[] = [];
  #next = 0;

  constructor(
    readonly engine: Engine,
    readonly plugin: string,
    readonly fn: string,
    readonly size: number,
    readonly options: InstanceOptions,
  ) {
    for (let i = 0; i < size; i++) this.#slots.push(this.#make());
  }

  take(): PoolSlot {
    const slot = this.#slots[this.#next]!;
    this.#next = this.#next + 1 === this.#slots.length ? 0 : this.#next + 1;
    return slot;
  }

  /** Swaps a slot's instance for a fresh one; returns whether it did. */
  renew(slot: PoolSlot): boolean {
    if (!slot.instance.needsReplacement) return false;
    const fresh = this.#make();
    slot.instance.remove();
    slot.instance = fresh.instance;
    slot.call = fresh.call;
    return true;
  }

  close(): void {
    for (const slot of this.#slots) slot.instance.remove();
  }

  #make(): PoolSlot {
    const instance = this.engine.getInstanceSync(this.plugin, this.options);
    const fn = this.fn;
    instance.func(fn, { params: ['bytes'], result: 'outputs' }); // a signature mismatch fails here, not on the first message
    return { instance, call: (data) => instance.callFlat(fn, data) };
  }
}
