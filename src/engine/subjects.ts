// NATS subject rules: tokens separated by '.', `*` matches one token, `>`
// (last token only) matches one or more. Shared by the engine (what a plugin
// may emit to), the embedded bus and the config, so all agree with the server.

/**
 * A subject a message may be published to: non-empty tokens separated by
 * dots, no wildcards, no whitespace or control characters. Written as one
 * pass over the characters: it runs for every side output a plugin emits.
 */
export function isPublishSubject(subject: string): boolean {
  const n = subject.length;
  if (n === 0) return false;
  let tokenStart = 0;
  for (let i = 0; i < n; i++) {
    const c = subject.charCodeAt(i);
    if (c === 0x2e /* . */) {
      if (i === tokenStart) return false;
      tokenStart = i + 1;
    } else if (c <= 0x20 || c === 0x7f || c === 0x2a /* * */ || c === 0x3e /* > */ || isUnicodeSpace(c)) {
      return false;
    }
  }
  return tokenStart !== n;
}

function isUnicodeSpace(c: number): boolean {
  return c >= 0x80 && (c === 0x85 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff);
}

/** A publish subject, or with `wildcards` a subscription pattern (`*` a whole token, `>` only the last). */
export function isValidSubject(subject: string, wildcards: boolean): boolean {
  if (!wildcards) return isPublishSubject(subject);
  if (subject.length === 0) return false;
  const tokens = subject.split('.');
  return tokens.every((t, i) => (t === '*' || (t === '>' && i === tokens.length - 1) ? true : isPublishSubject(t)));
}

/** Does a concrete subject match any of the patterns (a stage's `emits` allow-list, say)? */
export function matchesAny(patterns: readonly string[], subject: string): boolean {
  for (let i = 0; i < patterns.length; i++) if (subjectMatches(patterns[i]!, subject)) return true;
  return false;
}

/** Does a concrete subject match a pattern? */
export function subjectMatches(pattern: string, subject: string): boolean {
  if (pattern === subject) return true;
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    const token = p[i];
    if (token === '>') return s.length > i;
    if (i >= s.length || (token !== '*' && token !== s[i])) return false;
  }
  return p.length === s.length;
}

/** Is there a subject both patterns match? (`*` is one token, `>` one or more at the end.) */
export function patternsOverlap(a: string, b: string): boolean {
  const x = a.split('.');
  const y = b.split('.');
  for (let i = 0; ; i++) {
    const s = x[i];
    const t = y[i];
    if (s === '>' ) return t !== undefined;
    if (t === '>') return s !== undefined;
    if (s === undefined || t === undefined) return s === t;
    if (s !== t && s !== '*' && t !== '*') return false;
  }
}
