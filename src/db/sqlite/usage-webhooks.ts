import type Database from 'better-sqlite3';
import { and, asc, desc, eq, gt, inArray, isNull, lt, lte, or, sql } from 'drizzle-orm';
import { isUniqueViolationError } from '../errors';
import { UniqueViolation, type DeliveryRow, type UsageRepo, type WebhookRepo } from '../store';
import type { Orm } from './open';
import { apps, tokens, tokenUsage, webhookAttempts, webhookDeliveries, webhooks, webhookScanMarks } from './schema';

/** Rows per INSERT: SQLite binds at most 32 766 parameters per statement. */
const INSERT_CHUNK = 500;

/**
 * Usage counts on SQLite (issue 14). Writes are made inside the store's write transactions.
 *
 * A flush adds one row per token, day and outcome counted in the last few seconds, on the server's
 * event loop: one statement prepared once and run per row (a few µs each). Built as one multi-row
 * INSERT by the query builder, a flush of 100 tokens' counts took 6–7 ms (the SQL built and
 * prepared afresh each time), a stall every trigger request arriving meanwhile waited out.
 */
export function sqliteUsageRepo(orm: Orm, sqlite: Database.Database): UsageRepo {
  const upsert = sqlite.prepare<[string, number, string, number]>(
    'INSERT INTO token_usage (token_id, day, outcome, count) VALUES (?, ?, ?, ?) ON CONFLICT (token_id, day, outcome) DO UPDATE SET count = token_usage.count + excluded.count',
  );
  return {
    add: async (rows) => {
      for (const row of rows) upsert.run(row.tokenId, row.day, row.outcome, row.count);
    },
    ofToken: async (tokenId, fromDay, toDay) =>
      orm
        .select()
        .from(tokenUsage)
        .where(and(eq(tokenUsage.tokenId, tokenId), sql`${tokenUsage.day} BETWEEN ${fromDay} AND ${toDay}`))
        .orderBy(asc(tokenUsage.day), asc(tokenUsage.outcome))
        .all(),
    prune: async (beforeDay, limit) =>
      orm.run(
        sql`DELETE FROM token_usage WHERE (token_id, day, outcome) IN (SELECT token_id, day, outcome FROM token_usage WHERE day < ${beforeDay} LIMIT ${limit})`,
      ).changes,
  };
}

/** Webhooks, their outbox and the expiry scan's marks on SQLite (issue 14). */
export function sqliteWebhookRepo(orm: Orm): WebhookRepo {
  return {
    insert: async (row) => {
      try {
        return orm.insert(webhooks).values(row).returning().get();
      } catch (error) {
        if (isUniqueViolationError(error)) throw new UniqueViolation('webhooks_app_url');
        throw error;
      }
    },
    listByApp: async (appId) => orm.select().from(webhooks).where(eq(webhooks.appId, appId)).orderBy(asc(webhooks.createdAt), asc(webhooks.id)).all(),
    byId: async (appId, id) =>
      orm
        .select()
        .from(webhooks)
        .where(and(eq(webhooks.appId, appId), eq(webhooks.id, id)))
        .get(),
    delete: async (appId, id) =>
      orm
        .delete(webhooks)
        .where(and(eq(webhooks.appId, appId), eq(webhooks.id, id)))
        .returning({ id: webhooks.id })
        .all().length > 0,
    any: async () => orm.select({ id: webhooks.id }).from(webhooks).limit(1).get() !== undefined,
    insertDeliveries: async (rows) => {
      const inserted: DeliveryRow[] = [];
      for (let start = 0; start < rows.length; start += INSERT_CHUNK) {
        inserted.push(...(orm.insert(webhookDeliveries).values(rows.slice(start, start + INSERT_CHUNK).map((r) => ({ ...r }))).returning().all() as DeliveryRow[]));
      }
      return inserted;
    },
    deliveries: async (query) =>
      orm
        .select()
        .from(webhookDeliveries)
        .where(
          and(
            eq(webhookDeliveries.appId, query.appId),
            query.webhookId ? eq(webhookDeliveries.webhookId, query.webhookId) : undefined,
            query.status ? eq(webhookDeliveries.status, query.status) : undefined,
            query.before !== undefined ? lt(webhookDeliveries.id, query.before) : undefined,
          ),
        )
        .orderBy(desc(webhookDeliveries.id))
        .limit(query.limit)
        .all() as DeliveryRow[],
    attemptsOf: async (ids) =>
      ids.length === 0 ? [] : orm.select().from(webhookAttempts).where(inArray(webhookAttempts.deliveryId, [...ids])).orderBy(asc(webhookAttempts.id)).all(),
    hasDue: async (now) => orm.select({ id: webhookDeliveries.id }).from(webhookDeliveries).where(dueAt(now)).limit(1).get() !== undefined,
    due: async (now, limit) =>
      orm
        .select({ delivery: webhookDeliveries, url: webhooks.url, secret: webhooks.secret })
        .from(webhookDeliveries)
        .innerJoin(webhooks, eq(webhooks.id, webhookDeliveries.webhookId))
        .where(dueAt(now))
        .orderBy(asc(webhookDeliveries.nextAttemptAt), asc(webhookDeliveries.id))
        .limit(limit)
        .all()
        .map((r) => ({ ...(r.delivery as DeliveryRow), url: r.url, secret: r.secret })),
    lease: async (ids, owner, until) => {
      if (ids.length === 0) return;
      orm
        .update(webhookDeliveries)
        .set({ leaseOwner: owner, leaseUntil: until })
        .where(inArray(webhookDeliveries.id, [...ids]))
        .run();
    },
    finishAttempt: async (id, owner, patch, attempt) => {
      const updated = orm
        .update(webhookDeliveries)
        .set({ ...patch, leaseOwner: null, leaseUntil: null })
        .where(and(eq(webhookDeliveries.id, id), eq(webhookDeliveries.leaseOwner, owner)))
        .returning({ id: webhookDeliveries.id })
        .all();
      if (updated.length === 0) return false;
      orm.insert(webhookAttempts).values({ ...attempt, deliveryId: id }).run();
      return true;
    },
    releaseLeases: async (owner) => {
      orm.update(webhookDeliveries).set({ leaseOwner: null, leaseUntil: null }).where(eq(webhookDeliveries.leaseOwner, owner)).run();
    },
    pruneFinished: async (before, limit) =>
      orm.run(sql`DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries WHERE finished_at < ${before} LIMIT ${limit})`).changes,
    marks: async () => orm.select().from(webhookScanMarks).all(),
    setMark: async (mark) => {
      orm
        .insert(webhookScanMarks)
        .values(mark)
        .onConflictDoUpdate({ target: webhookScanMarks.kind, set: { expiresAt: mark.expiresAt, tokenId: mark.tokenId } })
        .run();
    },
    expiryCandidates: async (after, upTo, limit) =>
      orm
        .select({ id: tokens.id, appId: apps.id, app: apps.slug, name: tokens.name, createdAt: tokens.createdAt, expiresAt: tokens.expiresAt, replacedBy: tokens.replacedBy })
        .from(tokens)
        .innerJoin(apps, eq(apps.id, tokens.appId))
        .where(
          and(
            // A mark without a token id covers every token at its instant.
            after.tokenId === ''
              ? gt(tokens.expiresAt, after.expiresAt)
              : or(gt(tokens.expiresAt, after.expiresAt), and(eq(tokens.expiresAt, after.expiresAt), gt(tokens.id, after.tokenId))),
            lte(tokens.expiresAt, upTo),
            eq(tokens.kind, 'trigger'),
            isNull(tokens.revokedAt),
            sql`EXISTS (SELECT 1 FROM webhooks w WHERE w.app_id = ${tokens.appId})`,
          ),
        )
        .orderBy(asc(tokens.expiresAt), asc(tokens.id))
        .limit(limit)
        .all(),
  };
}

/** Pending, due, and not leased (or its lease ran out: its worker is gone). */
function dueAt(now: number) {
  return and(
    eq(webhookDeliveries.status, 'pending'),
    lte(webhookDeliveries.nextAttemptAt, now),
    or(isNull(webhookDeliveries.leaseUntil), lt(webhookDeliveries.leaseUntil, now)),
  );
}
