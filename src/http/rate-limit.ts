/**
 * Per-token request limits (`rate_limit`, requests per minute), in memory: a fixed window per
 * token aligned to the minute. Simple and cheap (one Map entry per token); a burst of up to twice
 * the limit is possible across a window boundary. Counts are per server process and reset on
 * restart.
 */
export class RateLimiter {
  private readonly windows = new Map<string, { window: number; count: number }>();

  /** Counts one request; answers 0 when allowed, else the seconds until the window resets (Retry-After). */
  take(tokenId: string, limitPerMinute: number, now: number): number {
    const window = Math.floor(now / 60_000);
    let entry = this.windows.get(tokenId);
    if (entry === undefined || entry.window !== window) {
      if (this.windows.size > 100_000) this.windows.clear(); // bound memory; worst case a fresh window
      entry = { window, count: 0 };
      this.windows.set(tokenId, entry);
    }
    if (entry.count >= limitPerMinute) return Math.max(1, Math.ceil(((window + 1) * 60_000 - now) / 1000));
    entry.count++;
    return 0;
  }
}
