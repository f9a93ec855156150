// NATS subject rules: tokens separated by '.', `*` matches one token, `>`
// (last token only) matches one or more. Shared by the embedded bus and the
// emits allow-list so both agree with the server.

export function isValidSubject(subject: string, wildcards: boolean): boolean {
  if (subject.length === 0 || /\s/.test(subject)) return false;
  const tokens = subject.split('.');
  return tokens.every((t, i) => {
    if (t.length === 0) return false;
    if (t === '*' || t === '>') return wildcards && (t === '*' || i === tokens.length - 1);
    return !t.includes('*') && !t.includes('>');
  });
}

/** Does a concrete subject match any of the patterns (a stage's `emits` allow-list, say)? */
export function matchesAny(patterns: readonly string[], subject: string): boolean {
  return patterns.some((pattern) => subjectMatches(pattern, subject));
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
