import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SqliteStore } from '../../src/db/sqlite/store';
import { UsageRecorder } from '../../src/tokens/usage';
import { DEFAULT_USAGE_DAYS, PRUNE_BATCH } from '../../src/tokens/usage-report';
import { matchesFilter, unusedQuery } from '../../tui/format';
import { execSql, rowsOf } from '../helpers/rows';
import { DAY, testServices } from '../helpers/services';

/** Midday UTC, so that a test's "today" cannot roll over while it runs. */
function middayOf(ms: number): number {
  return ms - (ms % DAY) + DAY / 2;
}

describe('usage per token and UTC day', () => {
  test('counts accepted and refused requests per day, written in batches, added to what is stored', async () => {
    const services = await testServices();
    services.clock.set(middayOf(services.clock.now()));
    const { token } = await services.tokens.create({ app: 'default', name: 'CI', expires: '30d' }, 'cli');
    const usage = services.usage;
    for (let i = 0; i < 5; i++) usage.count(token.id, 'accepted');
    usage.count(token.id, 'rate_limited');
    usage.count(token.id, 'rate_limited');
    usage.count(token.id, 'invalid_json');
    assert.deepEqual(await rowsOf(services, 'token_usage'), [], 'nothing is written per request');
    await usage.flush();
    assert.equal((await rowsOf(services, 'token_usage')).length, 3, 'one row per token, day and outcome');

    // Another process (here: a second recorder on the same store) counts the same token: counts add up.
    const other = new UsageRecorder(services.store, services.clock);
    other.count(token.id, 'accepted');
    await other.flush();
    usage.count(token.id, 'accepted');
    // The next UTC day.
    services.clock.advance(DAY);
    usage.count(token.id, 'token_expired');
    await usage.flush();

    const report = await services.usageReport.forToken(token.id, { days: 7 });
    assert.equal(report.days, 7);
    assert.equal(report.usage.length, 7, 'every day of the window, zero days included');
    const [today, yesterday, ...rest] = report.usage;
    assert.deepEqual(today, { day: report.to, accepted: 0, refused: { token_expired: 1 }, refused_total: 1 });
    assert.deepEqual(yesterday, { day: new Date(services.clock.now() - DAY).toISOString().slice(0, 10), accepted: 7, refused: { invalid_json: 1, rate_limited: 2 }, refused_total: 3 });
    assert.ok(rest.every((d) => d.accepted === 0 && d.refused_total === 0));
    assert.deepEqual(report.totals, { accepted: 7, refused: { invalid_json: 1, rate_limited: 2, token_expired: 1 }, refused_total: 4 });
    assert.equal(report.from, new Date(services.clock.now() - 6 * DAY).toISOString().slice(0, 10));
  });

  test('a day boundary between two flushes splits the counts by the day they happened', async () => {
    const services = await testServices();
    const midnight = services.clock.now() - (services.clock.now() % DAY) + DAY;
    services.clock.set(midnight - 1);
    const { token } = await services.tokens.create({ app: 'default', name: 'night', expires: '30d' }, 'cli');
    services.usage.count(token.id, 'accepted');
    services.clock.set(midnight);
    services.usage.count(token.id, 'accepted');
    services.usage.count(token.id, 'accepted');
    await services.usage.flush();
    const report = await services.usageReport.forToken(token.id, { days: 2 });
    assert.deepEqual(
      report.usage.map((d) => d.accepted),
      [2, 1],
    );
  });

  test('a failed write keeps the counts for the next flush', async () => {
    const services = await testServices();
    const { token } = await services.tokens.create({ app: 'default', name: 'kept', expires: '30d' }, 'cli');
    const recorder = new UsageRecorder(services.store, services.clock);
    recorder.count(token.id, 'accepted');
    const realTransaction = services.store.transaction.bind(services.store);
    (services.store as { transaction: unknown }).transaction = () => Promise.reject(new Error('disk full'));
    try {
      await assert.rejects(recorder.flush(), /disk full/);
    } finally {
      (services.store as { transaction: unknown }).transaction = realTransaction;
    }
    recorder.count(token.id, 'accepted');
    await recorder.flush();
    assert.equal((await services.usageReport.forToken(token.id)).totals.accepted, 2);
  });

  test('batches of uses are committed without waiting for the disk; every change of state still is', async () => {
    const services = await testServices();
    const { token } = await services.tokens.create({ app: 'default', name: 'relaxed', expires: '30d' }, 'cli');
    const store = services.store;
    // SQLite: synchronous=NORMAL for the batch alone (2 = FULL, 1 = NORMAL), FULL again after it, also after a failure.
    const synchronous = () => (store instanceof SqliteStore ? store.db.sqlite.pragma('synchronous', { simple: true }) : undefined);
    const full = store instanceof SqliteStore ? 2 : undefined;
    const relaxed = store instanceof SqliteStore ? 1 : undefined;
    assert.equal(synchronous(), full);
    let during: unknown;
    await store.transaction(async (tx) => {
      during = synchronous();
      await tx.usage.add([{ tokenId: token.id, day: 20000, outcome: 'accepted', count: 2 }]);
    }, { durable: false });
    assert.equal(during, relaxed);
    assert.equal(synchronous(), full);
    await assert.rejects(
      store.transaction(async (tx) => {
        await tx.usage.add([{ tokenId: token.id, day: 20000, outcome: 'accepted', count: 5 }]);
        throw new Error('the batch failed');
      }, { durable: false }),
      /the batch failed/,
    );
    assert.equal(synchronous(), full, 'a failed batch leaves the connection durable');
    assert.deepEqual((await rowsOf(services, 'token_usage')).map((r) => Number(r.count)), [2], 'committed whole, or rolled back whole');
    services.usage.touch(token.id, '127.0.0.1');
    services.usage.count(token.id, 'accepted');
    await services.usage.flush();
    assert.equal(synchronous(), full);
    await store.transaction(async () => {
      during = synchronous();
    });
    assert.equal(during, full, 'a transaction without the option is durable');
    const revoked = await services.tokens.revoke(token.id, 'cli');
    assert.equal(revoked.status, 'revoked');
    assert.equal(synchronous(), full);
  });

  test('reports: pages of days, the window bounds, scope and bad input', async () => {
    const services = await testServices();
    const { token } = await services.tokens.create({ app: 'default', name: 'paged', expires: '30d' }, 'cli');
    const full = await services.usageReport.forToken(token.id);
    assert.equal(full.days, DEFAULT_USAGE_DAYS);
    assert.equal(full.usage.length, 30);
    assert.equal(full.next_cursor, null);
    const first = await services.usageReport.forToken(token.id, { days: 10, limit: 4 });
    const second = await services.usageReport.forToken(token.id, { days: 10, limit: 4, cursor: first.next_cursor! });
    const third = await services.usageReport.forToken(token.id, { days: 10, limit: 4, cursor: second.next_cursor! });
    assert.deepEqual(
      [first, second, third].map((p) => p.usage.length),
      [4, 4, 2],
    );
    assert.equal(third.next_cursor, null);
    const days = [...first.usage, ...second.usage, ...third.usage].map((d) => d.day);
    assert.deepEqual(days, [...days].sort().reverse(), 'newest first, no day twice');
    assert.equal(new Set(days).size, 10);
    await assert.rejects(services.usageReport.forToken(token.id, { days: 0 }), { code: 'validation_failed', message: /days/ });
    await assert.rejects(services.usageReport.forToken(token.id, { days: 367 }), { code: 'validation_failed' });
    await assert.rejects(services.usageReport.forToken(token.id, { days: 10, cursor: 'not-a-cursor!' }), { code: 'validation_failed', message: /cursor/ });
    await assert.rejects(services.usageReport.forToken('tok_aaaaaaaaaaaaaaaaaaaa'), { code: 'not_found' });
    await services.apps.create({ slug: 'other' }, 'cli');
    await assert.rejects(services.usageReport.forToken(token.id, { scope: { app: 'other' } }), { code: 'not_found' });
  });

  test('rows older than the retention are pruned, in batches', async () => {
    const services = await testServices();
    const today = services.clock.now() - (services.clock.now() % DAY);
    const rows: Array<[string, number]> = [];
    for (let i = 0; i < PRUNE_BATCH + 5; i++) rows.push([`tok_old${String(i).padStart(16, '0')}`, today - 100 * DAY]);
    rows.push(['tok_keep0000000000000000', today - 80 * DAY], ['tok_keep1111111111111111', today]);
    await services.store.transaction((tx) => tx.usage.add(rows.map(([tokenId, day]) => ({ tokenId, day, outcome: 'accepted', count: 1 }))));
    assert.equal(await services.usageReport.prune(90 * DAY), PRUNE_BATCH + 5);
    assert.deepEqual(
      (await rowsOf(services, 'token_usage')).map((r) => r.token_id),
      ['tok_keep0000000000000000', 'tok_keep1111111111111111'],
    );
  });
});

describe('unused tokens', () => {
  test('active tokens not used for that long, never-used ones older than that included', async () => {
    const services = await testServices();
    const start = services.clock.now();
    const make = (name: string) => services.tokens.create({ app: 'default', name, expires: '300d' }, 'cli');
    const neverOld = await make('never used, old');
    const usedLongAgo = await make('used 40 days ago');
    const usedRecently = await make('used yesterday');
    const revoked = await make('revoked, never used');
    await services.tokens.revoke(revoked.token.id, 'cli');
    const expired = await make('expired, never used');
    await execSql(services, 'UPDATE tokens SET expires_at = ? WHERE id = ?', [start + 10 * DAY, expired.token.id]);
    services.clock.set(start + 20 * DAY);
    services.usage.touch(usedLongAgo.token.id);
    await services.usage.flush();
    services.clock.set(start + 60 * DAY);
    const neverYoung = await make('never used, young');
    services.clock.set(start + 59 * DAY);
    services.usage.touch(usedRecently.token.id);
    await services.usage.flush();
    services.clock.set(start + 60 * DAY);

    const unused = await services.tokens.list('default', { unusedForMs: 30 * DAY });
    assert.deepEqual(unused.map((t) => t.name).sort(), ['never used, old', 'used 40 days ago']);
    assert.deepEqual(
      (await services.tokens.list('default', { unusedForMs: 50 * DAY })).map((t) => t.name),
      ['never used, old'],
    );
    // The TUI's filter follows the same rule on the listing it has.
    const all = await services.tokens.list('default');
    const now = services.clock.now();
    assert.deepEqual(
      all.filter((t) => matchesFilter(t, 'unused', now)).map((t) => t.id).sort(),
      unused.map((t) => t.id).sort(),
    );
    assert.deepEqual(
      all.filter((t) => matchesFilter(t, 'unused:50d', now)).map((t) => t.id),
      [neverOld.token.id],
    );
    assert.equal(unusedQuery('unused 7d'), 7 * DAY);
    assert.equal(unusedQuery('unused'), 30 * DAY);
    assert.equal(unusedQuery('unus'), undefined);
    assert.equal(neverYoung.token.status, 'active');
    // Paging keeps the filter.
    const page = await services.tokens.page('default', { unusedForMs: 30 * DAY, limit: 1 });
    const next = await services.tokens.page('default', { unusedForMs: 30 * DAY, limit: 1, cursor: page.nextCursor! });
    assert.deepEqual([...page.items, ...next.items].map((t) => t.name).sort(), ['never used, old', 'used 40 days ago']);
  });
});
