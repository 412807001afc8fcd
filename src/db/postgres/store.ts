import { and, asc, count, desc, eq, gt, or, isNotNull, isNull, lt, lte, sql as dsql, type SQL } from 'drizzle-orm';
import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { AppError } from '../../errors';
import { isUniqueViolationError } from '../errors';
import { embeddedMigrations } from '../migrations';
import { gcraParameters, retryAfterSeconds, type RateLimits } from '../rate-limits';
import {
  UniqueViolation,
  type AppRepo,
  type AuditRepo,
  type ChangeWatch,
  type ConsoleRepo,
  type HotReads,
  type IdempotencyRepo,
  type PipelineRepo,
  type RunRepo,
  type Store,
  type TokenCountQuery,
  type TokenKey,
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
import { postgresConsoleRepo } from './console';
import { NameSearch } from './name-search';
import { applyPostgresMigrations } from './migrate';
import { postgresUsageRepo, postgresWebhookRepo } from './usage-webhooks';
import { PostgresIdempotency, PostgresRuns } from './runs';
import * as schema from './schema';
import { apps, auditEvents, pipelines, tokenEvents, tokens } from './schema';

type Orm = PostgresJsDatabase<typeof schema>;
/** The query interface shared by the database and a transaction (drizzle's types differ only in `$client`). */
type Queries = Pick<Orm, 'select' | 'insert' | 'update' | 'delete' | 'execute'>;

/** The channel on which token changes are announced (payload: the token id). */
export const TOKEN_CHANNEL = 'mechamental_tokens';
/** How long `token_events` rows are kept (they only serve as a change counter and for diagnosis). */
const TOKEN_EVENTS_KEPT_MS = 86_400_000;

export interface PostgresOptions {
  /** Connections in the pool (MM_DATABASE_POOL). */
  poolSize?: number;
  /** Seconds to wait for a connection before a query fails. */
  connectTimeoutSeconds?: number;
}

/** The URL as people may see it: user, hosts, ports and database, never the password or parameters. */
export function describeUrl(url: string): string {
  const scheme = /^postgres(?:ql)?:\/\//.exec(url)?.[0];
  if (!scheme) return 'postgres://(unparseable URL)';
  const rest = url.slice(scheme.length).split(/[?#]/)[0]!;
  const slash = rest.indexOf('/');
  const authority = slash === -1 ? rest : rest.slice(0, slash);
  const database = slash === -1 ? '' : rest.slice(slash);
  // The userinfo ends at the authority's LAST "@" (a password may hold an unescaped one).
  const at = authority.lastIndexOf('@');
  const user = at === -1 ? '' : authority.slice(0, at).split(':')[0]!;
  const hosts = at === -1 ? authority : authority.slice(at + 1);
  return `${scheme}${user ? `${user}@` : ''}${hosts}${database}`;
}

/** The driver's options shared by the pool and the LISTEN connection. */
function clientOptions(options: PostgresOptions): postgres.Options<Record<string, postgres.PostgresType>> {
  return {
    max: options.poolSize ?? 10,
    connect_timeout: options.connectTimeoutSeconds ?? 5,
    idle_timeout: 60,
    // CREATE … IF NOT EXISTS and friends send NOTICEs; they are not for the operator's terminal.
    onnotice: () => {},
    connection: { application_name: 'mechamental' },
    // bigint (int8) columns hold epoch milliseconds and ids, all far below 2^53: read them as numbers.
    types: {
      int8: { to: 20, from: [20], serialize: (value: number) => String(value), parse: (value: string) => Number(value) },
    },
  };
}

function statusCondition(status: TokenQuery['status'], now: number, rule: TokenQuery['expiring']): SQL | undefined {
  switch (status) {
    case undefined:
      return undefined;
    case 'revoked':
      return isNotNull(tokens.revokedAt);
    case 'expired':
      return and(isNull(tokens.revokedAt), lte(tokens.expiresAt, now));
    case 'expiring':
      return and(
        isNull(tokens.revokedAt),
        gt(tokens.expiresAt, now),
        lte(tokens.expiresAt, now + rule.windowMs),
        or(isNotNull(tokens.replacedBy), lte(dsql`${tokens.createdAt} + (${tokens.expiresAt} - ${tokens.createdAt}) * cast(${rule.lifetimeFraction} as double precision)`, now)),
      );
    case 'active':
      return and(isNull(tokens.revokedAt), gt(tokens.expiresAt, now));
  }
}

/** Active at `now`, created at or before `since`, and not used since then (or never). */
function unusedSince(since: number, now: number): SQL | undefined {
  return and(
    isNull(tokens.revokedAt),
    gt(tokens.expiresAt, now),
    lte(tokens.createdAt, since),
    or(isNull(tokens.lastUsedAt), lte(tokens.lastUsedAt, since)),
  );
}

/**
 * The WHERE terms of a token listing or count without its paging. An app's tokens are `app_id = ?`
 * and admin tokens `app_id IS NULL` (the same rows as kind = 'admin', by the check constraint), so
 * that both read the indexes that lead with app_id. The planner chooses among them with its
 * statistics: the listing order (tokens_app_created), a status in listing order (tokens_app_live,
 * tokens_app_revoked), a count by expiry (tokens_app_expiry), and for a name search the trigram
 * index tokens_name_trgm where pg_trgm was available (migration 0007), asked for the search text's
 * rarest part (`search`: NameSearch.condition).
 */
function selection(query: TokenCountQuery, search: SQL | undefined): Array<SQL | undefined> {
  return [
    query.owner === 'admin' ? isNull(tokens.appId) : eq(tokens.appId, query.owner.appId),
    statusCondition(query.status, query.now, query.expiring),
    search,
    query.unusedSince !== undefined ? unusedSince(query.unusedSince, query.now) : undefined,
  ];
}

/** Keyset paging in the listing order (created_at, then id, both descending). */
function keyset(after: TokenKey | undefined, before: TokenKey | undefined): Array<SQL | undefined> {
  return [
    after ? dsql`(${tokens.createdAt}, ${tokens.id}) < (${after.createdAt}, ${after.id})` : undefined,
    before ? dsql`(${tokens.createdAt}, ${tokens.id}) > (${before.createdAt}, ${before.id})` : undefined,
  ];
}

async function unique<T>(work: Promise<T>, constraint: string): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (isUniqueViolationError(error)) throw new UniqueViolation(constraint);
    throw error;
  }
}

class PostgresRepos implements WriteTx {
  readonly apps: AppRepo;
  readonly pipelines: PipelineRepo;
  readonly tokens: TokenRepo;
  readonly audit: AuditRepo;
  readonly usage: UsageRepo;
  readonly webhooks: WebhookRepo;
  readonly console: ConsoleRepo;

  constructor(
    private readonly q: Queries,
    private readonly clock: () => number,
    names: NameSearch,
  ) {
    const searchOf = (query: TokenCountQuery) => (query.search ? names.condition(query.search) : undefined);
    this.usage = postgresUsageRepo(q);
    this.webhooks = postgresWebhookRepo(q);
    this.apps = {
      list: () => q.select().from(apps).orderBy(asc(apps.slug)),
      bySlug: async (slug) => (await q.select().from(apps).where(eq(apps.slug, slug)).limit(1))[0],
      count: async () => (await q.select({ n: count() }).from(apps))[0]?.n ?? 0,
      insert: async (row) => (await unique(q.insert(apps).values(row).returning(), 'apps_slug'))[0]!,
    };
    this.pipelines = {
      listByApp: (appId) => q.select().from(pipelines).where(eq(pipelines.appId, appId)).orderBy(asc(pipelines.slug)),
      find: async (appId, slug) =>
        (
          await q
            .select()
            .from(pipelines)
            .where(and(eq(pipelines.appId, appId), eq(pipelines.slug, slug)))
            .limit(1)
        )[0],
      insert: async (row) => (await unique(q.insert(pipelines).values({ ...row, kind: row.kind as 'echo' }).returning(), 'pipelines_app_slug'))[0]!,
      update: async (appId, slug, patch) =>
        (
          await q
            .update(pipelines)
            .set({ ...patch, kind: patch.kind as 'echo' })
            .where(and(eq(pipelines.appId, appId), eq(pipelines.slug, slug)))
            .returning()
        )[0],
      delete: async (appId, slug) =>
        (
          await q
            .delete(pipelines)
            .where(and(eq(pipelines.appId, appId), eq(pipelines.slug, slug)))
            .returning({ slug: pipelines.slug })
        ).length > 0,
    };
    this.tokens = {
      insert: async (row) => (await unique(q.insert(tokens).values(row).returning(), 'tokens_hash'))[0]!,
      byId: async (id, options) => {
        const query = q.select({ row: tokens, appSlug: apps.slug }).from(tokens).leftJoin(apps, eq(apps.id, tokens.appId)).where(eq(tokens.id, id));
        const [found] = options?.forUpdate ? await query.for('update', { of: tokens }) : await query;
        return found ? { row: found.row, appSlug: found.appSlug } : undefined;
      },
      update: async (id, patch) => (await q.update(tokens).set(patch).where(eq(tokens.id, id)).returning())[0]!,
      list: async (query) => {
        const listing = q
          .select()
          .from(tokens)
          .where(and(...selection(query, await searchOf(query)), ...keyset(query.after, query.before)))
          .orderBy(...(query.from === 'oldest' ? [asc(tokens.createdAt), asc(tokens.id)] : [desc(tokens.createdAt), desc(tokens.id)]));
        return query.limit === undefined ? listing : listing.limit(query.limit);
      },
      count: async (query, atMost) => {
        const selected = q
          .select({ one: dsql`1` })
          .from(tokens)
          .where(and(...selection(query, await searchOf(query))));
        const capped = Number.isFinite(atMost) ? selected.limit(atMost) : selected;
        const [row] = await q.select({ n: count() }).from(capped.as('selected'));
        return row?.n ?? 0;
      },
      countActive: async (appId, now) =>
        (
          await q
            .select({ n: count() })
            .from(tokens)
            .where(and(eq(tokens.appId, appId), isNull(tokens.revokedAt), gt(tokens.expiresAt, now)))
        )[0]?.n ?? 0,
      recordUses: async () => {
        throw new Error('recordUses runs through PostgresStore.recordUses');
      },
    };
    this.console = postgresConsoleRepo(q);
    this.audit = {
      insert: async (row) => {
        await q.insert(auditEvents).values(row);
      },
      list: (query) =>
        q
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
          .limit(query.limit),
      // The oldest rows by id (the primary key: no scan), of which those older than `at`.
      pruneBefore: async (at, limit) => {
        const deleted = await q.execute(dsql`DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events ORDER BY id LIMIT ${limit}) AND at < ${at}`);
        return (deleted as unknown as { count: number }).count;
      },
    };
  }

  async tokenChanged(tokenId: string): Promise<void> {
    const now = this.clock();
    await this.q.insert(tokenEvents).values({ tokenId, at: now });
    // Delivered to every listening instance when (and only if) this transaction commits.
    await this.q.execute(dsql`SELECT pg_notify(${TOKEN_CHANNEL}, ${tokenId})`);
    // Keep the table small: old events only served as a change counter.
    await this.q.delete(tokenEvents).where(lt(tokenEvents.at, now - TOKEN_EVENTS_KEPT_MS));
  }
}

/**
 * Every table in one PostgreSQL database, for any number of instances. Verification reads the
 * database on every request (nothing is cached that a revoke on another instance could invalidate);
 * token changes are announced with `pg_notify` in the transaction that makes them and recorded in
 * `token_events`, so that every instance ends the streams of a revoked token at once, and catches up
 * after its LISTEN connection was lost.
 */
export class PostgresStore implements Store {
  readonly dialect = 'postgres' as const;
  readonly apps: AppRepo;
  readonly pipelines: PipelineRepo;
  readonly tokens: TokenRepo;
  readonly audit: AuditRepo;
  readonly usage: UsageRepo;
  readonly webhooks: WebhookRepo;
  readonly console: ConsoleRepo;
  readonly hot: HotReads;
  readonly rateLimits: RateLimits;
  readonly idempotency: IdempotencyRepo;
  readonly runs: RunRepo;
  private readonly orm: Orm;
  private readonly names: NameSearch;
  private readonly watches = new Set<PostgresTokenWatch>();

  private constructor(
    private readonly url: string,
    readonly sql: postgres.Sql,
    private readonly options: PostgresOptions,
    readonly location: string,
    readonly appliedMigrations: number,
    private readonly clock: () => number,
  ) {
    this.orm = drizzle({ client: sql, schema });
    this.names = new NameSearch(sql, clock);
    const repos = new PostgresRepos(this.orm, clock, this.names);
    this.apps = repos.apps;
    this.pipelines = repos.pipelines;
    this.tokens = { ...repos.tokens, recordUses: (uses) => this.recordUses(uses) };
    this.audit = repos.audit;
    this.usage = repos.usage;
    this.webhooks = repos.webhooks;
    this.console = repos.console;
    this.hot = new PostgresHotReads(sql);
    this.rateLimits = new PostgresRateLimits(sql);
    this.idempotency = new PostgresIdempotency(sql);
    this.runs = new PostgresRuns(sql);
  }

  /**
   * Connects, refuses a database written by a newer mechamental or holding another program's tables,
   * and applies pending migrations (once, however many instances start together).
   */
  static async open(url: string, options: PostgresOptions & { clock: () => number }): Promise<PostgresStore> {
    const location = describeUrl(url);
    const sql = postgres(url, clientOptions(options));
    let applied: number;
    try {
      applied = await applyPostgresMigrations(sql, embeddedMigrations('postgres'), location);
    } catch (error) {
      await sql.end({ timeout: 1 }).catch(() => {});
      throw describeConnectError(error, location);
    }
    return new PostgresStore(url, sql, options, location, applied, options.clock);
  }

  transaction<T>(work: (tx: WriteTx) => Promise<T>, options?: TransactionOptions): Promise<T> {
    return this.orm.transaction(async (tx) => {
      if (options?.durable === false) await tx.execute(dsql`SET LOCAL synchronous_commit = off`);
      return work(new PostgresRepos(tx, this.clock, this.names));
    });
  }

  /** One statement for the whole batch; GREATEST keeps a later time written by another instance. */
  private async recordUses(uses: ReadonlyArray<TokenUse>): Promise<void> {
    if (uses.length === 0) return;
    // Both assignments see the row as it was: the address follows only a use that is the latest.
    await this.sql`UPDATE tokens AS t
      SET last_used_ip = CASE WHEN u.at >= coalesce(t.last_used_at, 0) THEN coalesce(u.ip, t.last_used_ip) ELSE t.last_used_ip END,
          last_used_at = GREATEST(coalesce(t.last_used_at, 0), u.at)
      FROM (SELECT unnest(${uses.map((u) => u.id)}::text[]) AS id, unnest(${uses.map((u) => String(u.at))}::bigint[]) AS at,
                   unnest(${uses.map((u) => u.ip ?? null) as string[]}::text[]) AS ip) AS u
      WHERE t.id = u.id`;
  }

  async changeMarker(): Promise<string> {
    const [row] = await this.sql<Array<{ a: number; t: number; u: string }>>`
      SELECT (SELECT coalesce(max(id), 0) FROM audit_events) AS a, (SELECT coalesce(max(seq), 0) FROM token_events) AS t,
             (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM usage_batches) AS u`;
    return `${row!.a}:${row!.t}:${row!.u}`;
  }

  watchTokenChanges(options: { pollIntervalMs: number }): ChangeWatch {
    const watch = new PostgresTokenWatch(this.url, this.options, this.sql, options.pollIntervalMs, (w) => this.watches.delete(w));
    this.watches.add(watch);
    return watch;
  }

  async checkReady(): Promise<string | undefined> {
    const [row] = await this.sql<Array<{ read_only: string }>>`SELECT current_setting('transaction_read_only') AS read_only`;
    if (row?.read_only === 'on') return `${this.location} accepts no writes (is it a standby?)`;
    return undefined;
  }

  async close(): Promise<void> {
    await Promise.all([...this.watches].map((watch) => watch.stop()));
    await this.sql.end({ timeout: 5 });
  }
}

/** A failure to connect or migrate at start, as one sentence without the password. */
function describeConnectError(error: unknown, location: string): unknown {
  if (error instanceof AppError) return error;
  const code = (error as { code?: string }).code ?? '';
  const message = (error as Error).message ?? String(error);
  if (code === '28P01' || code === '28000') return new AppError('io_error', `cannot sign in to ${location}: ${message}; check the user and password in MM_DATABASE_URL`);
  if (code === '3D000') return new AppError('io_error', `${location}: ${message}; create it first (CREATE DATABASE …)`);
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'CONNECT_TIMEOUT' || code === 'EAI_AGAIN' || code === 'ETIMEDOUT') {
    return new AppError('unavailable', `cannot reach PostgreSQL at ${location} (${code}); is it running, and is MM_DATABASE_URL right?`);
  }
  return new AppError('io_error', `cannot open ${location}: ${message}`);
}

/**
 * GCRA (see src/db/rate-limits.ts) with its state in `rate_limits`: one upsert moves the token's
 * theoretical arrival time on, or — when the request would exceed the burst — changes nothing and
 * answers no row; only then is the row read again for Retry-After. Atomic per row, so concurrent
 * requests on any number of instances share one limit.
 */
class PostgresRateLimits implements RateLimits {
  constructor(private readonly sql: postgres.Sql) {}

  async take(tokenId: string, perMinute: number, now: number): Promise<number> {
    const { interval, burst } = gcraParameters(perMinute);
    const taken = await this.sql<Array<{ tat: number }>>`
      INSERT INTO rate_limits AS r (token_id, tat) VALUES (${tokenId}, ${Math.round(now + interval)})
      ON CONFLICT (token_id) DO UPDATE SET tat = GREATEST(r.tat, ${now}::bigint) + ${interval}::float8
        WHERE GREATEST(r.tat, ${now}::bigint) - ${now}::bigint <= ${burst}::float8
      RETURNING tat`;
    if (taken.length > 0) return 0;
    const [row] = await this.sql<Array<{ tat: number }>>`SELECT tat FROM rate_limits WHERE token_id = ${tokenId}`;
    return retryAfterSeconds(row?.tat ?? now, now, burst);
  }
}

class PostgresHotReads implements HotReads {
  constructor(private readonly sql: postgres.Sql) {}

  async verify(hash: string, pipeline?: string): Promise<VerifyRow | undefined> {
    const rows =
      pipeline === undefined
        ? await this.sql<VerifyRow[]>`
            SELECT t.id, t.kind, t.app_id, a.slug AS app, t.expires_at, t.revoked_at, t.rate_limit, t.pipelines, t.allowed_ips
              FROM tokens t LEFT JOIN apps a ON a.id = t.app_id
             WHERE t.hash = ${hash}`
        : await this.sql<VerifyRow[]>`
            SELECT t.id, t.kind, t.app_id, a.slug AS app, t.expires_at, t.revoked_at, t.rate_limit, t.pipelines, t.allowed_ips,
                   p.kind AS pipeline_kind, p.config AS pipeline_config
              FROM tokens t
              LEFT JOIN apps a ON a.id = t.app_id
              LEFT JOIN pipelines p ON p.app_id = t.app_id AND p.slug = ${pipeline}
             WHERE t.hash = ${hash}`;
    return rows[0];
  }

  async tokenStates(ids: readonly string[]): Promise<TokenState[]> {
    if (ids.length === 0) return [];
    return this.sql<TokenState[]>`SELECT id, revoked_at AS "revokedAt", expires_at AS "expiresAt" FROM tokens WHERE id = ANY(${ids as string[]}::text[])`;
  }

  async pipeline(appId: number, slug: string): Promise<{ kind: string; config: string } | undefined> {
    const rows = await this.sql<Array<{ kind: string; config: string }>>`SELECT kind, config FROM pipelines WHERE app_id = ${appId} AND slug = ${slug}`;
    return rows[0];
  }
}

/**
 * Token changes from every instance: a dedicated connection LISTENs on `mechamental_tokens` (each
 * notification names a token: `onChange(ids)` at once). When that connection is lost it is re-opened
 * with backoff, and what was missed meanwhile is unknown, so `onChange('all')` follows every
 * reconnect. A poll of `max(token_events.seq)` every `pollIntervalMs` is the safety net for a
 * notification lost any other way.
 */
class PostgresTokenWatch implements ChangeWatch {
  private listener: postgres.Sql | undefined;
  private onChange: ((ids: ReadonlySet<string> | 'all') => void) | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private lastSeq: number | undefined;
  private stopped = false;
  private attempt = 0;
  private connected = false;

  constructor(
    private readonly url: string,
    private readonly options: PostgresOptions,
    private readonly pool: postgres.Sql,
    private readonly pollIntervalMs: number,
    private readonly onStopped: (watch: PostgresTokenWatch) => void,
  ) {}

  get healthy(): boolean {
    return this.connected;
  }

  start(onChange: (ids: ReadonlySet<string> | 'all') => void): void {
    if (this.onChange) return;
    this.onChange = onChange;
    const options = {
      ...clientOptions(this.options),
      max: 1,
      idle_timeout: undefined,
      max_lifetime: null,
      // The driver delivers notifications to this option (its types leave it out; `sql.listen` wraps it).
      onnotify: (_channel: string, payload: string) => this.onChange?.(new Set([payload])),
      onclose: () => {
        if (this.stopped || !this.connected) return;
        this.connected = false;
        this.scheduleListen();
      },
    };
    this.listener = postgres(this.url, options as postgres.Options<Record<string, postgres.PostgresType>>);
    void this.listen();
    this.pollTimer = setInterval(() => void this.poll(), this.pollIntervalMs);
    this.pollTimer.unref();
  }

  private scheduleListen(): void {
    if (this.stopped || this.retryTimer) return;
    // 100 ms, doubling up to 2 s: a restarted PostgreSQL is noticed within about 2 s.
    const delay = Math.min(2_000, 100 * 2 ** Math.min(this.attempt, 5));
    this.attempt++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.listen();
    }, delay);
    this.retryTimer.unref();
  }

  private async listen(): Promise<void> {
    if (this.stopped || !this.listener) return;
    try {
      await this.listener.unsafe(`LISTEN "${TOKEN_CHANNEL}"`);
      this.connected = true;
      this.attempt = 0;
      // Whatever changed while nobody listened: unknown, so every open stream is checked again.
      this.onChange?.('all');
    } catch {
      this.connected = false;
      this.scheduleListen();
    }
  }

  private async poll(): Promise<void> {
    try {
      const [row] = await this.pool<Array<{ seq: number }>>`SELECT coalesce(max(seq), 0) AS seq FROM token_events`;
      const seq = row!.seq;
      if (this.lastSeq !== undefined && seq !== this.lastSeq) this.onChange?.('all');
      this.lastSeq = seq;
    } catch {
      // PostgreSQL unreachable: the LISTEN connection's reconnect reports 'all' when it is back.
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.pollTimer);
    clearTimeout(this.retryTimer);
    this.connected = false;
    this.onStopped(this);
    await this.listener?.end({ timeout: 1 }).catch(() => {});
  }
}

export type { TokenRow };
