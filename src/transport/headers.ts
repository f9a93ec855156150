import type { MessageHeaders } from '../engine/instance.js';

/** Message headers as they travel through a pipeline: a name may carry several values, as in NATS. */
export class Headers implements MessageHeaders {
  readonly #map: Map<string, string[]>;

  constructor(entries?: Iterable<readonly [string, readonly string[]]>) {
    this.#map = new Map();
    if (entries) for (const [name, values] of entries) this.#map.set(name, [...values]);
  }

  get(name: string): string | undefined {
    return this.#map.get(name)?.[0];
  }

  values(name: string): readonly string[] {
    return this.#map.get(name) ?? [];
  }

  set(name: string, value: string): this {
    this.#map.set(name, [value]);
    return this;
  }

  append(name: string, value: string): this {
    const values = this.#map.get(name);
    if (values) values.push(value);
    else this.#map.set(name, [value]);
    return this;
  }

  entries(): IterableIterator<[string, string[]]> {
    return this.#map.entries();
  }

  [Symbol.iterator](): IterableIterator<[string, string[]]> {
    return this.#map.entries();
  }

  get size(): number {
    return this.#map.size;
  }

  clone(): Headers {
    return new Headers(this.#map);
  }
}
