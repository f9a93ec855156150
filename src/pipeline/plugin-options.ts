import { readFile } from 'node:fs/promises';
import type { PluginOptions } from '../engine/plugin.js';
import type { PluginConfig } from './config/schema.js';

/**
 * What the engine is told about a pipeline's plugin, with its WASI files read. One function for
 * the loader (which compiles each plugin to check it) and the pipeline (which compiles what the
 * loader did not hand it), so both compile the same thing.
 */
export async function pluginOptions(plugin: PluginConfig, files?: Record<string, Uint8Array>): Promise<PluginOptions> {
  return {
    sha256: plugin.sha256,
    abi: plugin.abi,
    config: plugin.config,
    timeoutMs: plugin.timeoutMs,
    memoryLimitPages: plugin.memoryLimitPages,
    maxOutputBytes: plugin.maxOutputBytes,
    maxCallBytes: plugin.maxCallBytes,
    maxEmitsPerCall: plugin.maxEmitsPerCall,
    wasi: { env: plugin.wasi?.env, args: plugin.wasi?.args, files: files ?? (await readWasiFiles(plugin)) },
  };
}

/** The files of a plugin's sandbox, read from the host paths its config names. */
export async function readWasiFiles(plugin: PluginConfig): Promise<Record<string, Uint8Array>> {
  const files: Record<string, Uint8Array> = {};
  for (const [sandboxPath, hostPath] of Object.entries(plugin.wasi?.files ?? {})) files[sandboxPath] = new Uint8Array(await readFile(hostPath));
  return files;
}
