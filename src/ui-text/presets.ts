/**
 * The choices every admin interface offers (TUI, web console), so that they offer the same ones.
 * `value` is what the services and the admin API take (`expires_in`, `grace`); `ms` is its length.
 */
export interface Preset {
  label: string;
  value: string;
  ms: number;
  /** A few words after the label. */
  note?: string;
}

const DAY = 86_400_000;

/** Expiry presets for create and refresh (besides a typed date). */
export const EXPIRY_PRESETS: readonly Preset[] = [
  { label: '7 days', value: '7d', ms: 7 * DAY },
  { label: '30 days', value: '30d', ms: 30 * DAY },
  { label: '90 days', value: '90d', ms: 90 * DAY },
  { label: '1 year', value: '1y', ms: 365 * DAY },
];

/** The preset chosen when nothing else is: 30 days. */
export const DEFAULT_EXPIRY_PRESET = '30d';

/** The label of the last expiry choice, which asks for a date. */
export const DATE_CHOICE_LABEL = 'a date or time…';
export const DATE_CHOICE_NOTE = 'e.g. 2026-12-31';

/** How long a rotated token keeps working beside its replacement. */
export const GRACE_PRESETS: readonly Preset[] = [
  { label: '1 hour', value: '1h', ms: 3_600_000 },
  { label: '24 hours', value: '24h', ms: DAY, note: 'default' },
  { label: '7 days', value: '7d', ms: 7 * DAY },
  { label: 'now', value: '0s', ms: 0, note: 'the old token stops working at once' },
];

/** The grace preset chosen when nothing else is: 24 hours. */
export const DEFAULT_GRACE_PRESET = '24h';
