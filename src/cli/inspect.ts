import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ABI_NAMES, detectAbi, STAGE_TYPES, type AbiName } from '../engine/abi/abi.js';
import { formatType } from '../engine/host-imports.js';
import { DEFAULT_MEMORY_LIMIT_PAGES } from '../engine/limits.js';
import { resolveImport } from '../engine/plugin.js';
import { readModuleInfo, WasmFormatError, type ExportInfo, type FuncType } from '../engine/wasm-binary.js';
import type { CommandIO } from './command.js';
import { parseCommandArgs } from './fleet-connect.js';
import { table } from './show.js';
import { UsageError } from './usage.js';

/** Exports an ABI uses itself, which are not functions to call. */
const ABI_EXPORTS: Record<AbiName, ReadonlySet<string>> = {
  'wasp/1': new Set(['wasp_alloc', 'wasp_free', '_initialize', 'memory']),
  'wasp-go': new Set(['allocate', 'deallocate', 'get_string_size', '_initialize', '_start', 'memory']),
  extism: new Set(['_initialize', 'memory']),
};

/**
 * `wasp inspect <module.wasm>`: what a module is, as the engine sees it before running any of it:
 * its ABI, its exports and what each can be called as, its imports and what answers each, its
 * memory and the cap a registration puts on it, its SHA-256 (for a pipeline's sha256: pin).
 */
export async function inspectCommand(argv: string[], io: CommandIO): Promise<number> {
  const { positionals, values } = parseCommandArgs(argv, { abi: { type: 'string' } }, 'inspect');
  if (positionals.length !== 1) throw new UsageError('wasp inspect takes one module');
  const asked = values.abi as string | undefined;
  if (asked !== undefined && !ABI_NAMES.includes(asked as AbiName)) throw new UsageError(`--abi must be one of ${ABI_NAMES.join(', ')}, not ${asked}`);
  const file = positionals[0]!;
  const bytes = new Uint8Array(
    await readFile(file).catch((cause: Error) => {
      throw new Error(`cannot read ${file}: ${cause.message}`, { cause });
    }),
  );
  let info;
  try {
    info = readModuleInfo(bytes);
  } catch (error) {
    if (error instanceof WasmFormatError) throw new Error(`${file} is not a valid WebAssembly module: ${error.message}`, { cause: error });
    throw error;
  }
  // the sections inspect reads can be whole while a function body is not: registration compiles it all
  try {
    await WebAssembly.compile(bytes);
  } catch (error) {
    throw new Error(`${file} is not a valid WebAssembly module: ${(error as Error).message}`, { cause: error });
  }
  const abi = (asked as AbiName | undefined) ?? detectAbi(info.imports, info.exports);
  const out: string[] = [];
  out.push(`module   ${file}`, `size     ${bytes.length.toLocaleString('en')} bytes`, `sha256   ${createHash('sha256').update(bytes).digest('hex')}`);
  out.push(`abi      ${abi}${asked === undefined ? ' (detected; --abi to choose)' : ''}; a stage function has type ${STAGE_TYPES[abi]}`);
  out.push(`memory   ${describeMemory(info.memory)}`);

  out.push('', 'exports:');
  const rows = info.exports.map((e) => [e.name, e.type === undefined ? e.kind : formatType(e.type), callableAs(e, abi)]);
  out.push(...indented(rows));

  out.push('', 'imports:');
  if (info.imports.length === 0) out.push('  (none)');
  const answered = info.imports.map((imp) => {
    const r = resolveImport(imp, new Map(), abi);
    let what: string;
    if (r.by !== 'refused') what = r.by === 'host' ? `the host (${abi})` : r.by === 'wasi' ? 'WASI, sandboxed' : 'a callback';
    else if (r.problem === 'no-callback') what = 'a host callback: an embedding program adds it (engine.addCallback); pipelines have none; wasp call stands in for it';
    else what = `refused: ${r.reason}`;
    return [`${imp.module}.${imp.name}`, imp.type === undefined ? imp.kind : formatType(imp.type), what];
  });
  out.push(...indented(answered));
  io.stdout.write(`${out.join('\n')}\n`);
  return answered.some(([, , what]) => what!.startsWith('refused')) ? 1 : 0;
}

function describeMemory(memory: { min: number; max?: number } | undefined): string {
  if (memory === undefined) return 'none of its own';
  const pages = (n: number): string => `${n} page${n === 1 ? '' : 's'} (${(n * 64).toLocaleString('en')} KiB)`;
  const max = memory.max === undefined ? 'no maximum' : `at most ${pages(memory.max)}`;
  return `${pages(memory.min)} at start, ${max}; registered, it is capped at memoryLimitPages (default ${DEFAULT_MEMORY_LIMIT_PAGES.toLocaleString('en')} pages, ${DEFAULT_MEMORY_LIMIT_PAGES / 16} MiB)`;
}

function callableAs(e: ExportInfo, abi: AbiName): string {
  if (ABI_EXPORTS[abi].has(e.name)) return `used by the ${abi} ABI`;
  if (e.kind !== 'function' || e.type === undefined) return '';
  const type = e.type;
  const stage = formatType(type) === STAGE_TYPES[abi];
  const numbers = type.params.every(isNumber) && type.results.every(isNumber);
  if (abi === 'extism') return stage ? 'an Extism function: input in, output out; a stage; wasp call MOD FN INPUT' : '';
  if (abi === 'wasp-go') return stage ? 'a string or bytes in and out (length-prefixed); a stage' : numbers ? 'numbers: wasp call MOD FN 1 2' : '';
  if (stage) return 'a stage (a message in, outputs out), a string or bytes argument, or two numbers';
  return numbers ? `numbers: wasp call MOD ${e.name}${type.params.map((_, i) => ` ${i + 1}`).join('')}` : mixed(type);
}

function mixed(type: FuncType): string {
  return type.params.some((p) => p === 'i32') ? 'numbers; a string or bytes argument takes two i32 (pointer, length)' : '';
}

function isNumber(t: string): boolean {
  return t === 'i32' || t === 'i64' || t === 'f32' || t === 'f64';
}

/** A table's lines under a heading, two spaces in; none for no rows. */
function indented(rows: string[][]): string[] {
  return rows.length === 0 ? [] : table(rows.map(([first, ...rest]) => [`  ${first}`, ...rest])).trimEnd().split('\n');
}
