/**
 * The storage interface the services are written against: one small repository per aggregate, with
 * one implementation per dialect (`sqlite/`, `postgres/`). The rules (who may do what, what a valid
 * expiry is, what goes into the audit trail) live in the services, written once; a repository only
 * reads and writes rows.
 *
 * Rows use the database's own representation: times are integer milliseconds since the epoch (UTC),
 * JSON is text. Token values never reach this layer: only their SHA-256 (`hash`) and `hint`.
 *
 * Everything is asynchronous except the `hot` reads, which the trigger path calls per request: on
 * SQLite they answer synchronously (no promise, no microtask hop), on PostgreSQL with a promise.
 */

import type { RateLimits } from './rate-limits';

export type Dialect = 'sqlite' | 'postgres';

/** A value, or a promise of one: what the hot-path reads answer (synchronous on SQLite). */
export type MaybePromise<T> = T | Promise<T>;

export function isPromise<T>(value: MaybePromise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

export interface AppRow {
  id: number;
  slug: string;
  name: string;
  createdAt: number;
}

export interface PipelineRow {
  id: number;
  appId: number;
  slug: string;
  /** One of the pipeline kinds (validated by the services, stored as text). */
  kind: string;
  /** The kind's configuration, JSON text. */
  config: string;
  createdAt: number;
  updatedAt: number;
}

export type TokenKindColumn = 'trigger' | 'admin';

export interface TokenRow {
  id: string;
  kind: TokenKindColumn;
  appId: number | null;
  name: string;
  /** SHA-256 (hex) of the value: the only form in which a value is stored. */
  hash: string;
  hint: string;
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
  lastUsedAt: number | null;
  /** Requests per minute; null means no limit. */
  rateLimit: number | null;
  /** Set on the old token by a rotation: the id of the token that replaced it. */
  replacedBy: string | null;
  // --- Token controls (src/tokens/controls.ts); fixed at create, carried over by a rotation.
  /** Up to 500 characters for people. */
  description: string | null;
  /** JSON text: the sorted slugs of the pipelines of its app it may trigger; null for all. */
  pipelines: string | null;
  /** JSON text: the addresses and CIDR ranges it may be used from; null for anywhere. */
  allowedIps: string | null;
  /** The client address of the last accepted use, written together with `lastUsedAt`. */
  lastUsedIp: string | null;
}

export interface AuditRow {
  id: number;
  at: number;
  actor: string;
  action: string;
  app: string | null;
  tokenId: string | null;
  /** JSON text. */
  detail: string | null;
}

/** Which tokens a listing wants; `status` conditions are evaluated at `now`. */
export interface TokenQuery {
  /** The trigger tokens of this app, or (`'admin'`) the admin tokens. */
  owner: { appId: number } | 'admin';
  status?: 'active' | 'expiring' | 'expired' | 'revoked' | undefined;
  now: number;
  /** When an active token counts as expiring: within `windowMs` of its expiry and past this fraction of its lifetime (or rotated). */
  expiring: { windowMs: number; lifetimeFraction: number };
  /** Only tokens whose name contains this text (case-insensitive). */
  search?: string | undefined;
  /** Keyset paging: only rows after (older than) this one in the listing order (newest first). */
  after?: TokenKey | undefined;
  /** Keyset paging backwards: only rows before (newer than) this one in the listing order. */
  before?: TokenKey | undefined;
  /**
   * Which end of the selected rows to answer from: the newest (the default: the listing order) or
   * the oldest (oldest first: the last page, or a page backwards from `before`).
   */
  from?: 'newest' | 'oldest' | undefined;
  /** At most this many rows. */
  limit?: number | undefined;
}

/** A token's place in the listing order: newest first by `created_at`, ties by `id` (descending). */
export interface TokenKey {
  createdAt: number;
  id: string;
}

/** Which tokens a count wants: a listing's selection without its paging. */
export type TokenCountQuery = Omit<TokenQuery, 'after' | 'before' | 'from' | 'limit'>;

export interface AppRepo {
  /** Every app, by slug. */
  list(): Promise<AppRow[]>;
  bySlug(slug: string): Promise<AppRow | undefined>;
  count(): Promise<number>;
  /** Throws `UniqueViolation` when the slug is taken. */
  insert(row: Omit<AppRow, 'id'>): Promise<AppRow>;
}

export interface PipelineRepo {
  /** An app's pipelines, by slug. */
  listByApp(appId: number): Promise<PipelineRow[]>;
  find(appId: number, slug: string): Promise<PipelineRow | undefined>;
  /** Throws `UniqueViolation` when the app has a pipeline by that slug. */
  insert(row: Omit<PipelineRow, 'id'>): Promise<PipelineRow>;
  /** Answers the updated row, or undefined when there is none. */
  update(appId: number, slug: string, patch: Pick<PipelineRow, 'kind' | 'config' | 'updatedAt'>): Promise<PipelineRow | undefined>;
  /** Answers whether a row was deleted. */
  delete(appId: number, slug: string): Promise<boolean>;
}

export interface TokenWithApp {
  row: TokenRow;
  /** The slug of its app (null for admin tokens). */
  appSlug: string | null;
}

/** One token's latest use, as `UsageRecorder` writes it in batches. */
export interface TokenUse {
  id: string;
  at: number;
  /** The client address of that use, when known. */
  ip?: string | null | undefined;
}

export interface TokenRepo {
  insert(row: TokenRow): Promise<TokenRow>;
  /**
   * One token and its app's slug. Inside a write transaction, `forUpdate` locks the row until the
   * transaction ends (PostgreSQL `FOR UPDATE`; SQLite's write transactions are serial anyway).
   */
  byId(id: string, options?: { forUpdate?: boolean }): Promise<TokenWithApp | undefined>;
  /** Updates the given columns and answers the row as it now is. */
  update(id: string, patch: Partial<Pick<TokenRow, 'revokedAt' | 'expiresAt' | 'replacedBy'>>): Promise<TokenRow>;
  /**
   * Newest first (created_at, then id, descending), or oldest first with `from: 'oldest'`. The
   * status filters and the name search read indexes; listing a page costs about the same for a
   * million tokens as for a thousand.
   */
  list(query: TokenQuery): Promise<TokenRow[]>;
  /**
   * How many tokens `query` selects, counting no further than `atMost` (the answer is then
   * `atMost`): an exact count of a large selection costs time proportional to its size.
   */
  count(query: TokenCountQuery, atMost: number): Promise<number>;
  /** How many of an app's tokens are active at `now` (expiring included). */
  countActive(appId: number, now: number): Promise<number>;
  /**
   * Records uses: `last_used_at` becomes the later of its value and `at` (never goes backwards), and
   * `last_used_ip` becomes `ip` when that use is the latest (an absent `ip` leaves it as it is).
   */
  recordUses(uses: ReadonlyArray<TokenUse>): Promise<void>;
}

export interface AuditRepo {
  insert(row: Omit<AuditRow, 'id'>): Promise<void>;
  /**
   * Newest first (by id, descending); `before` keeps only older events (ids below it), `after` only
   * newer ones (ids above it). With `from: 'oldest'` the oldest of those come first (the last page,
   * or a page backwards from `after`).
   */
  list(query: { app?: string | undefined; limit: number; before?: number | undefined; after?: number | undefined; from?: 'newest' | 'oldest' | undefined }): Promise<AuditRow[]>;
  /** Deletes at most `limit` of the oldest events written before `at`; answers how many. One short write. */
  pruneBefore(at: number, limit: number): Promise<number>;
}

/** The repositories, as seen inside or outside a transaction. */
export interface Repos {
  readonly apps: AppRepo;
  readonly pipelines: PipelineRepo;
  readonly tokens: TokenRepo;
  readonly audit: AuditRepo;
}

/** What a write transaction may do besides writing rows: note token changes for other instances. */
export interface WriteTx extends Repos {
  /**
   * Announces that a token's state changed (revoked, expiry moved), so that every instance re-checks
   * the streams it has open with that token. On PostgreSQL this is a row in `token_events` and a
   * `pg_notify`, both committed with the transaction; on SQLite other processes see the commit
   * through `data_version`, so this only bumps the in-process counter.
   */
  tokenChanged(tokenId: string): Promise<void>;
}

/** The token, its app and (when asked for) a pipeline of that app, as the trigger path verifies them. */
export interface VerifyRow {
  id: string;
  kind: TokenKindColumn;
  app_id: number | null;
  app: string | null;
  expires_at: number;
  revoked_at: number | null;
  rate_limit: number | null;
  /** The stored texts of the token's controls (see TokenRow), compiled once per token by the request path. */
  pipelines: string | null;
  allowed_ips: string | null;
  pipeline_kind?: string | null;
  pipeline_config?: string | null;
}

/** The state of a token that decides whether it still works. */
export interface TokenState {
  id: string;
  revokedAt: number | null;
  expiresAt: number;
}

/**
 * The reads on the request path. On SQLite they are synchronous prepared statements; on PostgreSQL
 * each is one round trip. Storage failures throw (the trigger answers 503 `unavailable`).
 */
export interface HotReads {
  /** The token with this hash, its app, and — given `pipeline` — that pipeline of its app, in one read. */
  verify(hash: string, pipeline?: string): MaybePromise<VerifyRow | undefined>;
  /** Current states of these tokens (absent: no longer exists). */
  tokenStates(ids: readonly string[]): MaybePromise<TokenState[]>;
  /** A pipeline of an app (the trigger path when verification did not fetch it). */
  pipeline(appId: number, slug: string): MaybePromise<{ kind: string; config: string } | undefined>;
}

/**
 * How a process learns that tokens changed elsewhere, for ending open streams within a second.
 * `watch` calls `onChange` with the ids of changed tokens, or with `'all'` when it cannot say which
 * (SQLite: another connection committed; PostgreSQL: the listening connection was re-established
 * and what it missed is unknown or too much). Timers and connections never keep the process alive.
 */
export interface ChangeWatch {
  start(onChange: (ids: ReadonlySet<string> | 'all') => void): void;
  stop(): Promise<void>;
  /** Whether the watch is currently receiving changes (PostgreSQL: the LISTEN connection is up). */
  readonly healthy: boolean;
}

export interface Store extends Repos {
  readonly dialect: Dialect;
  /** Per-token rate limits (GCRA): in memory on SQLite, one row per limited token on PostgreSQL (one limit across instances). */
  readonly rateLimits: RateLimits;
  /** Where the data is, for people: a file path, or a PostgreSQL URL without its password. */
  readonly location: string;
  /** How many migrations this open applied (0 when the schema was already up to date). */
  readonly appliedMigrations: number;
  readonly hot: HotReads;
  /**
   * Runs `work` in one write transaction and answers its result; a throw rolls everything back.
   * SQLite: `BEGIN IMMEDIATE` (serial, also within this process), durable on commit (WAL,
   * synchronous=FULL). PostgreSQL: one transaction on one connection; lock rows with `forUpdate`.
   * `work` must only use `tx` (never the store's own repositories) and must not wait for anything
   * but the database.
   */
  transaction<T>(work: (tx: WriteTx) => Promise<T>): Promise<T>;
  /**
   * A marker that changes whenever anything was committed, by this process or another (for screens
   * that refresh when the data changed). Cheap enough to poll a few times a second.
   */
  changeMarker(): Promise<string>;
  /** Makes a watch of token changes (see ChangeWatch). */
  watchTokenChanges(options: { pollIntervalMs: number }): ChangeWatch;
  /**
   * Whether the database answers and can take a write (for /readyz): resolves with undefined when
   * it can, otherwise with a sentence saying why not (unreachable, read-only, disk full).
   */
  checkReady(): Promise<string | undefined>;
  close(): Promise<void>;
}

/** Thrown by repositories when a unique constraint refuses an insert. */
export class UniqueViolation extends Error {
  constructor(readonly constraint: string) {
    super(`unique constraint ${constraint}`);
    this.name = 'UniqueViolation';
  }
}
