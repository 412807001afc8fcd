import { describeReasons } from '../../src/ui-text/sparkline';
import type { UsageDay } from '../api';

/** The chart's drawing units: each day is a column this wide (a bar and a gap), the tallest bar this high. */
const COLUMN = 10;
const BAR = 8;
const HEIGHT = 100;
/** A day with any request is at least this tall, so that one request never looks like none. */
const MIN_BAR = 4;

/** The busiest day's total (accepted + refused), at least 1. */
export function busiest(days: readonly UsageDay[]): number {
  return Math.max(1, ...days.map((d) => d.accepted + d.refused_total));
}

/** "30 days: 12 accepted, 3 refused (rate_limited 2, ip_not_allowed 1); busiest 2026-11-30 with 5" */
export function usageSummary(days: readonly UsageDay[]): string {
  const accepted = days.reduce((sum, d) => sum + d.accepted, 0);
  const refusedByReason: Record<string, number> = {};
  let refused = 0;
  for (const day of days) {
    refused += day.refused_total;
    for (const [code, n] of Object.entries(day.refused)) refusedByReason[code] = (refusedByReason[code] ?? 0) + n;
  }
  const span = `${days.length} ${days.length === 1 ? 'day' : 'days'}`;
  if (accepted + refused === 0) return `${span}: no requests`;
  const top = days.reduce((best, d) => (d.accepted + d.refused_total > best.accepted + best.refused_total ? d : best), days[0]!);
  const reasons = refused > 0 ? ` (${describeReasons(refusedByReason)})` : '';
  return `${span}: ${accepted} accepted, ${refused} refused${reasons}; busiest ${top.day} with ${top.accepted + top.refused_total}`;
}

/**
 * Requests per UTC day as bars, oldest on the left: accepted at the bottom, refused stacked on
 * top in another colour. Drawn as SVG by this code (no chart library, no inline style: colours
 * come from classes, so light and dark follow the stylesheet). The picture is one image to
 * assistive technology, named by its summary; the numbers themselves are in a table beside it
 * (the token's detail) or in the summary (a small chart in a list).
 */
export function UsageChart({ days, label, size = 'small' }: { days: readonly UsageDay[]; label: string; size?: 'small' | 'large' }) {
  const oldestFirst = [...days].sort((a, b) => a.day.localeCompare(b.day));
  const max = busiest(oldestFirst);
  const scale = (n: number) => (n <= 0 ? 0 : Math.max(MIN_BAR, (n / max) * HEIGHT));
  return (
    <svg className={`usage-chart ${size}`} viewBox={`0 0 ${Math.max(1, oldestFirst.length) * COLUMN} ${HEIGHT}`} preserveAspectRatio="none" role="img" aria-label={label} focusable="false">
      <line className="baseline" x1="0" y1={HEIGHT} x2={oldestFirst.length * COLUMN} y2={HEIGHT} vectorEffect="non-scaling-stroke" />
      {oldestFirst.map((day, i) => {
        const accepted = scale(day.accepted);
        const total = scale(day.accepted + day.refused_total);
        const refused = day.refused_total > 0 ? Math.max(MIN_BAR, total - accepted) : 0;
        const x = i * COLUMN + (COLUMN - BAR) / 2;
        return (
          <g key={day.day}>
            {accepted > 0 ? <rect className="bar-accepted" x={x} y={HEIGHT - accepted} width={BAR} height={accepted} /> : null}
            {refused > 0 ? <rect className="bar-refused" x={x} y={Math.max(0, HEIGHT - accepted - refused)} width={BAR} height={Math.min(refused, HEIGHT - accepted)} /> : null}
          </g>
        );
      })}
    </svg>
  );
}

/** The chart's key: which colour is which. */
export function UsageLegend() {
  return (
    <p className="usage-legend" aria-hidden="true">
      <span className="swatch accepted" /> accepted <span className="swatch refused" /> refused
    </p>
  );
}
