// The name search answers what a plain filter of every token would, in the same order, whichever
// way the store finds the rows: the first rows in listing order, more of them when the matches so
// far say the page will fill soon, or the trigram index beyond (SQLite: src/db/sqlite/token-listing.ts;
// on PostgreSQL the planner's choice, the trigram index asked for the text's rarest part:
// src/db/postgres/name-search.ts). 6,000 tokens, so that every step is taken: names repeat over
// 30 integrations, so "svc-0007" is in ~3 % of them, "deploy" in ~13 %, "svc-002" in a third.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PostgresStore } from '../../src/db/postgres/store';
import type { TokenView } from '../../src/tokens/service';
import { fillStore } from '../bench/lib/growth-fill';
import { testServices } from '../helpers/services';

describe('name search over thousands of tokens', () => {
  test('every page of a search is the plain filter of all tokens, in listing order, at any page size', async () => {
    const services = await testServices();
    const app = await services.store.apps.bySlug('default');
    await fillStore(services.store, { appId: app!.id, tokens: 6_000, auditEvents: 0, now: services.clock.now(), batch: 2_000 });
    const everything: TokenView[] = [];
    let cursor: string | undefined;
    do {
      const page = await services.tokens.page('default', { limit: 1_000, cursor });
      everything.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    assert.equal(everything.length, 6_000);
    // PostgreSQL's search picks its part from the planner's sample of names, which ANALYZE takes.
    if (services.store instanceof PostgresStore) await services.store.sql.unsafe('ANALYZE tokens');

    // Texts of several parts: each row the index finds for the rarest one is checked for the whole
    // text ("0007 backup": svc-0007's names hold 0007 but none is a backup).
    const texts = ['svc-0007', 'DEPLOY', 'svc-002', 'no such name', 'svc-0007 reports', '0007 backup', 'c-00', '-0', '%', 'svc_0007'];
    for (const text of texts) {
      const expected = everything.filter((token) => token.name.toLowerCase().includes(text.toLowerCase())).map((token) => token.id);
      for (const limit of [7, 100, 1_000]) {
        const got: string[] = [];
        let after: string | undefined;
        do {
          const page = await services.tokens.page('default', { search: text, limit, cursor: after });
          assert.ok(page.items.length <= limit);
          got.push(...page.items.map((token) => token.id));
          after = page.nextCursor ?? undefined;
        } while (after !== undefined);
        assert.deepEqual(got, expected, `search "${text}", pages of ${limit}`);
      }
    }
  });
});
