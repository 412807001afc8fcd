import { sql } from 'drizzle-orm';
import { bigint, check, index, integer, pgSequence, pgTable, primaryKey, serial, text, uniqueIndex, bigserial } from 'drizzle-orm/pg-core';

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
    // The webhook expiry scan reads tokens by expiry range (src/webhooks/expiry-scan.ts).
    index('tokens_expires').on(t.expiresAt),
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

// --- Usage and webhooks (issue 14): the same tables as in ../sqlite/schema.ts, which explains them ---

export const tokenUsage = pgTable(
  'token_usage',
  {
    tokenId: text('token_id').notNull(),
    day: ms('day').notNull(),
    outcome: text('outcome').notNull(),
    count: bigint('count', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.tokenId, t.day, t.outcome] }), index('token_usage_day').on(t.day)],
);

export const webhooks = pgTable(
  'webhooks',
  {
    id: text('id').primaryKey(),
    appId: integer('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'cascade' }),
    url: text('url').notNull(),
    secret: text('secret').notNull(),
    createdAt: ms('created_at').notNull(),
  },
  (t) => [uniqueIndex('webhooks_app_url').on(t.appId, t.url)],
);

export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    webhookId: text('webhook_id')
      .notNull()
      .references(() => webhooks.id, { onDelete: 'cascade' }),
    appId: integer('app_id').notNull(),
    eventId: text('event_id').notNull(),
    type: text('type').notNull(),
    payload: text('payload').notNull(),
    createdAt: ms('created_at').notNull(),
    status: text('status', { enum: ['pending', 'delivered', 'failed'] }).notNull(),
    attempts: integer('attempts').notNull(),
    nextAttemptAt: ms('next_attempt_at'),
    leaseUntil: ms('lease_until'),
    leaseOwner: text('lease_owner'),
    lastAttemptAt: ms('last_attempt_at'),
    lastStatus: integer('last_status'),
    lastError: text('last_error'),
    finishedAt: ms('finished_at'),
  },
  (t) => [
    index('webhook_deliveries_due').on(t.status, t.nextAttemptAt),
    index('webhook_deliveries_app').on(t.appId, t.id),
    index('webhook_deliveries_finished').on(t.finishedAt),
  ],
);

export const webhookAttempts = pgTable(
  'webhook_attempts',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    deliveryId: bigint('delivery_id', { mode: 'number' })
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: 'cascade' }),
    at: ms('at').notNull(),
    responseStatus: integer('response_status'),
    error: text('error'),
    durationMs: integer('duration_ms').notNull(),
  },
  (t) => [index('webhook_attempts_delivery').on(t.deliveryId, t.id)],
);

export const webhookScanMarks = pgTable('webhook_scan_marks', {
  kind: text('kind').primaryKey(),
  expiresAt: ms('expires_at').notNull(),
  tokenId: text('token_id').notNull(),
});

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

/**
 * PostgreSQL only: the GCRA state of each rate-limited token (its theoretical arrival time, epoch ms),
 * so that a token's limit is one across all instances. A row exists only for tokens that have a limit
 * and were used; it is updated by one atomic upsert per request.
 */
export const rateLimits = pgTable('rate_limits', {
  tokenId: text('token_id').primaryKey(),
  tat: ms('tat').notNull(),
});

/** Idempotency keys of triggers: as in the SQLite schema. */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    tokenId: text('token_id').notNull(),
    key: text('key').notNull(),
    fingerprint: text('fingerprint').notNull(),
    pipeline: text('pipeline').notNull(),
    runId: text('run_id').notNull(),
    createdAt: ms('created_at').notNull(),
    expiresAt: ms('expires_at').notNull(),
    answerStatus: integer('answer_status'),
    answer: text('answer'),
  },
  (t) => [primaryKey({ name: 'idempotency_keys_pk', columns: [t.tokenId, t.key] }), index('idempotency_keys_expires').on(t.expiresAt)],
);

/**
 * PostgreSQL only: runs, so that a run started on one instance can be read, resumed and cancelled
 * through any other (on SQLite one process keeps them in memory). Written in batches by the
 * instance that runs them (`owner`), which also notes it is alive (`heartbeat_at`); pruned after
 * MM_RUN_RETENTION in small batches.
 */
export const runs = pgTable(
  'runs',
  {
    id: text('id').primaryKey(),
    tokenId: text('token_id').notNull(),
    pipeline: text('pipeline').notNull(),
    status: text('status', { enum: ['running', 'completed', 'failed'] }).notNull(),
    startedAt: ms('started_at').notNull(),
    endedAt: ms('ended_at'),
    output: text('output'),
    error: text('error'),
    lastSeq: integer('last_seq').notNull(),
    owner: text('owner').notNull(),
    heartbeatAt: ms('heartbeat_at').notNull(),
    cancelRequestedAt: ms('cancel_requested_at'),
  },
  (t) => [
    index('runs_token_pipeline').on(t.tokenId, t.pipeline, t.startedAt),
    index('runs_ended').on(t.endedAt),
    // The owner's heartbeat and cancel checks touch only its running runs.
    index('runs_running_owner')
      .on(t.owner)
      .where(sql`${t.status} = 'running'`),
  ],
);

/** PostgreSQL only: the events of `runs`, by their sequence numbers (the SSE ids). */
export const runEvents = pgTable(
  'run_events',
  {
    runId: text('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    event: text('event').notNull(),
    data: text('data').notNull(),
  },
  (t) => [primaryKey({ name: 'run_events_pk', columns: [t.runId, t.seq] })],
);

/**
 * PostgreSQL only: moves once per batch of usage counts written by any instance, so that the change
 * marker (store.changeMarker) follows trigger traffic without reading token_usage (a sequence: no
 * row to contend for, and reading it costs nothing).
 */
export const usageBatches = pgSequence('usage_batches');

/** Tables that exist only in this dialect (the schema comparison test allows exactly these). */
export const POSTGRES_ONLY_TABLES = ['token_events', 'rate_limits', 'runs', 'run_events'] as const;
