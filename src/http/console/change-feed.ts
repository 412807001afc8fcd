import type { ServerResponse } from 'node:http';
import type { Logger } from '../../log';
import type { Services } from '../../services';
import { SSE_HEADERS } from '../sse';

/** How often the feed asks the store whether anything changed, while someone listens (ms). */
export const CHANGE_POLL_MS = 500;
/** How often a listener's session (or admin token) is checked again when nothing changed (ms). */
export const SESSION_RECHECK_MS = 60_000;
/** How often an idle feed gets `: ping` (ms). */
export const FEED_PING_MS = 15_000;

/** Who listens: by session (the console) or by admin token (Authorization: Bearer). */
type Credential = { sessionId: string } | { adminTokenId: string };

interface Listener {
  res: ServerResponse;
  credential: Credential;
}

export interface ChangeFeedOptions {
  pollIntervalMs?: number;
  recheckIntervalMs?: number;
  pingIntervalMs?: number;
  logger?: Logger;
}

/**
 * `GET /console/api/changes`: tells every open console that something changed (a token created or
 * revoked from the CLI, the TUI, another console or another instance), so that it reloads what it
 * shows. One poll of `store.changeMarker()` per server every 500 ms, and only while at least one
 * console listens: the cost does not grow with the number of consoles, and is nothing when none is
 * open. Events: `ready` on connect (a reconnecting console reloads, since it may have missed
 * changes), `change` after each change, `session-ended` before the feed closes a stream whose
 * session (or admin token) stopped working; `: ping` every 15 s.
 */
export class ConsoleChangeFeed {
  private readonly listeners = new Set<Listener>();
  private pollTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private lastMarker: string | undefined;
  private lastRecheck = 0;
  private polling = false;
  private stopped = false;
  private readonly pollIntervalMs: number;
  private readonly recheckIntervalMs: number;
  private readonly pingIntervalMs: number;

  constructor(
    private readonly services: Pick<Services, 'store' | 'console' | 'tokens' | 'clock'>,
    private readonly options: ChangeFeedOptions = {},
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? CHANGE_POLL_MS;
    this.recheckIntervalMs = options.recheckIntervalMs ?? SESSION_RECHECK_MS;
    this.pingIntervalMs = options.pingIntervalMs ?? FEED_PING_MS;
  }

  /** How many consoles listen now. */
  get size(): number {
    return this.listeners.size;
  }

  /** Answers `res` as an event stream until the client leaves, its credential stops working, or the feed stops. */
  async subscribe(res: ServerResponse, credential: Credential): Promise<void> {
    if (this.stopped) {
      res.writeHead(503, { 'Content-Type': 'application/json; charset=utf-8', 'Retry-After': '2' }).end(JSON.stringify({ error: { code: 'shutting_down', message: 'the server is shutting down; retry shortly' } }));
      return;
    }
    const listener: Listener = { res, credential };
    // The marker the console's first load saw is unknown, so a reconnect reloads (the `ready` event).
    if (this.listeners.size === 0) this.lastMarker = await this.marker();
    res.writeHead(200, { ...SSE_HEADERS, 'Cache-Control': 'no-store' });
    res.write('retry: 2000\n\n');
    res.write(`event: ready\ndata: {}\n\n`);
    this.listeners.add(listener);
    res.on('close', () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.idle();
    });
    this.start();
  }

  private start(): void {
    if (this.pollTimer || this.stopped) return;
    this.lastRecheck = this.services.clock.now();
    this.pollTimer = setInterval(() => void this.poll(), this.pollIntervalMs);
    this.pollTimer.unref();
    this.pingTimer = setInterval(() => {
      for (const { res } of this.listeners) if (!res.destroyed) res.write(': ping\n\n');
    }, this.pingIntervalMs);
    this.pingTimer.unref();
  }

  private idle(): void {
    clearInterval(this.pollTimer);
    clearInterval(this.pingTimer);
    this.pollTimer = undefined;
    this.pingTimer = undefined;
  }

  private async marker(): Promise<string | undefined> {
    try {
      return await this.services.store.changeMarker();
    } catch (error) {
      this.options.logger?.warn({ err: error }, 'console change feed: the database does not answer');
      return undefined;
    }
  }

  private async poll(): Promise<void> {
    if (this.polling || this.listeners.size === 0) return;
    this.polling = true;
    try {
      const marker = await this.marker();
      if (marker === undefined) return;
      const changed = marker !== this.lastMarker;
      this.lastMarker = marker;
      const now = this.services.clock.now();
      if (changed || now - this.lastRecheck >= this.recheckIntervalMs) {
        this.lastRecheck = now;
        // A change may be the revoke of an admin token: check every listener's credential first.
        await this.recheck();
      }
      if (changed) for (const { res } of this.listeners) if (!res.destroyed) res.write('event: change\ndata: {}\n\n');
    } finally {
      this.polling = false;
    }
  }

  private async recheck(): Promise<void> {
    for (const listener of [...this.listeners]) {
      let works: boolean;
      try {
        works = await this.works(listener.credential);
      } catch {
        continue; // the database does not answer: keep the stream; the next change checks again
      }
      if (!works) {
        this.listeners.delete(listener);
        if (!listener.res.destroyed) listener.res.end('event: session-ended\ndata: {}\n\n');
      }
    }
    if (this.listeners.size === 0) this.idle();
  }

  private async works(credential: Credential): Promise<boolean> {
    if ('sessionId' in credential) return (await this.services.console.check(credential.sessionId, { background: true })).ok;
    return (await this.services.tokens.liveness(credential.adminTokenId)).state === 'active';
  }

  /** Ends every stream (shutdown) and stops polling; later subscribers get 503. Idempotent. */
  stop(): void {
    this.stopped = true;
    this.idle();
    for (const { res } of this.listeners) if (!res.destroyed) res.end();
    this.listeners.clear();
  }
}
