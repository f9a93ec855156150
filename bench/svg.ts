// The pieces bench/chart.ts draws with: text, scales, axes with ticks, and horizontal bars, as
// hand-written SVG strings (no dependency to install for a chart that is committed and viewed
// on GitHub, where an SVG shows as it is).

/** A part of the chart, placed by its caller: its markup and how tall it came out. */
export interface Section {
  svg: string;
  height: number;
}

export const GREY = '#666';
export const GRID = '#e4e4e4';

export function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

interface TextStyle {
  anchor?: 'start' | 'middle' | 'end';
  fill?: string;
  bold?: boolean;
  /** degrees, about the text's own anchor point */
  rotate?: number;
}

export function text(x: number, y: number, content: string, style: TextStyle = {}): string {
  const attrs = [
    style.anchor && style.anchor !== 'start' ? ` text-anchor="${style.anchor}"` : '',
    style.fill ? ` fill="${style.fill}"` : '',
    style.bold ? ' font-weight="bold"' : '',
    style.rotate ? ` transform="rotate(${style.rotate} ${px(x)} ${px(y)})"` : '',
  ].join('');
  return `<text x="${px(x)}" y="${px(y)}"${attrs}>${escape(content)}</text>`;
}

export function line(x1: number, y1: number, x2: number, y2: number, stroke: string, dash?: string): string {
  return `<line x1="${px(x1)}" y1="${px(y1)}" x2="${px(x2)}" y2="${px(y2)}" stroke="${stroke}"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`;
}

export function rect(x: number, y: number, w: number, h: number, fill: string, opacity?: number): string {
  return `<rect x="${px(x)}" y="${px(y)}" width="${px(Math.max(0, w))}" height="${px(h)}" fill="${fill}"${opacity === undefined ? '' : ` fill-opacity="${opacity}"`}/>`;
}

export function px(n: number): string {
  return String(Math.round(n * 10) / 10);
}

export interface Tick {
  value: number;
  label: string;
}

/** Values to pixels along one axis, with the ticks to label it and its title (what, in which unit, on which scale). */
export interface Scale {
  at(value: number): number;
  /** the pixels the domain spans, from its low end to its high end */
  range: [number, number];
  /** where a bar starts: 0 on a linear scale, the lowest decade on a log scale */
  floor: number;
  ticks: Tick[];
  title: string;
}

/** A round step that divides [0, max] into about `count` intervals: 1, 2, 2.5 or 5 times a power of ten. */
export function niceStep(max: number, count = 5): number {
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].find((m) => raw / magnitude <= m)!;
  return step * magnitude;
}

/**
 * From 0 to `max` rounded up to a tick, so that bars and lines compare by length; `ticks`
 * overrides the round steps where the data has its own (stage counts).
 */
export function linearScale(max: number, range: [number, number], format: (v: number) => string, title: string, ticks?: number[]): Scale {
  const positive = max > 0 && Number.isFinite(max) ? max : 1;
  // as many ticks as their labels leave room for: side by side on a horizontal axis, one above another on a vertical one
  const vertical = range[0] > range[1];
  const step = niceStep(positive, Math.max(2, Math.floor(Math.abs(range[1] - range[0]) / (vertical ? 35 : 60))));
  const top = ticks ? Math.max(positive, ...ticks) : Math.ceil(positive / step - 1e-9) * step;
  const values = ticks ?? Array.from({ length: Math.round(top / step) + 1 }, (_, i) => Number((i * step).toPrecision(12)));
  const at = (v: number): number => range[0] + (Math.min(Math.max(v, 0), top) / top) * (range[1] - range[0]);
  return { at, range, floor: 0, ticks: values.map((value) => ({ value, label: format(value) })), title };
}

/** Whole decades around [min, max], a labelled tick at each: for figures that span several orders of magnitude. */
export function logScale(min: number, max: number, range: [number, number], format: (v: number) => string, title: string): Scale {
  const low = 10 ** Math.floor(Math.log10(Math.max(min, Number.MIN_VALUE)));
  const high = Math.max(low * 10, 10 ** Math.ceil(Math.log10(max)));
  const span = Math.log10(high / low);
  const at = (v: number): number => range[0] + (Math.log10(Math.min(high, Math.max(low, v)) / low) / span) * (range[1] - range[0]);
  const ticks: Tick[] = [];
  for (let d = 0; d <= Math.round(span); d++) {
    const value = low * 10 ** d;
    ticks.push({ value, label: format(value) });
  }
  return { at, range, floor: low, ticks, title };
}

/** A horizontal axis at `y`: the line, a tick and its label at each tick value, light grid lines up to `gridTop`, the title below. */
export function xAxis(scale: Scale, y: number, gridTop?: number): string {
  const [from, to] = scale.range;
  const parts: string[] = [];
  for (const t of scale.ticks) {
    const x = scale.at(t.value);
    if (gridTop !== undefined) parts.push(line(x, gridTop, x, y, GRID));
    parts.push(line(x, y, x, y + 4, GREY), text(x, y + 16, t.label, { anchor: 'middle', fill: GREY }));
  }
  parts.push(line(from, y, to, y, GREY), text((from + to) / 2, y + 31, scale.title, { anchor: 'middle', fill: GREY }));
  return parts.join('\n');
}

/** A vertical axis at `x` (range from bottom to top): ticks and labels to its left, grid lines across to `gridRight`, the title turned up beside them. */
export function yAxis(scale: Scale, x: number, gridRight?: number, titleX = x - 40): string {
  const [bottom, top] = scale.range;
  const parts: string[] = [];
  for (const t of scale.ticks) {
    const y = scale.at(t.value);
    if (gridRight !== undefined) parts.push(line(x, y, gridRight, y, GRID));
    parts.push(line(x - 4, y, x, y, GREY), text(x - 6, y + 4, t.label, { anchor: 'end', fill: GREY }));
  }
  parts.push(line(x, bottom, x, top, GREY), text(titleX, (bottom + top) / 2, scale.title, { anchor: 'middle', fill: GREY, rotate: -90 }));
  return parts.join('\n');
}

export interface Bar {
  label: string;
  /** null: no figure, drawn as no bar and its text */
  value: number | null;
  text: string;
  colour: string;
  /** bars of one group sit under its heading */
  group?: string;
  /** a mark across the bar: a second figure for the same row (a target, an exact count) */
  mark?: { value: number; colour: string };
}

export interface BarLayout {
  x0: number;
  y0: number;
  width: number;
  labelWidth: number;
  textWidth: number;
}

const ROW = 22;
const HEADING = 20;

/**
 * A title, then a bar a row with its label on the left and its figure on the right, under a
 * heading where the group changes, then the value axis. `scaleFor` gets the pixels the bars may
 * span and makes the scale, so that the caller picks linear or log and the unit.
 */
export function barPanel(title: string, bars: Bar[], layout: BarLayout, scaleFor: (range: [number, number]) => Scale): Section {
  const { x0, y0, width, labelWidth, textWidth } = layout;
  const left = x0 + labelWidth;
  const scale = scaleFor([left, x0 + width - textWidth]);
  const parts = [text(x0, y0, title, { bold: true })];
  let y = y0 + 10;
  let group: string | undefined;
  const rows: string[] = [];
  // grid lines behind the bars only, so that they do not cross a group's heading, which may run long
  const grid = (from: number, to: number): void => {
    if (to > from) for (const t of scale.ticks) parts.push(line(scale.at(t.value), from, scale.at(t.value), to, GRID));
  };
  let blockTop = y;
  for (const bar of bars) {
    if (bar.group !== undefined && bar.group !== group) {
      grid(blockTop, y);
      group = bar.group;
      rows.push(text(x0, y + 15, group, { fill: GREY, bold: true }));
      y += HEADING;
      blockTop = y;
    }
    const indent = bar.group === undefined ? 0 : 10;
    rows.push(text(x0 + indent, y + 15, bar.label));
    const end = bar.value === null ? left : scale.at(bar.value);
    if (bar.value !== null) rows.push(rect(left, y + 4, Math.max(1, end - left), ROW - 8, bar.colour));
    if (bar.mark) {
      const mx = scale.at(bar.mark.value);
      rows.push(`<line x1="${px(mx)}" y1="${px(y + 1)}" x2="${px(mx)}" y2="${px(y + ROW - 1)}" stroke="${bar.mark.colour}" stroke-width="2"/>`);
    }
    rows.push(text(Math.max(end, bar.mark ? scale.at(bar.mark.value) : end) + 6, y + 15, bar.text));
    y += ROW;
  }
  const axisY = y + 4;
  grid(blockTop, axisY);
  parts.push(xAxis(scale, axisY), ...rows);
  return { svg: parts.join('\n'), height: axisY + 36 - y0 };
}
