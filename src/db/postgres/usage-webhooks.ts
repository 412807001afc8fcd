import { and, asc, desc, eq, gt, inArray, isNull, lt, lte, or, sql } from 'drizzle-orm';
import type { PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import { isUniqueViolationError } from '../errors';
import { UniqueViolation, type DeliveryRow, type UsageRepo, type WebhookRepo } from '../store';
import type * as schema from './schema';
import { apps, tokens, tokenUsage, webhookAttempts, webhookDeliveries, webhooks, webhookScanMarks } from './schema';

/** The query interface shared by the database and a transaction (see store.ts). */
type Queries = Pick<PostgresJsDatabase<typeof schema>, 'select' | 'insert' | 'update' | 'delete' | 'execute'>;

/** Rows per INSERT: PostgreSQL binds at most 65 535 parameters per statement. */
const INSERT_CHUNK = 1000;

/** Usage counts on PostgreSQL (issue 14); see ../sqlite/usage-webhooks.ts for the rules. */
export function postgresUsageRepo(q: Queries): UsageRepo {
  return {
    add: async (rows) => {
      for (let start = 0; start < rows.length; start += INSERT_CHUNK) {
        await q
          .insert(tokenUsage)
          .values(rows.slice(start, start + INSERT_CHUNK).map((r) => ({ ...r })))
          .onConflictDoUpdate({ target: [tokenUsage.tokenId, tokenUsage.day, tokenUsage.outcome], set: { count: sql`token_usage.count + excluded.count` } });
      }
      // The change marker follows usage through this sequence (see schema.ts, usageBatches).
      if (rows.length > 0) await q.execute(sql`SELECT nextval('usage_batches')`);
    },
    ofToken: (tokenId, fromDay, toDay) =>
      q
        .select()
        .from(tokenUsage)
        .where(and(eq(tokenUsage.tokenId, tokenId), sql`${tokenUsage.day} BETWEEN ${fromDay} AND ${toDay}`))
        .orderBy(asc(tokenUsage.day), asc(tokenUsage.outcome)),
    prune: async (beforeDay, limit) => {
      const deleted = await q
        .delete(tokenUsage)
        .where(sql`(token_id, day, outcome) IN (SELECT token_id, day, outcome FROM token_usage WHERE day < ${beforeDay} LIMIT ${limit})`)
        .returning({ day: tokenUsage.day });
      return deleted.length;
    },
  };
}

/** Webhooks, their outbox and the expiry scan's marks on PostgreSQL (issue 14). */
export function postgresWebhookRepo(q: Queries): WebhookRepo {
  return {
    insert: async (row) => {
      try {
        return (await q.insert(webhooks).values(row).returning())[0]!;
      } catch (error) {
        if (isUniqueViolationError(error)) throw new UniqueViolation('webhooks_app_url');
        throw error;
      }
    },
    listByApp: (appId) => q.select().from(webhooks).where(eq(webhooks.appId, appId)).orderBy(asc(webhooks.createdAt), asc(webhooks.id)),
    byId: async (appId, id) =>
      (
        await q
          .select()
          .from(webhooks)
          .where(and(eq(webhooks.appId, appId), eq(webhooks.id, id)))
          .limit(1)
      )[0],
    delete: async (appId, id) =>
      (
        await q
          .delete(webhooks)
          .where(and(eq(webhooks.appId, appId), eq(webhooks.id, id)))
          .returning({ id: webhooks.id })
      ).length > 0,
    any: async () => (await q.select({ id: webhooks.id }).from(webhooks).limit(1)).length > 0,
    insertDeliveries: async (rows) => {
      const inserted: DeliveryRow[] = [];
      for (let start = 0; start < rows.length; start += INSERT_CHUNK) {
        inserted.push(...((await q.insert(webhookDeliveries).values(rows.slice(start, start + INSERT_CHUNK).map((r) => ({ ...r }))).returning()) as DeliveryRow[]));
      }
      return inserted;
    },
    deliveries: async (query) =>
      (await q
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
        .limit(query.limit)) as DeliveryRow[],
    attemptsOf: async (ids) =>
      ids.length === 0 ? [] : q.select().from(webhookAttempts).where(inArray(webhookAttempts.deliveryId, [...ids])).orderBy(asc(webhookAttempts.id)),
    hasDue: async (now) => (await q.select({ id: webhookDeliveries.id }).from(webhookDeliveries).where(dueAt(now)).limit(1)).length > 0,
    due: async (now, limit) =>
      (
        await q
          .select({ delivery: webhookDeliveries, url: webhooks.url, secret: webhooks.secret })
          .from(webhookDeliveries)
          .innerJoin(webhooks, eq(webhooks.id, webhookDeliveries.webhookId))
          .where(dueAt(now))
          .orderBy(asc(webhookDeliveries.nextAttemptAt), asc(webhookDeliveries.id))
          .limit(limit)
          // Two instances claiming at once each get different rows, and neither waits for the other.
          .for('update', { of: webhookDeliveries, skipLocked: true })
      ).map((r) => ({ ...(r.delivery as DeliveryRow), url: r.url, secret: r.secret })),
    lease: async (ids, owner, until) => {
      if (ids.length === 0) return;
      await q
        .update(webhookDeliveries)
        .set({ leaseOwner: owner, leaseUntil: until })
        .where(inArray(webhookDeliveries.id, [...ids]));
    },
    finishAttempt: async (id, owner, patch, attempt) => {
      const updated = await q
        .update(webhookDeliveries)
        .set({ ...patch, leaseOwner: null, leaseUntil: null })
        .where(and(eq(webhookDeliveries.id, id), eq(webhookDeliveries.leaseOwner, owner)))
        .returning({ id: webhookDeliveries.id });
      if (updated.length === 0) return false;
      await q.insert(webhookAttempts).values({ ...attempt, deliveryId: id });
      return true;
    },
    releaseLeases: async (owner) => {
      await q.update(webhookDeliveries).set({ leaseOwner: null, leaseUntil: null }).where(eq(webhookDeliveries.leaseOwner, owner));
    },
    pruneFinished: async (before, limit) =>
      (
        await q
          .delete(webhookDeliveries)
          .where(sql`id IN (SELECT id FROM webhook_deliveries WHERE finished_at < ${before} LIMIT ${limit})`)
          .returning({ id: webhookDeliveries.id })
      ).length,
    marks: () => q.select().from(webhookScanMarks).for('update'),
    setMark: async (mark) => {
      await q
        .insert(webhookScanMarks)
        .values(mark)
        .onConflictDoUpdate({ target: webhookScanMarks.kind, set: { expiresAt: mark.expiresAt, tokenId: mark.tokenId } });
    },
    expiryCandidates: (after, upTo, limit) =>
      q
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
        .limit(limit),
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
