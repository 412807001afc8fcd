import fs from 'node:fs';
import type { Statement } from 'better-sqlite3';
import { and, asc, count, desc, eq, gt, or, inArray, isNotNull, isNull, lt, lte, sql, type SQL } from 'drizzle-orm';
import { isUniqueViolationError } from '../errors';
import {
  UniqueViolation,
  type AppRepo,
  type AuditRepo,
  type ChangeWatch,
  type ConsoleRepo,
  type HotReads,
  type IdempotencyRepo,
  type PipelineRepo,
  type Store,
  type TokenQuery,
  type TokenRepo,
  type TokenRow,
  type TokenState,
  type TokenUse,
  type UsageRepo,
  type VerifyRow,
  type WebhookRepo,
  type TransactionOptions,
  type WriteTx,
} from '../store';
import { MemoryRateLimits } from '../rate-limits';
import { CommitWatch } from './commit-watch';
import { SqliteIdempotency } from './idempotency';
import { sqliteConsoleRepo } from './console';
import { openDatabase, type Db, type Orm } from './open';
import { apps, auditEvents, pipelines, tokens } from './schema';
import { SqliteTokenListing } from './token-listing';
import { sqliteUsageRepo, sqliteWebhookRepo } from './usage-webhooks';

/** `countActive` counts active tokens; which of them are expiring does not matter there. */
const EXPIRING_NEVER = { windowMs: 0, lifetimeFraction: 1 };

/** How many ids one `IN (…)` binds: SQLite caps the number of bound parameters. */
const IN_BATCH = 500;
/** Below this much free space on the data directory's filesystem, /readyz reports not ready. */
export const DEFAULT_MIN_FREE_BYTES = 16 * 1_048_576;

function unique<T>(work: () => T, constraint: string): T {
  try {
    return work();
  } catch (error) {
    if (isUniqueViolationError(error)) throw new UniqueViolation(constraint);
    throw error;
  }
}

/** The repositories over one connection (the store's own, used inside and outside transactions). */
class SqliteRepos implements WriteTx {
  readonly apps: AppRepo;
  readonly pipelines: PipelineRepo;
  readonly tokens: TokenRepo;
  readonly audit: AuditRepo;
  readonly usage: UsageRepo;
  readonly webhooks: WebhookRepo;
  readonly console: ConsoleRepo;

  constructor(
    orm: Orm,
    sqlite: Db['sqlite'],
    private readonly onTokenChanged: (id: string) => void,
    onUsageCounted: () => void = () => {},
  ) {
    const listing = new SqliteTokenListing(sqlite);
    const usage = sqliteUsageRepo(orm, sqlite);
    this.usage = {
      ...usage,
      add: async (rows) => {
        await usage.add(rows);
        if (rows.length > 0) onUsageCounted();
      },
    };
    this.webhooks = sqliteWebhookRepo(orm);
    this.apps = {
      list: async () => orm.select().from(apps).orderBy(asc(apps.slug)).all(),
      bySlug: async (slug) => orm.select().from(apps).where(eq(apps.slug, slug)).get(),
      count: async () => orm.select({ n: count() }).from(apps).get()?.n ?? 0,
      insert: async (row) => unique(() => orm.insert(apps).values(row).returning().get(), 'apps_slug'),
    };
    this.pipelines = {
      listByApp: async (appId) => orm.select().from(pipelines).where(eq(pipelines.appId, appId)).orderBy(asc(pipelines.slug)).all(),
      find: async (appId, slug) =>
        orm
          .select()
          .from(pipelines)
          .where(and(eq(pipelines.appId, appId), eq(pipelines.slug, slug)))
          .get(),
      insert: async (row) => unique(() => orm.insert(pipelines).values({ ...row, kind: row.kind as 'echo' }).returning().get(), 'pipelines_app_slug'),
      update: async (appId, slug, patch) =>
        orm
          .update(pipelines)
          .set({ ...patch, kind: patch.kind as 'echo' })
          .where(and(eq(pipelines.appId, appId), eq(pipelines.slug, slug)))
          .returning()
          .get(),
      delete: async (appId, slug) =>
        orm
          .delete(pipelines)
          .where(and(eq(pipelines.appId, appId), eq(pipelines.slug, slug)))
          .returning({ slug: pipelines.slug })
          .all().length > 0,
    };
    this.tokens = {
      insert: async (row) => unique(() => orm.insert(tokens).values(row).returning().get(), 'tokens_hash'),
      byId: async (id) => {
        const found = orm.select({ row: tokens, appSlug: apps.slug }).from(tokens).leftJoin(apps, eq(apps.id, tokens.appId)).where(eq(tokens.id, id)).get();
        return found ? { row: found.row, appSlug: found.appSlug } : undefined;
      },
      update: async (id, patch) => orm.update(tokens).set(patch).where(eq(tokens.id, id)).returning().get()!,
      list: async (query) => listing.list(query),
      count: async (query, atMost) => listing.count(query, atMost),
      countActive: async (appId, now) => listing.count({ owner: { appId }, status: 'active', now, expiring: EXPIRING_NEVER }, Infinity),
      recordUses: async () => {
        throw new Error('recordUses runs through SqliteStore.recordUses');
      },
    };
    this.console = sqliteConsoleRepo(orm);
    this.audit = {
      insert: async (row) => {
        orm.insert(auditEvents).values(row).run();
      },
      list: async (query) =>
        orm
          .select()
          .from(auditEvents)
          .where(
            and(
              query.app ? eq(auditEvents.app, query.app) : undefined,
              query.before ? lt(auditEvents.id, query.before) : undefined,
              query.after ? gt(auditEvents.id, query.after) : undefined,
            ),
          )
          .orderBy(query.from === 'oldest' ? asc(auditEvents.id) : desc(auditEvents.id))
          .limit(query.limit)
          .all(),
      // The oldest rows by id (the primary key: no scan), of which those older than `at`.
      pruneBefore: async (at, limit) =>
        orm.run(sql`DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events ORDER BY id LIMIT ${limit}) AND at < ${at}`).changes,
    };
  }

  async tokenChanged(tokenId: string): Promise<void> {
    this.onTokenChanged(tokenId);
  }
}

/**
 * The embedded default: one SQLite file in the data directory, shared by the server, the CLI and the
 * TUI (WAL, a busy timeout, IMMEDIATE write transactions, synchronous=FULL).
 *
 * Hot reads are synchronous prepared statements. Write transactions are serialised within this
 * process (a queue) as well as between processes (`BEGIN IMMEDIATE`), because the repositories'
 * promises let other work run between their statements.
 */
export class SqliteStore implements Store {
  readonly dialect = 'sqlite' as const;
  readonly location: string;
  readonly appliedMigrations: number;
  readonly apps: AppRepo;
  readonly pipelines: PipelineRepo;
  readonly tokens: TokenRepo;
  readonly audit: AuditRepo;
  readonly usage: UsageRepo;
  readonly webhooks: WebhookRepo;
  readonly console: ConsoleRepo;
  readonly hot: HotReads;
  private readonly hotReads: SqliteHotReads;
  readonly rateLimits = new MemoryRateLimits();
  readonly idempotency: IdempotencyRepo;
  /** Runs live in this process's memory on SQLite (one instance): see src/runs/. */
  readonly runs = null;
  private readonly repos: SqliteRepos;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly tokenListeners = new Set<(ids: ReadonlySet<string>) => void>();
  private readonly versionStatement: Statement<[], { v: number; c: number }>;
  /** Batches of trigger usage counts this process wrote (the charts' changes; see changeMarker). */
  private usageCounted = 0;
  private readonly recordUseStatement: Statement<[{ at: number; ip: string | null; id: string }]>;

  constructor(
    readonly db: Db,
    private readonly options: { minFreeBytes?: number } = {},
  ) {
    this.location = db.file;
    this.appliedMigrations = db.appliedMigrations;
    this.repos = new SqliteRepos(
      db.orm,
      db.sqlite,
      (id) => this.announce(id),
      () => this.usageCounted++,
    );
    this.apps = this.repos.apps;
    this.pipelines = this.repos.pipelines;
    this.audit = this.repos.audit;
    this.console = this.repos.console;
    this.usage = this.repos.usage;
    this.webhooks = this.repos.webhooks;
    // Both assignments see the row as it was: the address follows only a use that is the latest.
    this.recordUseStatement = db.sqlite.prepare(
      `UPDATE tokens SET last_used_ip = CASE WHEN :at >= coalesce(last_used_at, 0) THEN coalesce(:ip, last_used_ip) ELSE last_used_ip END,
                         last_used_at = max(coalesce(last_used_at, 0), :at)
        WHERE id = :id`,
    );
    this.tokens = { ...this.repos.tokens, recordUses: async (uses) => this.recordUses(uses) };
    // data_version moves with every commit of another connection (the CLI, the TUI, another process);
    // this process's own changes that screens show are audited (the newest audit event id stands for
    // them) or trigger usage counts (usageCounted). Not total_changes(): the last-use writes of the
    // admin API's own requests would move it, and an open console would reload itself every few
    // seconds, its reloads being uses of its admin token.
    this.versionStatement = db.sqlite.prepare('SELECT (SELECT data_version FROM pragma_data_version) AS v, (SELECT coalesce(max(id), 0) FROM audit_events) AS c');
    this.hot = this.hotReads = new SqliteHotReads(db);
    this.idempotency = new SqliteIdempotency(db, (work) => this.serial(work));
  }

  static open(dataDir: string, options: { minFreeBytes?: number; pageCacheKiB?: number } = {}): SqliteStore {
    return new SqliteStore(openDatabase(dataDir, { pageCacheKiB: options.pageCacheKiB }), options);
  }

  /**
   * Runs `work` alone on this connection: the repositories' promises let other work run between
   * their statements, so every transaction (and the batched last-use writes) waits its turn here.
   */
  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work);
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  transaction<T>(work: (tx: WriteTx) => Promise<T>, options?: TransactionOptions): Promise<T> {
    const write = async () => {
      const sqlite = this.db.sqlite;
      sqlite.exec('BEGIN IMMEDIATE');
      try {
        const result = await work(this.repos);
        sqlite.exec('COMMIT');
        return result;
      } catch (error) {
        if (sqlite.inTransaction) sqlite.exec('ROLLBACK');
        throw error;
      } finally {
        // Rows read during the transaction (this connection sees its own uncommitted writes) and
        // rows it changed are both stale now: verification reads again.
        this.hotReads.invalidate();
      }
    };
    return this.serial(options?.durable === false ? () => this.withoutFsync(write) : write);
  }

  /**
   * Runs `write` (inside `serial`) with synchronous=NORMAL: its commit does not fsync the WAL (see
   * Store.transaction's `durable: false`). The connection is durable again (FULL) after it, however
   * it ended.
   */
  private async withoutFsync<T>(write: () => T | Promise<T>): Promise<T> {
    const sqlite = this.db.sqlite;
    sqlite.pragma('synchronous = NORMAL');
    try {
      return await write();
    } finally {
      sqlite.pragma('synchronous = FULL');
    }
  }

  /**
   * The batched last uses: not a change of state, so committed like the usage counts, without an
   * fsync. The WAL's fsync at each commit was most of a flush's time, a stall of the event loop
   * every few seconds that trigger requests waited out.
   */
  private recordUses(uses: ReadonlyArray<TokenUse>): Promise<void> {
    if (uses.length === 0) return Promise.resolve();
    return this.serial(() =>
      this.withoutFsync(() =>
        this.db.sqlite
          .transaction(() => {
            for (const use of uses) this.recordUseStatement.run({ at: use.at, ip: use.ip ?? null, id: use.id });
          })
          .immediate(),
      ),
    );
  }

  /** In-process token changes reach this process's watchers at once (other processes: data_version). */
  private announce(id: string): void {
    this.hotReads.invalidate();
    if (this.tokenListeners.size === 0) return;
    const ids = new Set([id]);
    // After the commit: listeners re-read the token, and must see the new state.
    queueMicrotask(() => setImmediate(() => this.tokenListeners.forEach((listener) => listener(ids))));
  }

  async changeMarker(): Promise<string> {
    const { v, c } = this.versionStatement.get()!;
    return `${v}:${c}:${this.usageCounted}`;
  }

  watchTokenChanges(options: { pollIntervalMs: number }): ChangeWatch {
    let timer: NodeJS.Timeout | undefined;
    let last = '';
    let listener: ((ids: ReadonlySet<string>) => void) | undefined;
    const store = this;
    return {
      healthy: true,
      start(onChange) {
        if (timer) return;
        listener = (ids) => onChange(ids);
        store.tokenListeners.add(listener);
        const { v, c } = store.versionStatement.get()!;
        last = `${v}:${c}`;
        timer = setInterval(() => {
          let marker: string;
          try {
            const { v: version, c: changes } = store.versionStatement.get()!;
            marker = `${version}:${changes}`;
          } catch {
            return; // the file cannot be read now; the next tick tries again
          }
          if (marker === last) return;
          last = marker;
          onChange('all');
        }, options.pollIntervalMs);
        timer.unref();
      },
      async stop() {
        clearInterval(timer);
        timer = undefined;
        if (listener) store.tokenListeners.delete(listener);
      },
    };
  }

  async checkReady(): Promise<string | undefined> {
    const sqlite = this.db.sqlite;
    // A write lock taken and given back: refuses a read-only file or directory, or a file another
    // process keeps locked; nothing is written (so pollers do not see a change).
    await this.serial(async () => {
      sqlite.exec('BEGIN IMMEDIATE');
      sqlite.exec('ROLLBACK');
    });
    const minFree = this.options.minFreeBytes ?? DEFAULT_MIN_FREE_BYTES;
    const stats = fs.statfsSync(this.db.dataDir);
    const free = stats.bavail * stats.bsize;
    if (free < minFree) {
      return `the disk holding ${this.db.dataDir} has ${free} bytes free, less than the ${minFree} needed to accept writes (MM_READY_MIN_FREE)`;
    }
    return undefined;
  }

  async close(): Promise<void> {
    this.db.close();
    // After the connection: the -shm descriptor it shares must outlive the connection's locks.
    this.hotReads.commits.release();
  }
}

/** Cached verification rows kept at most (then the cache starts again empty). */
const VERIFY_CACHE_MAX = 10_000;

/**
 * The trigger path's reads: prepared once, answered synchronously.
 *
 * Verification rows are cached per token hash (and pipeline) while nothing could have changed
 * them, which is checked on every call: the commits of any connection — the CLI, another server
 * process — seen in the WAL index's header (CommitWatch; SQLite's `data_version` where there is no
 * WAL index) and this store's write generation (it moves when a
 * write transaction of this connection ends, committed or not, and when a token of it changes). So
 * a revoke that returned, from any process, is seen by the next verification; what is judged per
 * request (expiry against the clock, revoked_at) is judged on the row as read. Only the hot path's
 * verification is cached; the re-check before a slow body's run reads the row.
 *
 * Pipelines read apart from a verification (the OpenAI door names its pipeline in the body) are
 * cached the same way, in the same generation of the cache; asked in the same event-loop turn as the
 * request's verification, they are answered as of that verification (what the trigger's one read
 * would have seen) without looking for commits a second time.
 */
class SqliteHotReads implements HotReads {
  /** Commits of any connection since the last look (see CommitWatch). */
  readonly commits: CommitWatch;
  private readonly byHash = new Map<string, VerifyRow>();
  private readonly byHashAndPipeline = new Map<string, Map<string, VerifyRow>>();
  /** Pipelines by `${appId}/${slug}` (null: the app has no such pipeline). */
  private readonly pipelines = new Map<string, { kind: string; config: string } | null>();
  private cachedGeneration = -1;
  private generation = 0;
  private readonly verifyStatement: Statement<[string], VerifyRow>;
  private readonly verifyWithPipelineStatement: Statement<[string, string], VerifyRow>;
  private readonly stateStatement: Statement<[string], TokenState>;
  private readonly pipelineStatement: Statement<[number, string], { kind: string; config: string }>;

  constructor(private readonly db: Db) {
    const sqlite = db.sqlite;
    this.commits = new CommitWatch(sqlite, db.file);
    this.verifyStatement = sqlite.prepare(
      `SELECT t.id, t.kind, t.app_id, a.slug AS app, t.expires_at, t.revoked_at, t.rate_limit, t.pipelines, t.allowed_ips
         FROM tokens t LEFT JOIN apps a ON a.id = t.app_id
        WHERE t.hash = ?`,
    );
    this.verifyWithPipelineStatement = sqlite.prepare(
      `SELECT t.id, t.kind, t.app_id, a.slug AS app, t.expires_at, t.revoked_at, t.rate_limit, t.pipelines, t.allowed_ips,
              p.kind AS pipeline_kind, p.config AS pipeline_config
         FROM tokens t
         LEFT JOIN apps a ON a.id = t.app_id
         LEFT JOIN pipelines p ON p.app_id = t.app_id AND p.slug = ?
        WHERE t.hash = ?`,
    );
    this.stateStatement = sqlite.prepare('SELECT id, revoked_at AS revokedAt, expires_at AS expiresAt FROM tokens WHERE id = ?');
    this.pipelineStatement = sqlite.prepare('SELECT kind, config FROM pipelines WHERE app_id = ? AND slug = ?');
  }

  /** Something this connection wrote may have changed a verification row: cached rows are dropped. */
  invalidate(): void {
    this.generation++;
  }

  /** Drops every cached row when a connection may have committed (`checkCommits`) or this one wrote since they were read. */
  private validate(checkCommits: boolean): void {
    const committed = checkCommits && this.commits.changed();
    if (committed || this.generation !== this.cachedGeneration) {
      this.byHash.clear();
      this.byHashAndPipeline.clear();
      this.pipelines.clear();
      this.cachedGeneration = this.generation;
    }
  }

  verify(hash: string, pipeline?: string): VerifyRow | undefined {
    this.validate(true);
    if (pipeline === undefined) {
      let row = this.byHash.get(hash);
      if (row === undefined) {
        row = this.verifyStatement.get(hash);
        if (row !== undefined) {
          if (this.byHash.size >= VERIFY_CACHE_MAX) this.byHash.clear();
          this.byHash.set(hash, row);
        }
      }
      return row;
    }
    let pipelines = this.byHashAndPipeline.get(hash);
    let row = pipelines?.get(pipeline);
    if (row === undefined) {
      row = this.verifyWithPipelineStatement.get(pipeline, hash);
      if (row !== undefined) {
        if (pipelines === undefined) {
          if (this.byHashAndPipeline.size >= VERIFY_CACHE_MAX) this.byHashAndPipeline.clear();
          this.byHashAndPipeline.set(hash, (pipelines = new Map()));
        }
        // A token asked for ever new pipeline names (mostly 404s) must not grow the cache without bound.
        if (pipelines.size >= 64) pipelines.clear();
        pipelines.set(pipeline, row);
      }
    }
    return row;
  }

  tokenStates(ids: readonly string[]): TokenState[] {
    if (ids.length === 1) {
      const row = this.stateStatement.get(ids[0]!);
      return row ? [row] : [];
    }
    const states: TokenState[] = [];
    for (let start = 0; start < ids.length; start += IN_BATCH) {
      const batch = ids.slice(start, start + IN_BATCH);
      states.push(
        ...this.db.orm
          .select({ id: tokens.id, revokedAt: tokens.revokedAt, expiresAt: tokens.expiresAt })
          .from(tokens)
          .where(inArray(tokens.id, batch))
          .all(),
      );
    }
    return states;
  }

  pipeline(appId: number, slug: string, asOfVerify = false): { kind: string; config: string } | undefined {
    this.validate(!asOfVerify);
    const key = `${appId}/${slug}`;
    let row = this.pipelines.get(key);
    if (row === undefined) {
      row = this.pipelineStatement.get(appId, slug) ?? null;
      if (this.pipelines.size >= VERIFY_CACHE_MAX) this.pipelines.clear();
      this.pipelines.set(key, row);
    }
    return row ?? undefined;
  }
}

export type { TokenRow };
