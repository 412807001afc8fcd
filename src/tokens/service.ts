import type { Statement } from 'better-sqlite3';
import { and, desc, eq, gt, isNotNull, isNull, lte, type SQL } from 'drizzle-orm';
import type { AppService } from '../apps/apps';
import type { PipelineKind } from '../apps/pipeline-config';
import { requireName } from '../apps/validation';
import { formatTime, type Clock } from '../clock';
import type { Db, Orm } from '../db/open';
import { apps, tokens } from '../db/schema';
import { describeSpan, parseExpiry, requireDuration } from '../duration';
import { AppError } from '../errors';
import type { Actor, AuditLog } from './audit';
import { generateId, generateValue, hashValue, hintFor, parseValue, type TokenKind } from './value';

export type TokenStatus = 'active' | 'expiring' | 'expired' | 'revoked';
export const TOKEN_STATUSES: readonly TokenStatus[] = ['active', 'expiring', 'expired', 'revoked'];
/** An active token this close to its expiry is shown as `expiring`. */
export const EXPIRING_WINDOW_MS = 7 * 86_400_000;
/** How many token ids one `inactiveAmong` query binds. */
const INACTIVE_BATCH = 500;
/** The longest grace period a rotation accepts. */
export const MAX_GRACE_MS = 30 * 86_400_000;

/** The public form of a token, as every listing and API answer shows it. Never holds the value. */
export interface TokenView {
  id: string;
  app: string | null;
  name: string;
  hint: string;
  status: TokenStatus;
  created_at: string;
  expires_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
  /** Requests per minute, or null for no limit. */
  rate_limit: number | null;
  /** For a rotated token: the id of the token that replaced it. */
  replaced_by: string | null;
}

/** The answer to create and rotate: the only place a token value ever appears. */
export interface IssuedToken {
  token: TokenView;
  value: string;
}

export interface TokenPolicy {
  /** The longest lifetime a token may be given, from now. */
  maxTtlMs: number;
  /** Rotation's default grace period for the old token. */
  defaultGraceMs: number;
}

export type VerifyFailure = 'malformed' | 'unknown' | 'revoked' | 'expired';

/** What the server needs to know about a presented token. */
export interface VerifiedToken {
  id: string;
  kind: TokenKind;
  appId: number | null;
  app: string | null;
  expiresAt: number;
  rateLimit: number | null;
}

/** A pipeline as the trigger path needs it: its kind and its stored (JSON text) config. */
export interface PipelineTarget {
  kind: PipelineKind;
  config: string;
}

export type VerifyResult =
  | {
      ok: true;
      token: VerifiedToken;
      /**
       * Present when `verify` was asked for a pipeline: that pipeline of the token's own app, or
       * null when the app has none by that name.
       */
      pipeline?: PipelineTarget | null;
    }
  | { ok: false; reason: VerifyFailure; message: string };

interface VerifyRow {
  id: string;
  kind: TokenKind;
  app_id: number | null;
  app: string | null;
  expires_at: number;
  revoked_at: number | null;
  rate_limit: number | null;
  pipeline_kind?: PipelineKind | null;
  pipeline_config?: string | null;
}

type TokenRow = typeof tokens.$inferSelect;

/** Where a token must be found: an app's trigger tokens, or the admin tokens. */
export type TokenScope = { app: string } | { kind: 'admin' } | 'any';

/**
 * The token lifecycle: create, list, get, revoke, refresh, rotate, verify.
 *
 * Invariants kept here: a value is generated, hashed, returned once and forgotten — only its
 * SHA-256 and hint are stored, and no error or audit event quotes it; every state change is one
 * IMMEDIATE transaction together with its audit event (durable on return: WAL, synchronous=FULL);
 * revoked and expired are terminal; expiries are in the future and within the max lifetime.
 * `verify` reads the database on every call (no cache), so a revoke from any process on the same
 * file is seen by the very next verification.
 */
export class TokenService {
  private readonly verifyStatement: Statement<[string], VerifyRow>;
  private readonly verifyWithPipelineStatement: Statement<[string, string], VerifyRow>;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly audit: AuditLog,
    private readonly appService: AppService,
    private readonly policy: TokenPolicy,
  ) {
    this.verifyStatement = db.sqlite.prepare(
      `SELECT t.id, t.kind, t.app_id, a.slug AS app, t.expires_at, t.revoked_at, t.rate_limit
         FROM tokens t LEFT JOIN apps a ON a.id = t.app_id
        WHERE t.hash = ?`,
    );
    this.verifyWithPipelineStatement = db.sqlite.prepare(
      `SELECT t.id, t.kind, t.app_id, a.slug AS app, t.expires_at, t.revoked_at, t.rate_limit,
              p.kind AS pipeline_kind, p.config AS pipeline_config
         FROM tokens t
         LEFT JOIN apps a ON a.id = t.app_id
         LEFT JOIN pipelines p ON p.app_id = t.app_id AND p.slug = ?
        WHERE t.hash = ?`,
    );
  }

  /** Creates a trigger token for `app`; the answer holds the value, which is never shown again. */
  create(input: { app: string; name: string; expires: string; rateLimit?: number | null }, actor: Actor): IssuedToken {
    const app = this.appService.require(input.app);
    return this.issue({ kind: 'trigger', appId: app.id, appSlug: app.slug, name: input.name, expires: input.expires, rateLimit: input.rateLimit ?? null }, actor);
  }

  /** Creates an admin token (authorises the admin HTTP API). Only the CLI and TUI call this. */
  createAdmin(input: { name: string; expires: string }, actor: 'cli' | 'tui'): IssuedToken {
    return this.issue({ kind: 'admin', appId: null, appSlug: null, name: input.name, expires: input.expires, rateLimit: null }, actor);
  }

  private issue(
    input: { kind: TokenKind; appId: number | null; appSlug: string | null; name: string; expires: string; rateLimit: number | null },
    actor: Actor,
  ): IssuedToken {
    const name = requireName(input.name);
    const now = this.clock.now();
    const expiresAt = this.checkExpiry(parseExpiry(input.expires, now), now);
    const rateLimit = checkRateLimit(input.rateLimit);
    return this.db.orm.transaction(
      (tx) => {
        const issued = this.insertToken(tx, { ...input, name, expiresAt, rateLimit, now });
        this.audit.record(tx, {
          actor,
          action: input.kind === 'admin' ? 'admin_token.created' : 'token.created',
          app: input.appSlug,
          tokenId: issued.token.id,
          detail: { name, expires_at: issued.token.expires_at },
        });
        return issued;
      },
      { behavior: 'immediate' },
    );
  }

  private insertToken(
    tx: Orm,
    input: { kind: TokenKind; appId: number | null; appSlug: string | null; name: string; expiresAt: number; rateLimit: number | null; now: number },
  ): IssuedToken {
    const value = generateValue(input.kind);
    const row = tx
      .insert(tokens)
      .values({
        id: generateId(input.kind),
        kind: input.kind,
        appId: input.appId,
        name: input.name,
        hash: hashValue(value),
        hint: hintFor(value),
        createdAt: input.now,
        expiresAt: input.expiresAt,
        rateLimit: input.rateLimit,
      })
      .returning()
      .get();
    return { token: this.toView(row, input.appSlug), value };
  }

  /** Trigger tokens of `app`, newest first, optionally only those in `status` (`active` includes `expiring`). */
  list(app: string, filter: { status?: TokenStatus | undefined } = {}): TokenView[] {
    const record = this.appService.require(app);
    return this.listWhere(eq(tokens.appId, record.id), record.slug, filter.status);
  }

  /** Admin tokens, newest first. */
  listAdmin(filter: { status?: TokenStatus | undefined } = {}): TokenView[] {
    return this.listWhere(eq(tokens.kind, 'admin'), null, filter.status);
  }

  private listWhere(scope: SQL, appSlug: string | null, status: TokenStatus | undefined): TokenView[] {
    const now = this.clock.now();
    const rows = this.db.orm
      .select()
      .from(tokens)
      .where(and(scope, status ? statusCondition(status, now) : undefined))
      .orderBy(desc(tokens.createdAt), desc(tokens.id))
      .all();
    return rows.map((row) => this.toView(row, appSlug));
  }

  /** One token by id, within `scope` (a token of another app is `not_found`, not a leak). */
  get(id: string, scope: TokenScope = 'any'): TokenView {
    const { row, appSlug } = this.find(this.db.orm, id, scope);
    return this.toView(row, appSlug);
  }

  /**
   * Revokes at once and for good. Revoking a revoked token answers the same token again and
   * records nothing new (idempotent).
   */
  revoke(id: string, actor: Actor, scope: TokenScope = 'any'): TokenView {
    return this.db.orm.transaction(
      (tx) => {
        const { row, appSlug } = this.find(tx, id, scope);
        if (row.revokedAt !== null) return this.toView(row, appSlug);
        const updated = tx.update(tokens).set({ revokedAt: this.clock.now() }).where(eq(tokens.id, row.id)).returning().get()!;
        this.audit.record(tx, {
          actor,
          action: row.kind === 'admin' ? 'admin_token.revoked' : 'token.revoked',
          app: appSlug,
          tokenId: row.id,
          detail: { name: row.name },
        });
        return this.toView(updated, appSlug);
      },
      { behavior: 'immediate' },
    );
  }

  /**
   * Extends an active token's expiry; its value does not change. The new expiry must be later
   * than the current one and than now, and within the max lifetime from now.
   */
  refresh(id: string, expires: string, actor: Actor, scope: TokenScope = 'any'): TokenView {
    return this.db.orm.transaction(
      (tx) => {
        const now = this.clock.now();
        const { row, appSlug } = this.find(tx, id, scope);
        this.requireActive(row, now, 'refreshed');
        const expiresAt = this.checkExpiry(parseExpiry(expires, now), now);
        if (expiresAt <= row.expiresAt) {
          throw new AppError(
            'invalid_expiry',
            `the new expiry ${formatTime(expiresAt)} is not later than the current one (${formatTime(row.expiresAt)}); refresh can only extend a token`,
          );
        }
        const updated = tx.update(tokens).set({ expiresAt }).where(eq(tokens.id, row.id)).returning().get()!;
        this.audit.record(tx, {
          actor,
          action: 'token.refreshed',
          app: appSlug,
          tokenId: row.id,
          detail: { name: row.name, previous_expires_at: formatTime(row.expiresAt), expires_at: formatTime(expiresAt) },
        });
        return this.toView(updated, appSlug);
      },
      { behavior: 'immediate' },
    );
  }

  /**
   * The rotation strategy as one step: a new token with the same name, app and rate limit (and,
   * unless `expires` is given, the same lifetime the old one was created with, capped at the max
   * lifetime), while the old one keeps working for `grace` (default 24h) and then expires.
   */
  rotate(id: string, options: { grace?: string | undefined; expires?: string | undefined }, actor: Actor, scope: TokenScope = 'any'): IssuedToken & { previous: TokenView } {
    const graceMs = options.grace === undefined ? this.policy.defaultGraceMs : requireDuration(options.grace, 'grace');
    if (graceMs > MAX_GRACE_MS) {
      throw new AppError('validation_failed', `grace: ${describeSpan(graceMs)} is longer than the limit of ${describeSpan(MAX_GRACE_MS)}`, { field: 'grace' });
    }
    return this.db.orm.transaction(
      (tx) => {
        const now = this.clock.now();
        const { row, appSlug } = this.find(tx, id, scope);
        this.requireActive(row, now, 'rotated');
        const expiresAt =
          options.expires === undefined
            ? Math.min(now + (row.expiresAt - row.createdAt), now + this.policy.maxTtlMs)
            : this.checkExpiry(parseExpiry(options.expires, now), now);
        const issued = this.insertToken(tx, {
          kind: row.kind,
          appId: row.appId,
          appSlug,
          name: row.name,
          expiresAt,
          rateLimit: row.rateLimit,
          now,
        });
        const previous = tx
          .update(tokens)
          .set({ expiresAt: Math.min(row.expiresAt, now + graceMs), replacedBy: issued.token.id })
          .where(eq(tokens.id, row.id))
          .returning()
          .get()!;
        this.audit.record(tx, {
          actor,
          action: 'token.rotated',
          app: appSlug,
          tokenId: row.id,
          detail: { name: row.name, new_token_id: issued.token.id, previous_expires_at: formatTime(previous.expiresAt) },
        });
        return { ...issued, previous: this.toView(previous, appSlug) };
      },
      { behavior: 'immediate' },
    );
  }

  /**
   * The server's check of a presented value: format and checksum first (no database access for
   * garbage), then one indexed lookup by SHA-256. Reasons never quote the value. Given `pipeline`,
   * the answer also holds that pipeline of the token's own app (null if it has none by that name).
   */
  verify(value: string, pipeline?: string): VerifyResult {
    const parsed = parseValue(value);
    if (!parsed.ok) return { ok: false, reason: 'malformed', message: `the token is malformed: ${parsed.problem}` };
    // With a pipeline name, the pipeline of the token's app comes from the same indexed read: the
    // trigger path then opens one read transaction per request instead of two.
    const row = pipeline === undefined ? this.verifyStatement.get(hashValue(value)) : this.verifyWithPipelineStatement.get(pipeline, hashValue(value));
    if (!row || row.kind !== parsed.kind) return { ok: false, reason: 'unknown', message: 'the token is not known to this server' };
    if (row.revoked_at !== null) return { ok: false, reason: 'revoked', message: `token ${row.id} was revoked at ${formatTime(row.revoked_at)}` };
    if (row.expires_at <= this.clock.now()) return { ok: false, reason: 'expired', message: `token ${row.id} expired at ${formatTime(row.expires_at)}` };
    const token: VerifiedToken = { id: row.id, kind: row.kind, appId: row.app_id, app: row.app, expiresAt: row.expires_at, rateLimit: row.rate_limit };
    if (pipeline === undefined) return { ok: true, token };
    return { ok: true, token, pipeline: row.pipeline_kind ? { kind: row.pipeline_kind, config: row.pipeline_config! } : null };
  }

  /** Of `ids`, those that are now revoked or expired (for ending streams opened with them). */
  inactiveAmong(ids: readonly string[]): Map<string, 'revoked' | 'expired'> {
    const result = new Map<string, 'revoked' | 'expired'>();
    const now = this.clock.now();
    const found = new Set<string>();
    // In batches: SQLite caps the number of bound parameters, and thousands of open streams may
    // hold thousands of distinct tokens.
    for (let start = 0; start < ids.length; start += INACTIVE_BATCH) {
      const batch = ids.slice(start, start + INACTIVE_BATCH);
      const rows = this.db.sqlite
        .prepare(`SELECT id, revoked_at, expires_at FROM tokens WHERE id IN (${batch.map(() => '?').join(',')})`)
        .all(...batch) as Array<{ id: string; revoked_at: number | null; expires_at: number }>;
      for (const row of rows) {
        found.add(row.id);
        if (row.revoked_at !== null) result.set(row.id, 'revoked');
        else if (row.expires_at <= now) result.set(row.id, 'expired');
      }
    }
    // A token that no longer exists (its app was deleted) counts as revoked.
    for (const id of ids) if (!found.has(id)) result.set(id, 'revoked');
    return result;
  }

  private find(tx: Orm, id: string, scope: TokenScope): { row: TokenRow; appSlug: string | null } {
    const found = tx
      .select({ token: tokens, appSlug: apps.slug })
      .from(tokens)
      .leftJoin(apps, eq(apps.id, tokens.appId))
      .where(eq(tokens.id, id))
      .get();
    const inScope =
      found &&
      (scope === 'any' ||
        ('app' in scope ? found.token.kind === 'trigger' && found.appSlug === scope.app : found.token.kind === 'admin'));
    if (!found || !inScope) {
      const where = scope !== 'any' && 'app' in scope ? ` in app "${scope.app}"` : '';
      throw new AppError('not_found', `token ${id} does not exist${where}; list tokens with \`mechamental tokens list --app <app>\``);
    }
    return { row: found.token, appSlug: found.appSlug };
  }

  private requireActive(row: TokenRow, now: number, verb: string): void {
    if (row.revokedAt !== null) {
      throw new AppError('token_not_active', `token ${row.id} is revoked and cannot be ${verb}; create a new one with \`mechamental tokens create\``);
    }
    if (row.expiresAt <= now) {
      throw new AppError('token_not_active', `token ${row.id} expired at ${formatTime(row.expiresAt)} and cannot be ${verb}; create a new one with \`mechamental tokens create\``);
    }
  }

  private checkExpiry(expiresAt: number, now: number): number {
    if (expiresAt <= now) {
      throw new AppError('invalid_expiry', `the expiry ${formatTime(expiresAt)} is not in the future; choose a later time or a duration such as 30d`);
    }
    if (expiresAt > now + this.policy.maxTtlMs) {
      throw new AppError(
        'invalid_expiry',
        `the expiry ${formatTime(expiresAt)} is more than ${describeSpan(this.policy.maxTtlMs)} from now, the maximum token lifetime (MM_MAX_TOKEN_TTL); choose an earlier one and refresh the token when needed`,
      );
    }
    return expiresAt;
  }

  private toView(row: TokenRow, appSlug: string | null): TokenView {
    return {
      id: row.id,
      app: appSlug,
      name: row.name,
      hint: row.hint,
      status: statusOf(row, this.clock.now()),
      created_at: formatTime(row.createdAt),
      expires_at: formatTime(row.expiresAt),
      last_used_at: row.lastUsedAt === null ? null : formatTime(row.lastUsedAt),
      revoked_at: row.revokedAt === null ? null : formatTime(row.revokedAt),
      rate_limit: row.rateLimit,
      replaced_by: row.replacedBy,
    };
  }
}

/** A token's status at `now`: revoked and expired are terminal; expiring is active within 7 days of expiry. */
export function statusOf(row: { revokedAt: number | null; expiresAt: number }, now: number): TokenStatus {
  if (row.revokedAt !== null) return 'revoked';
  if (row.expiresAt <= now) return 'expired';
  if (row.expiresAt - now <= EXPIRING_WINDOW_MS) return 'expiring';
  return 'active';
}

function statusCondition(status: TokenStatus, now: number): SQL | undefined {
  switch (status) {
    case 'revoked':
      return isNotNull(tokens.revokedAt);
    case 'expired':
      return and(isNull(tokens.revokedAt), lte(tokens.expiresAt, now));
    case 'expiring':
      return and(isNull(tokens.revokedAt), gt(tokens.expiresAt, now), lte(tokens.expiresAt, now + EXPIRING_WINDOW_MS));
    case 'active':
      return and(isNull(tokens.revokedAt), gt(tokens.expiresAt, now));
  }
}

export function requireStatus(value: string): TokenStatus {
  if (!(TOKEN_STATUSES as readonly string[]).includes(value)) {
    throw new AppError('validation_failed', `status: "${value}" is not a token status; use one of ${TOKEN_STATUSES.join(', ')}`, { field: 'status' });
  }
  return value as TokenStatus;
}

function checkRateLimit(limit: number | null): number | null {
  if (limit === null) return null;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1_000_000) {
    throw new AppError('validation_failed', `rate_limit: must be a whole number of requests per minute from 1 to 1000000 (got ${limit})`, { field: 'rate_limit' });
  }
  return limit;
}
