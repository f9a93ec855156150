import { readFile } from 'node:fs/promises';
import { Engine, type Arg, type Instance } from '../index.js';
import { ABI_NAMES, type AbiName } from '../engine/abi/abi.js';
import { readModuleInfo, type ValType } from '../engine/wasm-binary.js';
import { RESERVED_NAMESPACES } from '../engine/callbacks.js';
import type { CommandIO } from './command.js';
import { UsageError } from './usage.js';

type Returns = 'auto' | 'string' | 'bytes' | 'number';

interface CallArgs {
  module: string;
  fn: string;
  args: Arg[];
  returns: Returns;
  env: Record<string, string>;
  memoryPages: number | undefined;
  abi: AbiName | undefined;
}

/** `wasp call`: one call of one export, result on stdout. */
export async function callCommand(argv: string[], io: CommandIO): Promise<number> {
  io.stdout.write(`${await callOnce(argv)}\n`);
  return 0;
}

async function callOnce(argv: string[]): Promise<string> {
  const opts = parseCallArgs(argv);
  const bytes = new Uint8Array(await readFile(opts.module).catch((cause: Error) => {
    throw new Error(`cannot read ${opts.module}: ${cause.message}`, { cause });
  }));
  const engine = new Engine();
  stubCallbacks(engine, bytes);
  await engine.registerPlugin('module', bytes, { memoryLimitPages: opts.memoryPages, wasi: { env: opts.env }, abi: opts.abi });
  const inst = await engine.getInstance('module');
  try {
    return render(inst, opts);
  } finally {
    inst.remove();
  }
}

function render(inst: Instance, opts: CallArgs): string {
  return inst.plugin.abi === 'wasp/1' ? renderWasp(inst, opts) : renderPointer(inst, opts);
}

/**
 * The other ABIs, unless --returns says otherwise: an Extism function's output as text; for
 * wasp-go, whose results come back by pointer, a string argument means a string result and
 * numbers alone a number.
 */
function renderPointer(inst: Instance, { fn, args, returns }: CallArgs): string {
  const kind =
    returns !== 'auto' ? returns
    : inst.plugin.abi === 'extism' || args.some((a) => typeof a === 'string') ? 'string'
    : 'number';
  if (kind === 'string') return inst.callString(fn, ...args) ?? '';
  if (kind === 'bytes') return Buffer.from(inst.callBytes(fn, ...args) ?? new Uint8Array(0)).toString('hex');
  const value = inst.call(fn, ...args);
  return value === undefined ? '' : String(value);
}

function renderWasp(inst: Instance, { fn, args, returns }: CallArgs): string {
  switch (returns) {
    case 'number':
      return String(inst.call(fn, ...args));
    case 'string':
      return inst.callOutputs(fn, ...args).map((o) => Buffer.from(o).toString('utf8')).join('\n');
    case 'bytes':
      return inst.callOutputs(fn, ...args).map((o) => Buffer.from(o).toString('hex')).join('\n');
    case 'auto': {
      const { value, outputs, errorMessage } = inst.callRaw(fn, ...args);
      // An output, or a message set with wasp.error, means the return value is a status.
      if ((outputs.length > 0 || errorMessage !== null) && value !== 0) {
        throw new Error(`${fn} failed with status ${String(value)}${errorMessage === null ? '' : `: ${errorMessage}`}`);
      }
      if (outputs.length > 0) return outputs.map((o) => Buffer.from(o).toString('utf8')).join('\n');
      return value === undefined ? '' : String(value);
    }
  }
}

function parseCallArgs(argv: string[]): CallArgs {
  const positional: string[] = [];
  let returns: Returns = 'auto';
  const env: Record<string, string> = {};
  let memoryPages: number | undefined;
  let abi: AbiName | undefined;
  let onlyPositional = false;
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (onlyPositional || !token.startsWith('--')) {
      positional.push(token);
      continue;
    }
    if (token === '--') {
      onlyPositional = true;
      continue;
    }
    const eq = token.indexOf('=');
    const flag = eq === -1 ? token : token.slice(0, eq);
    const value = (): string => {
      if (eq !== -1) return token.slice(eq + 1);
      const next = argv[++i];
      if (next === undefined) throw new UsageError(`${flag} needs a value`);
      return next;
    };
    if (flag === '--returns') {
      const r = value();
      if (r !== 'string' && r !== 'bytes' && r !== 'number') throw new UsageError(`--returns must be string, bytes or number, not ${r}`);
      returns = r;
    } else if (flag === '--env') {
      const pair = value();
      const at = pair.indexOf('=');
      if (at <= 0) throw new UsageError(`--env takes KEY=VALUE, not ${pair}`);
      env[pair.slice(0, at)] = pair.slice(at + 1);
    } else if (flag === '--abi') {
      const a = value();
      if (!ABI_NAMES.includes(a as AbiName)) throw new UsageError(`--abi must be one of ${ABI_NAMES.join(', ')}, not ${a}`);
      abi = a as AbiName;
    } else if (flag === '--memory-pages') {
      memoryPages = Number(value());
      if (!Number.isInteger(memoryPages) || memoryPages < 1) throw new UsageError('--memory-pages takes a positive integer');
    } else {
      throw new UsageError(`unknown option ${flag}`);
    }
  }
  const [module, fn, ...rest] = positional;
  if (module === undefined || fn === undefined) throw new UsageError('wasp call needs a module and a function');
  return { module, fn, args: rest.map(parseArg), returns, env, memoryPages, abi };
}

/** A JSON number is numeric (an integer beyond 2^53 stays exact as bigint); anything else is a string. */
export function parseArg(text: string): Arg {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return text;
  }
  if (typeof value === 'string') return value;
  if (typeof value === 'number') {
    if (/^-?\d+$/.test(text.trim()) && !Number.isSafeInteger(value)) return BigInt(text.trim());
    return value;
  }
  return text;
}

/**
 * The command line has no host functions to offer. Callback imports get a
 * stand-in so that a module can still be called; only a call that reaches one
 * fails, naming it.
 */
function stubCallbacks(engine: Engine, bytes: Uint8Array): void {
  let imports;
  try {
    imports = readModuleInfo(bytes).imports;
  } catch {
    return; // registerPlugin reports a malformed module properly
  }
  for (const imp of imports) {
    if (imp.kind !== 'function' || RESERVED_NAMESPACES.has(imp.module) || imp.type === undefined) continue;
    const numeric = (t: ValType): t is 'i32' | 'i64' | 'f32' | 'f64' => t === 'i32' || t === 'i64' || t === 'f32' || t === 'f64';
    if (!imp.type.params.every(numeric) || !imp.type.results.every(numeric) || imp.type.results.length > 1) continue;
    engine.addCallback(
      imp.module,
      imp.name,
      () => {
        throw new Error(`the plugin called ${imp.module}.${imp.name}, a host callback that wasp call does not provide`);
      },
      { params: imp.type.params as ('i32' | 'i64' | 'f32' | 'f64')[], result: imp.type.results[0] as 'i32' | undefined },
    );
  }
}
