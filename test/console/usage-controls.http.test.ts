// What the console's Usage tab, unused filter, restricted Create Token and Webhooks tab ask of the
// admin API, asked the way the console asks it: with a session cookie (and, for changes, the
// same-origin Origin and the CSRF token). Runs on SQLite and on PostgreSQL (MM_TEST_DATABASE=postgres).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { TokenView } from '../../src/tokens/service';
import type { TokenUsageView } from '../../src/tokens/usage-report';
import { startTestServer, type TestServer } from '../helpers/server';
import { signIn, withSession, type ConsoleSignIn } from './helpers';

const DAY = 86_400_000;

async function setUp(): Promise<{ t: TestServer; session: ConsoleSignIn }> {
  const t = await startTestServer({ env: { MM_WEBHOOK_ADDRESSES: 'any' } });
  const admin = await t.services.tokens.createAdmin({ name: 'ops', expires: '30d' }, 'cli');
  return { t, session: await signIn(t.url, { token: admin.value }) };
}

/** Counts answers for token `id` on the UTC day `daysAgo` days back (the recorder's own path), then writes them. */
async function seedUsage(t: TestServer, id: string, daysAgo: number, accepted: number, refused: Record<string, number> = {}): Promise<void> {
  const now = t.services.clock.now();
  t.services.clock.set(now - daysAgo * DAY);
  for (let i = 0; i < accepted; i++) t.services.usage.count(id, 'accepted');
  for (const [code, n] of Object.entries(refused)) for (let i = 0; i < n; i++) t.services.usage.count(id, code as 'rate_limited');
  t.services.clock.set(now);
  await t.services.usage.flush();
}

describe('the console and the admin API: usage, the unused filter, token controls, webhooks (issues 13, 14, 16)', () => {
  test("a session reads a token's usage per day (zero days included, newest first) and its totals", async () => {
    const { t, session } = await setUp();
    const made = await t.services.tokens.create({ app: 'default', name: 'CI', expires: '30d' }, 'cli');
    await seedUsage(t, made.token.id, 0, 3, { rate_limited: 2 });
    await seedUsage(t, made.token.id, 5, 1, { ip_not_allowed: 1 });
    const reply = await withSession(t.url, session, `/v1/apps/default/tokens/${made.token.id}/usage?days=7&limit=7`);
    assert.equal(reply.status, 200, reply.body);
    const usage = reply.json<TokenUsageView>();
    assert.equal(usage.usage.length, 7);
    assert.equal(usage.next_cursor, null, 'the console asks for the whole window in one page');
    assert.deepEqual(usage.usage[0], { day: usage.to, accepted: 3, refused: { rate_limited: 2 }, refused_total: 2 });
    assert.deepEqual(usage.usage[5]!.refused, { ip_not_allowed: 1 });
    assert.deepEqual(usage.totals, { accepted: 4, refused: { rate_limited: 2, ip_not_allowed: 1 }, refused_total: 3 });
    assert.ok(!reply.body.includes(made.value));
    // The console's window select offers 7, 30 and 90 days; anything else is the API's 422.
    for (const days of [7, 30, 90]) assert.equal((await withSession(t.url, session, `/v1/apps/default/tokens/${made.token.id}/usage?days=${days}&limit=${days}`)).status, 200);
    const bad = await withSession(t.url, session, `/v1/apps/default/tokens/${made.token.id}/usage?days=0`);
    assert.equal(bad.status, 422);
    assert.match(bad.body, /days: must be a whole number of days from 1 to 366/);
    const elsewhere = await withSession(t.url, session, '/v1/apps/default/tokens/tok_nope/usage');
    assert.equal(elsewhere.status, 404, elsewhere.body);
  });

  test('the unused filter: active tokens not used for that long, never-used ones older than that included', async () => {
    const { t, session } = await setUp();
    // Made 40 days ago (the clock set back and forth: the session must not sit idle for 40 days).
    const now = t.services.clock.now();
    t.services.clock.set(now - 40 * DAY);
    await t.services.tokens.create({ app: 'default', name: 'Old, never used', expires: '1y' }, 'cli');
    t.services.clock.set(now);
    await t.services.tokens.create({ app: 'default', name: 'Fresh', expires: '30d' }, 'cli');
    const used = await t.services.tokens.create({ app: 'default', name: 'Used today', expires: '30d' }, 'cli');
    t.services.usage.touch(used.token.id, '192.0.2.7');
    await t.services.usage.flush();
    const names = async (query: string) => {
      const reply = await withSession(t.url, session, `/v1/apps/default/tokens?${query}`);
      assert.equal(reply.status, 200, reply.body);
      return reply.json<{ tokens: TokenView[] }>().tokens.map((token) => token.name);
    };
    assert.deepEqual(await names('limit=50&unused=30d'), ['Old, never used']);
    assert.deepEqual(await names('limit=50&unused=7d'), ['Old, never used']);
    assert.deepEqual((await names('limit=50')).sort(), ['Fresh', 'Old, never used', 'Used today']);
    const lastIp = (await withSession(t.url, session, '/v1/apps/default/tokens?limit=50')).json<{ tokens: TokenView[] }>().tokens.find((token) => token.name === 'Used today')!;
    assert.equal(lastIp.last_used_ip, '192.0.2.7', 'the list carries the last use’s address for the console to show');
    const bad = await withSession(t.url, session, '/v1/apps/default/tokens?unused=soon');
    assert.equal(bad.status, 422);
    assert.match(bad.json<{ error: { message: string } }>().error.message, /^unused: "soon" is not a duration/);
  });

  test('Create Token with restrictions through a session: the controls are kept; each bad one is a 422 whose message starts with its field', async () => {
    const { t, session } = await setUp();
    await t.services.pipelines.create('default', { slug: 'summarize', kind: 'echo' }, 'cli');
    const create = (body: object) => withSession(t.url, session, '/v1/apps/default/tokens', { method: 'POST', body: { name: 'Restricted', expires_in: '30d', ...body } });
    const made = await create({ description: 'Nightly build, owned by CI', pipelines: ['chat'], allowed_ips: ['127.0.0.1', '10.0.0.0/8', '2001:db8::/32'] });
    assert.equal(made.status, 201, made.body);
    const token = made.json<{ token: TokenView }>().token;
    assert.equal(token.description, 'Nightly build, owned by CI');
    assert.deepEqual(token.pipelines, ['chat']);
    assert.deepEqual(token.allowed_ips, ['127.0.0.1', '10.0.0.0/8', '2001:db8::/32']);
    const events = await t.services.audit.list({ app: 'default', limit: 5 });
    assert.match(events.find((e) => e.action === 'token.created')!.actor, /^console:adm_/);

    // The console puts the message next to the field it names (web/dialogs/create-token-form.tsx: controlFieldOf).
    for (const [body, field, pattern] of [
      [{ allowed_ips: ['not-an-address'] }, 'allowed_ips', /"not-an-address" is not an IPv4 or IPv6 address or CIDR range/],
      [{ allowed_ips: ['10.0.0.0/33'] }, 'allowed_ips', /is not an IPv4 or IPv6 address or CIDR range/],
      [{ pipelines: ['nope'] }, 'pipelines', /app "default" has no pipeline "nope"/],
      [{ pipelines: ['Not A Slug'] }, 'pipelines', /is not a pipeline slug/],
      [{ description: 'x'.repeat(501) }, 'description', /is 501 characters long; the limit is 500/],
      [{ description: 'two\nlines' }, 'description', /control characters/],
    ] as const) {
      const reply = await create(body);
      assert.equal(reply.status, 422, reply.body);
      const error = reply.json<{ error: { code: string; message: string } }>().error;
      assert.equal(error.code, 'validation_failed');
      assert.ok(error.message.startsWith(`${field}: `), error.message);
      assert.match(error.message, pattern);
    }
    // Without the CSRF token, restrictions or not: refused.
    const forged = await withSession(t.url, session, '/v1/apps/default/tokens', { method: 'POST', body: { name: 'x', expires_in: '1d', allowed_ips: ['0.0.0.0/0'] }, headers: { 'X-CSRF-Token': undefined } });
    assert.equal(forged.status, 403);
    assert.equal((await t.services.tokens.list('default')).length, 1, 'only the valid create made a token');
  });

  test("a session lists the app's webhooks and their deliveries (never the signing secret)", async () => {
    const { t, session } = await setUp();
    const set = await t.services.webhooks.set('default', 'http://127.0.0.1:9/hook', 'cli');
    await t.services.tokens.create({ app: 'default', name: 'Announced', expires: '30d' }, 'cli');
    const hooks = await withSession(t.url, session, '/v1/apps/default/webhooks');
    assert.equal(hooks.status, 200, hooks.body);
    assert.deepEqual(
      hooks.json<{ webhooks: Array<{ url: string }> }>().webhooks.map((hook) => hook.url),
      ['http://127.0.0.1:9/hook'],
    );
    assert.ok(!hooks.body.includes(set.secret));
    const deliveries = await withSession(t.url, session, '/v1/apps/default/webhook-deliveries?limit=50');
    assert.equal(deliveries.status, 200, deliveries.body);
    const page = deliveries.json<{ deliveries: Array<{ type: string; status: string }>; next_cursor: string | null }>();
    assert.deepEqual(
      page.deliveries.map((d) => d.type),
      ['token.created'],
    );
    assert.ok(['pending', 'delivered', 'failed'].includes(page.deliveries[0]!.status));
    assert.ok(!deliveries.body.includes(set.secret));
  });
});
