import { sql } from 'drizzle-orm';
import { bigint, check, index, integer, pgTable, serial, text, uniqueIndex, bigserial } from 'drizzle-orm/pg-core';

/**
 * The PostgreSQL schema: the same tables, columns and indexes as `../sqlite/schema.ts` (a test
 * compares the two), so that one set of rules runs on either. Times are bigint milliseconds since the
 * epoch, as on SQLite, read as JavaScript numbers (they stay far below 2^53). Tables that only
 * PostgreSQL needs are marked so. Changing this file means `npm run db:generate`, never editing a
 * shipped migration.
 */
const ms = (name: string) => bigint(name, { mode: 'number' });

export const apps = pgTable('apps', {
  id: serial('id').primaryKey(),
  slug: text('slug').notNull().unique(),
  name: text('name').notNull(),
  createdAt: ms('created_at').notNull(),
});

export const pipelines = pgTable(
  'pipelines',
  {
    id: serial('id').primaryKey(),
    appId: integer('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'cascade' }),
    slug: text('slug').notNull(),
    kind: text('kind', { enum: ['echo', 'command', 'http', 'openai'] }).notNull(),
    config: text('config').notNull(),
    createdAt: ms('created_at').notNull(),
    updatedAt: ms('updated_at').notNull(),
  },
  (t) => [uniqueIndex('pipelines_app_slug').on(t.appId, t.slug)],
);

export const tokens = pgTable(
  'tokens',
  {
    id: text('id').primaryKey(),
    kind: text('kind', { enum: ['trigger', 'admin'] }).notNull(),
    appId: integer('app_id').references(() => apps.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    hash: text('hash').notNull(),
    hint: text('hint').notNull(),
    createdAt: ms('created_at').notNull(),
    expiresAt: ms('expires_at').notNull(),
    revokedAt: ms('revoked_at'),
    lastUsedAt: ms('last_used_at'),
    rateLimit: integer('rate_limit'),
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

export const auditEvents = pgTable(
  'audit_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: ms('at').notNull(),
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    app: text('app'),
    tokenId: text('token_id'),
    detail: text('detail'),
  },
  (t) => [index('audit_app').on(t.app, t.id)],
);

/**
 * PostgreSQL only: token state changes (revoke, refresh, rotate), in commit order, so that an
 * instance whose LISTEN connection dropped can catch up on what it missed. Each row is written in
 * the transaction that made the change, together with a `pg_notify`. Pruned after a day.
 */
export const tokenEvents = pgTable(
  'token_events',
  {
    seq: bigserial('seq', { mode: 'number' }).primaryKey(),
    tokenId: text('token_id').notNull(),
    at: ms('at').notNull(),
  },
  (t) => [index('token_events_at').on(t.at)],
);

/**
 * PostgreSQL only: the GCRA state of each rate-limited token (its theoretical arrival time, epoch ms),
 * so that a token's limit is one across all instances. A row exists only for tokens that have a limit
 * and were used; it is updated by one atomic upsert per request.
 */
export const rateLimits = pgTable('rate_limits', {
  tokenId: text('token_id').primaryKey(),
  tat: ms('tat').notNull(),
});

/** Tables that exist only in this dialect (the schema comparison test allows exactly these). */
export const POSTGRES_ONLY_TABLES = ['token_events', 'rate_limits'] as const;
