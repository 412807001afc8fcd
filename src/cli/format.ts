/** A plain text table: a header row, then rows, columns padded to the widest cell. */
export function table(headers: string[], rows: string[][]): string {
  const widths = tableWidths(headers, rows);
  return [tableLine(headers, widths), ...rows.map((row) => tableLine(row, widths))].join('\n');
}

/** The width of each column: its widest cell (header included). */
export function tableWidths(headers: string[], rows: string[][]): number[] {
  return headers.map((h, i) => Math.max(h.length, ...rows.map((r) => [...(r[i] ?? '')].length)));
}

/** One line of a table: cells padded to `widths` (the last one not), two spaces apart. */
export function tableLine(cells: string[], widths: number[]): string {
  return cells
    .map((cell, i) => (i === cells.length - 1 ? cell : cell + ' '.repeat(Math.max(0, widths[i]! - [...cell].length))))
    .join('  ')
    .trimEnd();
}

// How times are said lives in src/ui-text/ (shared with the TUI and the web console).
export { relative } from '../ui-text/time';
