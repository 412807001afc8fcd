import { describeSpan } from '../duration';

/**
 * How times are said to people, the same in the CLI, the TUI and the web console. Every function
 * takes `now` (from the services' clock, or the browser's) rather than reading a clock itself.
 */

const UNITS: Array<[number, string]> = [
  [365 * 86_400_000, 'y'],
  [86_400_000, 'd'],
  [3_600_000, 'h'],
  [60_000, 'm'],
];

/** A compact span: "30d", "5h", "12m" (rounded to its largest unit). */
export function shortSpan(ms: number): string {
  const abs = Math.abs(ms);
  for (const [size, unit] of UNITS) {
    if (abs >= size) return `${Math.round(abs / size)}${unit}`;
  }
  return `${Math.round(abs / 1000)}s`;
}

/** "in 30d" / "3h ago" / "never" for an RFC 3339 time relative to `now`; fits a 9-column cell. */
export function relativeShort(iso: string | null, now: number): string {
  if (iso === null) return 'never';
  const delta = Date.parse(iso) - now;
  if (Math.abs(delta) < 60_000) return delta >= 0 ? 'in <1m' : 'just now';
  return delta >= 0 ? `in ${shortSpan(delta)}` : `${shortSpan(delta)} ago`;
}

/** "5m ago" / "just now" / "never" for a past time (a moment ahead, from another process's clock, is "just now"). */
export function agoShort(iso: string | null, now: number): string {
  if (iso === null) return 'never';
  const delta = now - Date.parse(iso);
  return delta < 60_000 ? 'just now' : `${shortSpan(delta)} ago`;
}

/** "in 30 days" / "3 hours ago" / "never" for an RFC 3339 time relative to `now` (the CLI's and screen readers' form). */
export function relative(iso: string | null, now: number): string {
  if (iso === null) return 'never';
  const delta = Date.parse(iso) - now;
  return delta >= 0 ? `in ${describeSpan(delta)}` : `${describeSpan(delta)} ago`;
}

/** "2026-01-31 12:00" (UTC) for an RFC 3339 time. */
export function shortTime(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
}

/** "2026-01-31 12:00:00 UTC" for an RFC 3339 time: the exact form shown on hover. */
export function exactTime(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}
