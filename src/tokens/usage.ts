import type { Statement } from 'better-sqlite3';
import type { Clock } from '../clock';
import type { Db } from '../db/open';

/** How often recorded uses are written: at most one write per token per interval. */
export const USAGE_FLUSH_INTERVAL_MS = 5_000;

/**
 * Keeps `last_used_at` without a database write per request: uses are collected in memory and
 * written in one transaction per interval (and on `flush`, e.g. at shutdown). A later time never
 * goes backwards, even if another process wrote a newer one meanwhile.
 */
export class UsageRecorder {
  private pending = new Map<string, number>();
  private readonly update: Statement<[number, string]>;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {
    this.update = db.sqlite.prepare('UPDATE tokens SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?');
  }

  /** Notes that token `id` was used now. Cheap: one Map write. */
  touch(id: string): void {
    this.pending.set(id, this.clock.now());
  }

  /** Writes what was collected; returns how many tokens it updated. */
  flush(): number {
    if (this.pending.size === 0) return 0;
    const batch = this.pending;
    this.pending = new Map();
    const write = this.db.sqlite.transaction(() => {
      for (const [id, at] of batch) this.update.run(at, id);
    });
    try {
      write.immediate();
    } catch (error) {
      // Keep the uses for the next attempt (unless newer ones arrived) rather than lose them.
      for (const [id, at] of batch) if (!this.pending.has(id)) this.pending.set(id, at);
      throw error;
    }
    return batch.size;
  }

  /** Flushes every `intervalMs` until `stop`; the timer does not keep the process alive. */
  start(intervalMs = USAGE_FLUSH_INTERVAL_MS, onError: (error: unknown) => void = () => {}): void {
    this.stop();
    this.timer = setInterval(() => {
      try {
        this.flush();
      } catch (error) {
        onError(error);
      }
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
