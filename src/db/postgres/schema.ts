import { sql } from 'drizzle-orm';
import { bigint, check, index, integer, pgTable, primaryKey, serial, text, uniqueIndex, bigserial } from 'drizzle-orm/pg-core';

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

/** Tables that exist only in this dialect (the schema comparison test allows exactly these). */
export const POSTGRES_ONLY_TABLES = ['token_events', 'runs', 'run_events'] as const;
