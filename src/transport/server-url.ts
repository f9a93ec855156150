/** A server URL nats.js can dial: nats:// or tls://, or host:port (websockets need another transport). */
export function isServerUrl(s: string): boolean {
  if (s === '' || /\s/.test(s)) return false;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(s)?.[1]?.toLowerCase();
  if (scheme !== undefined && scheme !== 'nats' && scheme !== 'tls') return false;
  try {
    // parsed as nats.js does, with a scheme whose host rules are strict
    return new URL(`http://${scheme === undefined ? s : s.slice(scheme.length + 3)}`).hostname !== '';
  } catch {
    return false;
  }
}

/** A tls:// URL, which asks for TLS as nats.tls does (the scheme in any case, as URL parsing reads it). */
export function isTlsUrl(s: string): boolean {
  return /^tls:\/\//i.test(s);
}
