import { sql } from 'drizzle-orm';
import { check, index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

/**
 * The database schema. Times are integer milliseconds since the epoch (UTC); they become RFC 3339
 * text only at the edges (HTTP, CLI, TUI). Token values are never stored: only `hash` (SHA-256 hex)
 * and `hint`. Changing this file means `npm run db:generate`, never editing a shipped migration.
 */
export const apps = sqliteTable('apps', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  slug: text('slug').notNull().unique(),
  name: text('name').notNull(),
  createdAt: integer('created_at').notNull(),
});

export const pipelines = sqliteTable(
  'pipelines',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    appId: integer('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'cascade' }),
    slug: text('slug').notNull(),
    kind: text('kind', { enum: ['echo', 'command', 'http', 'openai'] }).notNull(),
    config: text('config').notNull(),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [uniqueIndex('pipelines_app_slug').on(t.appId, t.slug)],
);

export const tokens = sqliteTable(
  'tokens',
  {
    id: text('id').primaryKey(),
    kind: text('kind', { enum: ['trigger', 'admin'] }).notNull(),
    appId: integer('app_id').references(() => apps.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    hash: text('hash').notNull(),
    hint: text('hint').notNull(),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    revokedAt: integer('revoked_at'),
    lastUsedAt: integer('last_used_at'),
    /** Requests per minute; null means no limit. */
    rateLimit: integer('rate_limit'),
    /** Set on the old token by a rotation: the id of the token that replaced it. */
    replacedBy: text('replaced_by'),
    // Token controls (src/tokens/controls.ts): JSON text arrays, null for "no restriction".
    description: text('description'),
    pipelines: text('pipelines'),
    allowedIps: text('allowed_ips'),
    lastUsedIp: text('last_used_ip'),
  },
  (t) => [
    uniqueIndex('tokens_hash').on(t.hash),
    // The listing's keyset (newest first, ties by id) within an app; admin tokens are app_id NULL.
    index('tokens_app_created').on(t.appId, t.createdAt, t.id),
    // The status filters: tokens that were never revoked (expires_at decides active, expiring or
    // expired, read from the index itself), and revoked ones, each in listing order.
    index('tokens_app_live').on(t.appId, t.createdAt, t.id, t.expiresAt).where(sql`revoked_at IS NULL`),
    index('tokens_app_revoked').on(t.appId, t.createdAt, t.id).where(sql`revoked_at IS NOT NULL`),
    // Counting by status: the unrevoked tokens of an app by expiry, so that "active" (expires_at > now)
    // and "expired" are ranges (the app list's counts, the Tokens tab's "N of M").
    index('tokens_app_expiry').on(t.appId, t.expiresAt).where(sql`revoked_at IS NULL`),
    check('tokens_kind_app', sql`(${t.kind} = 'trigger' AND ${t.appId} IS NOT NULL) OR (${t.kind} = 'admin' AND ${t.appId} IS NULL)`),
  ],
);

/** Append-only record of every change. Holds slugs and ids, so it outlives what it describes. */
export const auditEvents = sqliteTable(
  'audit_events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    at: integer('at').notNull(),
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    app: text('app'),
    tokenId: text('token_id'),
    detail: text('detail'),
  },
  (t) => [index('audit_app').on(t.app, t.id)],
);
