import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { request, runScenario, startTestServer } from '../helpers/server';

const t = await startTestServer();
const { services } = t;
const admin = await services.tokens.createAdmin({ name: 'ops', expires: '30d' }, 'cli');
const asAdmin = { Authorization: `Bearer ${admin.value}` };

interface TokenPage {
  tokens: Array<{ id: string; name: string; status: string }>;
  next_cursor: string | null;
}

async function page(query: string): Promise<TokenPage> {
  const reply = await request(`${t.url}/v1/apps/paged/tokens?${query}`, { headers: asAdmin });
  assert.equal(reply.status, 200, reply.body);
  return reply.json<TokenPage>();
}

describe('paging the admin API lists', () => {
  test('tokens: newest first, limit and next_cursor; paging while tokens are created and revoked never skips or repeats a row', async () => {
    await services.apps.create({ slug: 'paged', name: 'Paged' }, 'cli');
    const ids: string[] = [];
    for (let i = 0; i < 25; i++) {
      ids.push((await services.tokens.create({ app: 'paged', name: `svc ${String(i).padStart(2, '0')}`, expires: '30d' }, 'cli')).token.id);
      services.clock.advance(1); // distinct creation times, as in real use
    }
    const first = await page('limit=10');
    assert.equal(first.tokens.length, 10);
    assert.deepEqual(first.tokens.map((x) => x.name), Array.from({ length: 10 }, (_, i) => `svc ${String(24 - i).padStart(2, '0')}`), 'newest first');
    assert.equal(typeof first.next_cursor, 'string');

    // Meanwhile: new tokens (newer than everything: they belong before the first page) and revokes.
    for (let i = 0; i < 5; i++) await services.tokens.create({ app: 'paged', name: `late ${i}`, expires: '30d' }, 'cli');
    await services.tokens.revoke(ids[3]!, 'cli');
    await services.tokens.revoke(ids[20]!, 'cli');

    const seen = first.tokens.map((x) => x.id);
    let cursor = first.next_cursor;
    while (cursor) {
      const next = await page(`limit=10&cursor=${cursor}`);
      seen.push(...next.tokens.map((x) => x.id));
      cursor = next.next_cursor;
    }
    assert.equal(new Set(seen).size, seen.length, 'no row twice');
    assert.deepEqual([...seen].sort(), [...ids].sort(), 'every row of the listing as it began, none skipped');

    const last = await page('limit=1000');
    assert.equal(last.next_cursor, null, 'null on the last page');
    assert.equal(last.tokens.length, 30);
    const defaultPage = await page('');
    assert.equal(defaultPage.tokens.length, 30, 'default limit 100');
  });

  test('status filter and name search, with paging', async () => {
    const revoked = await page('status=revoked');
    assert.deepEqual(revoked.tokens.map((x) => x.status), ['revoked', 'revoked']);
    const late = await page('search=LATE&limit=2');
    assert.equal(late.tokens.length, 2);
    assert.ok(late.tokens.every((x) => x.name.startsWith('late')));
    const rest = await page(`search=late&limit=2&cursor=${late.next_cursor}`);
    const end = await page(`search=late&limit=2&cursor=${rest.next_cursor}`);
    assert.equal(end.tokens.length, 1);
    assert.equal(end.next_cursor, null);
    assert.equal((await page('search=%25')).tokens.length, 0, 'LIKE wildcards are taken literally');
  });

  test('audit: pages with the same cursor rules', async () => {
    const first = await request(`${t.url}/v1/audit?app=paged&limit=3`, { headers: asAdmin });
    const body = first.json<{ events: Array<{ id: number }>; next_cursor: string }>();
    assert.equal(body.events.length, 3);
    const second = (await request(`${t.url}/v1/audit?app=paged&limit=3&cursor=${body.next_cursor}`, { headers: asAdmin })).json<{ events: Array<{ id: number }> }>();
    assert.ok(second.events[0]!.id < body.events[2]!.id, 'the next page continues after the last event');
  });

  for (const [name, url] of [
    ['a limit of 0', '/v1/apps/paged/tokens?limit=0'],
    ['a limit over 1000', '/v1/apps/paged/tokens?limit=1001'],
    ['a limit that is not a number', '/v1/apps/paged/tokens?limit=ten'],
    ['a cursor that is not one', '/v1/apps/paged/tokens?cursor=nonsense'],
    ['a cursor of the wrong shape', `/v1/apps/paged/tokens?cursor=${Buffer.from('[1]').toString('base64url')}`],
    ['a repeated limit', '/v1/apps/paged/tokens?limit=1&limit=2'],
    ['an audit cursor from a token list', `/v1/audit?cursor=${Buffer.from('[1,"tok_x"]').toString('base64url')}`],
  ]) {
    test(`422 for ${name}, saying which parameter`, async () => {
      const reply = await runScenario(t.url, { name: name!, url: url!, headers: asAdmin, status: 422, expect: ['"code":"validation_failed"'] });
      assert.match(reply.json<{ error: { message: string } }>().error.message, /^(limit|cursor):/);
    });
  }
});
