import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Engine } from '../index.js';
import type { CommandIO } from './command.js';
import { parseCommandArgs } from './fleet-connect.js';
import { LANGUAGES, MANIFEST, type PluginManifest } from './scaffold/templates.js';
import { buildPlugin, PluginBuildError, ToolchainMissingError } from './scaffold/toolchains.js';
import { UsageError } from './usage.js';

/**
 * `wasp build [DIR]`: builds the plugin project `wasp new plugin` wrote (its wasp-plugin.json says
 * the language), then registers the module as a pipeline would, so a module that cannot run is
 * caught here.
 */
export async function buildCommand(argv: string[], io: CommandIO): Promise<number> {
  const { positionals } = parseCommandArgs(argv, {}, 'build');
  if (positionals.length > 1) throw new UsageError('wasp build takes at most one project folder');
  const dir = positionals[0] ?? '.';
  let manifest: PluginManifest;
  try {
    manifest = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')) as PluginManifest;
  } catch (error) {
    io.stderr.write(`error: ${join(dir, MANIFEST)} cannot be read (${(error as Error).message}): wasp build builds a project made by wasp new plugin\n`);
    return 1;
  }
  if (!LANGUAGES.includes(manifest.lang) || typeof manifest.name !== 'string' || typeof manifest.output !== 'string') {
    io.stderr.write(`error: ${join(dir, MANIFEST)}: needs name, output and lang (one of ${LANGUAGES.join(', ')})\n`);
    return 1;
  }
  let bytes: Uint8Array;
  try {
    bytes = await buildPlugin(dir, manifest);
  } catch (error) {
    if (error instanceof ToolchainMissingError || error instanceof PluginBuildError) {
      io.stderr.write(`error: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
  const plugin = await new Engine().registerPlugin(manifest.name, bytes);
  const functions = plugin.exports.filter((e) => e.kind === 'function' && !e.name.startsWith('wasp_') && !e.name.startsWith('_')).map((e) => e.name);
  const out = relative(process.cwd(), join(dir, manifest.output)) || manifest.output;
  io.stdout.write(
    `built ${out}: ${bytes.length.toLocaleString('en')} bytes, ABI ${plugin.abi}, sha256 ${createHash('sha256').update(bytes).digest('hex')}\n` +
      `functions: ${functions.join(', ')}\n`,
  );
  return 0;
}
