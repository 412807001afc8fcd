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
  },
  (t) => [
    uniqueIndex('tokens_hash').on(t.hash),
    index('tokens_app').on(t.appId, t.createdAt),
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

/** Web console sessions: as in ../sqlite/schema.ts. */
export const consoleSessions = pgTable(
  'console_sessions',
  {
    idHash: text('id_hash').primaryKey(),
    adminTokenId: text('admin_token_id')
      .notNull()
      .references(() => tokens.id, { onDelete: 'cascade' }),
    createdAt: ms('created_at').notNull(),
    lastSeenAt: ms('last_seen_at').notNull(),
    expiresAt: ms('expires_at').notNull(),
  },
  (t) => [index('console_sessions_token').on(t.adminTokenId), index('console_sessions_expires').on(t.expiresAt)],
);

/** One-time console sign-in codes: as in ../sqlite/schema.ts. */
export const consoleSignInCodes = pgTable(
  'console_sign_in_codes',
  {
    codeHash: text('code_hash').primaryKey(),
    adminTokenId: text('admin_token_id')
      .notNull()
      .references(() => tokens.id, { onDelete: 'cascade' }),
    createdAt: ms('created_at').notNull(),
    expiresAt: ms('expires_at').notNull(),
  },
  (t) => [index('console_sign_in_codes_expires').on(t.expiresAt)],
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

/** Tables that exist only in this dialect (the schema comparison test allows exactly these). */
export const POSTGRES_ONLY_TABLES = ['token_events'] as const;
