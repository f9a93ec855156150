import { utf8OrUndefined } from '../engine/utf8.js';

/** Message data on a terminal: as text when it is UTF-8, else as 0x-prefixed hex. */
export function showData(data: Uint8Array): string {
  return utf8OrUndefined(data) ?? `0x${Buffer.from(data).toString('hex')}`;
}

/** Columns padded to their widest cell, two spaces apart; one line per row. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}
