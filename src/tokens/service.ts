import type { AppService } from '../apps/apps';
import type { PipelineKind } from '../apps/pipeline-config';
import { requireName } from '../apps/validation';
import type { Actor, AuditLog } from '../audit/audit';
import { formatTime, type Clock } from '../clock';
import { isPromise, type MaybePromise, type Repos, type Store, type TokenKey, type TokenRow, type TokenState, type VerifyRow, type WriteTx } from '../db/store';
import { describeSpan, parseExpiry, requireDuration } from '../duration';
import { AppError } from '../errors';
import { decodeCursor, DEFAULT_PAGE_LIMIT, encodeCursor, MAX_PAGE_LIMIT, type Page } from '../paging';
import { storedControls, storedList, type ControlsInput, type StoredControls } from './controls';
import { EXPIRING_RULE, statusOf, type TokenStatus } from './status';
import { generateId, generateValue, hashValue, hintFor, parseValue, type TokenKind } from './value';

export { EXPIRING_WINDOW_MS, requireStatus, statusOf, TOKEN_STATUSES, type TokenStatus } from './status';

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
  /** Text for people, up to 500 characters. */
  description: string | null;
  /** The pipelines of its app it may trigger (sorted slugs), or null for all of them. */
  pipelines: string[] | null;
  /** The addresses and CIDR ranges it may be used from, or null for anywhere. */
  allowed_ips: string[] | null;
  /** The client address of its last accepted use. */
  last_used_ip: string | null;
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
  /** The stored texts of its controls (null: none); the request path compiles them once per token (ControlsCache). */
  pipelines: string | null;
  allowedIps: string | null;
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
  | { ok: false; reason: VerifyFailure; message: string; /** The token's id, when it is known (revoked, expired). */ tokenId?: string };

/** Whether a token still works now, as the trigger path re-checks it before a run starts. */
export type TokenLiveness = 'active' | 'revoked' | 'expired';

/** Which tokens a listing wants, and which page. */
export interface TokenFilter {
  status?: TokenStatus | undefined;
  /** Only tokens whose name contains this text (case-insensitive). */
  search?: string | undefined;
  /** Only active tokens not used for this long (ms), never-used ones older than that included. */
  unusedForMs?: number | undefined;
  limit?: number | undefined;
  /** Start after this row: the `nextCursor` of the previous page. */
  cursor?: string | undefined;
  /** Page backwards: the rows just before this one (newer), still answered newest first; a `prevCursor`. */
  before?: string | undefined;
  /** The last page (the oldest rows) instead of the first. */
  last?: boolean | undefined;
}

/** Which tokens a count wants: a filter without its paging. */
export type TokenCountFilter = Pick<TokenFilter, 'status' | 'search' | 'unusedForMs'>;

/** A count that may have stopped early: `count` is exact unless `atLeast` (there are at least that many). */
export interface TokenCount {
  count: number;
  atLeast: boolean;
}

/** A change to a trigger token, as the webhook outbox hears of it (src/webhooks/). */
export interface TokenChange {
  type: 'token.created' | 'token.revoked' | 'token.refreshed' | 'token.rotated';
  appId: number;
  /** The token as it now is (a rotation: the old token, with its grace-period expiry). Never holds the value. */
  token: TokenView;
  actor: Actor;
  /** Refresh and rotate: the expiry before the change (RFC 3339). */
  previousExpiresAt?: string;
  /** Rotate: the token that replaces it. */
  replacement?: TokenView;
}

/** Told of every trigger token change inside the transaction that makes it, so that its record commits with it. */
export interface TokenChangeSink {
  record(tx: WriteTx, change: TokenChange): Promise<void>;
}

/** Where a token must be found: an app's trigger tokens, or the admin tokens. */
export type TokenScope = { app: string } | { kind: 'admin' } | 'any';

/**
 * The token lifecycle: create, list, get, revoke, refresh, rotate, verify.
 *
 * Invariants kept here: a value is generated, hashed, returned once and forgotten — only its
 * SHA-256 and hint are stored, and no error or audit event quotes it; every state change is one
 * write transaction together with its audit event (durable on return); revoked and expired are
 * terminal; expiries are in the future and within the max lifetime. `verify` reads the database on
 * every call (no cache), so a revoke from any process or instance is seen by the next verification;
 * state changes are announced (`tokenChanged`) so that open streams end at once everywhere.
 */
export class TokenService {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly audit: AuditLog,
    private readonly appService: AppService,
    private readonly policy: TokenPolicy,
    /** The webhook outbox: told of each trigger token change in its transaction. */
    private readonly changes?: TokenChangeSink,
  ) {}

  /**
   * Creates a trigger token for `app`; the answer holds the value, which is never shown again. Its
   * controls (description, pipeline scope, IP allow-list) are optional and fixed for its life: a
   * scope may only name pipelines the app has now (a typo would make a useless token).
   */
  async create(input: { app: string; name: string; expires: string; rateLimit?: number | null } & ControlsInput, actor: Actor): Promise<IssuedToken> {
    const app = await this.appService.require(input.app);
    const controls = storedControls(input);
    return this.issue({ kind: 'trigger', appId: app.id, appSlug: app.slug, name: input.name, expires: input.expires, rateLimit: input.rateLimit ?? null, controls }, actor);
  }

  /** Creates an admin token (authorises the admin HTTP API). Only the CLI and TUI call this. */
  async createAdmin(input: { name: string; expires: string }, actor: 'cli' | 'tui'): Promise<IssuedToken> {
    return this.issue({ kind: 'admin', appId: null, appSlug: null, name: input.name, expires: input.expires, rateLimit: null, controls: NO_CONTROLS }, actor);
  }

  private async issue(
    input: { kind: TokenKind; appId: number | null; appSlug: string | null; name: string; expires: string; rateLimit: number | null; controls: StoredControls },
    actor: Actor,
  ): Promise<IssuedToken> {
    const name = requireName(input.name);
    const now = this.clock.now();
    const expiresAt = this.checkExpiry(parseExpiry(input.expires, now), now);
    const rateLimit = checkRateLimit(input.rateLimit);
    return this.store.transaction(async (tx) => {
      if (input.controls.pipelines !== null && input.appId !== null) await this.requirePipelinesExist(tx, input.appId, input.appSlug!, input.controls.pipelines);
      const issued = await this.insertToken(tx, { ...input, name, expiresAt, rateLimit, now });
      await this.audit.record(tx, {
        actor,
        action: input.kind === 'admin' ? 'admin_token.created' : 'token.created',
        app: input.appSlug,
        tokenId: issued.token.id,
        detail: {
          name,
          expires_at: issued.token.expires_at,
          ...(issued.token.pipelines ? { pipelines: issued.token.pipelines } : {}),
          ...(issued.token.allowed_ips ? { allowed_ips: issued.token.allowed_ips } : {}),
        },
      });
      if (input.appId !== null) await this.changes?.record(tx, { type: 'token.created', appId: input.appId, token: issued.token, actor });
      return issued;
    });
  }

  /** A scope names only pipelines the app has (checked in the creating transaction). */
  private async requirePipelinesExist(tx: Repos, appId: number, appSlug: string, scopeText: string): Promise<void> {
    const existing = new Set((await tx.pipelines.listByApp(appId)).map((p) => p.slug));
    const missing = storedList(scopeText)!.filter((slug) => !existing.has(slug));
    if (missing.length > 0) {
      throw new AppError(
        'validation_failed',
        `pipelines: app "${appSlug}" has no pipeline ${missing.map((slug) => `"${slug}"`).join(', ')}; list them with \`mechamental pipelines list --app ${appSlug}\``,
        { field: 'pipelines' },
      );
    }
  }

  private async insertToken(
    tx: Repos,
    input: { kind: TokenKind; appId: number | null; appSlug: string | null; name: string; expiresAt: number; rateLimit: number | null; now: number; controls: StoredControls },
  ): Promise<IssuedToken> {
    const value = generateValue(input.kind);
    const row = await tx.tokens.insert({
      id: generateId(input.kind),
      kind: input.kind,
      appId: input.appId,
      name: input.name,
      hash: hashValue(value),
      hint: hintFor(value),
      createdAt: input.now,
      expiresAt: input.expiresAt,
      revokedAt: null,
      lastUsedAt: null,
      rateLimit: input.rateLimit,
      replacedBy: null,
      description: input.controls.description,
      pipelines: input.controls.pipelines,
      allowedIps: input.controls.allowedIps,
      lastUsedIp: null,
    });
    return { token: this.toView(row, input.appSlug), value };
  }

  /**
   * One page of the trigger tokens of `app`, newest first, optionally only those in `status`
   * (`active` includes `expiring`) and whose name contains `search`; `cursor` is the previous page's
   * `nextCursor` (see src/paging.ts).
   */
  async page(app: string, filter: TokenFilter = {}): Promise<Page<TokenView>> {
    const record = await this.appService.require(app);
    return this.pageOf({ appId: record.id }, record.slug, filter);
  }

  /** One page of the admin tokens, newest first. */
  async pageAdmin(filter: TokenFilter = {}): Promise<Page<TokenView>> {
    return this.pageOf('admin', null, filter);
  }

  private async pageOf(owner: { appId: number } | 'admin', appSlug: string | null, filter: TokenFilter): Promise<Page<TokenView>> {
    const limit = filter.limit ?? DEFAULT_PAGE_LIMIT;
    if ([filter.cursor, filter.before, filter.last || undefined].filter((given) => given !== undefined && given !== '').length > 1) {
      throw new AppError('validation_failed', 'cursor: give at most one of cursor, before and last', { field: 'cursor' });
    }
    const after = tokenKey(filter.cursor);
    const before = tokenKey(filter.before);
    const backwards = before !== undefined || filter.last === true;
    const rows = await this.store.tokens.list({
      ...this.selection(owner, filter),
      after,
      before,
      from: backwards ? 'oldest' : 'newest',
      limit: limit + 1,
    });
    const more = rows.length > limit;
    const kept = more ? rows.slice(0, limit) : rows;
    // Backwards, the store answers oldest first; a page is always newest first.
    const ordered = backwards ? [...kept].reverse() : kept;
    const items = ordered.map((row) => this.toView(row, appSlug));
    const first = ordered.length > 0 ? cursorOf(ordered[0]!) : undefined;
    const last = ordered.length > 0 ? cursorOf(ordered.at(-1)!) : undefined;
    if (!backwards) {
      return { items, nextCursor: more ? last! : null, prevCursor: after === undefined ? null : (first ?? filter.cursor!) };
    }
    return { items, nextCursor: before === undefined ? null : (last ?? filter.before!), prevCursor: more ? first! : null };
  }

  private selection(owner: { appId: number } | 'admin', filter: TokenCountFilter) {
    const now = this.clock.now();
    return {
      owner,
      status: filter.status,
      search: filter.search || undefined,
      unusedSince: filter.unusedForMs === undefined ? undefined : now - filter.unusedForMs,
      now,
      expiring: EXPIRING_RULE,
    };
  }

  /**
   * How many trigger tokens of `app` `filter` selects, counting no further than `atMost` (then
   * `atLeast` is true): a count of a million rows takes a while, and a screen only needs to say
   * "10,000+". Default: exact.
   */
  async count(app: string, filter: TokenCountFilter = {}, atMost = Infinity): Promise<TokenCount> {
    const record = await this.appService.require(app);
    // One past the cap tells "exactly the cap" from "more than it".
    const count = await this.store.tokens.count(this.selection({ appId: record.id }, filter), Number.isFinite(atMost) ? atMost + 1 : Infinity);
    return { count: Math.min(count, atMost), atLeast: count > atMost };
  }

  /** Every trigger token of `app` (page by page), newest first: for small lists; large ones page. */
  async list(app: string, filter: Omit<TokenFilter, 'limit' | 'cursor'> = {}): Promise<TokenView[]> {
    return this.all((cursor) => this.page(app, { ...filter, limit: MAX_PAGE_LIMIT, cursor }));
  }

  /** Every admin token, newest first. */
  async listAdmin(filter: Omit<TokenFilter, 'limit' | 'cursor'> = {}): Promise<TokenView[]> {
    return this.all((cursor) => this.pageAdmin({ ...filter, limit: MAX_PAGE_LIMIT, cursor }));
  }

  private async all(next: (cursor: string | undefined) => Promise<Page<TokenView>>): Promise<TokenView[]> {
    const tokens: TokenView[] = [];
    let cursor: string | undefined;
    do {
      const page = await next(cursor);
      tokens.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    return tokens;
  }

  /** How many of an app's tokens work now (expiring ones included). */
  async countActive(app: string): Promise<number> {
    const record = await this.appService.require(app);
    return this.store.tokens.countActive(record.id, this.clock.now());
  }

  /** One token by id, within `scope` (a token of another app is `not_found`, not a leak). */
  async get(id: string, scope: TokenScope = 'any'): Promise<TokenView> {
    const { row, appSlug } = await this.find(this.store, id, scope);
    return this.toView(row, appSlug);
  }

  /**
   * Revokes at once and for good. Revoking a revoked token answers the same token again and
   * records nothing new (idempotent). Once this resolves, no verification anywhere accepts it.
   */
  async revoke(id: string, actor: Actor, scope: TokenScope = 'any'): Promise<TokenView> {
    return this.store.transaction(async (tx) => {
      const { row, appSlug } = await this.find(tx, id, scope, true);
      if (row.revokedAt !== null) return this.toView(row, appSlug);
      const updated = await tx.tokens.update(row.id, { revokedAt: this.clock.now() });
      await tx.tokenChanged(row.id);
      await this.audit.record(tx, {
        actor,
        action: row.kind === 'admin' ? 'admin_token.revoked' : 'token.revoked',
        app: appSlug,
        tokenId: row.id,
        detail: { name: row.name },
      });
      const view = this.toView(updated, appSlug);
      if (row.appId !== null) await this.changes?.record(tx, { type: 'token.revoked', appId: row.appId, token: view, actor });
      return view;
    });
  }

  /**
   * Extends an active token's expiry; its value does not change. The new expiry must be later
   * than the current one and than now, and within the max lifetime from now.
   */
  async refresh(id: string, expires: string, actor: Actor, scope: TokenScope = 'any'): Promise<TokenView> {
    return this.store.transaction(async (tx) => {
      const now = this.clock.now();
      const { row, appSlug } = await this.find(tx, id, scope, true);
      this.requireActive(row, now, 'refreshed');
      const expiresAt = this.checkExpiry(parseExpiry(expires, now), now);
      if (expiresAt <= row.expiresAt) {
        throw new AppError(
          'invalid_expiry',
          `the new expiry ${formatTime(expiresAt)} is not later than the current one (${formatTime(row.expiresAt)}); refresh can only extend a token`,
        );
      }
      const updated = await tx.tokens.update(row.id, { expiresAt });
      await tx.tokenChanged(row.id);
      await this.audit.record(tx, {
        actor,
        action: 'token.refreshed',
        app: appSlug,
        tokenId: row.id,
        detail: { name: row.name, previous_expires_at: formatTime(row.expiresAt), expires_at: formatTime(expiresAt) },
      });
      const view = this.toView(updated, appSlug);
      if (row.appId !== null) await this.changes?.record(tx, { type: 'token.refreshed', appId: row.appId, token: view, actor, previousExpiresAt: formatTime(row.expiresAt) });
      return view;
    });
  }

  /**
   * The rotation strategy as one step: a new token with the same name, app, rate limit and controls (and,
   * unless `expires` is given, the same lifetime the old one was created with, capped at the max
   * lifetime), while the old one keeps working for `grace` (default 24h) and then expires. The old
   * token's expiry never moves later.
   */
  async rotate(
    id: string,
    options: { grace?: string | undefined; expires?: string | undefined; /** Refuse a token that was rotated already (self-rotation). */ onlyOnce?: boolean },
    actor: Actor,
    scope: TokenScope = 'any',
  ): Promise<IssuedToken & { previous: TokenView }> {
    const graceMs = options.grace === undefined ? this.policy.defaultGraceMs : requireDuration(options.grace, 'grace');
    if (graceMs > MAX_GRACE_MS) {
      throw new AppError('validation_failed', `grace: ${describeSpan(graceMs)} is longer than the limit of ${describeSpan(MAX_GRACE_MS)}`, { field: 'grace' });
    }
    return this.store.transaction(async (tx) => {
      const now = this.clock.now();
      const { row, appSlug } = await this.find(tx, id, scope, true);
      this.requireActive(row, now, 'rotated');
      if (options.onlyOnce && row.replacedBy !== null) {
        throw new AppError('conflict', `token ${row.id} was already rotated (replaced by ${row.replacedBy}); use the new token, which can rotate itself in turn`);
      }
      const expiresAt =
        options.expires === undefined
          ? Math.min(now + (row.expiresAt - row.createdAt), now + this.policy.maxTtlMs)
          : this.checkExpiry(parseExpiry(options.expires, now), now);
      const controls = { description: row.description, pipelines: row.pipelines, allowedIps: row.allowedIps };
      const issued = await this.insertToken(tx, { kind: row.kind, appId: row.appId, appSlug, name: row.name, expiresAt, rateLimit: row.rateLimit, now, controls });
      const previous = await tx.tokens.update(row.id, { expiresAt: Math.min(row.expiresAt, now + graceMs), replacedBy: issued.token.id });
      await tx.tokenChanged(row.id);
      await this.audit.record(tx, {
        actor,
        action: 'token.rotated',
        app: appSlug,
        tokenId: row.id,
        detail: { name: row.name, new_token_id: issued.token.id, previous_expires_at: formatTime(previous.expiresAt) },
      });
      const previousView = this.toView(previous, appSlug);
      if (row.appId !== null) {
        await this.changes?.record(tx, { type: 'token.rotated', appId: row.appId, token: previousView, actor, previousExpiresAt: formatTime(row.expiresAt), replacement: issued.token });
      }
      return { ...issued, previous: previousView };
    });
  }

  /**
   * Self-rotation (`POST /v1/token/rotate`): the trigger token `id`, acting on itself, replaced by a
   * new one with the same name, app, rate limit, controls and lifetime (capped at the max lifetime),
   * while it keeps working for `grace`. Its expiry never moves later. A token that was rotated
   * already cannot rotate again (a value left over in its grace period could otherwise mint new
   * tokens); the new token can. Audit actor `self:<id>`.
   */
  async rotateSelf(id: string, grace: string | undefined): Promise<IssuedToken & { previous: TokenView }> {
    return this.rotate(id, { grace, onlyOnce: true }, `self:${id}`);
  }

  /**
   * Revokes every token among `values` that this server knows and has not revoked (trigger and
   * admin tokens alike): the leaked-value report (`POST /v1/tokens/revoke`, actor `leak-report`)
   * and `mechamental tokens revoke --values -` (actor `cli`). Anything else (malformed, unknown,
   * revoked) is skipped without a trace. Answers how many it revoked, never which values matched;
   * values are hashed and looked up, never stored, logged or quoted.
   */
  async revokeLeaked(values: readonly string[], actor: 'leak-report' | 'cli'): Promise<{ revoked: number }> {
    let revoked = 0;
    for (const value of new Set(values)) {
      if (!parseValue(value).ok) continue;
      const row = await this.store.hot.verify(hashValue(value));
      if (!row || row.revoked_at !== null) continue;
      const view = await this.revoke(row.id, actor);
      if (view.status === 'revoked') revoked++;
    }
    return { revoked };
  }

  /**
   * The server's check of a presented value: format and checksum first (no database access for
   * garbage), then one indexed lookup by SHA-256 (synchronous on SQLite, one round trip on
   * PostgreSQL). Reasons never quote the value. Given `pipeline`, the answer also holds that pipeline
   * of the token's own app (null if it has none by that name). Storage failures throw.
   */
  verify(value: string, pipeline?: string): MaybePromise<VerifyResult> {
    const parsed = parseValue(value);
    if (!parsed.ok) return { ok: false, reason: 'malformed', message: `the token is malformed: ${parsed.problem}` };
    const row = this.store.hot.verify(hashValue(value), pipeline);
    if (isPromise(row)) return row.then((found) => this.judge(found, parsed.kind, pipeline));
    return this.judge(row, parsed.kind, pipeline);
  }

  private judge(row: VerifyRow | undefined, kind: TokenKind, pipeline: string | undefined): VerifyResult {
    if (!row || row.kind !== kind) return { ok: false, reason: 'unknown', message: 'the token is not known to this server' };
    if (row.revoked_at !== null) return { ok: false, reason: 'revoked', message: `token ${row.id} was revoked at ${formatTime(row.revoked_at)}`, tokenId: row.id };
    if (row.expires_at <= this.clock.now()) return { ok: false, reason: 'expired', message: `token ${row.id} expired at ${formatTime(row.expires_at)}`, tokenId: row.id };
    const token: VerifiedToken = {
      id: row.id,
      kind: row.kind,
      appId: row.app_id,
      app: row.app,
      expiresAt: row.expires_at,
      rateLimit: row.rate_limit,
      pipelines: row.pipelines,
      allowedIps: row.allowed_ips,
    };
    if (pipeline === undefined) return { ok: true, token };
    return { ok: true, token, pipeline: row.pipeline_kind ? { kind: row.pipeline_kind as PipelineKind, config: row.pipeline_config! } : null };
  }

  /**
   * Reads one token's state again (the re-check right before a run starts): whether it still works
   * now, and its current expiry. Synchronous on SQLite.
   */
  liveness(id: string): MaybePromise<{ state: TokenLiveness; expiresAt: number }> {
    const states = this.store.hot.tokenStates([id]);
    if (isPromise(states)) return states.then((found) => this.livenessOf(found[0]));
    return this.livenessOf(states[0]);
  }

  private livenessOf(state: TokenState | undefined): { state: TokenLiveness; expiresAt: number } {
    // A token that no longer exists (its app was deleted) counts as revoked.
    if (!state || state.revokedAt !== null) return { state: 'revoked', expiresAt: state?.expiresAt ?? 0 };
    if (state.expiresAt <= this.clock.now()) return { state: 'expired', expiresAt: state.expiresAt };
    return { state: 'active', expiresAt: state.expiresAt };
  }

  /**
   * Current liveness and expiry of each of `ids` (for the watcher of open streams, which also learns
   * a new expiry, e.g. a rotation's grace period).
   */
  async livenessAmong(ids: readonly string[]): Promise<Map<string, { state: TokenLiveness; expiresAt: number }>> {
    const result = new Map<string, { state: TokenLiveness; expiresAt: number }>();
    if (ids.length === 0) return result;
    const states = await this.store.hot.tokenStates(ids);
    const byId = new Map(states.map((s) => [s.id, s]));
    for (const id of ids) result.set(id, this.livenessOf(byId.get(id)));
    return result;
  }

  private async find(repos: Repos, id: string, scope: TokenScope, forUpdate = false): Promise<{ row: TokenRow; appSlug: string | null }> {
    const found = await repos.tokens.byId(id, { forUpdate });
    const inScope =
      found &&
      (scope === 'any' || ('app' in scope ? found.row.kind === 'trigger' && found.appSlug === scope.app : found.row.kind === 'admin'));
    if (!found || !inScope) {
      const where = scope !== 'any' && 'app' in scope ? ` in app "${scope.app}"` : '';
      throw new AppError('not_found', `token ${safeId(id)} does not exist${where}; list tokens with \`mechamental tokens list --app <app>\``);
    }
    return found;
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

  toView(row: TokenRow, appSlug: string | null): TokenView {
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
      description: row.description,
      pipelines: storedList(row.pipelines),
      allowed_ips: storedList(row.allowedIps),
      last_used_ip: row.lastUsedIp,
    };
  }
}

/**
 * An id as an error message may quote it: a well-formed id as is; never a pasted token value
 * (anything that holds one is described, not quoted); anything else quoted and shortened.
 */
export function safeId(id: string): string {
  if (/^(?:tok|adm)_[a-z2-7]{20}$/.test(id)) return id;
  if (/mm_(?:tok|adm)_/i.test(id)) return '(a token value was given where a token id belongs)';
  return JSON.stringify(id.length > 40 ? `${id.slice(0, 40)}…` : id);
}

/** The listing key a cursor names (see src/paging.ts), or undefined for none. */
function tokenKey(cursor: string | undefined): TokenKey | undefined {
  const parts = decodeCursor(cursor, ['n', 's']);
  return parts ? { createdAt: parts[0] as number, id: parts[1] as string } : undefined;
}

/** The cursor naming a row's place in the listing. */
function cursorOf(row: TokenRow): string {
  return encodeCursor([row.createdAt, row.id]);
}

const NO_CONTROLS: StoredControls = { description: null, pipelines: null, allowedIps: null };

function checkRateLimit(limit: number | null): number | null {
  if (limit === null) return null;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1_000_000) {
    throw new AppError('validation_failed', `rate_limit: must be a whole number of requests per minute from 1 to 1000000 (got ${limit})`, { field: 'rate_limit' });
  }
  return limit;
}
