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
  /**
   * Only active tokens unused since this time: created at or before it, and last used at or before
   * it or never (the seed's "revoke unused tokens"; see UNUSED_RULE in src/tokens/usage.ts).
   */
  unusedSince?: number | undefined;
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

/** A web console session: only the SHA-256 of its id (the cookie's value) is stored. */
export interface ConsoleSessionRow {
  /** SHA-256 (hex) of the session id. */
  idHash: string;
  /** The admin token the session was signed in with; revoking it ends the session. */
  adminTokenId: string;
  createdAt: number;
  /** The last request the admin made (the idle timeout counts from here). */
  lastSeenAt: number;
  /** The absolute end of the session. */
  expiresAt: number;
}

/** A one-time console sign-in code (`mechamental console`): only its SHA-256 is stored. */
export interface ConsoleSignInCodeRow {
  /** SHA-256 (hex) of the code. */
  codeHash: string;
  /** The admin token made for it; a session signed in with the code belongs to this token. */
  adminTokenId: string;
  createdAt: number;
  expiresAt: number;
}

/** A session with the state of its admin token, which decides whether the session still works. */
export interface ConsoleSessionWithToken {
  session: ConsoleSessionRow;
  token: { id: string; name: string; kind: TokenKindColumn; expiresAt: number; revokedAt: number | null };
}

export interface ConsoleRepo {
  insertSession(row: ConsoleSessionRow): Promise<void>;
  /** The session with this id hash and its admin token, or undefined. */
  session(idHash: string): Promise<ConsoleSessionWithToken | undefined>;
  /** Moves `last_seen_at` forward to `at` (never back). */
  touchSession(idHash: string, at: number): Promise<void>;
  /** Answers whether a row was deleted. */
  deleteSession(idHash: string): Promise<boolean>;
  insertSignInCode(row: ConsoleSignInCodeRow): Promise<void>;
  /**
   * Takes a sign-in code: deletes it and answers its row when it exists and has not expired at
   * `now`; answers undefined otherwise. Deleting is what makes a code single-use: of two
   * concurrent takes, one gets the row.
   */
  takeSignInCode(codeHash: string, now: number): Promise<ConsoleSignInCodeRow | undefined>;
  /**
   * Deletes what can no longer be used: codes past their expiry, sessions past their absolute end
   * or idle since `idleBefore`, and sessions whose admin token is revoked or expired. Answers how
   * many rows went.
   */
  prune(now: number, idleBefore: number): Promise<number>;
}

/** The repositories, as seen inside or outside a transaction. */
export interface Repos {
  readonly apps: AppRepo;
  readonly pipelines: PipelineRepo;
  readonly tokens: TokenRepo;
  readonly audit: AuditRepo;
  readonly usage: UsageRepo;
  readonly webhooks: WebhookRepo;
  readonly console: ConsoleRepo;
}

export interface TransactionOptions {
  /** false: see Store.transaction (default true). */
  durable?: boolean;
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
  /**
   * A pipeline of an app (the trigger path when verification did not fetch it). `asOfVerify`: asked
   * in the same event-loop turn as the request's `verify`, so an answer as of that read will do (an
   * implementation that caches need not check for changes again).
   */
  pipeline(appId: number, slug: string, asOfVerify?: boolean): MaybePromise<{ kind: string; config: string } | undefined>;
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

/**
 * An idempotency key (SPEC "Runs"): scoped to the token that sent it, kept 24 h. It names the run
 * it started and, once that run ended, the answer to replay (an HTTP status and a JSON body).
 */
export interface IdempotencyRow {
  tokenId: string;
  key: string;
  /** SHA-256 (hex) of the pipeline and the request body: a retry must send the same. */
  fingerprint: string;
  pipeline: string;
  runId: string;
  createdAt: number;
  expiresAt: number;
  /** The answer's HTTP status once the run ended; null while it runs. */
  answerStatus: number | null;
  /** The answer's JSON text once the run ended; null while it runs. */
  answer: string | null;
}

export interface IdempotencyRepo {
  /**
   * Takes the key for a new run, atomically (one winner however many retries race, across
   * processes and instances): answers `claimed: true` with `row` stored, or `claimed: false` with
   * the row that holds the key. A row whose `expiresAt` is at or before `now` no longer holds it.
   */
  claim(row: IdempotencyRow, now: number): Promise<{ claimed: boolean; row: IdempotencyRow }>;
  /** The key's row, unless it expired by `now`. */
  find(tokenId: string, key: string, now: number): Promise<IdempotencyRow | undefined>;
  /** Stores the answer of the key's run (only while the row still names `runId`). */
  complete(tokenId: string, key: string, runId: string, answerStatus: number, answer: string): Promise<void>;
  /** Gives the key back (its run was stopped before it did anything worth replaying). */
  release(tokenId: string, key: string, runId: string): Promise<void>;
  /** Deletes up to `limit` rows that expired by `now`; answers how many. */
  prune(now: number, limit: number): Promise<number>;
}

export type RunStatusColumn = 'running' | 'completed' | 'failed';

/** A run as PostgreSQL keeps it, so that any instance can answer for it (SQLite: runs live in memory). */
export interface RunRow {
  id: string;
  tokenId: string;
  pipeline: string;
  status: RunStatusColumn;
  startedAt: number;
  endedAt: number | null;
  /** JSON text of the output (completed runs). */
  output: string | null;
  /** JSON text of `{code, message}` (failed runs). */
  error: string | null;
  /** The sequence number of its last stored event. */
  lastSeq: number;
  /** The instance that runs it (a random id per process). */
  owner: string;
  /** When the owner last said it is still running it; a running run not heard of for a while was lost with its instance. */
  heartbeatAt: number;
  /** Set by a cancel on another instance; the owner ends the run. */
  cancelRequestedAt: number | null;
}

export interface RunEventRow {
  runId: string;
  seq: number;
  event: string;
  /** One-line JSON text. */
  data: string;
}

/** Runs and their events on PostgreSQL, written in batches by the instance that runs them. */
export interface RunRepo {
  /**
   * Stores a batch in one transaction: runs new or changed since the last batch (inserted, or
   * updated in place: status, end, output, error, last_seq, heartbeat) and their new events.
   */
  write(runs: ReadonlyArray<Omit<RunRow, 'cancelRequestedAt'>>, events: readonly RunEventRow[]): Promise<void>;
  find(id: string): Promise<RunRow | undefined>;
  /** The newest run of this token and pipeline that has an event `minSeq` (the reconnect of an EventSource that names no run). */
  latest(tokenId: string, pipeline: string, minSeq: number): Promise<RunRow | undefined>;
  /** Events of these runs after the given sequence numbers, ordered by run and sequence (one query for every run followed). */
  eventsAfter(cursors: ReadonlyArray<{ runId: string; after: number }>): Promise<RunEventRow[]>;
  /** The status and heartbeat of these runs. */
  states(ids: readonly string[]): Promise<Array<Pick<RunRow, 'id' | 'status' | 'heartbeatAt' | 'lastSeq'>>>;
  /** Asks the owner of a running run of this token to cancel it; answers whether such a run exists. */
  requestCancel(id: string, tokenId: string, at: number): Promise<boolean>;
  /** The running runs of `owner` that someone asked to cancel. */
  cancelRequested(owner: string): Promise<string[]>;
  /** Marks the running runs of `owner` as alive at `at`. */
  heartbeat(owner: string, at: number): Promise<void>;
  /**
   * Ends a running run whose heartbeat is older than `staleBefore` as failed with `error` (JSON),
   * appending its terminal event; answers whether it did (one instance wins).
   */
  finishLost(id: string, staleBefore: number, at: number, error: string, eventData: string): Promise<boolean>;
  /** Deletes up to `limit` runs (and their events) that ended before `endedBefore`; answers how many. */
  prune(endedBefore: number, limit: number): Promise<number>;
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
  /** Idempotency keys of triggers (both dialects: they hold across restarts and instances). */
  readonly idempotency: IdempotencyRepo;
  /**
   * Runs and their events, on PostgreSQL (so that any instance can resume them); null on SQLite,
   * where one process serves them from its memory.
   */
  readonly runs: RunRepo | null;
  /**
   * Runs `work` in one write transaction and answers its result; a throw rolls everything back.
   * SQLite: `BEGIN IMMEDIATE` (serial, also within this process), durable on commit (WAL,
   * synchronous=FULL). PostgreSQL: one transaction on one connection; lock rows with `forUpdate`.
   * `work` must only use `tx` (never the store's own repositories) and must not wait for anything
   * but the database.
   *
   * `durable: false` is for the batched counts of trigger uses, never for a change of state: the
   * commit is whole and survives kill -9, but a power loss or an OS crash may take the last ones
   * (SQLite: synchronous=NORMAL for it, no fsync of the WAL; PostgreSQL: synchronous_commit off).
   */
  transaction<T>(work: (tx: WriteTx) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /**
   * A marker that changes whenever something screens show was committed: every audited change, by
   * this process or another, and every batch of trigger usage counts (PostgreSQL: of any instance;
   * SQLite: of this process, and every commit of another connection). The last-use writes of admin requests do not move it, so that a
   * screen whose own requests are uses (the console) does not refresh itself in a loop. Cheap
   * enough to poll a few times a second.
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

// --- Usage and webhooks (issue 14; docs/usage-and-webhooks.md) -----------------------------------

/** How many requests one token had on one UTC day with one outcome (`accepted` or an error code). */
export interface UsageCountRow {
  tokenId: string;
  /** Epoch milliseconds of the day's 00:00 UTC. */
  day: number;
  outcome: string;
  count: number;
}

export interface UsageRepo {
  /** Adds the counts (one upsert batch: `count = count + excluded.count`); rows must be unique by key. */
  add(rows: readonly UsageCountRow[]): Promise<void>;
  /** A token's rows for the days from `fromDay` to `toDay`, both included. */
  ofToken(tokenId: string, fromDay: number, toDay: number): Promise<UsageCountRow[]>;
  /** Deletes at most `limit` rows of days before `beforeDay`; answers how many it deleted. */
  prune(beforeDay: number, limit: number): Promise<number>;
}

export interface WebhookRow {
  id: string;
  appId: number;
  url: string;
  /** The signing secret (`whsec_…`): stored because the server signs; never shown after creation. */
  secret: string;
  createdAt: number;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface DeliveryRow {
  id: number;
  webhookId: string;
  appId: number;
  eventId: string;
  type: string;
  payload: string;
  createdAt: number;
  status: DeliveryStatus;
  attempts: number;
  /** When the next attempt is due; null once finished. */
  nextAttemptAt: number | null;
  /** A worker holds the delivery until then (null: nobody does). */
  leaseUntil: number | null;
  leaseOwner: string | null;
  lastAttemptAt: number | null;
  lastStatus: number | null;
  lastError: string | null;
  /** When it was delivered or given up. */
  finishedAt: number | null;
}

export interface AttemptRow {
  id: number;
  deliveryId: number;
  at: number;
  responseStatus: number | null;
  error: string | null;
  durationMs: number;
}

/** A due delivery with what sending it needs. */
export interface DueDelivery extends DeliveryRow {
  url: string;
  secret: string;
}

/** A token the expiry scan considers (an active trigger token of an app that has webhooks). */
export interface ExpiryCandidate {
  id: string;
  appId: number;
  app: string;
  name: string;
  createdAt: number;
  expiresAt: number;
  replacedBy: string | null;
}

/** The expiry scan's position for one notice kind: (expires_at, token id), in that order. */
export interface ScanMark {
  kind: string;
  expiresAt: number;
  tokenId: string;
}

export interface WebhookRepo {
  /** Throws `UniqueViolation` when the app has a webhook for that URL. */
  insert(row: WebhookRow): Promise<WebhookRow>;
  /** An app's webhooks, oldest first. */
  listByApp(appId: number): Promise<WebhookRow[]>;
  byId(appId: number, id: string): Promise<WebhookRow | undefined>;
  /** Deletes the webhook and (cascade) its deliveries; answers whether it existed. */
  delete(appId: number, id: string): Promise<boolean>;
  /** Whether any app has a webhook. */
  any(): Promise<boolean>;
  insertDeliveries(rows: ReadonlyArray<Omit<DeliveryRow, 'id'>>): Promise<DeliveryRow[]>;
  /** An app's deliveries, newest first (by id); `before` pages by id (keyset). */
  deliveries(query: { appId: number; webhookId?: string | undefined; status?: DeliveryStatus | undefined; before?: number | undefined; limit: number }): Promise<DeliveryRow[]>;
  /** The attempts of these deliveries, oldest first. */
  attemptsOf(deliveryIds: readonly number[]): Promise<AttemptRow[]>;
  /** A cheap read: is any pending delivery due at `now` and not leased? */
  hasDue(now: number): Promise<boolean>;
  /**
   * Pending deliveries due at `now` and not leased, soonest due first. In a write transaction they
   * are locked until it ends, and rows another transaction locked are skipped (PostgreSQL:
   * `FOR UPDATE SKIP LOCKED`; SQLite's write transactions are serial anyway).
   */
  due(now: number, limit: number): Promise<DueDelivery[]>;
  /** Takes the lease of these deliveries for `owner` until `until`. */
  lease(ids: readonly number[], owner: string, until: number): Promise<void>;
  /**
   * Records an attempt and the delivery's new state, if `owner` still holds its lease (else nothing
   * is written: another worker took it over). Answers whether it wrote.
   */
  finishAttempt(
    id: number,
    owner: string,
    patch: Pick<DeliveryRow, 'status' | 'attempts' | 'nextAttemptAt' | 'lastAttemptAt' | 'lastStatus' | 'lastError' | 'finishedAt'>,
    attempt: Omit<AttemptRow, 'id' | 'deliveryId'>,
  ): Promise<boolean>;
  /** Gives back every lease `owner` holds (a worker that stops). */
  releaseLeases(owner: string): Promise<void>;
  /** Deletes at most `limit` deliveries finished before `before` (with their attempts); answers how many. */
  pruneFinished(before: number, limit: number): Promise<number>;
  /** The scan marks; in a write transaction, locked until it ends (PostgreSQL `FOR UPDATE`). */
  marks(): Promise<ScanMark[]>;
  setMark(mark: ScanMark): Promise<void>;
  /**
   * Active trigger tokens of apps with webhooks whose (expires_at, id) is after `after` (a `tokenId`
   * of '' stands for every token at that instant: only later expiries) and whose
   * expires_at is at most `upTo`, in that order, at most `limit`.
   */
  expiryCandidates(after: { expiresAt: number; tokenId: string }, upTo: number, limit: number): Promise<ExpiryCandidate[]>;
}

/** Thrown by repositories when a unique constraint refuses an insert. */
export class UniqueViolation extends Error {
  constructor(readonly constraint: string) {
    super(`unique constraint ${constraint}`);
    this.name = 'UniqueViolation';
  }
}
