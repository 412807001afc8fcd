import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { generateValue } from '../../src/tokens/value';
import { expireToken } from '../helpers/rows';
import { request, runScenario, startTestServer, type Scenario } from '../helpers/server';

// Command pipelines over HTTP are refused by default (403 local_only, test/http/listener-conformance.test.ts);
// this file tests the CRUD itself, so it allows them.
const t = await startTestServer({ env: { MM_ALLOW_REMOTE_COMMANDS: '1' } });
const { services } = t;

const admin = await services.tokens.createAdmin({ name: 'ops', expires: '30d' }, 'cli');
const revokedAdmin = await services.tokens.createAdmin({ name: 'old ops', expires: '30d' }, 'cli');
await services.tokens.revoke(revokedAdmin.token.id, 'cli');
const expiredAdmin = await services.tokens.createAdmin({ name: 'lapsed ops', expires: '1h' }, 'cli');
await expireToken(services, expiredAdmin.token.id);
const trigger = await services.tokens.create({ app: 'default', name: 'CI/CD Pipeline', expires: '30d' }, 'cli');
const SECRETS = [admin.value, revokedAdmin.value, expiredAdmin.value, trigger.value];

const asAdmin = { Authorization: `Bearer ${admin.value}`, 'Content-Type': 'application/json' };

/** Every admin route, with a body that would be valid. */
const ROUTES: Array<{ method: string; url: string; body?: object }> = [
  { method: 'GET', url: '/v1/apps' },
  { method: 'POST', url: '/v1/apps', body: { slug: 'x1', name: 'X' } },
  { method: 'GET', url: '/v1/apps/default/tokens' },
  { method: 'POST', url: '/v1/apps/default/tokens', body: { name: 'n', expires_in: '1d' } },
  { method: 'GET', url: `/v1/apps/default/tokens/${trigger.token.id}` },
  { method: 'POST', url: `/v1/apps/default/tokens/${trigger.token.id}/revoke` },
  { method: 'POST', url: `/v1/apps/default/tokens/${trigger.token.id}/refresh`, body: { expires_in: '60d' } },
  { method: 'POST', url: `/v1/apps/default/tokens/${trigger.token.id}/rotate`, body: { grace: '1h' } },
  { method: 'GET', url: '/v1/apps/default/pipelines' },
  { method: 'POST', url: '/v1/apps/default/pipelines', body: { slug: 'p1', kind: 'echo' } },
  { method: 'GET', url: '/v1/apps/default/pipelines/chat' },
  { method: 'PUT', url: '/v1/apps/default/pipelines/chat', body: { kind: 'echo', config: {} } },
  { method: 'DELETE', url: '/v1/apps/default/pipelines/chat' },
  { method: 'GET', url: '/v1/audit' },
];

const challenge = /^Bearer realm="mechamental", error="invalid_token", error_description="[^"]+"$/;
const AUTH_CASES: Array<{ name: string; headers: Record<string, string | string[]>; status: number; code: string; challenge: string | RegExp }> = [
  { name: 'no token', headers: {}, status: 401, code: 'unauthorized', challenge: 'Bearer realm="mechamental"' },
  { name: 'wrong scheme', headers: { Authorization: `Token ${admin.value}` }, status: 401, code: 'unauthorized', challenge: 'Bearer realm="mechamental"' },
  { name: 'malformed', headers: { Authorization: 'Bearer mm_adm_abc123' }, status: 401, code: 'invalid_token', challenge },
  { name: 'unknown', headers: { Authorization: `Bearer ${generateValue('admin')}` }, status: 401, code: 'invalid_token', challenge },
  { name: 'revoked', headers: { Authorization: `Bearer ${revokedAdmin.value}` }, status: 401, code: 'token_revoked', challenge },
  { name: 'expired', headers: { Authorization: `Bearer ${expiredAdmin.value}` }, status: 401, code: 'token_expired', challenge },
  { name: 'trigger token (wrong kind)', headers: { Authorization: `Bearer ${trigger.value}` }, status: 403, code: 'insufficient_scope', challenge: 'Bearer realm="mechamental", error="insufficient_scope"' },
  { name: 'two Authorization headers', headers: { Authorization: [`Bearer ${admin.value}`, `Bearer ${admin.value}`] }, status: 400, code: 'invalid_request', challenge: 'Bearer realm="mechamental", error="invalid_request"' },
];

describe('admin API authentication', () => {
  test('every admin route × no/wrong-scheme/malformed/unknown/revoked/expired/wrong-kind token', async () => {
    for (const route of ROUTES) {
      for (const auth of AUTH_CASES) {
        await runScenario(t.url, {
          name: `${auth.name}`,
          method: route.method,
          url: route.url,
          headers: { ...auth.headers, ...(route.body ? { 'Content-Type': 'application/json' } : {}) },
          ...(route.body ? { body: route.body } : {}),
          status: auth.status,
          expect: [`"code":"${auth.code}"`],
          notExpect: SECRETS,
          expectHeaders: { 'WWW-Authenticate': auth.challenge },
        });
      }
    }
    // Nothing was changed by all those refused requests.
    assert.equal((await services.tokens.get(trigger.token.id)).status, 'active');
    assert.deepEqual((await services.pipelines.list('default')).map((p) => p.slug), ['chat']);
  });

  test('a token in the query string is refused, even with a valid header', async () => {
    await runScenario(t.url, { name: 'query token', url: `/v1/apps?access_token=${admin.value}`, headers: asAdmin, status: 400, expect: ['"code":"invalid_request"'], notExpect: SECRETS });
  });

  test('a valid admin token: 200 with Mechamental-Token-Expiration, and last use recorded', async () => {
    await runScenario(t.url, { name: 'valid', url: '/v1/apps', headers: asAdmin, status: 200, expect: ['"slug":"default"'], expectHeaders: { 'Mechamental-Token-Expiration': admin.token.expires_at }, notExpect: SECRETS });
    await services.usage.flush();
    assert.notEqual((await services.tokens.get(admin.token.id)).last_used_at, null);
  });
});

describe('admin API', () => {
  const actor = `api:${admin.token.id}`;

  test('apps: list, create, conflict, validation', async () => {
    const scenarios: Scenario[] = [
      { name: 'create', method: 'POST', url: '/v1/apps', headers: asAdmin, body: { slug: 'billing', name: 'Billing' }, status: 201, expect: ['"slug":"billing"', '"name":"Billing"', '"created_at"'] },
      { name: 'create again', method: 'POST', url: '/v1/apps', headers: asAdmin, body: { slug: 'billing', name: 'Billing' }, status: 409, expect: ['"code":"conflict"'] },
      { name: 'bad slug', method: 'POST', url: '/v1/apps', headers: asAdmin, body: { slug: 'Not A Slug' }, status: 422, expect: ['"code":"validation_failed"', 'slug'] },
      { name: 'slug missing', method: 'POST', url: '/v1/apps', headers: asAdmin, body: { name: 'x' }, status: 422, expect: ['"code":"validation_failed"', 'slug'] },
      { name: 'not JSON', method: 'POST', url: '/v1/apps', headers: asAdmin, body: '{"slug":', status: 400, expect: ['"code":"invalid_json"'] },
      { name: 'not a JSON content type', method: 'POST', url: '/v1/apps', headers: { ...asAdmin, 'Content-Type': 'text/plain' }, body: 'slug=x', status: 415, expect: ['"code":"unsupported_media_type"'] },
      { name: 'list', url: '/v1/apps', headers: asAdmin, status: 200, expect: ['"apps":[', '"slug":"billing"', '"slug":"default"'] },
    ];
    for (const s of scenarios) await runScenario(t.url, { ...s, notExpect: SECRETS });
  });

  test('tokens: create, list, get, refresh, rotate, revoke (idempotent), errors', async () => {
    const created = await runScenario(t.url, {
      name: 'create',
      method: 'POST',
      url: '/v1/apps/default/tokens',
      headers: asAdmin,
      body: { name: 'Mobile App Backend', expires_in: '30d' },
      status: 201,
      expect: ['"token":{', '"value":"mm_tok_', '"status":"active"', '"hint":"mm_tok_'],
      notExpect: SECRETS,
    });
    const { token, value } = created.json<{ token: { id: string; expires_at: string }; value: string }>();
    // The new value works on the trigger route straight away.
    const triggered = await request(`${t.url}/v1/trigger/chat`, { method: 'POST', headers: { Authorization: `Bearer ${value}`, 'Content-Type': 'application/json' }, body: { message: 'hi' } });
    assert.equal(triggered.status, 200);

    const secrets = [...SECRETS, value];
    const base = `/v1/apps/default/tokens/${token.id}`;
    const scenarios: Scenario[] = [
      { name: 'create with expires_at', method: 'POST', url: '/v1/apps/default/tokens', headers: asAdmin, body: { name: 'Dated', expires_at: new Date(services.clock.now() + 86_400_000).toISOString() }, status: 201, expect: ['"value":"mm_tok_'] },
      { name: 'create with a rate limit', method: 'POST', url: '/v1/apps/default/tokens', headers: asAdmin, body: { name: 'Limited', expires_in: '1d', rate_limit: 60 }, status: 201, expect: ['"rate_limit":60'] },
      { name: 'create without name', method: 'POST', url: '/v1/apps/default/tokens', headers: asAdmin, body: { expires_in: '30d' }, status: 422, expect: ['"code":"validation_failed"', 'name'] },
      { name: 'create with empty name', method: 'POST', url: '/v1/apps/default/tokens', headers: asAdmin, body: { name: ' ', expires_in: '30d' }, status: 422, expect: ['"code":"validation_failed"', 'name'] },
      { name: 'create without expiry', method: 'POST', url: '/v1/apps/default/tokens', headers: asAdmin, body: { name: 'x' }, status: 422, expect: ['"code":"validation_failed"', 'expires_at'] },
      { name: 'create with a bad duration', method: 'POST', url: '/v1/apps/default/tokens', headers: asAdmin, body: { name: 'x', expires_in: 'soon' }, status: 422, expect: ['"code":"validation_failed"', 'expires_in'] },
      { name: 'create with a bad time', method: 'POST', url: '/v1/apps/default/tokens', headers: asAdmin, body: { name: 'x', expires_at: 'tomorrow' }, status: 422, expect: ['"code":"validation_failed"', 'expires_at'] },
      { name: 'create in the past', method: 'POST', url: '/v1/apps/default/tokens', headers: asAdmin, body: { name: 'x', expires_at: '2020-01-01T00:00:00Z' }, status: 422, expect: ['"code":"invalid_expiry"'] },
      { name: 'create beyond the max lifetime', method: 'POST', url: '/v1/apps/default/tokens', headers: asAdmin, body: { name: 'x', expires_in: '2y' }, status: 422, expect: ['"code":"invalid_expiry"'] },
      { name: 'create in an unknown app', method: 'POST', url: '/v1/apps/nope/tokens', headers: asAdmin, body: { name: 'x', expires_in: '1d' }, status: 404, expect: ['"code":"not_found"'] },
      { name: 'list', url: '/v1/apps/default/tokens', headers: asAdmin, status: 200, expect: ['"tokens":[', token.id, '"last_used_at"', '"revoked_at"'] },
      { name: 'list by status', url: '/v1/apps/default/tokens?status=revoked', headers: asAdmin, status: 200, expect: ['"tokens":[]'] },
      { name: 'list by a bad status', url: '/v1/apps/default/tokens?status=bogus', headers: asAdmin, status: 422, expect: ['"code":"validation_failed"', 'status'] },
      { name: 'list of an unknown app', url: '/v1/apps/nope/tokens', headers: asAdmin, status: 404, expect: ['"code":"not_found"'] },
      { name: 'get', url: base, headers: asAdmin, status: 200, expect: [`"id":"${token.id}"`] },
      { name: 'get via another app', url: `/v1/apps/billing/tokens/${token.id}`, headers: asAdmin, status: 404, expect: ['"code":"not_found"'] },
      { name: 'unknown token', method: 'POST', url: '/v1/apps/default/tokens/tok_aaaaaaaaaaaaaaaaaaaa/revoke', headers: asAdmin, status: 404, expect: ['"code":"not_found"'] },
      { name: 'revoke via another app', method: 'POST', url: `/v1/apps/billing/tokens/${token.id}/revoke`, headers: asAdmin, status: 404, expect: ['"code":"not_found"'] },
      { name: 'refresh', method: 'POST', url: `${base}/refresh`, headers: asAdmin, body: { expires_in: '60d' }, status: 200, expect: ['"token":{', '"status":"active"'] },
      { name: 'refresh to an earlier time', method: 'POST', url: `${base}/refresh`, headers: asAdmin, body: { expires_in: '1d' }, status: 422, expect: ['"code":"invalid_expiry"'] },
      { name: 'refresh beyond the max lifetime', method: 'POST', url: `${base}/refresh`, headers: asAdmin, body: { expires_in: '400d' }, status: 422, expect: ['"code":"invalid_expiry"'] },
      { name: 'refresh without expiry', method: 'POST', url: `${base}/refresh`, headers: asAdmin, body: {}, status: 422, expect: ['"code":"validation_failed"', 'expires_at'] },
      { name: 'revoke', method: 'POST', url: `${base}/revoke`, headers: asAdmin, status: 200, expect: ['"status":"revoked"', '"revoked_at":"'] },
      { name: 'revoke again (idempotent)', method: 'POST', url: `${base}/revoke`, headers: asAdmin, status: 200, expect: ['"status":"revoked"'] },
      { name: 'refresh a revoked token', method: 'POST', url: `${base}/refresh`, headers: asAdmin, body: { expires_in: '90d' }, status: 409, expect: ['"code":"token_not_active"'] },
      { name: 'rotate a revoked token', method: 'POST', url: `${base}/rotate`, headers: asAdmin, body: {}, status: 409, expect: ['"code":"token_not_active"'] },
    ];
    for (const s of scenarios) await runScenario(t.url, { ...s, notExpect: secrets });

    const revokedAgain = (await services.audit.list({ app: 'default', limit: 100 })).filter((e) => e.action === 'token.revoked' && e.token_id === token.id);
    assert.equal(revokedAgain.length, 1, 'revoking twice records one event');
    assert.equal(revokedAgain[0]!.actor, actor);
    const rejected = await request(`${t.url}/v1/trigger/chat`, { method: 'POST', headers: { Authorization: `Bearer ${value}`, 'Content-Type': 'application/json' }, body: { message: 'hi' } });
    assert.equal(rejected.status, 401);
    assert.match(rejected.body, /token_revoked/);
  });

  test('rotate: 201 with the new value and the previous token', async () => {
    const old = await services.tokens.create({ app: 'default', name: 'Rotating', expires: '30d' }, 'cli');
    const reply = await runScenario(t.url, {
      name: 'rotate',
      method: 'POST',
      url: `/v1/apps/default/tokens/${old.token.id}/rotate`,
      headers: asAdmin,
      body: { grace: '1h' },
      status: 201,
      expect: ['"value":"mm_tok_', '"previous":{', `"replaced_by":`],
      notExpect: [...SECRETS, old.value],
    });
    const body = reply.json<{ token: { id: string; name: string }; value: string; previous: { id: string; expires_at: string } }>();
    assert.equal(body.previous.id, old.token.id);
    assert.equal(body.token.name, 'Rotating');
    assert.ok(Date.parse(body.previous.expires_at) <= services.clock.now() + 3_600_000);
    await runScenario(t.url, { name: 'bad grace', method: 'POST', url: `/v1/apps/default/tokens/${body.token.id}/rotate`, headers: asAdmin, body: { grace: 'forever' }, status: 422, expect: ['"code":"validation_failed"', 'grace'] });
  });

  test('pipelines: CRUD with validated config', async () => {
    const scenarios: Scenario[] = [
      { name: 'create', method: 'POST', url: '/v1/apps/default/pipelines', headers: asAdmin, body: { slug: 'cmd', kind: 'command', config: { argv: ['cat'] } }, status: 201, expect: ['"slug":"cmd"', '"kind":"command"'] },
      { name: 'create again', method: 'POST', url: '/v1/apps/default/pipelines', headers: asAdmin, body: { slug: 'cmd', kind: 'echo' }, status: 409, expect: ['"code":"conflict"'] },
      { name: 'bad config', method: 'POST', url: '/v1/apps/default/pipelines', headers: asAdmin, body: { slug: 'bad', kind: 'command', config: { argv: [] } }, status: 422, expect: ['"code":"validation_failed"', 'config.argv'] },
      { name: 'bad kind', method: 'POST', url: '/v1/apps/default/pipelines', headers: asAdmin, body: { slug: 'bad', kind: 'shell' }, status: 422, expect: ['"code":"validation_failed"', 'kind'] },
      { name: 'unknown app', method: 'POST', url: '/v1/apps/nope/pipelines', headers: asAdmin, body: { slug: 'x', kind: 'echo' }, status: 404, expect: ['"code":"not_found"'] },
      { name: 'list', url: '/v1/apps/default/pipelines', headers: asAdmin, status: 200, expect: ['"pipelines":[', '"slug":"chat"', '"slug":"cmd"'] },
      { name: 'get', url: '/v1/apps/default/pipelines/cmd', headers: asAdmin, status: 200, expect: ['"argv":["cat"]'] },
      { name: 'replace', method: 'PUT', url: '/v1/apps/default/pipelines/cmd', headers: asAdmin, body: { kind: 'echo', config: { delay_ms: 5 } }, status: 200, expect: ['"kind":"echo"', '"delay_ms":5'] },
      { name: 'replace with a bad config', method: 'PUT', url: '/v1/apps/default/pipelines/cmd', headers: asAdmin, body: { kind: 'http', config: { url: 'ftp://x' } }, status: 422, expect: ['config.url'] },
      { name: 'delete', method: 'DELETE', url: '/v1/apps/default/pipelines/cmd', headers: asAdmin, status: 204 },
      { name: 'get deleted', url: '/v1/apps/default/pipelines/cmd', headers: asAdmin, status: 404, expect: ['"code":"not_found"'] },
      { name: 'delete again', method: 'DELETE', url: '/v1/apps/default/pipelines/cmd', headers: asAdmin, status: 404, expect: ['"code":"not_found"'] },
    ];
    for (const s of scenarios) await runScenario(t.url, { ...s, notExpect: SECRETS });
  });

  test('audit: newest first, filtered by app, actor api:<admin token id>, never a value', async () => {
    const reply = await runScenario(t.url, { name: 'audit', url: '/v1/audit?app=default&limit=5', headers: asAdmin, status: 200, expect: ['"events":[', `"actor":"${actor}"`], notExpect: SECRETS });
    const events = reply.json<{ events: Array<{ id: number; app: string }> }>().events;
    assert.equal(events.length, 5);
    assert.ok(events.every((e) => e.app === 'default'));
    assert.ok(events.every((e, i) => i === 0 || events[i - 1]!.id > e.id), 'newest first');
    await runScenario(t.url, { name: 'bad limit', url: '/v1/audit?limit=abc', headers: asAdmin, status: 422, expect: ['"code":"validation_failed"', 'limit'] });
    await runScenario(t.url, { name: 'limit too large', url: '/v1/audit?limit=100000', headers: asAdmin, status: 422, expect: ['limit'] });
  });

  test('admin tokens cannot be created over HTTP; unknown routes are JSON 404s', async () => {
    for (const url of ['/v1/admin-tokens', '/v1/admin/tokens', '/v1/tokens']) {
      await runScenario(t.url, { name: 'no admin-token creation', method: 'POST', url, headers: asAdmin, body: { name: 'x', expires_in: '1d' }, status: 404, expect: ['"code":"not_found"'] });
    }
    await runScenario(t.url, { name: 'unknown route', url: `/nowhere/${admin.value}`, status: 404, expect: ['"code":"not_found"'], notExpect: SECRETS });
  });

  test('operations: /healthz, /readyz, /metrics without auth', async () => {
    await runScenario(t.url, { name: 'healthz', url: '/healthz', status: 200, expect: ['ok'] });
    await runScenario(t.url, { name: 'readyz', url: '/readyz', status: 200, expect: ['ready'] });
    const metrics = await runScenario(t.url, { name: 'metrics', url: '/metrics', status: 200, expect: ['mechamental_http_requests_total', 'mechamental_auth_failures_total', 'mechamental_sse_streams_open', 'mechamental_pipeline_run_duration_seconds'] });
    assert.match(String(metrics.headers['content-type']), /^text\/plain/);
    assert.match(metrics.body, /mechamental_http_requests_total\{route="\/v1\/apps\/:app\/tokens",method="POST",status="201"\}/);
    assert.match(metrics.body, /mechamental_auth_failures_total\{reason="insufficient_scope"\}/);
  });

  test('logs: never a token value or the Authorization header', async () => {
    const text = t.logs.text;
    for (const secret of SECRETS) assert.ok(!text.includes(secret), 'a token value was logged');
    assert.ok(!/authorization|bearer /i.test(text));
    assert.ok(!text.includes('access_token'));
    const entry = t.logs.entries().find((e) => e.route === '/v1/apps/:app/tokens' && e.status === 201);
    assert.ok(entry, 'requests are logged with their route pattern');
    assert.equal(entry.token_id, admin.token.id);
  });
});
