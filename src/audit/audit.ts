import { formatTime, type Clock } from '../clock';
import type { Repos, Store } from '../db/store';
import { AppError } from '../errors';

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

/** The most events one listing answers. */
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

  /** Newest first; `before` pages backwards by event id. */
  async list(options: { app?: string | undefined; limit?: number | undefined; before?: number | undefined } = {}): Promise<AuditEventView[]> {
    const limit = options.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_AUDIT_LIMIT) {
      throw new AppError('validation_failed', `limit: must be a whole number from 1 to ${MAX_AUDIT_LIMIT} (got ${limit})`, { field: 'limit' });
    }
    const rows = await this.store.audit.list({ app: options.app || undefined, limit, before: options.before });
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
