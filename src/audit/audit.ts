import { formatTime, type Clock } from '../clock';
import type { AuditRow, Repos, Store } from '../db/store';
import { AppError } from '../errors';
import { decodeCursor, DEFAULT_PAGE_LIMIT, encodeCursor, type Page } from '../paging';

/**
 * Who made a change: the CLI, the TUI, the admin HTTP API or the console (with the admin token's id),
 * a token on itself (self-service), or the leak-report endpoint.
 */
export type Actor = 'cli' | 'tui' | `api:${string}` | `console:${string}` | `self:${string}` | 'leak-report';

export type AuditAction =
  | 'app.created'
  | 'pipeline.created'
  | 'pipeline.updated'
  | 'pipeline.deleted'
  | 'token.created'
  | 'token.revoked'
  | 'token.refreshed'
  | 'token.rotated'
  | 'admin_token.created'
  | 'admin_token.revoked'
  | 'webhook.created'
  | 'webhook.removed'
  | 'console.signed_in'
  | 'console.signed_out';

export interface AuditEntry {
  actor: Actor;
  action: AuditAction;
  app?: string | null;
  tokenId?: string | null;
  /** Names, times and ids only: callers must never put a token value here. */
  detail?: Record<string, unknown>;
}

export interface AuditEventView {
  id: number;
  at: string;
  actor: string;
  action: string;
  app: string | null;
  token_id: string | null;
  detail: Record<string, unknown> | null;
}

/** The most events one page answers. */
export const MAX_AUDIT_LIMIT = 1000;

/**
 * The audit trail. `record` is called inside the transaction that makes the change, so an event
 * exists exactly when its change does.
 */
export class AuditLog {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  /** Adds an event in the transaction `tx` that makes the change it describes. */
  async record(tx: Repos, entry: AuditEntry): Promise<void> {
    await tx.audit.insert({
      at: this.clock.now(),
      actor: entry.actor,
      action: entry.action,
      app: entry.app ?? null,
      tokenId: entry.tokenId ?? null,
      detail: entry.detail ? JSON.stringify(entry.detail) : null,
    });
  }

  /** The newest `limit` events (default 50), optionally of one app. */
  async list(options: { app?: string | undefined; limit?: number | undefined } = {}): Promise<AuditEventView[]> {
    return (await this.page({ app: options.app, limit: options.limit ?? 50 })).items;
  }

  /**
   * One page of events, newest first; `cursor` is the previous page's `nextCursor`. For a window
   * that pages both ways (the TUI): `before` (a page's `prevCursor`) answers the events just newer
   * than that page, and `last` the oldest page.
   */
  async page(
    options: { app?: string | undefined; limit?: number | undefined; cursor?: string | undefined; before?: string | undefined; last?: boolean | undefined } = {},
  ): Promise<Page<AuditEventView>> {
    const limit = options.limit ?? DEFAULT_PAGE_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_AUDIT_LIMIT) {
      throw new AppError('validation_failed', `limit: must be a whole number from 1 to ${MAX_AUDIT_LIMIT} (got ${limit})`, { field: 'limit' });
    }
    if ([options.cursor, options.before, options.last || undefined].filter((given) => given !== undefined && given !== '').length > 1) {
      throw new AppError('validation_failed', 'cursor: give at most one of cursor, before and last', { field: 'cursor' });
    }
    const olderThan = decodeCursor(options.cursor, ['n'])?.[0] as number | undefined;
    const newerThan = decodeCursor(options.before, ['n'])?.[0] as number | undefined;
    const backwards = newerThan !== undefined || options.last === true;
    const rows = await this.store.audit.list({ app: options.app || undefined, limit: limit + 1, before: olderThan, after: newerThan, from: backwards ? 'oldest' : 'newest' });
    const more = rows.length > limit;
    const kept = more ? rows.slice(0, limit) : rows;
    const ordered = backwards ? [...kept].reverse() : kept;
    const items = ordered.map((row) => this.toView(row));
    const first = ordered[0] ? encodeCursor([ordered[0].id]) : undefined;
    const last = ordered.at(-1) ? encodeCursor([ordered.at(-1)!.id]) : undefined;
    if (!backwards) return { items, nextCursor: more ? last! : null, prevCursor: olderThan === undefined ? null : (first ?? options.cursor!) };
    return { items, nextCursor: newerThan === undefined ? null : (last ?? options.before!), prevCursor: more ? first! : null };
  }

  /**
   * Deletes the events older than `retentionMs`, oldest first, in batches of `batch` (one short write
   * transaction each, with a turn of the event loop between them, so that requests and other writers
   * never wait long). Answers how many were deleted.
   */
  async prune(retentionMs: number, batch = 500): Promise<number> {
    const cutoff = this.clock.now() - retentionMs;
    let total = 0;
    for (;;) {
      const deleted = await this.store.transaction((tx) => tx.audit.pruneBefore(cutoff, batch));
      total += deleted;
      if (deleted < batch) return total;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private toView(row: AuditRow): AuditEventView {
    return {
      id: row.id,
      at: formatTime(row.at),
      actor: row.actor,
      action: row.action,
      app: row.app,
      token_id: row.tokenId,
      detail: row.detail ? (JSON.parse(row.detail) as Record<string, unknown>) : null,
    };
  }
}
