import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { TokenUsageView } from '../../src/tokens/usage-report';
import { generateValue } from '../../src/tokens/value';
import { runCliAsync } from '../helpers/cli';
import { expireToken, rowsOf } from '../helpers/rows';
import { request, runScenario, startTestServer } from '../helpers/server';
import { DAY, storeEnv } from '../helpers/services';
import { renderTui } from '../tui/render-tui';
import { ENTER } from '../tui/keys';

/**
 * Known traffic through the real trigger handler, then the counts as the API, the CLI and the TUI
 * show them (SQLite, or PostgreSQL in the second pass).
 */
const t = await startTestServer({ env: { MM_MAX_BODY: '1024' } });
const { services } = t;
const JSON_CT = { 'Content-Type': 'application/json' };
const issue = (name: string, rateLimit: number | null = null) => services.tokens.create({ app: 'default', name, expires: '30d', rateLimit }, 'cli');
const ci = await issue('ci-usage');
const limited = await issue('limited', 1);
const revoked = await issue('revoked');
await services.tokens.revoke(revoked.token.id, 'cli');
const expired = await issue('expired');
await expireToken(services, expired.token.id);
const idle = await issue('idle');
const admin = await services.tokens.createAdmin({ name: 'ops', expires: '30d' }, 'cli');
const SECRETS = [ci.value, limited.value, revoked.value, expired.value, idle.value, admin.value];
const asAdmin = { Authorization: `Bearer ${admin.value}` };

async function trigger(value: string | undefined, options: { pipeline?: string; body?: string; headers?: Record<string, string> } = {}): Promise<number> {
  const reply = await request(`${t.url}/v1/trigger/${options.pipeline ?? 'chat'}`, {
    method: 'POST',
    headers: { ...JSON_CT, ...(value ? { Authorization: `Bearer ${value}` } : {}), ...options.headers },
    body: options.body ?? '{"message":"hi"}',
  });
  return reply.status;
}

const statuses: number[] = [];
for (let i = 0; i < 3; i++) statuses.push(await trigger(ci.value));
statuses.push(await trigger(ci.value, { pipeline: 'nope' }));
statuses.push(await trigger(ci.value, { body: '{' }), await trigger(ci.value, { body: '[1]' }));
statuses.push(await trigger(ci.value, { headers: { 'Content-Type': 'text/plain' } }));
statuses.push(await trigger(ci.value, { body: JSON.stringify({ message: 'x'.repeat(2000) }) }));
statuses.push(await trigger(limited.value), await trigger(limited.value), await trigger(limited.value));
statuses.push(await trigger(revoked.value), await trigger(revoked.value));
statuses.push(await trigger(expired.value));
statuses.push(await trigger(admin.value));
// No token, or one the server does not know: nothing to count against.
statuses.push(await trigger(undefined), await trigger(generateValue('trigger')), await trigger('mm_tok_garbage'));
assert.deepEqual(statuses, [200, 200, 200, 404, 400, 400, 415, 413, 200, 429, 429, 401, 401, 401, 403, 401, 401, 401]);
await services.usage.flush();

const EXPECTED = {
  [ci.token.id]: { accepted: 3, refused: { invalid_json: 2, payload_too_large: 1, pipeline_not_found: 1, unsupported_media_type: 1 } },
  [limited.token.id]: { accepted: 1, refused: { rate_limited: 2 } },
  [revoked.token.id]: { accepted: 0, refused: { token_revoked: 2 } },
  [expired.token.id]: { accepted: 0, refused: { token_expired: 1 } },
  [idle.token.id]: { accepted: 0, refused: {} },
};

describe('usage after known traffic', () => {
  test('the store holds one row per token, day and outcome; unknown tokens count nowhere', async () => {
    const rows = await rowsOf(services, 'token_usage');
    const tokenIds = new Set(rows.map((r) => r.token_id));
    assert.deepEqual([...tokenIds].sort(), [ci.token.id, limited.token.id, revoked.token.id, expired.token.id, admin.token.id].sort());
    assert.deepEqual(
      rows.filter((r) => r.token_id === admin.token.id).map((r) => [r.outcome, Number(r.count)]),
      [['insufficient_scope', 1]],
    );
  });

  test('API: GET /v1/apps/:app/tokens/:id/usage answers today\'s counts, by reason', async () => {
    for (const [id, want] of Object.entries(EXPECTED)) {
      const reply = await runScenario(t.url, { name: 'usage', url: `/v1/apps/default/tokens/${id}/usage?days=7`, headers: asAdmin, status: 200, notExpect: SECRETS });
      const body = reply.json<TokenUsageView>();
      assert.equal(body.token_id, id);
      assert.equal(body.usage.length, 7);
      const [today] = body.usage;
      const refusedTotal = Object.values(want.refused).reduce((a, b) => a + b, 0);
      assert.deepEqual(today, { day: body.to, accepted: want.accepted, refused: want.refused, refused_total: refusedTotal }, id);
      assert.deepEqual(body.totals, { accepted: want.accepted, refused: want.refused, refused_total: refusedTotal });
      assert.equal(body.next_cursor, null);
    }
    const paged = (await request(`${t.url}/v1/apps/default/tokens/${ci.token.id}/usage?days=30&limit=10`, { headers: asAdmin })).json<TokenUsageView>();
    assert.equal(paged.usage.length, 10);
    assert.equal(paged.usage[0]!.accepted, 3);
    const rest = (await request(`${t.url}/v1/apps/default/tokens/${ci.token.id}/usage?days=30&limit=100&cursor=${paged.next_cursor}`, { headers: asAdmin })).json<TokenUsageView>();
    assert.equal(rest.usage.length, 20);
    assert.equal(rest.next_cursor, null);
  });

  test('API: bad input and other apps\' tokens', async () => {
    const base = `/v1/apps/default/tokens/${ci.token.id}/usage`;
    const cases: Array<[string, number, string]> = [
      [`${base}?days=0`, 422, 'days'],
      [`${base}?days=367`, 422, 'days'],
      [`${base}?days=ten`, 422, 'days'],
      [`${base}?days=1&days=2`, 422, 'days: must be given once'],
      [`${base}?limit=0`, 422, 'limit'],
      [`${base}?cursor=bogus`, 422, 'cursor'],
      ['/v1/apps/default/tokens/tok_aaaaaaaaaaaaaaaaaaaa/usage', 404, 'not_found'],
      [`/v1/apps/nope/tokens/${ci.token.id}/usage`, 404, 'not_found'],
      [`/v1/apps/default/tokens/${admin.token.id}/usage`, 404, 'not_found'],
      ['/v1/apps/default/tokens?unused=soon', 422, 'unused'],
      ['/v1/apps/default/tokens?unused=0d', 422, 'unused'],
    ];
    for (const [url, status, part] of cases) await runScenario(t.url, { name: url, url, headers: asAdmin, status, expect: [part], notExpect: SECRETS });
    await services.apps.create({ slug: 'other-app' }, 'cli');
    await runScenario(t.url, { name: 'another app', url: `/v1/apps/other-app/tokens/${ci.token.id}/usage`, headers: asAdmin, status: 404, expect: ['"code":"not_found"'] });
    // A trigger token cannot read usage (admin API), nor can nobody.
    await runScenario(t.url, { name: 'trigger token', url: base, headers: { Authorization: `Bearer ${ci.value}` }, status: 403, expect: ['insufficient_scope'], notExpect: SECRETS });
    await runScenario(t.url, { name: 'no token', url: base, status: 401, expect: ['unauthorized'] });
  });

  test('CLI: tokens usage shows the same counts, with sparklines; --json is the API object', async () => {
    const env = storeEnv(services);
    const json = await runCliAsync(['tokens', 'usage', ci.token.id, '--days', '7', '--json'], { env });
    assert.equal(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout) as TokenUsageView;
    assert.deepEqual(report.totals.refused, EXPECTED[ci.token.id]!.refused);
    assert.equal(report.usage[0]!.accepted, 3);

    const text = await runCliAsync(['tokens', 'usage', ci.token.id], { env });
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^accepted {2}\s*█ {2}3 in 30 days$/m, text.stdout);
    assert.match(text.stdout, /^refused {3}\s*█ {2}5 \(invalid_json 2, payload_too_large 1, pipeline_not_found 1, unsupported_media_type 1\)$/m);
    assert.match(text.stdout, new RegExp(`^${report.to} +3 +5 +invalid_json 2, `, 'm'));
    for (const secret of SECRETS) assert.ok(!text.stdout.includes(secret) && !text.stderr.includes(secret));

    const none = await runCliAsync(['tokens', 'usage', idle.token.id, '--days', '3'], { env });
    assert.match(none.stdout, /No requests with this token in the last 3 days\./);
    const bad = await runCliAsync(['tokens', 'usage', ci.token.id, '--days', '0'], { env });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--days: must be a whole number of days from 1 to 366/);
    const value = await runCliAsync(['tokens', 'usage', ci.value], { env });
    assert.equal(value.code, 2);
    assert.ok(!value.stderr.includes(ci.value));
    const missing = await runCliAsync(['tokens', 'usage', 'tok_aaaaaaaaaaaaaaaaaaaa'], { env });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /does not exist/);
  });

  test('TUI: u on a token shows its chart and the counts by reason', async () => {
    const ui = renderTui(services, { initialApp: 'default' });
    await ui.waitFor('ci-usage');
    ui.press('/');
    await ui.waitFor('Filter (name or status):');
    ui.press('ci-usage');
    await ui.waitFor('Filter (name or status): ci-usage');
    ui.press(ENTER);
    // The count and the rows are two queries (on PostgreSQL either may answer first): wait for both.
    await ui.waitFor((f) => f.includes('Filter "ci-usage": 1 of') && /› ci-usage\s/.test(f));
    ui.press('u');
    const frame = await ui.waitFor('accepted 3 · refused 5 in the last 30 days');
    assert.match(frame, /Usage of "ci-usage" \(tok_[a-z2-7]{20}\), requests per UTC day/);
    assert.match(frame.replace(/\n/g, ' '), /refused by reason: invalid_json 2, payload_too_large 1, pipeline_not_found 1,\s+unsupported_media_type 1/);
    assert.match(frame, /3 │.*██\s*$/m, 'the tallest bar is today, on the right');
    assert.match(frame, /refused │.*██\s*$/m);
    for (const secret of SECRETS) assert.ok(!frame.includes(secret));
    ui.press('u');
    await ui.waitForGone('Usage of');
  });

  test('unused: the API, the CLI and the TUI list the same tokens', async () => {
    // A day later: every token used today (or created today and never used) is now unused for 12 h.
    services.clock.advance(DAY);
    const fresh = await issue('newcomer');
    const reply = await runScenario(t.url, { name: 'unused', url: '/v1/apps/default/tokens?unused=12h', headers: asAdmin, status: 200, notExpect: SECRETS });
    const names = reply
      .json<{ tokens: Array<{ name: string }> }>()
      .tokens.map((x) => x.name)
      .sort();
    assert.deepEqual(names, ['ci-usage', 'idle', 'limited'], 'active only: not revoked, not expired, not the newcomer');
    const none = (await request(`${t.url}/v1/apps/default/tokens?unused=30d`, { headers: asAdmin })).json<{ tokens: unknown[] }>();
    assert.deepEqual(none.tokens, []);

    const ui = renderTui(services, { initialApp: 'default' });
    await ui.waitFor('newcomer');
    ui.press('/');
    await ui.waitFor('Filter (name or status):');
    ui.press('unused:12h');
    await ui.waitFor('Filter (name or status): unused:12h');
    ui.press(ENTER);
    // The count and the rows are two queries (on PostgreSQL either may answer first): wait for both.
    const frame = await ui.waitFor((f) => f.includes('Filter "unused:12h": 3 of') && !f.includes('newcomer'));
    for (const name of ['ci-usage', 'idle', 'limited']) assert.ok(frame.includes(name), `${name} in\n${frame}`);
    assert.ok(!frame.includes('newcomer'), frame);
    assert.equal(fresh.token.status, 'active');
  });

  test('CLI: tokens list --unused (on the real clock: a token unused for 1 s)', async () => {
    const env = storeEnv(services);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const listed = await runCliAsync(['tokens', 'list', '--app', 'default', '--unused', '1s', '--json'], { env });
    assert.equal(listed.code, 0, listed.stderr);
    const names = (JSON.parse(listed.stdout) as { tokens: Array<{ name: string }> }).tokens.map((x) => x.name).sort();
    // "newcomer" was created on the test's clock, a day ahead of the real one: younger than 1 s for the CLI.
    assert.deepEqual(names, ['ci-usage', 'idle', 'limited']);
    const bad = await runCliAsync(['tokens', 'list', '--app', 'default', '--unused', 'long'], { env });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--unused: "long" is not a duration/);
    const text = await runCliAsync(['tokens', 'list', '--app', 'default', '--unused', '300d'], { env });
    assert.match(text.stdout, /Every active token of app "default" was used within 300d/);
  });
});
