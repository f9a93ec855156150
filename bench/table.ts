// The plain-text tables every part of the bench prints. A missing figure (no run, no baseline,
// a measurement that found nothing) prints as "-": console.table would print undefined, null or
// NaN, which reads as a bug in the bench rather than as a figure it does not have.

export type Cell = string | number | null | undefined;

/** A number with at most `digits` significant digits and thousands separators; "-" when there is none. */
export function num(x: number | null | undefined, digits = 3): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toLocaleString('en', { maximumSignificantDigits: digits });
}

function text(cell: Cell): string {
  if (typeof cell === 'number') return Number.isFinite(cell) ? cell.toLocaleString('en', { maximumFractionDigits: 2 }) : '-';
  return cell === null || cell === undefined ? '-' : cell;
}

/** Columns padded to their widest cell: the first `left` columns (labels) to the left, the rest (figures) to the right. */
export function table(header: string[], body: Cell[][], left = 1): string {
  const rows = body.map((r) => header.map((_, i) => text(r[i])));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < left ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

const explained = new Set<string>();

/**
 * A figure computed as a difference goes below 0 when noise outweighs what it measures; the first
 * table that shows one such figure says so beneath it, once per process, so that it is not taken
 * for a bug or a gain.
 */
export function explainNegatives(column: string, values: (number | null | undefined)[], why: string): void {
  if (explained.has(column) || !values.some((v) => typeof v === 'number' && v < 0)) return;
  explained.add(column);
  console.log(`(negative "${column}": ${why})`);
}
