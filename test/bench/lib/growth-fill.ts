// Fills a store with many tokens and audit events, directly through the store's repositories in
// batched write transactions (the services' create path would add an audit event and a transaction
// per token, and take hours for a million). On PostgreSQL the rows go in as multi-row INSERTs (one
// round trip per 2,000 rows instead of one per row); on SQLite through the repositories. The rows look like years of real use: one app with a
// few thousand integrations, each rotated every 30 to 90 days, a tenth of the tokens revoked, so
// that most tokens are expired, some thousands active, and names repeat.
import { createHash, randomBytes } from 'node:crypto';
import { PostgresStore } from '../../../src/db/postgres/store';
import { SqliteStore } from '../../../src/db/sqlite/store';
import type { Store, TokenRow } from '../../../src/db/store';
import { generateId, hintFor, generateValue } from '../../../src/tokens/value';

export interface FillOptions {
  appId: number;
  tokens: number;
  auditEvents: number;
  now: number;
  /** How far back the oldest row lies. */
  spanMs?: number;
  /** Rows per write transaction. */
  batch?: number;
  onProgress?: (what: 'tokens' | 'audit', done: number) => void;
}

const DAY = 86_400_000;
const LIFETIMES = [7 * DAY, 30 * DAY, 90 * DAY, 365 * DAY];
const KINDS = ['deploy', 'ingest', 'backup', 'nightly', 'webhook relay', 'mobile backend', 'billing sync', 'reports'];

/** The name of integration `n` (of `integrations`): "svc-0042 deploy". Searching "svc-0042" finds one integration's tokens. */
export function integrationName(n: number): string {
  return `svc-${String(n).padStart(4, '0')} ${KINDS[n % KINDS.length]}`;
}

/** How many integrations `tokens` rows are spread over. */
export function integrationsFor(tokens: number): number {
  return Math.max(1, Math.min(5_000, Math.ceil(tokens / 200)));
}

/** A fast, repeatable pseudo-random sequence (the fill does not need crypto randomness). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1_664_525 + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * Fills `store`; answers how long the tokens and the events took (ms). Token values are not kept:
 * each row gets the hash of a random value (tokens to call the trigger with are created through the
 * services, separately).
 */
export async function fillStore(store: Store, options: FillOptions): Promise<{ tokensMs: number; auditMs: number }> {
  const batch = options.batch ?? 5_000;
  const span = options.spanMs ?? 3 * 365 * DAY;
  const random = rng(42);
  const integrations = integrationsFor(options.tokens);
  const started = performance.now();
  const sample = generateValue('trigger');
  // Random keys (ids, hashes) go into B-trees far larger than SQLite's default 2 MB page cache: a
  // bigger cache for the fill only (the store as users run it keeps its settings).
  const sqlite = store instanceof SqliteStore ? store.db.sqlite : undefined;
  const cacheSize = sqlite?.pragma('cache_size', { simple: true });
  sqlite?.pragma('cache_size = -262144');
  try {
  for (let done = 0; done < options.tokens; ) {
    const size = Math.min(batch, options.tokens - done);
    const rows: TokenRow[] = [];
    for (let i = 0; i < size; i++) {
      const n = done + i;
      // Oldest first, evenly over the span, as they would have been created.
      const createdAt = options.now - span + Math.floor((span * n) / options.tokens);
      const lifetime = LIFETIMES[Math.floor(random() * LIFETIMES.length)]!;
      const expiresAt = createdAt + lifetime;
      const revoked = random() < 0.1;
      const revokedAt = revoked ? Math.min(options.now - 1, createdAt + Math.floor(random() * lifetime)) : null;
      const used = random() < 0.7;
      rows.push({
        id: generateId('trigger'),
        kind: 'trigger',
        appId: options.appId,
        name: integrationName(Math.floor(random() * integrations)),
        hash: createHash('sha256').update(randomBytes(24)).digest('hex'),
        hint: hintFor(sample),
        createdAt,
        expiresAt,
        revokedAt,
        lastUsedAt: used ? Math.min(options.now - 1, createdAt + Math.floor(random() * lifetime)) : null,
        rateLimit: null,
        replacedBy: null,
        description: null,
        pipelines: null,
        allowedIps: null,
        lastUsedIp: used ? '10.1.2.3' : null,
      });
    }
    if (store instanceof PostgresStore) await insertPostgres(store, 'tokens', rows.map(tokenColumns));
    else {
      await store.transaction(async (tx) => {
        for (const row of rows) await tx.tokens.insert(row);
      });
    }
    done += size;
    options.onProgress?.('tokens', done);
  }
  const tokensMs = performance.now() - started;
  const auditStarted = performance.now();
  const actions = ['token.created', 'token.created', 'token.revoked', 'token.refreshed', 'token.rotated'] as const;
  for (let done = 0; done < options.auditEvents; ) {
    const size = Math.min(batch, options.auditEvents - done);
    const events = Array.from({ length: size }, (_, i) => {
      const n = done + i;
      return {
        at: options.now - span + Math.floor((span * n) / options.auditEvents),
        actor: random() < 0.5 ? 'cli' : 'api:adm_benchbenchbenchbench',
        action: actions[Math.floor(random() * actions.length)]!,
        app: 'default',
        tokenId: `tok_${String(n).padStart(20, 'a').slice(-20)}`,
        detail: JSON.stringify({ name: integrationName(Math.floor(random() * integrations)) }),
      };
    });
    if (store instanceof PostgresStore) {
      await insertPostgres(
        store,
        'audit_events',
        events.map((e) => ({ at: e.at, actor: e.actor, action: e.action, app: e.app, token_id: e.tokenId, detail: e.detail })),
      );
    } else {
      await store.transaction(async (tx) => {
        for (const event of events) await tx.audit.insert(event);
      });
    }
    done += size;
    options.onProgress?.('audit', done);
  }
  return { tokensMs, auditMs: performance.now() - auditStarted };
  } finally {
    if (sqlite) sqlite.pragma(`cache_size = ${Number(cacheSize)}`);
  }
}

/** A token row as PostgreSQL's columns. */
function tokenColumns(row: TokenRow): Record<string, string | number | null> {
  return {
    id: row.id,
    kind: row.kind,
    app_id: row.appId,
    name: row.name,
    hash: row.hash,
    hint: row.hint,
    created_at: row.createdAt,
    expires_at: row.expiresAt,
    revoked_at: row.revokedAt,
    last_used_at: row.lastUsedAt,
    rate_limit: row.rateLimit,
    replaced_by: row.replacedBy,
    description: row.description,
    pipelines: row.pipelines,
    allowed_ips: row.allowedIps,
    last_used_ip: row.lastUsedIp,
  };
}

/** Multi-row INSERTs in one transaction, 2,000 rows a statement (PostgreSQL binds at most 65,535 parameters). */
async function insertPostgres(store: PostgresStore, table: 'tokens' | 'audit_events', rows: Array<Record<string, string | number | null>>): Promise<void> {
  await store.sql.begin(async (sql) => {
    for (let at = 0; at < rows.length; at += 2_000) {
      await sql`INSERT INTO ${sql(table)} ${sql(rows.slice(at, at + 2_000))}`;
    }
  });
}
