import { init, MemFS, WASI } from '@wasmer/wasi';
import { dirname } from 'node:path/posix';
import { WasiSetupError, type ErrorContext } from './errors.js';

/** An instance's whole world: nothing of the host is reachable beyond what is listed here. */
export interface WasiOptions {
  env?: Record<string, string>;
  args?: string[];
  /** Absolute paths in the instance's in-memory filesystem, and their contents. */
  files?: Record<string, string | Uint8Array>;
}

export const WASI_MODULES = new Set(['wasi_snapshot_preview1', 'wasi_unstable']);

let ready: Promise<void> | undefined;

/** @wasmer/wasi is itself a Wasm module; compile it once per process, on first need. */
export function initWasi(): Promise<void> {
  return (ready ??= init());
}

/** A fresh WASI context with its own MemFS; call after initWasi() resolved. */
export function createWasi(options: WasiOptions, context: ErrorContext): WASI {
  const fs = new MemFS();
  for (const [path, content] of Object.entries(options.files ?? {})) {
    if (!path.startsWith('/')) {
      throw new WasiSetupError(`plugin ${context.plugin}: WASI file path ${path} must be absolute`, context);
    }
    try {
      mkdirs(fs, dirname(path));
      const file = fs.open(path, { read: true, write: true, create: true, truncate: true });
      if (typeof content === 'string') file.writeString(content);
      else file.write(content);
      file.flush();
    } catch (cause) {
      throw new WasiSetupError(`plugin ${context.plugin}: cannot create WASI file ${path}`, { ...context, cause });
    }
  }
  return new WASI({ env: { ...options.env }, args: [...(options.args ?? [])], fs });
}

function mkdirs(fs: MemFS, dir: string): void {
  if (dir === '/' || dir === '') return;
  mkdirs(fs, dirname(dir));
  try {
    fs.createDir(dir);
  } catch {
    // already there
  }
}
