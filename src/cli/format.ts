import { describeSpan } from '../duration';

/** A plain text table: a header row, then rows, columns padded to the widest cell. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => [...(r[i] ?? '')].length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell + ' '.repeat(widths[i]! - [...cell].length)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** "in 30 days" / "3 hours ago" for an RFC 3339 time relative to `now`. */
export function relative(iso: string | null, now: number): string {
  if (iso === null) return 'never';
  const delta = Date.parse(iso) - now;
  return delta >= 0 ? `in ${describeSpan(delta)}` : `${describeSpan(delta)} ago`;
}
