import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { Webhook } from 'standardwebhooks';
import type { AppService } from '../apps/apps';
import type { Actor, AuditLog } from '../audit/audit';
import { formatTime, systemClock, type Clock } from '../clock';
import type { Config } from '../config';
import { UniqueViolation, type AttemptRow, type DeliveryRow, type DeliveryStatus, type DueDelivery, type ExpiryCandidate, type Store, type WriteTx } from '../db/store';
import { AppError, invalidField } from '../errors';
import { decodeCursor, DEFAULT_PAGE_LIMIT, encodeCursor, type Page } from '../paging';
import { statusOf } from '../tokens/status';
import type { TokenChange, TokenChangeSink } from '../tokens/service';
import { randomSuffix } from '../tokens/value';
import { changeData, payloadToken, type WebhookEventType, type WebhookPayload } from './events';
import { sendWebhook, type AttemptOutcome, type AttemptResult } from './send';
import { checkWebhookUrl } from './url-policy';

const DAY_MS = 86_400_000;
/** The most webhooks one app may have: each event is written once per webhook. */
export const MAX_WEBHOOKS_PER_APP = 20;
/** Deliveries one claim takes (and attempts at once per worker). */
const CLAIM_BATCH = 10;
/** Tokens the expiry scan reads per query. */
const SCAN_BATCH = 500;
/** Finished deliveries deleted per statement when pruning. */
const PRUNE_BATCH = 1000;
/** The first retry waits this long; each further one twice as long, up to MAX_BACKOFF_MS. */
export const FIRST_BACKOFF_MS = 5_000;
export const MAX_BACKOFF_MS = 3_600_000;

/**
 * The expiry notices: `token.expiring` 7 days and 1 day before a token's expiry, `token.expired` at
 * it. Each has a scan mark (see WebhookRepo.marks): a token gets a notice when it crosses the
 * threshold while active; a token created (or refreshed, or rotated) already past a threshold does
 * not get that threshold's notice.
 */
export const EXPIRY_NOTICES = [
  { kind: 'expiring_7d', type: 'token.expiring', beforeMs: 7 * DAY_MS, notice: '7d' },
  { kind: 'expiring_1d', type: 'token.expiring', beforeMs: DAY_MS, notice: '1d' },
  { kind: 'expired', type: 'token.expired', beforeMs: 0, notice: null },
] as const;

/** A webhook as listings and the API show it: never its secret. */
export interface WebhookView {
  id: string;
  app: string;
  url: string;
  created_at: string;
}

/** The answer to `set`: the only place the signing secret ever appears. */
export interface CreatedWebhook {
  webhook: WebhookView;
  secret: string;
}

export interface AttemptView {
  at: string;
  /** The receiver's HTTP status, or null when it did not answer. */
  response_status: number | null;
  error: string | null;
  duration_ms: number;
}

export interface DeliveryView {
  id: number;
  webhook_id: string;
  /** The `webhook-id` header: the same on every attempt, so a receiver can drop duplicates. */
  event_id: string;
  type: string;
  status: DeliveryStatus;
  created_at: string;
  attempts: number;
  next_attempt_at: string | null;
  finished_at: string | null;
  last_status: number | null;
  last_error: string | null;
  /** The body as sent. */
  payload: unknown;
  attempt_log: AttemptView[];
}

export interface WebhookSettings {
  addresses: Config['webhookAddresses'];
  timeoutMs: number;
  retryForMs: number;
  retentionMs: number;
}

/** Reports each delivery attempt (the server turns these into `mechamental_webhook_*` metrics and log lines). */
export type AttemptObserver = (outcome: AttemptOutcome, seconds: number, gaveUp: boolean, attempt: { deliveryId: number; webhookId: string; type: string; attempts: number; error: string | null }) => void;

/** The settings as the config gives them. */
export function webhookSettings(config: Config): WebhookSettings {
  return { addresses: config.webhookAddresses, timeoutMs: config.webhookTimeoutMs, retryForMs: config.webhookRetryForMs, retentionMs: config.webhookRetentionMs };
}

/** How long to wait after the `failures`-th failed attempt: 5 s doubling to 1 h, ±10 % jitter. */
export function backoffMs(failures: number, random: () => number = Math.random): number {
  const base = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** Math.min(Math.max(0, failures - 1), 20));
  return Math.round(base * (0.9 + 0.2 * random()));
}

function newSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

function newEventId(): string {
  return `msg_${randomSuffix(26)}`;
}

/** An id as an error may quote it (never a pasted secret). */
function safeWebhookId(id: string): string {
  if (/^wh_[a-z2-7]{20}$/.test(id)) return id;
  if (/whsec_/i.test(id)) return '(a webhook secret was given where a webhook id belongs)';
  return JSON.stringify(id.length > 40 ? `${id.slice(0, 40)}…` : id);
}

/**
 * Webhooks per app, their durable outbox and its delivery.
 *
 * Invariants kept here: an event is written to the outbox in the transaction that makes the change
 * it reports (`record`, called by TokenService), so it exists exactly when the change does; every
 * attempt is signed per the Standard Webhooks specification with the webhook's secret, which is
 * stored (the server must sign) but shown only once, by `set`; a delivery is attempted by one worker
 * at a time (a lease taken in a write transaction — `FOR UPDATE SKIP LOCKED` on PostgreSQL — and
 * checked when the outcome is written), retried with exponential backoff until it is delivered or
 * `retryForMs` after the event; payloads never hold a token value.
 */
export class WebhookService implements TokenChangeSink {
  /** Told after an event was written (the worker looks for due deliveries soon after). */
  onEnqueued: (() => void) | undefined;
  private readonly leaseMs: number;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly apps: AppService,
    private readonly audit: AuditLog,
    private readonly settings: WebhookSettings,
    /**
     * The clock of the `webhook-timestamp` header: real time, because receivers compare it with
     * theirs to refuse replays (tests move the services' clock by days; receivers' clocks do not move).
     */
    private readonly signingClock: Clock = systemClock,
  ) {
    // Longer than any attempt can take, so that a lease only runs out when its worker is gone.
    this.leaseMs = settings.timeoutMs + 30_000;
  }

  /**
   * Adds a webhook for `url` to `app` and answers it with its signing secret, which is never shown
   * again. The URL is checked (http/https, no credentials, the address policy for IP literals).
   * `conflict` when the app already has a webhook for that URL.
   */
  async set(app: string, url: string, actor: Actor): Promise<CreatedWebhook> {
    const record = await this.apps.require(app);
    const normalised = checkWebhookUrl(url, this.settings.addresses);
    const secret = newSecret();
    try {
      return await this.store.transaction(async (tx) => {
        const existing = await tx.webhooks.listByApp(record.id);
        if (existing.length >= MAX_WEBHOOKS_PER_APP) {
          throw new AppError('conflict', `app "${app}" already has ${MAX_WEBHOOKS_PER_APP} webhooks, the most one app may have; remove one first`);
        }
        const now = this.clock.now();
        // Expiry notices start when the first webhook is set: tokens that crossed a threshold before are history.
        if (!(await tx.webhooks.any())) {
          for (const notice of EXPIRY_NOTICES) await tx.webhooks.setMark({ kind: notice.kind, expiresAt: now + notice.beforeMs, tokenId: '' });
        }
        const row = await tx.webhooks.insert({ id: `wh_${randomSuffix(20)}`, appId: record.id, url: normalised, secret, createdAt: now });
        await this.audit.record(tx, { actor, action: 'webhook.created', app: record.slug, detail: { webhook_id: row.id, url: normalised } });
        return { webhook: this.toView(row, record.slug), secret };
      });
    } catch (error) {
      if (error instanceof UniqueViolation) {
        throw new AppError('conflict', `app "${app}" already has a webhook for ${normalised}; its secret was shown when it was set. To get a new secret, remove it and set it again`);
      }
      throw error;
    }
  }

  /** An app's webhooks, oldest first (never their secrets). */
  async list(app: string): Promise<WebhookView[]> {
    const record = await this.apps.require(app);
    return (await this.store.webhooks.listByApp(record.id)).map((row) => this.toView(row, record.slug));
  }

  async get(app: string, id: string): Promise<WebhookView> {
    const record = await this.apps.require(app);
    const row = await this.store.webhooks.byId(record.id, id);
    if (!row) throw this.notFound(app, id);
    return this.toView(row, record.slug);
  }

  /**
   * The webhook a command means: by id, by URL, or — when neither is given — the app's only one
   * (`usage` error when it has several, naming them).
   */
  async pick(app: string, by: { id?: string | undefined; url?: string | undefined }): Promise<WebhookView> {
    if (by.id !== undefined) return this.get(app, by.id);
    const all = await this.list(app);
    if (by.url !== undefined) {
      let wanted: string;
      try {
        wanted = new URL(by.url.trim()).toString();
      } catch {
        wanted = by.url.trim();
      }
      const found = all.find((w) => w.url === wanted);
      if (!found) throw new AppError('not_found', `app "${app}" has no webhook for ${wanted.slice(0, 200)}; list them with \`mechamental webhooks list --app ${app}\``);
      return found;
    }
    if (all.length === 0) throw new AppError('not_found', `app "${app}" has no webhook; set one with \`mechamental webhooks set --app ${app} --url URL\``);
    if (all.length > 1) throw new AppError('usage', `app "${app}" has ${all.length} webhooks (${all.map((w) => w.id).join(', ')}); name one by its id or --url`);
    return all[0]!;
  }

  /** Removes a webhook and its pending and past deliveries. */
  async remove(app: string, id: string, actor: Actor): Promise<WebhookView> {
    const record = await this.apps.require(app);
    return this.store.transaction(async (tx) => {
      const row = await tx.webhooks.byId(record.id, id);
      if (!row || !(await tx.webhooks.delete(record.id, id))) throw this.notFound(app, id);
      await this.audit.record(tx, { actor, action: 'webhook.removed', app: record.slug, detail: { webhook_id: row.id, url: row.url } });
      return this.toView(row, record.slug);
    });
  }

  /**
   * Sends a `webhook.test` event to one webhook now, from this process, once (no retries), and
   * answers the delivery with its attempt: whether the receiver is reachable and accepts the
   * signature. The attempt is recorded with the webhook's deliveries.
   */
  async test(app: string, id: string): Promise<DeliveryView> {
    const record = await this.apps.require(app);
    const webhook = await this.store.webhooks.byId(record.id, id);
    if (!webhook) throw this.notFound(app, id);
    const now = this.clock.now();
    const payload: WebhookPayload = {
      type: 'webhook.test',
      timestamp: formatTime(now),
      data: { app: record.slug, webhook_id: webhook.id, message: 'a test event from mechamental: the signature and the receiver work' },
    };
    const owner = `test:${workerName()}`;
    const [delivery] = await this.store.transaction((tx) =>
      tx.webhooks.insertDeliveries([
        { ...this.pendingRow(webhook.id, record.id, newEventId(), payload, now), leaseOwner: owner, leaseUntil: now + this.leaseMs },
      ]),
    );
    await this.attempt({ ...delivery!, url: webhook.url, secret: webhook.secret }, owner, { retry: false });
    return this.delivery(record.id, delivery!.id);
  }

  /** One page of an app's deliveries (optionally one webhook's, or one status), newest first, each with its attempts. */
  async deliveries(app: string, filter: { webhookId?: string | undefined; status?: string | undefined; limit?: number | undefined; cursor?: string | undefined } = {}): Promise<Page<DeliveryView>> {
    const record = await this.apps.require(app);
    if (filter.webhookId !== undefined && !(await this.store.webhooks.byId(record.id, filter.webhookId))) throw this.notFound(app, filter.webhookId);
    if (filter.status !== undefined && !['pending', 'delivered', 'failed'].includes(filter.status)) {
      throw invalidField('status', `"${filter.status.slice(0, 20)}" is not a delivery status; use pending, delivered or failed`);
    }
    const limit = filter.limit ?? DEFAULT_PAGE_LIMIT;
    const before = decodeCursor(filter.cursor, ['n'])?.[0] as number | undefined;
    const rows = await this.store.webhooks.deliveries({ appId: record.id, webhookId: filter.webhookId, status: filter.status as DeliveryStatus | undefined, before, limit: limit + 1 });
    const more = rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    const attempts = await this.store.webhooks.attemptsOf(page.map((r) => r.id));
    return { items: page.map((row) => this.deliveryView(row, attempts)), nextCursor: more ? encodeCursor([page.at(-1)!.id]) : null };
  }

  private async delivery(appId: number, id: number): Promise<DeliveryView> {
    const [row] = await this.store.webhooks.deliveries({ appId, before: id + 1, limit: 1 });
    return this.deliveryView(row!, await this.store.webhooks.attemptsOf([id]));
  }

  // --- The outbox -------------------------------------------------------------------------------

  /** TokenChangeSink: writes the change's event for every webhook of its app, in `tx`. */
  async record(tx: WriteTx, change: TokenChange): Promise<void> {
    await this.enqueue(tx, change.appId, change.type, changeData(change));
  }

  /** Writes one event for every webhook of app `appId`, in `tx` (nothing when it has none). Answers how many deliveries. */
  private async enqueue(tx: WriteTx, appId: number, type: WebhookEventType, data: Record<string, unknown>): Promise<number> {
    const endpoints = await tx.webhooks.listByApp(appId);
    if (endpoints.length === 0) return 0;
    const now = this.clock.now();
    const payload: WebhookPayload = { type, timestamp: formatTime(now), data };
    const eventId = newEventId();
    await tx.webhooks.insertDeliveries(endpoints.map((endpoint) => this.pendingRow(endpoint.id, appId, eventId, payload, now)));
    // After the transaction commits (a moment later), the worker finds it at once rather than at its next poll.
    setTimeout(() => this.onEnqueued?.(), 50).unref();
    return endpoints.length;
  }

  private pendingRow(webhookId: string, appId: number, eventId: string, payload: WebhookPayload, now: number): Omit<DeliveryRow, 'id'> {
    return {
      webhookId,
      appId,
      eventId,
      type: payload.type,
      payload: JSON.stringify(payload),
      createdAt: now,
      status: 'pending',
      attempts: 0,
      nextAttemptAt: now,
      leaseUntil: null,
      leaseOwner: null,
      lastAttemptAt: null,
      lastStatus: null,
      lastError: null,
      finishedAt: null,
    };
  }

  /**
   * Writes the expiry notices that are due: for each kind, the active trigger tokens (of apps with
   * webhooks) whose expiry crossed its threshold since the last scan — an index range on
   * `expires_at` after the kind's mark, never every token. One write transaction (the marks are
   * locked: with several instances, one scans each range). Answers how many events it wrote.
   */
  async scanExpiries(): Promise<number> {
    if (!(await this.store.webhooks.any())) return 0;
    return this.store.transaction(async (tx) => {
      const now = this.clock.now();
      const marks = new Map((await tx.webhooks.marks()).map((m) => [m.kind, m]));
      let events = 0;
      for (const notice of EXPIRY_NOTICES) {
        const upTo = now + notice.beforeMs;
        const mark = marks.get(notice.kind);
        if (!mark) {
          // No mark yet (a database whose webhooks predate this kind): start now, without history.
          await tx.webhooks.setMark({ kind: notice.kind, expiresAt: upTo, tokenId: '' });
          continue;
        }
        if (mark.tokenId === '' && mark.expiresAt >= upTo) continue;
        let after = { expiresAt: mark.expiresAt, tokenId: mark.tokenId };
        for (;;) {
          const candidates = await tx.webhooks.expiryCandidates(after, upTo, SCAN_BATCH);
          for (const token of candidates) {
            // An expiring notice for a token that has already expired (the server was down) would be wrong: `expired` covers it.
            if (notice.type === 'token.expiring' && token.expiresAt <= now) continue;
            events += await this.enqueue(tx, token.appId, notice.type, this.expiryData(token, now, notice.notice));
          }
          if (candidates.length < SCAN_BATCH) break;
          const last = candidates.at(-1)!;
          after = { expiresAt: last.expiresAt, tokenId: last.id };
        }
        // Everything up to `upTo` is done ('' = every token at that instant too).
        if (upTo > mark.expiresAt || mark.tokenId !== '') await tx.webhooks.setMark({ kind: notice.kind, expiresAt: Math.max(upTo, mark.expiresAt), tokenId: '' });
      }
      return events;
    });
  }

  private expiryData(token: ExpiryCandidate, now: number, notice: string | null): Record<string, unknown> {
    const view = payloadToken({
      id: token.id,
      name: token.name,
      app: token.app,
      status: statusOf({ revokedAt: null, expiresAt: token.expiresAt, createdAt: token.createdAt, replacedBy: token.replacedBy }, now),
      created_at: formatTime(token.createdAt),
      expires_at: formatTime(token.expiresAt),
      revoked_at: null,
      replaced_by: token.replacedBy,
    });
    return notice === null ? { app: token.app, token: view } : { app: token.app, token: view, notice };
  }

  /**
   * Claims the deliveries due now (a lease for `owner`, taken in one write transaction), attempts
   * them, and repeats until none is due. Answers how many attempts it made. A cheap read comes
   * first, so an idle outbox costs no write.
   */
  async deliverDue(owner: string, options: { signal?: AbortSignal; observe?: AttemptObserver } = {}): Promise<number> {
    let attempts = 0;
    for (;;) {
      if (options.signal?.aborted) return attempts;
      const now = this.clock.now();
      if (!(await this.store.webhooks.hasDue(now))) return attempts;
      const claimed = await this.store.transaction(async (tx) => {
        const due = await tx.webhooks.due(now, CLAIM_BATCH);
        await tx.webhooks.lease(
          due.map((d) => d.id),
          owner,
          now + this.leaseMs,
        );
        return due;
      });
      if (claimed.length === 0) return attempts;
      await Promise.all(claimed.map((delivery) => this.attempt(delivery, owner, { retry: true, ...options })));
      attempts += claimed.length;
      if (claimed.length < CLAIM_BATCH) return attempts;
    }
  }

  /** One attempt at a claimed delivery, and its outcome written (if `owner` still holds the lease). */
  private async attempt(delivery: DueDelivery, owner: string, options: { retry: boolean; signal?: AbortSignal; observe?: AttemptObserver }): Promise<AttemptResult> {
    const startedAt = this.clock.now();
    const signedAt = new Date(this.signingClock.now());
    let result: AttemptResult | undefined;
    let signature = '';
    try {
      signature = new Webhook(delivery.secret).sign(delivery.eventId, signedAt, delivery.payload);
    } catch (error) {
      result = { outcome: 'network', status: null, error: `cannot sign: ${(error as Error).message}`, durationMs: 0 };
    }
    result ??= await sendWebhook({
      url: delivery.url,
      body: delivery.payload,
      headers: { 'webhook-id': delivery.eventId, 'webhook-timestamp': String(Math.floor(signedAt.getTime() / 1000)), 'webhook-signature': signature },
      timeoutMs: this.settings.timeoutMs,
      policy: this.settings.addresses,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const stopping = options.signal?.aborted === true;
    const at = this.clock.now();
    const attempts = delivery.attempts + 1;
    const deadline = delivery.createdAt + this.settings.retryForMs;
    const delivered = result.outcome === 'delivered';
    const gaveUp = !delivered && (!options.retry || at >= deadline);
    // An attempt cut short by a stopping server is not the receiver's failure: retried at once by whoever runs next.
    const nextAttemptAt = delivered || gaveUp ? null : stopping ? at : Math.min(at + backoffMs(attempts), deadline);
    const patch = {
      status: (delivered ? 'delivered' : gaveUp ? 'failed' : 'pending') as DeliveryStatus,
      attempts,
      nextAttemptAt,
      lastAttemptAt: startedAt,
      lastStatus: result.status,
      lastError: result.error,
      finishedAt: delivered || gaveUp ? at : null,
    };
    try {
      await this.store.transaction((tx) =>
        tx.webhooks.finishAttempt(delivery.id, owner, patch, { at: startedAt, responseStatus: result.status, error: result.error, durationMs: result.durationMs }),
      );
    } catch {
      // The database failed: the lease runs out and the delivery is attempted again (at least once).
    }
    options.observe?.(result.outcome, result.durationMs / 1000, gaveUp, { deliveryId: delivery.id, webhookId: delivery.webhookId, type: delivery.type, attempts, error: result.error });
    return result;
  }

  /** Gives back `owner`'s leases (a stopping worker), so that another instance need not wait for them to run out. */
  async releaseLeases(owner: string): Promise<void> {
    await this.store.transaction((tx) => tx.webhooks.releaseLeases(owner));
  }

  /** Deletes deliveries finished more than the retention (MM_WEBHOOK_RETENTION) ago, in small batches. */
  async prune(): Promise<number> {
    const before = this.clock.now() - this.settings.retentionMs;
    let total = 0;
    for (;;) {
      const deleted = await this.store.transaction((tx) => tx.webhooks.pruneFinished(before, PRUNE_BATCH));
      total += deleted;
      if (deleted < PRUNE_BATCH) return total;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private toView(row: { id: string; url: string; createdAt: number }, app: string): WebhookView {
    return { id: row.id, app, url: row.url, created_at: formatTime(row.createdAt) };
  }

  private deliveryView(row: DeliveryRow, attempts: readonly AttemptRow[]): DeliveryView {
    return {
      id: row.id,
      webhook_id: row.webhookId,
      event_id: row.eventId,
      type: row.type,
      status: row.status,
      created_at: formatTime(row.createdAt),
      attempts: row.attempts,
      next_attempt_at: row.nextAttemptAt === null ? null : formatTime(row.nextAttemptAt),
      finished_at: row.finishedAt === null ? null : formatTime(row.finishedAt),
      last_status: row.lastStatus,
      last_error: row.lastError,
      payload: JSON.parse(row.payload) as unknown,
      attempt_log: attempts
        .filter((a) => a.deliveryId === row.id)
        .map((a) => ({ at: formatTime(a.at), response_status: a.responseStatus, error: a.error, duration_ms: a.durationMs })),
    };
  }

  private notFound(app: string, id: string): AppError {
    return new AppError('not_found', `webhook ${safeWebhookId(id)} does not exist in app "${app}"; list them with \`mechamental webhooks list --app ${app}\``);
  }
}

/** A name for this process's worker: host, pid and a random part (two workers in one process differ). */
export function workerName(): string {
  return `${os.hostname().slice(0, 40)}:${process.pid}:${randomSuffix(6)}`;
}
