// The token listing reads indexes, not the table (issue 18): the keyset order, the status filters,
// the counts and the name search, checked with EXPLAIN QUERY PLAN (SQLite) and EXPLAIN
// (PostgreSQL, on a filled and analysed table, since its planner chooses by statistics).
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import type Database from 'better-sqlite3';
import { desc } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import { NameSearch } from '../../src/db/postgres/name-search';
import { tokens } from '../../src/db/postgres/schema';
import { PostgresStore } from '../../src/db/postgres/store';
import { SqliteStore } from '../../src/db/sqlite/store';
import { SqliteTokenListing, type SearchTuning } from '../../src/db/sqlite/token-listing';
import type { TokenQuery } from '../../src/db/store';
import { fillStore } from '../bench/lib/growth-fill';
import { requirePostgres } from '../helpers/postgres';
import { tempDataDir } from '../helpers/data-dir';
import { DAY, testServices } from '../helpers/services';

const EXPIRING = { windowMs: 7 * DAY, lifetimeFraction: 0.75 };

/** The SQL texts `work` prepares on `sqlite`, recorded through a proxy of the connection. */
function preparedBy(sqlite: Database.Database, work: (listing: SqliteTokenListing) => void, tuning?: SearchTuning): string[] {
  const texts: string[] = [];
  const proxy = new Proxy(sqlite, {
    get(target, property) {
      if (property === 'prepare') {
        return (text: string) => {
          texts.push(text);
          return target.prepare(text);
        };
      }
      const value = Reflect.get(target, property) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  work(new SqliteTokenListing(proxy, tuning));
  return texts;
}

/** EXPLAIN QUERY PLAN of `text`, its parameters bound to NULL (the plan does not depend on them). */
function planOf(sqlite: Database.Database, text: string): string {
  const params = (text.match(/\?/g) ?? []).map(() => null);
  const rows = sqlite.prepare(`EXPLAIN QUERY PLAN ${text}`).all(...params) as Array<{ detail: string }>;
  return rows.map((row) => row.detail).join('\n');
}

describe('token listing plans, SQLite', () => {
  async function sqliteStore() {
    const services = await testServices({ dataDir: tempDataDir() });
    if (!(services.store instanceof SqliteStore)) return undefined;
    const app = await services.store.apps.bySlug('default');
    await fillStore(services.store, { appId: app!.id, tokens: 2_000, auditEvents: 0, now: services.clock.now(), batch: 1_000 });
    return { sqlite: services.store.db.sqlite, appId: app!.id, now: services.clock.now() };
  }

  const cases: Array<{ name: string; query: Partial<TokenQuery>; index: RegExp; count?: RegExp }> = [
    { name: 'every token, newest first', query: {}, index: /USING (COVERING )?INDEX tokens_app_created/ },
    { name: 'active', query: { status: 'active' }, index: /INDEX tokens_app_live/, count: /INDEX tokens_app_expiry/ },
    { name: 'expiring', query: { status: 'expiring' }, index: /INDEX tokens_app_live/, count: /INDEX tokens_app_expiry/ },
    { name: 'expired', query: { status: 'expired' }, index: /INDEX tokens_app_live/, count: /INDEX tokens_app_expiry/ },
    { name: 'revoked', query: { status: 'revoked' }, index: /INDEX tokens_app_revoked/ },
    { name: 'unused', query: { unusedSince: 0 }, index: /INDEX tokens_app_live/ },
    { name: 'a page after a cursor', query: { after: { createdAt: 1, id: 'tok_x' } }, index: /INDEX tokens_app_created \(app_id=\? AND/, count: /INDEX tokens_app_created/ },
    { name: 'the last page', query: { from: 'oldest' }, index: /INDEX tokens_app_created/ },
  ];

  for (const c of cases) {
    test(`${c.name}: read in listing order from its index, never sorted, never a table scan`, async (t) => {
      const store = await sqliteStore();
      if (!store) return t.skip('SQLite only');
      const query: TokenQuery = { owner: { appId: store.appId }, now: store.now, expiring: EXPIRING, limit: 101, ...c.query };
      for (const text of preparedBy(store.sqlite, (listing) => listing.list(query))) {
        const plan = planOf(store.sqlite, text);
        assert.match(plan, c.index, plan);
        assert.doesNotMatch(plan, /TEMP B-TREE|SCAN t\b(?! USING)/, plan);
      }
      for (const text of preparedBy(store.sqlite, (listing) => listing.count(query, 10_000))) {
        const plan = planOf(store.sqlite, text);
        assert.match(plan, c.count ?? c.index, plan);
        assert.doesNotMatch(plan, /SCAN t\b(?! USING)/, plan);
      }
    });
  }

  test('the name search: listing order first, then the trigram index; counts from the trigram index', async (t) => {
    const store = await sqliteStore();
    if (!store) return t.skip('SQLite only');
    const query: TokenQuery = { owner: { appId: store.appId }, now: store.now, expiring: EXPIRING, limit: 101, search: 'no such name anywhere' };
    const plans = preparedBy(store.sqlite, (listing) => listing.list(query)).map((text) => planOf(store.sqlite, text));
    // The rows in listing order are examined from the index alone (it holds the names: migration 0007).
    assert.ok(plans.some((plan) => /SEARCH t USING COVERING INDEX tokens_app_created/.test(plan)), plans.join('\n--\n'));
    assert.ok(plans.some((plan) => /VIRTUAL TABLE INDEX/.test(plan)), plans.join('\n--\n'));
    const counts = preparedBy(store.sqlite, (listing) => listing.count(query, 10_000)).map((text) => planOf(store.sqlite, text));
    assert.ok(counts.every((plan) => /VIRTUAL TABLE INDEX/.test(plan)), counts.join('\n--\n'));
  });

  test('the name search walking the listing index: in order, never sorted, its entries only without a status; the trigram index once', async (t) => {
    const store = await sqliteStore();
    if (!store) return t.skip('SQLite only');
    // Small enough that a search of a few hundred names walks (the defaults walk at hundreds of thousands).
    const tuning: SearchTuning = { probeRows: 10, extendedProbeRows: 20, commonTrigram: 1_000, sortBelow: 10, walkRows: 100_000 };
    for (const status of [undefined, 'active', 'revoked'] as const) {
      const query: TokenQuery = { owner: { appId: store.appId }, now: store.now, expiring: EXPIRING, limit: 50, search: 'svc-0007', status };
      const texts = preparedBy(store.sqlite, (listing) => listing.list(query), tuning);
      const walk = texts.find((text) => text.includes('WHERE r IN'));
      assert.ok(walk, `${status ?? 'any status'}: the search walked\n${texts.join('\n--\n')}`);
      const plan = planOf(store.sqlite, walk);
      // Without a status the index holds all the walk reads; a status's terms read its rows' columns too.
      assert.match(plan, status === undefined ? /SEARCH t USING COVERING INDEX tokens_app_created/ : /SEARCH t USING (COVERING )?INDEX tokens_app_(live|revoked)/, plan);
      assert.match(plan, /LIST SUBQUERY[\s\S]*VIRTUAL TABLE INDEX/, plan);
      assert.doesNotMatch(plan, /TEMP B-TREE|SCAN t\b(?! USING)/, plan);
    }
  });
});

describe('token listing plans, PostgreSQL', () => {
  /** A store on a fresh database (undefined, the test skipped, without PostgreSQL), and a fill of 20,000 tokens, analysed. */
  async function postgresStore(t: TestContext) {
    if (!requirePostgres(t)) return undefined;
    const { freshDatabase } = await import('../helpers/postgres');
    const services = await testServices({ databaseUrl: await freshDatabase() });
    const store = services.store;
    assert.ok(store instanceof PostgresStore);
    const app = (await store.apps.bySlug('default'))!;
    const fill = async () => {
      await fillStore(store, { appId: app.id, tokens: 20_000, auditEvents: 0, now: services.clock.now(), batch: 5_000 });
      await store.sql.unsafe('ANALYZE tokens');
    };
    return { store, app, now: services.clock.now(), fill };
  }

  test('the listing, the status filters and the counts use the indexes; the name search the trigram index when pg_trgm is there', async (t) => {
    const postgres = await postgresStore(t);
    if (!postgres) return;
    const { store, app, now } = postgres;
    await postgres.fill();
    const explain = async (text: string) => ((await store.sql.unsafe(`EXPLAIN ${text}`)) as Array<{ 'QUERY PLAN': string }>).map((row) => row['QUERY PLAN']).join('\n');
    const order = 'ORDER BY created_at DESC, id DESC LIMIT 101';
    const id = app.id;
    const plans: Array<[string, RegExp]> = [
      [`SELECT * FROM tokens WHERE app_id = ${id} ${order}`, /tokens_app_created|tokens_app_live/],
      [`SELECT * FROM tokens WHERE app_id = ${id} AND (created_at, id) < (${now - 100 * DAY}, 'tok_x') ${order}`, /tokens_app_created/],
      [`SELECT * FROM tokens WHERE app_id = ${id} AND revoked_at IS NOT NULL ${order}`, /tokens_app_revoked/],
      [`SELECT * FROM tokens WHERE app_id = ${id} AND revoked_at IS NULL AND expires_at > ${now} ${order}`, /tokens_app_live|tokens_app_expiry/],
      [`SELECT count(*) FROM tokens WHERE app_id = ${id} AND revoked_at IS NULL AND expires_at > ${now}`, /tokens_app_expiry|tokens_app_live|tokens_expires/],
    ];
    for (const [text, index] of plans) {
      const plan = await explain(text);
      assert.match(plan, index, `${text}\n${plan}`);
      assert.doesNotMatch(plan, /Seq Scan/, `${text}\n${plan}`);
    }
    const trgm = (await store.sql.unsafe(`SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'`)).length > 0;
    if (!trgm) return t.diagnostic('pg_trgm is not installed here: the name search scans the app in listing order');
    // The planner weighs the trigram index against app_id's by its estimates (on this small,
    // one-app table app_id's bitmap wins; with a million tokens in the app it no longer does);
    // what must hold is that the search can use it: the expression matches the index.
    const search = await store.sql.begin(async (sql) => {
      await sql.unsafe('SET LOCAL enable_seqscan = off');
      const rows = (await sql.unsafe(`EXPLAIN SELECT count(*) FROM tokens WHERE lower(name) LIKE '%svc-0003%' ESCAPE '\\'`)) as Array<{ 'QUERY PLAN': string }>;
      return rows.map((row) => row['QUERY PLAN']).join('\n');
    });
    assert.match(search, /Bitmap Index Scan on tokens_name_trgm/, search);
  });

  test('a search of several words asks the trigram index for the rarest one, by the planner\'s sample of names', async (t) => {
    const postgres = await postgresStore(t);
    if (!postgres) return;
    const { store } = postgres;
    // Before any ANALYZE there is no sample: the longest part.
    assert.equal(await new NameSearch(store.sql).indexPart('svc-0003'), '0003');
    assert.equal(await new NameSearch(store.sql).indexPart('abcd-ingest'), 'ingest');
    await postgres.fill();
    const names = new NameSearch(store.sql);
    // Every name holds "svc" and "-00" (svc-0000 to svc-0099); "0003" is one integration's of 100;
    // "deploy" an eighth of them; no name has "-03".
    assert.equal(await names.indexPart('svc-0003'), '0003');
    assert.equal(await names.indexPart('SVC-0003 Deploy'), '0003');
    assert.equal(await names.indexPart('svc-0042 ingest'), '0042');
    assert.equal(await names.indexPart('svc ingest'), 'ingest');
    // A word shorter than three characters, with the edge that gives it a trigram.
    assert.equal(await names.indexPart('svc-03'), '-03');
    // One part (the whole text), or none with a trigram: the plain LIKE.
    assert.equal(await names.indexPart('deploy'), undefined);
    assert.equal(await names.indexPart('-00'), undefined);
    assert.equal(await names.indexPart('ab'), undefined);

    // The index is read for that part alone; the whole text is checked on each row it finds. (On
    // this small one-app table the planner prefers app_id's index, as above: the search alone.)
    const condition = await names.condition('svc-0003');
    const { sql: text, params } = drizzle({ client: store.sql })
      .select()
      .from(tokens)
      .where(condition)
      .orderBy(desc(tokens.createdAt), desc(tokens.id))
      .limit(101)
      .toSQL();
    const plan = await store.sql.begin(async (sql) => {
      await sql.unsafe('SET LOCAL enable_seqscan = off');
      const rows = (await sql.unsafe(`EXPLAIN ${text}`, params as never[])) as Array<{ 'QUERY PLAN': string }>;
      return rows.map((row) => row['QUERY PLAN']).join('\n');
    });
    if ((await store.sql.unsafe(`SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'`)).length === 0) return t.diagnostic('pg_trgm is not installed here');
    assert.match(plan, /Index Cond: \(lower\(name\) ~~ '%0003%'::text\)/, plan);
    assert.match(plan, /strpos\(lower\(name\), 'svc-0003'::text\) > 0/, plan);
  });
});
