import type { FuncType } from './wasm-binary.js';

/** The `wasp` module's functions and the only signatures they may be imported with (docs/abi/wasp-1.md). */
export const HOST_IMPORTS: Readonly<Record<string, FuncType>> = {
  output: { params: ['i32', 'i32'], results: [] },
  error: { params: ['i32', 'i32'], results: [] },
  emit: { params: ['i32', 'i32', 'i32', 'i32'], results: ['i32'] },
  log: { params: ['i32', 'i32', 'i32'], results: [] },
  subject: { params: ['i32', 'i32'], results: ['i32'] },
  header: { params: ['i32', 'i32', 'i32', 'i32'], results: ['i32'] },
};

/** wasp.subject / wasp.header when there is no message or no such header. */
export const NOT_FOUND = -1;

/** Return codes of wasp.emit. */
export const EMIT_ACCEPTED = 0;
export const EMIT_NO_EMITTER = -1;
export const EMIT_REFUSED = -2;
export const EMIT_BAD_POINTER = -3;
/** The subject is not one a message may be published to (empty tokens, wildcards, spaces, control characters). */
export const EMIT_INVALID_SUBJECT = -4;

export function sameType(a: FuncType, b: FuncType): boolean {
  return (
    a.params.length === b.params.length &&
    a.results.length === b.results.length &&
    a.params.every((t, i) => t === b.params[i]) &&
    a.results.every((t, i) => t === b.results[i])
  );
}

export function formatType(t: FuncType): string {
  return `(${t.params.join(', ')}) -> ${t.results.length === 0 ? '()' : t.results.join(', ')}`;
}
