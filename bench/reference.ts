// Hand-written minimal references: the same marshalling a careful developer
// would write against the raw WebAssembly API for one known export, with
// none of the engine's checks. The engine is measured against these.
import { init, WASI } from '@wasmer/wasi';
import { copyOut } from '../src/engine/copy-out.js';
import { readUtf8, writeUtf8 } from '../src/engine/utf8.js';

export interface Reference {
  exports: WebAssembly.Exports;
  /** reverse-style round trip: bytes in, one output copied out */
  bytes(fn: string): (input: Uint8Array) => Uint8Array | null;
  /** hello-style round trip: a string in, one string out */
  string(fn: string): (input: string) => string | null;
}

export async function reference(module: WebAssembly.Module): Promise<Reference> {
  let memory: WebAssembly.Memory;
  let u8 = new Uint8Array(0);
  let buf = Buffer.alloc(0);
  let bytesOut: Uint8Array | null = null;
  let stringOut: string | null = null;
  let wantString = false;
  const view = (): void => {
    u8 = new Uint8Array(memory.buffer);
    buf = Buffer.from(memory.buffer);
  };
  const imports: Record<string, Record<string, unknown>> = {
    wasp: {
      output(ptr: number, len: number) {
        if (u8.length === 0) view();
        if (wantString) stringOut = readUtf8(buf, ptr, ptr + len);
        else bytesOut = copyOut(u8, ptr, len);
      },
      error() {},
      emit: () => 0,
      log() {},
      subject: () => -1,
      header: () => -1,
    },
    plugin: { call_me: () => 0n },
  };
  let wasi: WASI | undefined;
  if (WebAssembly.Module.imports(module).some((i) => i.module === 'wasi_snapshot_preview1')) {
    await init();
    wasi = new WASI({});
    Object.assign(imports, wasi.getImports(module));
  }
  const instance = new WebAssembly.Instance(module, imports as WebAssembly.Imports);
  wasi?.instantiate(instance);
  (instance.exports._initialize as (() => void) | undefined)?.();
  memory = instance.exports.memory as WebAssembly.Memory;
  view();
  const alloc = instance.exports.wasp_alloc as (n: number) => number;
  const free = instance.exports.wasp_free as (p: number, n: number) => void;

  return {
    exports: instance.exports,
    bytes(name) {
      const fn = instance.exports[name] as (p: number, n: number) => number;
      return (input) => {
        const ptr = alloc(input.length);
        if (u8.length === 0) view();
        u8.set(input, ptr);
        wantString = false;
        bytesOut = null;
        fn(ptr, input.length);
        free(ptr, input.length);
        return bytesOut;
      };
    },
    string(name) {
      const fn = instance.exports[name] as (p: number, n: number) => number;
      return (input) => {
        const len = Buffer.byteLength(input);
        const ptr = alloc(len);
        if (u8.length === 0) view();
        writeUtf8(buf, input, ptr, len);
        wantString = true;
        stringOut = null;
        fn(ptr, len);
        free(ptr, len);
        return stringOut;
      };
    },
  };
}
