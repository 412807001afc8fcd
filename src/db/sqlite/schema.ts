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
  },
  (t) => [
    uniqueIndex('tokens_hash').on(t.hash),
    index('tokens_app').on(t.appId, t.createdAt),
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

/**
 * Web console sessions (SPEC "Web console"). Only the SHA-256 of a session id is stored; the id
 * itself lives in the admin's cookie. A session ends at `expires_at` (absolute), after the idle
 * timeout since `last_seen_at`, at sign-out, or when its admin token stops working.
 */
export const consoleSessions = sqliteTable(
  'console_sessions',
  {
    idHash: text('id_hash').primaryKey(),
    adminTokenId: text('admin_token_id')
      .notNull()
      .references(() => tokens.id, { onDelete: 'cascade' }),
    createdAt: integer('created_at').notNull(),
    lastSeenAt: integer('last_seen_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
  },
  (t) => [index('console_sessions_token').on(t.adminTokenId), index('console_sessions_expires').on(t.expiresAt)],
);

/** One-time console sign-in codes (`mechamental console`): the SHA-256 of each, valid 10 minutes, deleted when used. */
export const consoleSignInCodes = sqliteTable(
  'console_sign_in_codes',
  {
    codeHash: text('code_hash').primaryKey(),
    adminTokenId: text('admin_token_id')
      .notNull()
      .references(() => tokens.id, { onDelete: 'cascade' }),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
  },
  (t) => [index('console_sign_in_codes_expires').on(t.expiresAt)],
);
