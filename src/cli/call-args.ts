// What `wasp call` is asked: its options, its arguments read as JSON, and the checks that make a
// number that cannot fit a parameter a usage mistake instead of a silently wrapped value.
import { ABI_NAMES, type AbiName } from '../engine/abi/abi.js';
import type { Arg } from '../engine/instance.js';
import { LOG_LEVELS, type LogLevel } from '../engine/logger.js';
import type { FuncType } from '../engine/wasm-binary.js';
import { UsageError } from './usage.js';

export type Returns = 'auto' | 'string' | 'bytes' | 'number';

export interface CallArgs {
  module: string;
  fn: string;
  args: Arg[];
  /** each argument's text as given, for messages */
  texts: string[];
  returns: Returns;
  env: Record<string, string>;
  memoryPages: number | undefined;
  abi: AbiName | undefined;
  /** the message, as a stage gets it: a file's bytes, or standard input's (`-`) */
  input: string | undefined;
  subject: string | undefined;
  headers: [string, string][];
  /** subject patterns side outputs may go to; undefined: any */
  emits: string[] | undefined;
  logLevel: LogLevel;
}

export function parseCallArgs(argv: string[]): CallArgs {
  const positional: string[] = [];
  const parsed: Omit<CallArgs, 'module' | 'fn' | 'args' | 'texts'> = { returns: 'auto', env: {}, memoryPages: undefined, abi: undefined, input: undefined, subject: undefined, headers: [], emits: undefined, logLevel: 'info' };
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
    const pair = (what: string): [string, string] => {
      const text = value();
      const at = text.indexOf('=');
      if (at <= 0) throw new UsageError(`${flag} takes ${what}=VALUE, not ${text}`);
      return [text.slice(0, at), text.slice(at + 1)];
    };
    switch (flag) {
      case '--returns': {
        const r = value();
        if (r !== 'string' && r !== 'bytes' && r !== 'number') throw new UsageError(`--returns must be string, bytes or number, not ${r}`);
        parsed.returns = r;
        break;
      }
      case '--env': {
        const [k, v] = pair('KEY');
        parsed.env[k] = v;
        break;
      }
      case '--abi': {
        const a = value();
        if (!ABI_NAMES.includes(a as AbiName)) throw new UsageError(`--abi must be one of ${ABI_NAMES.join(', ')}, not ${a}`);
        parsed.abi = a as AbiName;
        break;
      }
      case '--memory-pages':
        parsed.memoryPages = Number(value());
        if (!Number.isInteger(parsed.memoryPages) || parsed.memoryPages < 1) throw new UsageError('--memory-pages takes a positive integer');
        break;
      case '--input':
        parsed.input = value();
        break;
      case '--subject':
        parsed.subject = value();
        break;
      case '--header':
        parsed.headers.push(pair('NAME'));
        break;
      case '--emits':
        (parsed.emits ??= []).push(value());
        break;
      case '--log-level': {
        const level = value();
        if (!LOG_LEVELS.includes(level as LogLevel)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, not ${level}`);
        parsed.logLevel = level as LogLevel;
        break;
      }
      default:
        throw new UsageError(`unknown option ${flag}`);
    }
  }
  const [module, fn, ...rest] = positional;
  if (module === undefined || fn === undefined) throw new UsageError('wasp call needs a module and a function');
  if (parsed.input !== undefined && rest.length > 0) throw new UsageError('--input is the message: give it or ARGs, not both');
  return { module, fn, args: rest.map(parseArg), texts: rest, ...parsed };
}

/** A JSON number is numeric (an integer beyond 2^53 stays exact as bigint); anything else is a string. */
export function parseArg(text: string): Arg {
  // not JSON, but what a float parameter can hold; quoted ('"NaN"') they stay text
  if (text === 'NaN' || text === 'Infinity' || text === '-Infinity') return Number(text);
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

/** The range of each integer type, signed low to unsigned high: both readings of the bits are accepted. */
const RANGES = { i32: [-(2n ** 31n), 2n ** 32n - 1n], i64: [-(2n ** 63n), 2n ** 64n - 1n] } as const;

/**
 * Numbers against the function's parameters, when they are all numbers: an integer parameter
 * takes no fraction and nothing out of its range, which Wasm would otherwise wrap or truncate.
 */
export function checkNumbers(fn: string, type: FuncType, args: readonly Arg[], texts: readonly string[]): void {
  if (!args.every((a) => typeof a === 'number' || typeof a === 'bigint') || args.length !== type.params.length) return;
  args.forEach((arg, i) => {
    const param = type.params[i]!;
    const text = texts[i]!;
    if (param === 'f32' || param === 'f64') {
      // JSON reads 1e999 as Infinity, and an f32 turns anything past its range into one: only a written Infinity is one
      const value = Number(arg);
      const written = text === 'NaN' || text === 'Infinity' || text === '-Infinity';
      if (!written && !Number.isFinite(param === 'f32' ? Math.fround(value) : value)) {
        throw new UsageError(`argument ${i + 1} of ${fn} is an ${param}: ${text} is out of its range (it would be Infinity; write Infinity for that)`);
      }
      return;
    }
    if (param !== 'i32' && param !== 'i64') return;
    if (typeof arg === 'number' && !Number.isInteger(arg)) {
      throw new UsageError(`argument ${i + 1} of ${fn} is an ${param}: ${text} ${Number.isFinite(arg) ? 'has a fraction' : 'is not a whole number'}`);
    }
    const [low, high] = RANGES[param];
    const value = BigInt(arg);
    if (value < low || value > high) throw new UsageError(`argument ${i + 1} of ${fn} is an ${param}: ${text} is out of its range (${low} to ${high})`);
  });
}

/** For an error about arguments: which ones were read as numbers, and how to pass them as text. */
export function numberHint(args: readonly Arg[], texts: readonly string[]): string {
  const numeric = texts.filter((_, i) => typeof args[i] === 'number' || typeof args[i] === 'bigint');
  if (numeric.length === 0) return '';
  return ` (${numeric.join(', ')} ${numeric.length === 1 ? 'was' : 'were'} read as a number; to pass text, quote it as JSON: '"${numeric[0]}"')`;
}
