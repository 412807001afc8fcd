import { sql } from 'drizzle-orm';
import { check, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

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
    // With the name, so that a name search examines rows in listing order from the index alone
    // (src/db/sqlite/token-listing.ts: 8,000 rows in 2 ms instead of 8).
    index('tokens_app_created').on(t.appId, t.createdAt, t.id, t.name),
    // The status filters: tokens that were never revoked (expires_at decides active, expiring or
    // expired, read from the index itself), and revoked ones, each in listing order.
    index('tokens_app_live').on(t.appId, t.createdAt, t.id, t.expiresAt).where(sql`revoked_at IS NULL`),
    index('tokens_app_revoked').on(t.appId, t.createdAt, t.id).where(sql`revoked_at IS NOT NULL`),
    // Counting by status: the unrevoked tokens of an app by expiry, so that "active" (expires_at > now)
    // and "expired" are ranges (the app list's counts, the Tokens tab's "N of M").
    index('tokens_app_expiry').on(t.appId, t.expiresAt).where(sql`revoked_at IS NULL`),
    // The webhook expiry scan reads tokens by expiry range (src/webhooks/expiry-scan.ts).
    index('tokens_expires').on(t.expiresAt),
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

// --- Usage and webhooks (issue 14; docs/usage-and-webhooks.md) ---

/**
 * Requests per token, UTC day and outcome (`accepted`, or the refusal's error code), added to in
 * batches by the UsageRecorder (never a write per request). `day` is the epoch milliseconds of that
 * day's 00:00 UTC. No foreign key: a count for a token deleted meanwhile must not fail the batch;
 * rows are pruned by age (MM_USAGE_RETENTION).
 */
export const tokenUsage = sqliteTable(
  'token_usage',
  {
    tokenId: text('token_id').notNull(),
    day: integer('day').notNull(),
    outcome: text('outcome').notNull(),
    count: integer('count').notNull(),
  },
  (t) => [primaryKey({ columns: [t.tokenId, t.day, t.outcome] }), index('token_usage_day').on(t.day)],
);

/** An app's webhook endpoints. `secret` signs deliveries (Standard Webhooks), so it is stored; it is shown once. */
export const webhooks = sqliteTable(
  'webhooks',
  {
    id: text('id').primaryKey(),
    appId: integer('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'cascade' }),
    url: text('url').notNull(),
    secret: text('secret').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [uniqueIndex('webhooks_app_url').on(t.appId, t.url)],
);

/**
 * The outbox: one row per event and endpoint, written in the transaction that made the change.
 * A worker claims due rows with a lease, delivers, and records the outcome.
 */
export const webhookDeliveries = sqliteTable(
  'webhook_deliveries',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    webhookId: text('webhook_id')
      .notNull()
      .references(() => webhooks.id, { onDelete: 'cascade' }),
    appId: integer('app_id').notNull(),
    /** The `webhook-id` header: one per event, the same on every attempt. */
    eventId: text('event_id').notNull(),
    type: text('type').notNull(),
    /** The JSON body, exactly as signed and sent. */
    payload: text('payload').notNull(),
    createdAt: integer('created_at').notNull(),
    status: text('status', { enum: ['pending', 'delivered', 'failed'] }).notNull(),
    attempts: integer('attempts').notNull(),
    nextAttemptAt: integer('next_attempt_at'),
    leaseUntil: integer('lease_until'),
    leaseOwner: text('lease_owner'),
    lastAttemptAt: integer('last_attempt_at'),
    lastStatus: integer('last_status'),
    lastError: text('last_error'),
    finishedAt: integer('finished_at'),
  },
  (t) => [
    index('webhook_deliveries_due').on(t.status, t.nextAttemptAt),
    index('webhook_deliveries_app').on(t.appId, t.id),
    index('webhook_deliveries_finished').on(t.finishedAt),
  ],
);

/** Every delivery attempt: when, the receiver's status or the failure, how long it took. */
export const webhookAttempts = sqliteTable(
  'webhook_attempts',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    deliveryId: integer('delivery_id')
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: 'cascade' }),
    at: integer('at').notNull(),
    responseStatus: integer('response_status'),
    error: text('error'),
    durationMs: integer('duration_ms').notNull(),
  },
  (t) => [index('webhook_attempts_delivery').on(t.deliveryId, t.id)],
);

/**
 * The expiry scan's watermarks, one per notice kind: every active token whose (expires_at, id) is
 * at or before the mark has had that notice considered, so each scan reads only the tokens that
 * crossed a threshold since the last one (an index range on expires_at), never every token.
 */
export const webhookScanMarks = sqliteTable('webhook_scan_marks', {
  kind: text('kind').primaryKey(),
  expiresAt: integer('expires_at').notNull(),
  tokenId: text('token_id').notNull(),
});
/**
 * Idempotency keys of triggers (SPEC "Runs"), scoped to a token and kept 24 h: the run a key
 * started and, once it ended, the answer to give a retry again. Pruned in small batches.
 */
export const idempotencyKeys = sqliteTable(
  'idempotency_keys',
  {
    tokenId: text('token_id').notNull(),
    key: text('key').notNull(),
    fingerprint: text('fingerprint').notNull(),
    pipeline: text('pipeline').notNull(),
    runId: text('run_id').notNull(),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    answerStatus: integer('answer_status'),
    answer: text('answer'),
  },
  (t) => [primaryKey({ name: 'idempotency_keys_pk', columns: [t.tokenId, t.key] }), index('idempotency_keys_expires').on(t.expiresAt)],
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

/**
 * Columns that only this dialect's indexes add, after the columns both share (the schema
 * comparison test allows exactly these): SQLite's name search examines rows in listing order from
 * tokens_app_created alone; PostgreSQL's planner finds them through its trigram index instead.
 */
export const SQLITE_ONLY_INDEX_COLUMNS: Readonly<Record<string, readonly string[]>> = { tokens_app_created: ['name'] };
