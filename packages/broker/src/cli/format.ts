/**
 * Output for people and for scripts: aligned tables, `Key: value` blocks, and JSON. Small on purpose
 * (no table library): columns are padded to their widest cell, numbers are right-aligned.
 */

export type Align = 'left' | 'right';

export interface Column {
  readonly header: string;
  /** Default: right when the column holds numbers (and nothing else but blanks), else left. */
  readonly align?: Align;
}

export interface TableOptions {
  /** Spaces between columns. Default 2. */
  readonly gap?: number;
  /** Prefix of every line. Default none. */
  readonly indent?: string;
}

/** How one value reads in a table cell: `-` for null/undefined and empty lists, lists comma-joined. */
export function cell(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.length === 0 ? '-' : value.map((v) => cell(v)).join(',');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escapes is the point.
const ANSI = /\u001b\[[0-9;]*m/g;

/** Display width: code points, without ANSI colour codes. */
export function displayWidth(text: string): number {
  let n = 0;
  for (const _ of text.replace(ANSI, '')) n++;
  return n;
}

function pad(text: string, width: number, align: Align): string {
  const fill = ' '.repeat(Math.max(0, width - displayWidth(text)));
  return align === 'right' ? fill + text : text + fill;
}

/**
 * Renders rows under headers, every column as wide as its widest cell; trailing spaces are trimmed.
 * Returns the lines joined with newlines (no final newline); just the header when there are no rows.
 */
export function renderTable(
  columns: readonly (string | Column)[],
  rows: readonly (readonly unknown[])[],
  options: TableOptions = {},
): string {
  const gap = ' '.repeat(options.gap ?? 2);
  const indent = options.indent ?? '';
  const cols = columns.map((c) => (typeof c === 'string' ? { header: c } : c));
  const text = rows.map((row) => cols.map((_, i) => cell(row[i])));
  const widths = cols.map((c, i) =>
    Math.max(displayWidth(c.header), ...text.map((r) => displayWidth(r[i]!))),
  );
  const aligns: Align[] = cols.map(
    (c, i) =>
      c.align ??
      (rows.some((r) => typeof r[i] === 'number') &&
      rows.every((r) => typeof r[i] === 'number' || r[i] === undefined || r[i] === null)
        ? 'right'
        : 'left'),
  );
  const line = (cells: readonly string[]) =>
    (indent + cells.map((t, i) => pad(t, widths[i]!, aligns[i]!)).join(gap)).trimEnd();
  return [line(cols.map((c) => c.header)), ...text.map(line)].join('\n');
}

/**
 * `Key:  value` lines with the values aligned (as `kafka-metadata-quorum describe --status`).
 */
export function renderKeyValues(
  pairs: readonly (readonly [string, unknown])[],
  options: TableOptions = {},
): string {
  const indent = options.indent ?? '';
  const width = Math.max(0, ...pairs.map(([k]) => displayWidth(k) + 1));
  const gap = ' '.repeat(options.gap ?? 2);
  return pairs
    .map(([k, v]) =>
      `${indent}${pad(`${k}:`, width, 'left')}${gap}${typeof v === 'string' ? v : cell(v)}`.trimEnd(),
    )
    .join('\n');
}

/** Pretty JSON for scripts: 2-space indented; Maps become objects, Sets arrays, bigints numbers as strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v: unknown) => {
      if (v instanceof Map) return Object.fromEntries(v);
      if (v instanceof Set) return [...v];
      if (typeof v === 'bigint') return v.toString();
      return v;
    },
    2,
  );
}

/** `5 ms ago`, `3.2 s ago`, `4 min ago`; `-` for an unknown (negative) timestamp. */
export function ago(timestampMs: number, nowMs: number = Date.now()): string {
  if (timestampMs < 0) return '-';
  const d = Math.max(0, nowMs - timestampMs);
  if (d < 1_000) return `${d} ms ago`;
  if (d < 60_000) return `${(d / 1_000).toFixed(1)} s ago`;
  if (d < 3_600_000) return `${Math.floor(d / 60_000)} min ago`;
  return `${(d / 3_600_000).toFixed(1)} h ago`;
}
