import { CallbackDefinitionError, CallbackError, type ErrorContext } from './errors.js';
import type { PluginMemory } from './memory.js';
import type { FuncType, ValType } from './wasm-binary.js';

/** How a callback's parameter or result crosses the boundary (see docs/abi/wasp-1.md, "Callbacks"). */
export type CallbackType = 'string' | 'bytes' | 'i32' | 'i64' | 'f32' | 'f64';

export interface CallbackSignature {
  params: readonly CallbackType[];
  result?: CallbackType | 'void';
}

// Callbacks take whatever their signature declares; the engine checks values at the boundary.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type CallbackFunction = (...args: any[]) => unknown;

export interface Callback {
  readonly namespace: string;
  readonly name: string;
  readonly fn: CallbackFunction;
  readonly signature: CallbackSignature;
  readonly wasmType: FuncType;
}

/** Module names the engine answers itself; callbacks cannot live there. */
export const RESERVED_NAMESPACES = new Set(['wasp', 'wasp:deadline', 'wasi_snapshot_preview1', 'wasi_unstable']);
const TYPES = new Set<string>(['string', 'bytes', 'i32', 'i64', 'f32', 'f64']);

export function defineCallback(
  namespace: string,
  name: string,
  fn: CallbackFunction,
  signature: CallbackSignature,
): Callback {
  const where = `callback ${namespace}.${name}`;
  if (RESERVED_NAMESPACES.has(namespace)) {
    throw new CallbackDefinitionError(`${where}: namespace ${namespace} is reserved for the engine`);
  }
  if (typeof fn !== 'function') throw new CallbackDefinitionError(`${where}: not a function`);
  if (!Array.isArray(signature?.params)) throw new CallbackDefinitionError(`${where}: signature.params must be an array`);
  for (const t of signature.params) {
    if (!TYPES.has(t)) throw new CallbackDefinitionError(`${where}: unknown parameter type ${String(t)}`);
  }
  const result = signature.result ?? 'void';
  if (result !== 'void' && !TYPES.has(result)) {
    throw new CallbackDefinitionError(`${where}: unknown result type ${String(result)}`);
  }
  return { namespace, name, fn, signature: { params: [...signature.params], result }, wasmType: wasmTypeOf(signature) };
}

/** The Wasm signature the plugin must import a callback with. */
export function wasmTypeOf(signature: CallbackSignature): FuncType {
  const params: ValType[] = signature.params.flatMap((t): ValType[] => (t === 'string' || t === 'bytes' ? ['i32', 'i32'] : [t]));
  const r = signature.result ?? 'void';
  const results: ValType[] = r === 'void' ? [] : r === 'string' || r === 'bytes' ? ['i64'] : [r];
  return { params, results };
}

/** What a bound callback needs from the instance it runs in. */
export interface CallbackHost {
  readonly context: ErrorContext;
  memory(): PluginMemory;
  /** A block from the plugin's wasp_alloc, or 0 after recording an AllocationError for the call. */
  allocate(size: number, purpose: string): number;
  /** Records a callback's failure for the call (a plugin that catches it still fails); returns it to throw. */
  failed(error: CallbackError): CallbackError;
}

/** The import function for one instance: copies arguments out, calls the callback, writes its result in. */
export function bindCallback(callback: Callback, host: CallbackHost): (...raw: unknown[]) => unknown {
  const { params, result } = callback.signature;
  const label = `${callback.namespace}.${callback.name}`;
  const fail = (cause: unknown): CallbackError => host.failed(new CallbackError(label, { ...host.context, cause }));

  return (...raw: unknown[]) => {
    const args: unknown[] = [];
    let slot = 0;
    for (const t of params) {
      if (t === 'string' || t === 'bytes') {
        const ptr = raw[slot++] as number;
        const len = raw[slot++] as number;
        const memory = host.memory();
        args.push(
          t === 'string'
            ? memory.string(ptr, len, `argument to ${label}`, host.context)
            : memory.copy(ptr, len, `argument to ${label}`, host.context),
        );
      } else {
        args.push(raw[slot++]);
      }
    }
    const value = invokeCallback(callback, args, fail);
    return encodeResult(result ?? 'void', value, host, label, fail);
  };
}

function encodeResult(
  type: CallbackType | 'void',
  value: unknown,
  host: CallbackHost,
  label: string,
  fail: (cause: unknown) => CallbackError,
): unknown {
  if (type === 'void') return undefined;
  if (type !== 'string' && type !== 'bytes') return numberResult(type, value, fail);
  const block = blockResult(type, value, fail);
  if (block === null) return 0n;
  const size = typeof block === 'string' ? Buffer.byteLength(block, 'utf8') : block.length;
  if (size === 0) return 0n;
  const ptr = host.allocate(size, `result of ${label}`);
  if (ptr === 0) return 0n;
  if (typeof block === 'string') host.memory().writeUtf8(block, ptr, size);
  else host.memory().bytes().set(block, ptr);
  return (BigInt(ptr) << 32n) | BigInt(size);
}

/** Runs a callback: what it throws, or a Promise it returns (inline instances call synchronously), is a CallbackError. */
export function invokeCallback(callback: Callback, args: unknown[], fail: (cause: unknown) => CallbackError): unknown {
  let value: unknown;
  try {
    value = callback.fn(...args);
  } catch (error) {
    throw fail(error);
  }
  if (value instanceof Promise) {
    value.catch(() => {}); // the call has failed already; don't leave an unhandled rejection behind
    throw fail(new TypeError('returned a Promise: callbacks of inline instances must be synchronous'));
  }
  return value;
}

/** A string or bytes result, checked against the signature; null for none. */
function blockResult(type: 'string' | 'bytes', value: unknown, fail: (cause: unknown) => CallbackError): string | Uint8Array | null {
  if (value === null || value === undefined) return null;
  if (type === 'string' && typeof value !== 'string') throw fail(new TypeError(`returned ${typeof value}, expected a string`));
  if (type === 'bytes' && !(value instanceof Uint8Array)) throw fail(new TypeError(`returned ${typeof value}, expected a Uint8Array`));
  return value as string | Uint8Array;
}

/** A numeric result, checked against the signature (an i64 as bigint). */
function numberResult(type: 'i32' | 'i64' | 'f32' | 'f64', value: unknown, fail: (cause: unknown) => CallbackError): unknown {
  if (type === 'i64') {
    if (typeof value === 'bigint') return value;
    if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
    throw fail(new TypeError(`returned ${String(value)}, expected an i64 (bigint or safe integer)`));
  }
  if (typeof value !== 'number') throw fail(new TypeError(`returned ${typeof value}, expected a number`));
  return value;
}

/**
 * The import function for an ABI whose parameters and results are one value each (wasp-go,
 * extism): `read` gives a string or bytes parameter from where the ABI keeps it, `write` places a
 * string or bytes result and returns what the plugin receives, `none` stands for a null result.
 */
export function bindOneValueCallback(
  callback: Callback,
  context: () => ErrorContext,
  read: (type: 'string' | 'bytes', raw: unknown, what: string) => unknown,
  write: (value: string | Uint8Array, what: string) => unknown,
  none: unknown,
  failed: (error: CallbackError) => CallbackError,
): (...raw: unknown[]) => unknown {
  const { params, result = 'void' } = callback.signature;
  const label = `${callback.namespace}.${callback.name}`;
  const fail = (cause: unknown): CallbackError => failed(new CallbackError(label, { ...context(), cause }));
  return (...raw: unknown[]) => {
    const args = params.map((t, i) => (t === 'string' || t === 'bytes' ? read(t, raw[i], `argument to ${label}`) : raw[i]));
    const value = invokeCallback(callback, args, fail);
    if (result === 'void') return undefined;
    if (result !== 'string' && result !== 'bytes') return numberResult(result, value, fail);
    const block = blockResult(result, value, fail);
    return block === null ? none : write(block, `the result of ${label}`);
  };
}
