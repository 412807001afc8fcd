import { AppError } from './errors';

const UNIT_MS = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  y: 365 * 86_400_000,
} as const;

const DURATION = /^(\d{1,6})([smhdwy])$/;
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;
const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;

export const DURATION_HELP = 'a duration such as 30d, 12h, 15m, 2w or 1y, or an RFC 3339 time such as 2027-01-31T12:00:00Z';

/** Parses `30d`, `12h`, `15m`, `45s`, `2w`, `1y` (365 days) into milliseconds, or returns undefined. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/** Like `parseDuration`, but a value that is not a duration is an error naming `field`. */
export function requireDuration(text: string, field: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) {
    throw new AppError('validation_failed', `${field}: "${text}" is not a duration; use a number and a unit, such as 30d, 12h, 15m or 1y`, { field });
  }
  return ms;
}

/**
 * Parses an RFC 3339 time (or a date alone, meaning the end of that day in UTC) into epoch
 * milliseconds; returns undefined for anything else, including impossible dates like 02-30.
 */
export function parseTime(text: string): number | undefined {
  const trimmed = text.trim();
  const date = DATE_ONLY.exec(trimmed);
  if (date) {
    const ms = Date.UTC(Number(date[1]), Number(date[2]) - 1, Number(date[3]), 23, 59, 59);
    return sameCalendarDay(ms, date) ? ms : undefined;
  }
  const match = RFC3339.exec(trimmed);
  if (!match) return undefined;
  const ms = Date.parse(trimmed.replace(' ', 'T'));
  if (Number.isNaN(ms)) return undefined;
  // Date.parse rolls 2027-02-30 over to March; reject that instead of guessing.
  const month = Number(match[2]);
  const day = Number(match[3]);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(Number(match[1]), month)) return undefined;
  if (Number(match[4]) > 23 || Number(match[5]) > 59 || Number(match[6]) > 59) return undefined;
  return ms;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function sameCalendarDay(ms: number, parts: RegExpExecArray): boolean {
  const d = new Date(ms);
  return d.getUTCFullYear() === Number(parts[1]) && d.getUTCMonth() + 1 === Number(parts[2]) && d.getUTCDate() === Number(parts[3]);
}

/**
 * Resolves an expiry given as a duration from `now` or as an absolute time; `field` names the
 * input in the error when the text is neither.
 */
export function parseExpiry(text: string, now: number, field = 'expires'): number {
  const duration = parseDuration(text);
  if (duration !== undefined) return now + duration;
  const at = parseTime(text);
  if (at !== undefined) return at;
  throw new AppError('validation_failed', `${field}: "${text}" is neither ${DURATION_HELP}`, { field });
}

/** Human text for a span of milliseconds, rounded to its largest unit: "3 days", "5 hours". */
export function describeSpan(ms: number): string {
  const abs = Math.abs(ms);
  const units: Array<[number, string]> = [
    [UNIT_MS.y, 'year'],
    [UNIT_MS.d, 'day'],
    [UNIT_MS.h, 'hour'],
    [UNIT_MS.m, 'minute'],
    [UNIT_MS.s, 'second'],
  ];
  for (const [size, name] of units) {
    if (abs >= size) {
      const n = Math.round(abs / size);
      return `${n} ${name}${n === 1 ? '' : 's'}`;
    }
  }
  return 'less than a second';
}
