import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { generateValue } from '../../src/tokens/value';
import { expireToken } from '../helpers/rows';
import { request, runScenario, startTestServer, type Scenario, type TestServer } from '../helpers/server';

const MAX_BODY = 2048;
const JSON_CT = { 'Content-Type': 'application/json' };

// Started at the top level, so that the helpers' `after` hooks close it after the whole file.
// Last uses are written only by an explicit flush here (the 5 s timer could fire between a test's requests and its check).
const t: TestServer = await startTestServer({ env: { MM_MAX_BODY: String(MAX_BODY) }, server: { usageFlushMs: 3_600_000 } });

describe('POST /v1/trigger/:pipeline', () => {
  const v: Record<string, string> = {};
  const ids: Record<string, string> = {};
  let validExpiry = '';

  before(async () => {
    const { services } = t;
    await services.apps.create({ slug: 'other', name: 'Other' }, 'cli');
    await services.pipelines.create('other', { slug: 'secret', kind: 'echo' }, 'cli');
    await services.pipelines.create('default', { slug: 'fails', kind: 'command', config: { argv: ['sh', '-c', 'echo partial; echo "disk on fire" >&2; exit 3'] } }, 'cli');
    await services.pipelines.create('default', { slug: 'fails-openly', kind: 'command', config: { argv: ['sh', '-c', 'echo "disk on fire" >&2; exit 3'], expose_errors: true } }, 'cli');
    await services.pipelines.create('default', { slug: 'slow', kind: 'command', config: { argv: ['sleep', '5'], timeout_ms: 200 } }, 'cli');
    const issue = async (name: string, app = 'default', rateLimit: number | null = null) => {
      const issued = await services.tokens.create({ app, name, expires: '30d', rateLimit }, 'cli');
      v[name] = issued.value;
      ids[name] = issued.token.id;
      return issued;
    };
    validExpiry = (await issue('valid')).token.expires_at;
    await issue('other', 'other');
    await issue('revoked');
    await services.tokens.revoke(ids.revoked!, 'cli');
    await issue('expired');
    // Expire it in the file itself, as time passing would.
    await expireToken(services, ids.expired!);
    await issue('limited', 'default', 2);
    const admin = await services.tokens.createAdmin({ name: 'ops', expires: '30d' }, 'cli');
    v.admin = admin.value;
    ids.admin = admin.token.id;
    v.unknown = generateValue('trigger');
  });

  const bearer = (name: string) => ({ Authorization: `Bearer ${v[name]}`, ...JSON_CT });
  const hello = { message: 'Hello, how can I reset my password?' };
  const invalidTokenChallenge = /^Bearer realm="mechamental", error="invalid_token", error_description="[^"]+"$/;

  const scenarios = (): Scenario[] => [
    { name: 'no Authorization header', method: 'POST', url: '/v1/trigger/chat', headers: JSON_CT, body: hello, status: 401, expect: ['"code":"unauthorized"'], expectHeaders: { 'WWW-Authenticate': 'Bearer realm="mechamental"', 'Mechamental-Token-Expiration': null } },
    { name: 'another scheme', method: 'POST', url: '/v1/trigger/chat', headers: { Authorization: `Basic ${Buffer.from('a:b').toString('base64')}`, ...JSON_CT }, body: hello, status: 401, expect: ['"code":"unauthorized"'], expectHeaders: { 'WWW-Authenticate': 'Bearer realm="mechamental"' } },
    { name: 'two Authorization headers', method: 'POST', url: '/v1/trigger/chat', headers: { Authorization: [`Bearer ${v.valid}`, `Bearer ${v.valid}`], ...JSON_CT }, body: hello, status: 400, expect: ['"code":"invalid_request"'], expectHeaders: { 'WWW-Authenticate': 'Bearer realm="mechamental", error="invalid_request"' } },
    { name: 'token in the query string', method: 'POST', url: `/v1/trigger/chat?access_token=${v.valid}`, headers: JSON_CT, body: hello, status: 400, expect: ['"code":"invalid_request"'], expectHeaders: { 'WWW-Authenticate': 'Bearer realm="mechamental", error="invalid_request"' } },
    { name: 'token in the query string besides a header', method: 'POST', url: `/v1/trigger/chat?token=${v.valid}`, headers: bearer('valid'), body: hello, status: 400, expect: ['"code":"invalid_request"'] },
    { name: 'malformed token (the seed placeholder)', method: 'POST', url: '/v1/trigger/chat', headers: { Authorization: 'Bearer mm_tok_abc123...', ...JSON_CT }, body: hello, status: 401, expect: ['"code":"invalid_token"'], notExpect: ['mm_tok_abc123'], expectHeaders: { 'WWW-Authenticate': invalidTokenChallenge } },
    { name: 'bad checksum', method: 'POST', url: '/v1/trigger/chat', headers: { Authorization: `Bearer ${v.valid!.slice(0, -1)}${v.valid!.endsWith('A') ? 'B' : 'A'}`, ...JSON_CT }, body: hello, status: 401, expect: ['"code":"invalid_token"'], expectHeaders: { 'WWW-Authenticate': invalidTokenChallenge } },
    { name: 'empty Bearer', method: 'POST', url: '/v1/trigger/chat', headers: { Authorization: 'Bearer ', ...JSON_CT }, body: hello, status: 401, expect: ['"code":"invalid_token"'] },
    { name: 'unknown token', method: 'POST', url: '/v1/trigger/chat', headers: bearer('unknown'), body: hello, status: 401, expect: ['"code":"invalid_token"', 'not known'], expectHeaders: { 'WWW-Authenticate': invalidTokenChallenge } },
    { name: 'revoked token', method: 'POST', url: '/v1/trigger/chat', headers: bearer('revoked'), body: hello, status: 401, expect: ['"code":"token_revoked"', ids.revoked!], expectHeaders: { 'WWW-Authenticate': invalidTokenChallenge } },
    { name: 'expired token', method: 'POST', url: '/v1/trigger/chat', headers: bearer('expired'), body: hello, status: 401, expect: ['"code":"token_expired"'], expectHeaders: { 'WWW-Authenticate': invalidTokenChallenge } },
    { name: 'admin token used to trigger', method: 'POST', url: '/v1/trigger/chat', headers: bearer('admin'), body: hello, status: 403, expect: ['"code":"insufficient_scope"'], expectHeaders: { 'WWW-Authenticate': 'Bearer realm="mechamental", error="insufficient_scope"', 'Mechamental-Token-Expiration': /^\d{4}-\d\d-\d\dT/ } },
    { name: "another app's pipeline", method: 'POST', url: '/v1/trigger/secret', headers: bearer('valid'), body: hello, status: 404, expect: ['"code":"pipeline_not_found"'], expectHeaders: { 'Mechamental-Token-Expiration': validExpiry } },
    { name: 'no such pipeline', method: 'POST', url: '/v1/trigger/nope', headers: bearer('valid'), body: hello, status: 404, expect: ['"code":"pipeline_not_found"'] },
    { name: 'nested path', method: 'POST', url: '/v1/trigger/chat/more', headers: bearer('valid'), body: hello, status: 404, expect: ['"code":"pipeline_not_found"'] },
    { name: 'body not JSON', method: 'POST', url: '/v1/trigger/chat', headers: bearer('valid'), body: '{"message": ', status: 400, expect: ['"code":"invalid_json"'], expectHeaders: { 'Mechamental-Token-Expiration': validExpiry } },
    { name: 'body a JSON array', method: 'POST', url: '/v1/trigger/chat', headers: bearer('valid'), body: '["Hello"]', status: 400, expect: ['"code":"invalid_json"', 'object'] },
    { name: 'body JSON null', method: 'POST', url: '/v1/trigger/chat', headers: bearer('valid'), body: 'null', status: 400, expect: ['"code":"invalid_json"'] },
    { name: 'empty body', method: 'POST', url: '/v1/trigger/chat', headers: bearer('valid'), status: 400, expect: ['"code":"invalid_json"'] },
    { name: 'Content-Type not JSON (curl -d default)', method: 'POST', url: '/v1/trigger/chat', headers: { Authorization: `Bearer ${v.valid}`, 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'message=hi', status: 415, expect: ['"code":"unsupported_media_type"'], expectHeaders: { 'Mechamental-Token-Expiration': validExpiry } },
    { name: 'no Content-Type', method: 'POST', url: '/v1/trigger/chat', headers: { Authorization: `Bearer ${v.valid}` }, body: '{}', status: 415, expect: ['"code":"unsupported_media_type"'] },
    { name: 'body over the limit (Content-Length)', method: 'POST', url: '/v1/trigger/chat', headers: bearer('valid'), body: { message: 'x'.repeat(MAX_BODY) }, status: 413, expect: ['"code":"payload_too_large"'] },
    { name: 'body over the limit (chunked)', method: 'POST', url: '/v1/trigger/chat', headers: { ...bearer('valid'), 'Transfer-Encoding': 'chunked' }, body: { message: 'x'.repeat(MAX_BODY) }, status: 413, expect: ['"code":"payload_too_large"'] },
    { name: 'pipeline failed', method: 'POST', url: '/v1/trigger/fails', headers: bearer('valid'), body: hello, status: 502, expect: ['"code":"pipeline_failed"', 'the server log has the details (run run_', '"run_id":"run_'], notExpect: ['exited with code 3', 'disk on fire'] },
    { name: 'pipeline failed, errors exposed by its config', method: 'POST', url: '/v1/trigger/fails-openly', headers: bearer('valid'), body: hello, status: 502, expect: ['"code":"pipeline_failed"', 'disk on fire', '"run_id":"run_'] },
    { name: 'body nested 65 levels deep', method: 'POST', url: '/v1/trigger/chat', headers: bearer('valid'), body: `{"message":"x","n":${'['.repeat(64)}${']'.repeat(64)}}`, status: 400, expect: ['"code":"invalid_json"', '64'] },
    { name: 'body nested 64 levels deep is fine', method: 'POST', url: '/v1/trigger/chat', headers: bearer('valid'), body: `{"message":"x","n":${'['.repeat(63)}${']'.repeat(63)}}`, status: 200 },
    { name: 'pipeline timed out', method: 'POST', url: '/v1/trigger/slow', headers: bearer('valid'), body: hello, status: 504, expect: ['"code":"pipeline_timeout"', '200 ms'] },
    { name: 'valid', method: 'POST', url: '/v1/trigger/chat', headers: bearer('valid'), body: hello, status: 200, expect: ['"run_id":"run_', '"pipeline":"chat"', `"output":"${hello.message}"`], expectHeaders: { 'Mechamental-Token-Expiration': validExpiry, 'Content-Type': /^application\/json/ } },
    { name: 'valid, scheme in lower case', method: 'POST', url: '/v1/trigger/chat', headers: { Authorization: `bearer ${v.valid}`, ...JSON_CT }, body: hello, status: 200, expect: ['"output"'] },
    { name: 'valid, scheme in upper case, JSON with charset', method: 'POST', url: '/v1/trigger/chat', headers: { Authorization: `BEARER ${v.valid}`, 'Content-Type': 'application/json; charset=utf-8' }, body: hello, status: 200, expect: ['"output"'] },
    { name: "other app's token on its own pipeline", method: 'POST', url: '/v1/trigger/secret', headers: bearer('other'), body: { message: 'mine' }, status: 200, expect: ['"output":"mine"'] },
    { name: 'echo without a message', method: 'POST', url: '/v1/trigger/chat', headers: bearer('valid'), body: {}, status: 422, expect: ['"code":"validation_failed"', 'message'] },
    { name: 'GET on the trigger path', method: 'GET', url: '/v1/trigger/chat', headers: bearer('valid'), status: 405, expect: ['"code":"method_not_allowed"'], expectHeaders: { Allow: 'POST, OPTIONS' } },
  ];

  test('every row of the error table, and the valid answer', async () => {
    for (const scenario of scenarios()) {
      await runScenario(t.url, { ...scenario, notExpect: [...(scenario.notExpect ?? []), ...Object.values(v)] });
    }
  });

  test('the run_id is unique and the output is the whole text', async () => {
    const a = (await request(`${t.url}/v1/trigger/chat`, { method: 'POST', headers: bearer('valid'), body: hello })).json<{ run_id: string; output: string }>();
    const b = (await request(`${t.url}/v1/trigger/chat`, { method: 'POST', headers: bearer('valid'), body: hello })).json<{ run_id: string }>();
    assert.match(a.run_id, /^run_[0-9a-f]{24}$/);
    assert.notEqual(a.run_id, b.run_id);
    assert.equal(a.output, hello.message);
  });

  test('rate limit: 429 rate_limited with Retry-After beyond the per-minute limit', async () => {
    const send = () => request(`${t.url}/v1/trigger/chat`, { method: 'POST', headers: bearer('limited'), body: hello });
    assert.equal((await send()).status, 200);
    assert.equal((await send()).status, 200);
    const third = await send();
    assert.equal(third.status, 429, third.body);
    assert.equal(third.json<{ error: { code: string } }>().error.code, 'rate_limited');
    const retryAfter = Number(third.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${third.headers['retry-after']}`);
    assert.ok(third.headers['mechamental-token-expiration']);
    // A new minute opens a new window.
    t.services.clock.advance(60_000);
    assert.equal((await send()).status, 200);
  });

  test('a revoke is seen by the very next request (no cache)', async () => {
    const issued = await t.services.tokens.create({ app: 'default', name: 'short-lived', expires: '1d' }, 'cli');
    const send = () => request(`${t.url}/v1/trigger/chat`, { method: 'POST', headers: { Authorization: `Bearer ${issued.value}`, ...JSON_CT }, body: hello });
    assert.equal((await send()).status, 200);
    await t.services.tokens.revoke(issued.token.id, 'cli');
    const after = await send();
    assert.equal(after.status, 401);
    assert.match(after.body, /token_revoked/);
  });

  test('an expiry passing by the clock is seen at once', async () => {
    const issued = await t.services.tokens.create({ app: 'default', name: 'clocked', expires: '1h' }, 'cli');
    const send = () => request(`${t.url}/v1/trigger/chat`, { method: 'POST', headers: { Authorization: `Bearer ${issued.value}`, ...JSON_CT }, body: hello });
    assert.equal((await send()).status, 200);
    t.services.clock.advance(3_600_001);
    const reply = await send();
    assert.equal(reply.status, 401);
    assert.match(reply.body, /token_expired/);
    t.services.clock.advance(-3_600_001);
  });

  test('last_used_at is batched: no write per request, written on flush', async () => {
    const issued = await t.services.tokens.create({ app: 'default', name: 'usage', expires: '1d' }, 'cli');
    for (let i = 0; i < 5; i++) {
      const reply = await request(`${t.url}/v1/trigger/chat`, { method: 'POST', headers: { Authorization: `Bearer ${issued.value}`, ...JSON_CT }, body: hello });
      assert.equal(reply.status, 200);
    }
    assert.equal((await t.services.tokens.get(issued.token.id)).last_used_at, null, 'no database write per request');
    assert.equal(await t.services.usage.flush() >= 1, true);
    assert.equal((await t.services.tokens.get(issued.token.id)).last_used_at, new Date(t.services.clock.now()).toISOString());
  });

  test('logs: one JSON line per request; never a token value, the Authorization header or a query string', async () => {
    const text = t.logs.text;
    for (const value of Object.values(v)) assert.ok(!text.includes(value), 'a token value was logged');
    assert.ok(!/authorization/i.test(text), 'the Authorization header was logged');
    assert.ok(!/bearer /i.test(text));
    assert.ok(!text.includes('access_token'), 'a query string was logged');
    const requests = t.logs.entries().filter((e) => e.msg === 'request' && e.route === '/v1/trigger/:pipeline');
    assert.ok(requests.length >= 30);
    const ok = requests.find((e) => e.status === 200)!;
    assert.equal(typeof ok.duration_ms, 'number');
    assert.match(String(ok.token_id), /^tok_/);
    assert.equal(ok.method, 'POST');
  });

  test('metrics count requests by route and status, and auth failures by reason', async () => {
    const text = (await request(`${t.url}/metrics`)).body;
    assert.match(text, /mechamental_http_requests_total\{route="\/v1\/trigger\/:pipeline",method="POST",status="200"\} \d+/);
    assert.match(text, /mechamental_auth_failures_total\{reason="revoked"\} [1-9]/);
    assert.match(text, /mechamental_auth_failures_total\{reason="malformed"\} [1-9]/);
    assert.match(text, /mechamental_pipeline_run_duration_seconds_count\{kind="echo",outcome="completed"\} [1-9]/);
    assert.match(text, /mechamental_sse_streams_open 0/);
  });
});
