import type { ChangeWatch } from '../db/store';
import type { Logger } from '../log';
import type { Services } from '../services';
import type { Metrics } from './metrics';

/** Why the registry ends a stream. */
export type StreamEnd = 'token_revoked' | 'token_expired' | 'shutting_down';

/** An open SSE stream, as the registry sees it. */
export interface OpenStream {
  readonly tokenId: string;
  /** The token's expiry as last read; the registry moves it when a refresh or a rotation does. */
  expiresAt: number;
  /** Ends the stream with `run.failed` {code, message} and aborts its run; idempotent. */
  fail(code: StreamEnd, message: string): void;
  /** Writes an SSE comment that keeps an idle connection open. */
  ping(): void;
  /** A background run watched for its token, not a stream: not in the open-streams gauge. */
  readonly watchOnly?: boolean;
}

export interface StreamRegistryOptions {
  /** How often expiries and newly opened streams are checked, and (SQLite) the file is polled (ms); default 200. */
  pollIntervalMs?: number;
  /** How often idle streams get a `: ping` comment (ms); default 15 000. */
  pingIntervalMs?: number;
  metrics?: Metrics;
  logger?: Logger;
}

/**
 * The open SSE streams, and the watcher that ends them when their token stops working — revoked by
 * this process, another process on the same file, or another instance on the same PostgreSQL
 * database; expired by the clock, including an expiry moved earlier by a rotation's grace period.
 *
 * It cannot miss a change: a stream is checked once right after it was added (so a revoke made
 * between the trigger's last check and the registration still ends it), every time the store reports
 * a change to its token (or "something changed"), and when its expiry as last read has passed.
 * Token states are read in one batch per tick for all the tokens concerned.
 */
export class StreamRegistry {
  private readonly byToken = new Map<string, Set<OpenStream>>();
  private count = 0;
  /** Tokens to read again at the next check: new streams', and those the store reported changed. */
  private readonly due = new Set<string>();
  private allDue = false;
  private checking: Promise<void> | undefined;
  private again = false;
  private tickTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private watch: ChangeWatch | undefined;
  private readonly pollIntervalMs: number;
  private readonly pingIntervalMs: number;

  constructor(
    private readonly services: Pick<Services, 'store' | 'tokens' | 'clock'>,
    private readonly options: StreamRegistryOptions = {},
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? 200;
    this.pingIntervalMs = options.pingIntervalMs ?? 15_000;
  }

  get size(): number {
    return this.count;
  }

  /** Whether the store's change feed works (PostgreSQL: the LISTEN connection is up). */
  get watching(): boolean {
    return this.watch?.healthy ?? false;
  }

  add(stream: OpenStream): void {
    let set = this.byToken.get(stream.tokenId);
    if (set === undefined) this.byToken.set(stream.tokenId, (set = new Set()));
    set.add(stream);
    this.count++;
    this.due.add(stream.tokenId);
    if (!stream.watchOnly) this.options.metrics?.openStreams.inc();
  }

  delete(stream: OpenStream): void {
    const set = this.byToken.get(stream.tokenId);
    if (!set?.delete(stream)) return;
    if (set.size === 0) this.byToken.delete(stream.tokenId);
    this.count--;
    if (!stream.watchOnly) this.options.metrics?.openStreams.dec();
  }

  /** Starts the watcher and the pings; timers and connections never keep the process alive. */
  start(): void {
    if (this.tickTimer) return;
    this.watch = this.services.store.watchTokenChanges({ pollIntervalMs: this.pollIntervalMs });
    this.watch.start((ids) => {
      if (this.count === 0) return;
      if (ids === 'all') this.allDue = true;
      else for (const id of ids) if (this.byToken.has(id)) this.due.add(id);
      void this.check();
    });
    this.tickTimer = setInterval(() => void this.check(), this.pollIntervalMs);
    this.tickTimer.unref();
    this.pingTimer = setInterval(() => {
      for (const set of this.byToken.values()) for (const stream of set) stream.ping();
    }, this.pingIntervalMs);
    this.pingTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.tickTimer);
    clearInterval(this.pingTimer);
    this.tickTimer = undefined;
    this.pingTimer = undefined;
    await this.watch?.stop();
    this.watch = undefined;
  }

  /** Ends every open stream with `run.failed` `code` (shutdown). */
  endAll(code: 'shutting_down', message: string): void {
    for (const set of [...this.byToken.values()]) for (const stream of [...set]) stream.fail(code, message);
  }

  /**
   * One check (public so that tests and shutdown can force one): reads the state of every token that
   * is due — all of them after an unspecific change — and ends or updates their streams. Checks never
   * overlap; a change reported during one is handled by another right after.
   */
  check(): Promise<void> {
    if (this.checking) {
      this.again = true;
      return this.checking;
    }
    this.checking = this.runCheck().finally(() => {
      this.checking = undefined;
      if (this.again) {
        this.again = false;
        void this.check();
      }
    });
    return this.checking;
  }

  private async runCheck(): Promise<void> {
    if (this.count === 0) {
      this.due.clear();
      this.allDue = false;
      return;
    }
    const now = this.services.clock.now();
    let ids: string[];
    if (this.allDue) {
      ids = [...this.byToken.keys()];
    } else {
      for (const [tokenId, set] of this.byToken) {
        for (const stream of set) {
          if (stream.expiresAt <= now) {
            this.due.add(tokenId);
            break;
          }
        }
      }
      ids = [...this.due].filter((id) => this.byToken.has(id));
    }
    this.allDue = false;
    this.due.clear();
    if (ids.length === 0) return;
    let states: Awaited<ReturnType<Services['tokens']['livenessAmong']>>;
    try {
      states = await this.services.tokens.livenessAmong(ids);
    } catch (error) {
      // The store does not answer now: try these again at the next tick.
      for (const id of ids) this.due.add(id);
      this.options.logger?.error({ err: error }, 'checking open streams for revoked tokens failed');
      return;
    }
    for (const [tokenId, { state, expiresAt }] of states) {
      const set = this.byToken.get(tokenId);
      if (!set) continue;
      for (const stream of [...set]) {
        if (state === 'revoked') stream.fail('token_revoked', `token ${tokenId} was revoked`);
        else if (state === 'expired') stream.fail('token_expired', `token ${tokenId} expired`);
        else stream.expiresAt = expiresAt;
      }
    }
  }
}
