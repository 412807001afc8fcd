import type { Clock } from '../clock';
import type { Store } from '../db/store';

/** How often recorded uses are written: at most one write per token per interval. */
export const USAGE_FLUSH_INTERVAL_MS = 5_000;

/**
 * Keeps `last_used_at` (and `last_used_ip`) without a database write per request: uses are collected in memory and
 * written in one batch per interval (and on `flush`, e.g. at shutdown). A later time never goes
 * backwards, even if another process or instance wrote a newer one meanwhile.
 */
export class UsageRecorder {
  private pending = new Map<string, number>();
  /** The client address of each pending use, when known (kept apart: no object per touch). */
  private pendingIps = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<number> | undefined;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  /** Notes that token `id` was used now, from client address `ip` when given. Cheap: a Map write or two. */
  touch(id: string, ip?: string): void {
    this.pending.set(id, this.clock.now());
    if (ip) this.pendingIps.set(id, ip);
  }

  /** Writes what was collected; resolves with how many tokens it updated. One flush at a time. */
  flush(): Promise<number> {
    this.flushing ??= this.write().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async write(): Promise<number> {
    if (this.pending.size === 0) return 0;
    const batch = this.pending;
    const ips = this.pendingIps;
    this.pending = new Map();
    this.pendingIps = new Map();
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
      throw error;
    }
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
