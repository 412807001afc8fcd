// The SQLite name search beyond its probe (src/db/sqlite/token-listing.ts, SearchTuning): through
// the rarer trigrams only, their names sorted when few or found by walking the listing's index
// when many, in windows, continuing after names that hold the trigrams but not the text. Whatever
// the tuning, every page is what a plain filter of every token answers, in the same order. The
// defaults take these paths only at hundreds of thousands of tokens; small tunings take them here.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SqliteStore } from '../../src/db/sqlite/store';
import { SqliteTokenListing, type SearchTuning } from '../../src/db/sqlite/token-listing';
import type { TokenQuery, TokenRow } from '../../src/db/store';
import { fillStore } from '../bench/lib/growth-fill';
import { tempDataDir } from '../helpers/data-dir';
import { DAY, testServices } from '../helpers/services';

const EXPIRING = { windowMs: 7 * DAY, lifetimeFraction: 0.75 };

/** Rows per page: several pages for the common texts, and more than one walk's window. */
const PAGE = 400;
// A probe of 20 rows (at most 50 more) leaves most of every search to the trigram index.
const PROBE = { probeRows: 20, extendedProbeRows: 50 };
const TUNINGS: Array<[string, SearchTuning]> = [
  ['every trigram common: the whole phrase, sorted', { ...PROBE, commonTrigram: 1, sortBelow: 1_000, walkRows: 200_000 }],
  ['rare trigrams, their names sorted', { ...PROBE, commonTrigram: 1_000, sortBelow: 100_000, walkRows: 200_000 }],
  ['rare trigrams, the index walked in small windows', { ...PROBE, commonTrigram: 1_000, sortBelow: 10, walkRows: 150 }],
  ['rare trigrams, the index walked in one window', { ...PROBE, commonTrigram: 2_500, sortBelow: 10, walkRows: 100_000 }],
];

/** Every substring of 3 to 5 characters of `name`: texts whose rarer trigrams may lie apart, so that some names hold them and not the text. */
function searches(name: string): string[] {
  const texts = new Set<string>();
  for (let length = 3; length <= 5; length++) for (let i = 0; i + length <= name.length; i++) texts.add(name.slice(i, i + length));
  return [...texts];
}

describe('the name search beyond the probe, SQLite', () => {
  test('every tuning answers every page as a plain filter of all tokens, newest and oldest first', async (t) => {
    const services = await testServices({ dataDir: tempDataDir() });
    if (!(services.store instanceof SqliteStore)) return t.skip('SQLite only');
    const app = await services.store.apps.bySlug('default');
    const now = services.clock.now();
    // 6,000 tokens over 30 integrations ("svc-0007 reports").
    await fillStore(services.store, { appId: app!.id, tokens: 6_000, auditEvents: 0, now, batch: 2_000 });
    const sqlite = services.store.db.sqlite;
    const base: TokenQuery = { owner: { appId: app!.id }, now, expiring: EXPIRING };
    const all = new SqliteTokenListing(sqlite).list(base);
    assert.equal(all.length, 6_000);
    const texts = ['svc-0007', 'svc-0016 deploy', 'svc-0027 reports', 'no such name', ...searches('svc-0016 deploy')];

    let walked = 0;
    for (const [what, tuning] of TUNINGS) {
      const listing = new SqliteTokenListing(sqlite, tuning);
      for (const search of texts) {
        const expected = all.filter((row) => row.name.toLowerCase().includes(search.toLowerCase()));
        // A status reads another index (its rows in listing order); the walks are what differ.
        for (const status of tuning.sortBelow < 100 ? ([undefined, 'revoked'] as const) : ([undefined] as const)) {
          const wanted = status === 'revoked' ? expected.filter((row) => row.revokedAt !== null) : expected;
          for (const from of ['newest', 'oldest'] as const) {
            const inOrder = from === 'newest' ? wanted : [...wanted].reverse();
            const got: TokenRow[] = [];
            for (;;) {
              const last = got.at(-1);
              const key = last && { createdAt: last.createdAt, id: last.id };
              const page = listing.list({ ...base, status, search, from, limit: PAGE, ...(from === 'newest' ? { after: key } : { before: key }) });
              got.push(...page);
              if (page.length < PAGE) break;
            }
            assert.deepEqual(
              got.map((row) => row.id),
              inOrder.map((row) => row.id),
              `${what}: "${search}"${status ? `, ${status}` : ''}, ${from} first`,
            );
          }
        }
        if (expected.length > 0) walked++;
      }
    }
    assert.ok(walked > 4 * 30, 'most texts match some names');
  });
});
