import { exactTime, relative, relativeShort } from '../../src/ui-text';

/**
 * A time said relative to now ("in 30d", "5m ago"), the exact UTC time on hover, and for screen
 * readers the long form with the exact time ("in 30 days, 2026-05-01 12:00:00 UTC").
 */
export function RelativeTime({ iso, now, empty = 'never' }: { iso: string | null; now: number; empty?: string }) {
  if (iso === null) return <span>{empty}</span>;
  return (
    <time dateTime={iso} title={exactTime(iso)}>
      <span aria-hidden="true">{relativeShort(iso, now)}</span>
      <span className="visually-hidden">
        {relative(iso, now)}, {exactTime(iso)}
      </span>
    </time>
  );
}
