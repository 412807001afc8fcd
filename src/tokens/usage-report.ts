import { formatTime, type Clock } from '../clock';
import type { Store } from '../db/store';
import { parseDuration } from '../duration';
import { AppError, invalidField } from '../errors';
import { decodeCursor, DEFAULT_PAGE_LIMIT, encodeCursor } from '../paging';
import type { TokenScope, TokenService } from './service';
import { ACCEPTED, DAY_MS, dayStart } from './usage';

/** The longest window a usage report covers (days). Rows are kept MM_USAGE_RETENTION (90d) by default. */
export const MAX_USAGE_DAYS = 366;
export const DEFAULT_USAGE_DAYS = 30;
/** Rows deleted per statement when pruning, so a prune never holds the database for long. */
export const PRUNE_BATCH = 1000;

/** One UTC day of one token's requests. */
export interface UsageDay {
  /** `YYYY-MM-DD` (UTC). */
  day: string;
  /** Requests whose run started. */
  accepted: number;
  /** Refused requests by error code (only codes that occurred). */
  refused: Record<string, number>;
  refused_total: number;
}

/** A token's usage over the last `days` UTC days: one page of days (newest first) and the window's totals. */
export interface TokenUsageView {
  token_id: string;
  app: string | null;
  days: number;
  /** The window: first and last day (UTC), both included. */
  from: string;
  to: string;
  totals: { accepted: number; refused: Record<string, number>; refused_total: number };
  /** Every day of the window on this page, zero days included, newest first. */
  usage: UsageDay[];
  next_cursor: string | null;
}

/** `days` from a query parameter or option: a whole number from 1 to 366 (422/usage error naming it). */
export function usageDays(value: string | number | undefined, field = 'days'): number {
  if (value === undefined || value === '') return DEFAULT_USAGE_DAYS;
  const text = String(value).trim();
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > MAX_USAGE_DAYS) throw invalidField(field, `must be a whole number of days from 1 to ${MAX_USAGE_DAYS} (got "${text.slice(0, 20)}")`);
  return n;
}

/**
 * The `unused` filter of token listings: a duration such as 30d ("active tokens not used for 30
 * days, never-used ones older than that included"); 422/usage error naming `field` otherwise.
 */
export function unusedFilter(text: string | undefined, field = 'unused'): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) throw invalidField(field, `"${text.slice(0, 20)}" is not a duration such as 30d, 12h or 2w`);
  return ms;
}

function isoDay(ms: number): string {
  return formatTime(ms).slice(0, 10);
}

/**
 * Reports and prunes the per-token daily usage the UsageRecorder writes. Counts reach the database
 * in the recorder's batches (every 5 s and at shutdown), so a report is at most that much behind.
 */
export class UsageReport {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly tokens: TokenService,
  ) {}

  /**
   * The usage of token `id` (within `scope`) over the last `days` UTC days, today included: every
   * day of the window, newest first, paged by `limit` days (default 100) from `cursor`.
   */
  async forToken(id: string, options: { days?: number; scope?: TokenScope; limit?: number; cursor?: string | undefined } = {}): Promise<TokenUsageView> {
    const token = await this.tokens.get(id, options.scope ?? 'any');
    const days = options.days ?? DEFAULT_USAGE_DAYS;
    if (!Number.isInteger(days) || days < 1 || days > MAX_USAGE_DAYS) throw invalidField('days', `must be a whole number of days from 1 to ${MAX_USAGE_DAYS}`);
    const limit = options.limit ?? DEFAULT_PAGE_LIMIT;
    const to = dayStart(this.clock.now());
    const from = to - (days - 1) * DAY_MS;
    const after = decodeCursor(options.cursor, ['n'])?.[0] as number | undefined;
    if (after !== undefined && (after % DAY_MS !== 0 || after < from || after > to)) {
      throw new AppError('validation_failed', 'cursor: is not a cursor of this list; pass the next_cursor of the previous page, unchanged', { field: 'cursor' });
    }
    const rows = await this.store.usage.ofToken(token.id, from, to);
    const byDay = new Map<number, UsageDay>();
    const totals = { accepted: 0, refused: {} as Record<string, number>, refused_total: 0 };
    for (const row of rows) {
      let entry = byDay.get(row.day);
      if (!entry) byDay.set(row.day, (entry = { day: isoDay(row.day), accepted: 0, refused: {}, refused_total: 0 }));
      if (row.outcome === ACCEPTED) {
        entry.accepted += row.count;
        totals.accepted += row.count;
      } else {
        entry.refused[row.outcome] = (entry.refused[row.outcome] ?? 0) + row.count;
        entry.refused_total += row.count;
        totals.refused[row.outcome] = (totals.refused[row.outcome] ?? 0) + row.count;
        totals.refused_total += row.count;
      }
    }
    const usage: UsageDay[] = [];
    let day = after === undefined ? to : after - DAY_MS;
    for (; day >= from && usage.length < limit; day -= DAY_MS) {
      usage.push(byDay.get(day) ?? { day: isoDay(day), accepted: 0, refused: {}, refused_total: 0 });
    }
    const more = day >= from;
    return {
      token_id: token.id,
      app: token.app,
      days,
      from: isoDay(from),
      to: isoDay(to),
      totals,
      usage,
      next_cursor: more ? encodeCursor([day + DAY_MS]) : null,
    };
  }

  /**
   * Deletes usage rows of days older than `retentionMs` before today, `PRUNE_BATCH` rows per
   * statement (each its own short write), so that other writers wait at most one batch.
   * Answers how many rows it deleted.
   */
  async prune(retentionMs: number): Promise<number> {
    const cutoff = dayStart(this.clock.now() - retentionMs);
    let total = 0;
    for (;;) {
      const deleted = await this.store.transaction((tx) => tx.usage.prune(cutoff, PRUNE_BATCH));
      total += deleted;
      if (deleted < PRUNE_BATCH) return total;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}
