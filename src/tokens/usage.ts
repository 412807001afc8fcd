import type { Clock } from '../clock';
import type { Store, UsageCountRow } from '../db/store';
import type { ErrorCode } from '../errors';

/** How often recorded uses are written: at most one write per token per interval. */
export const USAGE_FLUSH_INTERVAL_MS = 5_000;

export const DAY_MS = 86_400_000;

/** The outcome of a trigger request that started a run; every other counted outcome is a refusal's error code. */
export const ACCEPTED = 'accepted';
export type UsageOutcome = typeof ACCEPTED | ErrorCode;

/**
 * The rule of the `unused` filter (tokens list --unused 30d, ?unused=30d, the TUI's `unused` filter):
 * an active token (not revoked, not expired at `now`) that was created at least `forMs` ago and not
 * used since `now - forMs` (or never). The stores apply the same rule in SQL (TokenQuery.unusedSince).
 */
export function isUnused(token: { revokedAt: number | null; expiresAt: number; createdAt: number; lastUsedAt: number | null }, now: number, forMs: number): boolean {
  const since = now - forMs;
  return token.revokedAt === null && token.expiresAt > now && token.createdAt <= since && (token.lastUsedAt === null || token.lastUsedAt <= since);
}

/** Epoch milliseconds of 00:00 UTC of the day that holds `ms`. */
export function dayStart(ms: number): number {
  return ms - (((ms % DAY_MS) + DAY_MS) % DAY_MS);
}

/**
 * Keeps `last_used_at` (and `last_used_ip`) and the per-day usage counts without a database write per request: both are
 * collected in memory and written in one batch per interval (and on `flush`, e.g. at shutdown).
 * A later last-use time never goes backwards, even if another process or instance wrote a newer
 * one meanwhile; counts are added to what is stored (`count = count + n`), so any number of
 * processes and instances can count the same token.
 *
 * What is counted (docs/usage-and-webhooks.md): each answer of the trigger to a request whose token
 * is known to this server — `accepted` when its run started, otherwise the refusal's error code.
 * A request whose token is missing, malformed or unknown has no token to count against.
 */
export class UsageRecorder {
  private pending = new Map<string, number>();
  /** The client address of each pending use, when known (kept apart: no object per touch). */
  private pendingIps = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<number> | undefined;
  // Counts of the current UTC day: accepted requests per token id, and refusals per "<token id> <code>".
  private accepted = new Map<string, number>();
  private refused = new Map<string, number>();
  private day = Number.NaN;
  private dayEnd = Number.NaN;
  /** Counts not yet written from earlier days, or from a write that failed, by "<day> <token> <outcome>". */
  private carried = new Map<string, UsageCountRow>();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  /** Notes that token `id` was used now, from client address `ip` when given. Cheap: a Map write or two. */
  touch(id: string, ip?: string): void {
    this.pending.set(id, this.clock.now());
    if (ip) this.pendingIps.set(id, ip);
  }

  /**
   * Counts one answer for token `id` on the current UTC day: `accepted`, or a refusal's error code.
   * Cheap (the trigger calls it on every answer): a clock read and one Map update.
   */
  count(id: string, outcome: UsageOutcome): void {
    const now = this.clock.now();
    if (!(now >= this.day && now < this.dayEnd)) this.turnDay(now);
    if (outcome === ACCEPTED) {
      this.accepted.set(id, (this.accepted.get(id) ?? 0) + 1);
    } else {
      const key = `${id} ${outcome}`;
      this.refused.set(key, (this.refused.get(key) ?? 0) + 1);
    }
  }

  /** Moves the counts of the day that ended (or, with a clock set back, began) aside and starts `now`'s day. */
  private turnDay(now: number): void {
    if (!Number.isNaN(this.day)) this.carry(this.takeCurrent());
    this.day = dayStart(now);
    this.dayEnd = this.day + DAY_MS;
  }

  private takeCurrent(): UsageCountRow[] {
    const rows: UsageCountRow[] = [];
    for (const [tokenId, count] of this.accepted) rows.push({ tokenId, day: this.day, outcome: ACCEPTED, count });
    for (const [key, count] of this.refused) {
      const space = key.indexOf(' ');
      rows.push({ tokenId: key.slice(0, space), day: this.day, outcome: key.slice(space + 1), count });
    }
    this.accepted = new Map();
    this.refused = new Map();
    return rows;
  }

  private carry(rows: readonly UsageCountRow[]): void {
    for (const row of rows) {
      const key = `${row.day} ${row.tokenId} ${row.outcome}`;
      const held = this.carried.get(key);
      if (held) held.count += row.count;
      else this.carried.set(key, { ...row });
    }
  }

  /** Writes what was collected; resolves with how many tokens' last use it updated. One flush at a time. */
  flush(): Promise<number> {
    this.flushing ??= this.write().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async write(): Promise<number> {
    const batch = this.pending;
    const ips = this.pendingIps;
    this.pending = new Map();
    this.pendingIps = new Map();
    this.carry(this.takeCurrent());
    // In key order: instances upserting the same rows at once then lock them in the same order (no deadlock on PostgreSQL).
    const counts = [...this.carried.values()].sort((a, b) => (a.tokenId < b.tokenId ? -1 : a.tokenId > b.tokenId ? 1 : a.day - b.day || (a.outcome < b.outcome ? -1 : a.outcome > b.outcome ? 1 : 0)));
    this.carried = new Map();
    let failure: unknown;
    if (batch.size > 0) {
      try {
        await this.store.tokens.recordUses([...batch].map(([id, at]) => ({ id, at, ip: ips.get(id) ?? null })));
      } catch (error) {
        // Keep the uses for the next attempt (unless newer ones arrived) rather than lose them.
        for (const [id, at] of batch) {
          if (this.pending.has(id)) continue;
          this.pending.set(id, at);
          const ip = ips.get(id);
          if (ip !== undefined) this.pendingIps.set(id, ip);
        }
        failure = error;
      }
    }
    if (counts.length > 0) {
      try {
        // Counts, not a change of state: a power loss may take the last batches (see Store.transaction).
        await this.store.transaction((tx) => tx.usage.add(counts), { durable: false });
      } catch (error) {
        this.carry(counts);
        failure ??= error;
      }
    }
    if (failure !== undefined) throw failure;
    return batch.size;
  }

  /** Flushes every `intervalMs` until `stop`; the timer does not keep the process alive. */
  start(intervalMs = USAGE_FLUSH_INTERVAL_MS, onError: (error: unknown) => void = () => {}): void {
    this.stop();
    this.timer = setInterval(() => {
      this.flush().catch(onError);
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
