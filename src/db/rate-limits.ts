/**
 * Per-token rate limits (`rate_limit`, requests per minute) as a generic cell rate algorithm (GCRA):
 * each token has a "theoretical arrival time" (TAT); a request at `now` is allowed when
 * `max(TAT, now) - now <= burst`, and moves the TAT on by one emission interval (60 s / limit). The
 * burst is a whole minute's worth (limit − 1 intervals), so an idle token may send `limit` requests at
 * once, and then one per interval: never more than `limit` in any window of a minute plus one
 * interval, and no doubling at a window's edge (a fixed window allows twice the limit there).
 *
 * `take` answers 0 when the request is allowed, otherwise the whole seconds until it would be
 * (for Retry-After). This in-memory version serves one process (SQLite: one server on one file);
 * PostgreSQL keeps the same state in one row per limited token, updated by one atomic statement, so
 * that the limit is one across all instances (src/db/postgres/store.ts).
 */
export interface RateLimits {
  take(tokenId: string, perMinute: number, now: number): number | Promise<number>;
}

/** The interval between requests at `perMinute`, and the burst tolerance (ms). */
export function gcraParameters(perMinute: number): { interval: number; burst: number } {
  const interval = 60_000 / perMinute;
  return { interval, burst: interval * (perMinute - 1) };
}

/** Seconds a refused request should wait: until `max(tat, now) - burst` (at least 1). */
export function retryAfterSeconds(tat: number, now: number, burst: number): number {
  return Math.max(1, Math.ceil((Math.max(tat, now) - burst - now) / 1000));
}

/** Bounded: beyond this many tokens, the table is dropped (worst case: a burst more for some tokens). */
const MAX_TRACKED = 100_000;

export class MemoryRateLimits implements RateLimits {
  private readonly tats = new Map<string, number>();

  take(tokenId: string, perMinute: number, now: number): number {
    const { interval, burst } = gcraParameters(perMinute);
    const tat = Math.max(this.tats.get(tokenId) ?? now, now);
    if (tat - now > burst) return retryAfterSeconds(tat, now, burst);
    if (this.tats.size >= MAX_TRACKED && !this.tats.has(tokenId)) this.tats.clear();
    this.tats.set(tokenId, tat + interval);
    return 0;
  }
}
