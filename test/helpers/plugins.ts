import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';

export const root = fileURLToPath(new URL('../../', import.meta.url));

/** The example plugin of every kit; they all export the functions in plugins/README.md. */
export const kits = [
  { language: 'assemblyscript', path: `${root}plugins/assemblyscript/examples.wasm`, subject: 'audit.as', wasi: false },
  { language: 'c', path: `${root}plugins/c/examples.wasm`, subject: 'audit.c', wasi: true },
  { language: 'rust', path: `${root}plugins/rust/examples.wasm`, subject: 'audit.rust', wasi: true },
] as const;

export const watExample = `${root}plugins/wat/examples.wasm`;

let wabt: Awaited<ReturnType<typeof wabtInit>> | undefined;

/** Compiles WAT text, for fixtures that pin down one ABI edge each. */
export async function wat(source: string, features: Record<string, boolean> = {}): Promise<Uint8Array> {
  wabt ??= await wabtInit();
  const module = wabt.parseWat('fixture.wat', source, features);
  try {
    return module.toBinary({}).buffer;
  } finally {
    module.destroy();
  }
}
