// An Extism plugin names its config keys and vars by bytes in the kernel, and asks for the same
// few names on every call. Decoding each into a fresh string cost more than the lookup it serves,
// so the names seen last are kept with their bytes, and a key whose bytes match one is answered
// with it undecoded.

/** How many names are remembered; a plugin using more decodes the rest as before. */
const KEPT = 8;
/** Longer keys are decoded every time: comparing them would cost about as much. */
const LONGEST = 64;

export class KeyNames {
  readonly #bytes: Uint8Array[] = [];
  readonly #names: string[] = [];
  #next = 0;

  constructor(readonly decode: (at: number, n: number) => string) {}

  /** The key at [at, at + n) of u8, as a string; the caller has bounds-checked it. */
  name(u8: Uint8Array, at: number, n: number): string {
    if (n > LONGEST) return this.decode(at, n);
    const kept = this.#bytes;
    for (let i = 0; i < kept.length; i++) {
      const key = kept[i]!;
      if (key.length !== n) continue;
      let j = 0;
      while (j < n && key[j] === u8[at + j]) j++;
      if (j === n) return this.#names[i]!;
    }
    const name = this.decode(at, n);
    const slot = this.#next;
    this.#bytes[slot] = u8.slice(at, at + n);
    this.#names[slot] = name;
    this.#next = (slot + 1) % KEPT;
    return name;
  }
}
