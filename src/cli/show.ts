/** Message data on a terminal: as text when it is UTF-8, else as 0x-prefixed hex. */
export function showData(data: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    return `0x${Buffer.from(data).toString('hex')}`;
  }
}
