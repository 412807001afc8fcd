/**
 * Sparklines and small bar charts from block characters, shared by the CLI and the TUI so that both
 * draw usage the same way: a day with no requests is a blank, and any day with requests is at least
 * the lowest block (so that one request never looks like none); the tallest day is a full block.
 */
export const SPARK_LEVELS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'] as const;

/** One character per value, oldest first: ' ' for 0, else ▁…█ scaled to the largest value. */
export function sparkline(values: readonly number[], max = Math.max(0, ...values)): string {
  return values.map((value) => (value <= 0 || max <= 0 ? ' ' : SPARK_LEVELS[Math.min(7, Math.max(0, Math.ceil((value / max) * 8) - 1))])).join('');
}

/**
 * A bar chart `height` lines tall, one column per value (oldest first), each line top to bottom;
 * every line has exactly `values.length` characters. Bars are drawn in eighths of a line.
 */
export function barChart(values: readonly number[], height: number, max = Math.max(0, ...values)): string[] {
  const lines: string[] = [];
  for (let row = height - 1; row >= 0; row--) {
    let line = '';
    for (const value of values) {
      if (value <= 0 || max <= 0) {
        line += ' ';
        continue;
      }
      // Height in eighths, at least one eighth for any request.
      const eighths = Math.max(1, Math.round((value / max) * height * 8));
      const inRow = eighths - row * 8;
      line += inRow >= 8 ? '█' : inRow <= 0 ? ' ' : SPARK_LEVELS[inRow - 1];
    }
    lines.push(line);
  }
  return lines;
}

/** "rate_limited 3, token_expired 1", largest first. */
export function describeReasons(refused: Readonly<Record<string, number>>): string {
  return Object.entries(refused)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([code, n]) => `${code} ${n}`)
    .join(', ');
}
