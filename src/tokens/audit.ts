import { and, desc, eq, lt } from 'drizzle-orm';
import { formatTime, type Clock } from '../clock';
import type { Db, Orm } from '../db/open';
import { auditEvents } from '../db/schema';
import { AppError } from '../errors';

/** Who made a change: the CLI, the TUI, or the admin HTTP API with the admin token's id. */
export type Actor = 'cli' | 'tui' | `api:${string}`;

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
  | 'admin_token.revoked';

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

/**
 * The audit trail. `record` is called inside the transaction that makes the change, so an event
 * exists exactly when its change does.
 */
export class AuditLog {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  record(tx: Orm, entry: AuditEntry): void {
    tx.insert(auditEvents)
      .values({
        at: this.clock.now(),
        actor: entry.actor,
        action: entry.action,
        app: entry.app ?? null,
        tokenId: entry.tokenId ?? null,
        detail: entry.detail ? JSON.stringify(entry.detail) : null,
      })
      .run();
  }

  /** Newest first; `before` pages backwards by event id. */
  list(options: { app?: string; limit?: number; before?: number } = {}): AuditEventView[] {
    const limit = options.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new AppError('validation_failed', `limit: must be a whole number from 1 to 1000 (got ${limit})`, { field: 'limit' });
    }
    const conditions = [
      options.app ? eq(auditEvents.app, options.app) : undefined,
      options.before ? lt(auditEvents.id, options.before) : undefined,
    ].filter((c) => c !== undefined);
    const rows = this.db.orm
      .select()
      .from(auditEvents)
      .where(conditions.length ? and(...conditions) : undefined)
      .orderBy(desc(auditEvents.id))
      .limit(limit)
      .all();
    return rows.map((row) => ({
      id: row.id,
      at: formatTime(row.at),
      actor: row.actor,
      action: row.action,
      app: row.app,
      token_id: row.tokenId,
      detail: row.detail ? (JSON.parse(row.detail) as Record<string, unknown>) : null,
    }));
  }
}
