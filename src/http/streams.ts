import type { Statement } from 'better-sqlite3';
import type { Services } from '../services';
import type { Logger } from '../log';
import type { Metrics } from './metrics';

/** An open SSE stream, as the registry sees it. */
export interface OpenStream {
  readonly tokenId: string;
  /** The token's expiry as it was when the stream opened (a refresh may have extended it since). */
  readonly expiresAt: number;
  /** Ends the stream with `run.failed` {code, message} and aborts its run; idempotent. */
  fail(code: 'token_revoked' | 'token_expired' | 'shutting_down', message: string): void;
  /** Writes an SSE comment that keeps an idle connection open. */
  ping(): void;
}

export interface StreamRegistryOptions {
  /** How often the database is asked whether anything changed (ms); default 200. */
  pollIntervalMs?: number;
  /** How often idle streams get a `: ping` comment (ms); default 15 000. */
  pingIntervalMs?: number;
  metrics?: Metrics;
  logger?: Logger;
}

/**
 * The open SSE streams, and the watcher that ends them when their token stops being valid.
 *
 * Every `pollIntervalMs` while streams are open it reads `PRAGMA data_version` (bumped by commits
 * of other connections: the CLI, the TUI) and `total_changes()` (commits on this connection: the
 * admin API); when either moved, or a stream's token reached its expiry by the clock, it asks
 * `tokens.inactiveAmong(ids)` and ends those streams with `run.failed` (`token_revoked` or
 * `token_expired`). So a revoke from any process ends the streams within about 200 ms.
 */
export class StreamRegistry {
  private readonly open = new Set<OpenStream>();
  private readonly versionStatement: Statement<[], { v: number; c: number }>;
  private lastVersion = -1;
  private lastChanges = -1;
  private pollTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private readonly pollIntervalMs: number;
  private readonly pingIntervalMs: number;

  constructor(
    private readonly services: Pick<Services, 'db' | 'tokens' | 'clock'>,
    private readonly options: StreamRegistryOptions = {},
  ) {
    this.versionStatement = services.db.sqlite.prepare('SELECT (SELECT data_version FROM pragma_data_version) AS v, total_changes() AS c');
    this.pollIntervalMs = options.pollIntervalMs ?? 200;
    this.pingIntervalMs = options.pingIntervalMs ?? 15_000;
  }

  get size(): number {
    return this.open.size;
  }

  add(stream: OpenStream): void {
    if (this.open.size === 0) this.snapshot();
    this.open.add(stream);
    this.options.metrics?.openStreams.inc();
  }

  delete(stream: OpenStream): void {
    if (this.open.delete(stream)) this.options.metrics?.openStreams.dec();
  }

  /** Starts the watcher and the pings; the timers never keep the process alive. */
  start(): void {
    if (this.pollTimer) return;
    this.pollTimer = setInterval(() => this.check(), this.pollIntervalMs);
    this.pollTimer.unref();
    this.pingTimer = setInterval(() => {
      for (const stream of this.open) stream.ping();
    }, this.pingIntervalMs);
    this.pingTimer.unref();
  }

  stop(): void {
    clearInterval(this.pollTimer);
    clearInterval(this.pingTimer);
    this.pollTimer = undefined;
    this.pingTimer = undefined;
  }

  /** Ends every open stream with `run.failed` `code` (shutdown). */
  endAll(code: 'shutting_down', message: string): void {
    for (const stream of [...this.open]) stream.fail(code, message);
  }

  private snapshot(): boolean {
    const { v, c } = this.versionStatement.get()!;
    const changed = v !== this.lastVersion || c !== this.lastChanges;
    this.lastVersion = v;
    this.lastChanges = c;
    return changed;
  }

  /** One watcher tick (public so that tests and shutdown can force one). */
  check(): void {
    if (this.open.size === 0) return;
    try {
      const now = this.services.clock.now();
      let due = this.snapshot();
      if (!due) for (const stream of this.open) if (stream.expiresAt <= now) due = true;
      if (!due) return;
      const streams = [...this.open];
      const inactive = this.services.tokens.inactiveAmong([...new Set(streams.map((s) => s.tokenId))]);
      if (inactive.size === 0) return;
      for (const stream of streams) {
        const state = inactive.get(stream.tokenId);
        if (state === 'revoked') stream.fail('token_revoked', `token ${stream.tokenId} was revoked`);
        else if (state === 'expired') stream.fail('token_expired', `token ${stream.tokenId} expired`);
      }
    } catch (error) {
      this.options.logger?.error({ err: error }, 'checking open streams for revoked tokens failed');
    }
  }
}
