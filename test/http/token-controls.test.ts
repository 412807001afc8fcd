import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { generateValue } from '../../src/tokens/value';
import { expireToken } from '../helpers/rows';
import { eventually, request, runScenario, startTestServer, type Reply, type TestServer } from '../helpers/server';

const JSON_CT = { 'Content-Type': 'application/json' };
const hello = { message: 'hello' };

// One server trusts the loopback peer as a proxy, so that a test can present any client address in
// X-Forwarded-For; another trusts nobody (X-Forwarded-For must be ignored).
const proxied: TestServer = await startTestServer({ env: { MM_TRUSTED_PROXIES: '127.0.0.1' } });
const direct: TestServer = await startTestServer();

/** Every value issued in this file: none may appear in an answer, a log line or an audit event. */
const SECRETS: string[] = [];

async function issue(t: TestServer, name: string, controls: { pipelines?: string[]; allowedIps?: string[]; description?: string } = {}, expires = '30d') {
  const issued = await t.services.tokens.create({ app: 'default', name, expires, ...controls }, 'cli');
  SECRETS.push(issued.value);
  return issued;
}

function trigger(t: TestServer, value: string, pipeline = 'chat', headers: Record<string, string> = {}): Promise<Reply> {
  return request(`${t.url}/v1/trigger/${pipeline}`, { method: 'POST', headers: { Authorization: `Bearer ${value}`, ...JSON_CT, ...headers }, body: hello });
}

function errorCode(reply: Reply): string | undefined {
  return reply.json<{ error?: { code?: string } }>().error?.code;
}

function noSecrets(reply: Reply): void {
  const text = reply.body + JSON.stringify(reply.headers);
  for (const value of SECRETS) assert.ok(!text.includes(value), 'no token value in an answer');
}

before(async () => {
  for (const t of [proxied, direct]) {
    await t.services.pipelines.create('default', { slug: 'summarise', kind: 'echo' }, 'cli');
    await t.services.pipelines.create('default', { slug: 'other', kind: 'echo' }, 'cli');
  }
});

describe('the trigger: pipeline scope', () => {
  test('a scoped token triggers its pipelines; another is 403 insufficient_scope naming it (RFC 6750 scope=)', async () => {
    const { value, token } = await issue(proxied, 'scoped', { pipelines: ['chat', 'summarise'] });
    assert.equal((await trigger(proxied, value, 'chat')).status, 200);
    assert.equal((await trigger(proxied, value, 'summarise')).status, 200);
    for (const pipeline of ['other', 'does-not-exist']) {
      const reply = await runScenario(proxied.url, {
        name: `outside the scope: ${pipeline}`,
        method: 'POST',
        url: `/v1/trigger/${pipeline}`,
        headers: { Authorization: `Bearer ${value}`, ...JSON_CT },
        body: hello,
        status: 403,
        expect: ['"code":"insufficient_scope"', `\\"${pipeline}\\" is outside its scope`, '\\"chat\\", \\"summarise\\"', token.id],
        notExpect: SECRETS,
        expectHeaders: {
          'WWW-Authenticate': `Bearer realm="mechamental", error="insufficient_scope", scope="pipeline:${pipeline}"`,
          'Mechamental-Token-Expiration': token.expires_at,
        },
      });
      noSecrets(reply);
    }
    // A path that is no slug at all: refused the same way, without echoing it into the header.
    const odd = await request(`${proxied.url}/v1/trigger/Bad%22Name`, { method: 'POST', headers: { Authorization: `Bearer ${value}`, ...JSON_CT }, body: hello });
    assert.equal(odd.status, 403);
    assert.equal(odd.headers['www-authenticate'], 'Bearer realm="mechamental", error="insufficient_scope"');
    // An unscoped token of the same app reaches every pipeline, and a missing one is 404 as before.
    const open = await issue(proxied, 'unscoped');
    assert.equal((await trigger(proxied, open.value, 'other')).status, 200);
    assert.equal(errorCode(await trigger(proxied, open.value, 'does-not-exist')), 'pipeline_not_found');
  });
});

describe('the trigger: IP allow-lists', () => {
  const rows: Array<{ name: string; allowed: string[]; from: string; ok: boolean }> = [
    { name: 'IPv4 /32, the address', allowed: ['203.0.113.7/32'], from: '203.0.113.7', ok: true },
    { name: 'IPv4 /32, the next address', allowed: ['203.0.113.7/32'], from: '203.0.113.8', ok: false },
    { name: 'a bare address is /32', allowed: ['203.0.113.7'], from: '203.0.113.6', ok: false },
    { name: 'IPv4 /22, first address', allowed: ['192.168.4.0/22'], from: '192.168.4.0', ok: true },
    { name: 'IPv4 /22, last address', allowed: ['192.168.4.0/22'], from: '192.168.7.255', ok: true },
    { name: 'IPv4 /22, just past it', allowed: ['192.168.4.0/22'], from: '192.168.8.0', ok: false },
    { name: 'IPv4 /22, just before it', allowed: ['192.168.4.0/22'], from: '192.168.3.255', ok: false },
    { name: 'IPv4 /0 admits any IPv4 address', allowed: ['0.0.0.0/0'], from: '198.51.100.200', ok: true },
    { name: 'IPv4 /0 does not admit IPv6', allowed: ['0.0.0.0/0'], from: '2001:db8::1', ok: false },
    { name: 'IPv6 /128, the address', allowed: ['2001:db8::42/128'], from: '2001:db8::42', ok: true },
    { name: 'IPv6 /128, another spelling of it', allowed: ['2001:db8::42'], from: '2001:DB8:0:0:0:0:0:42', ok: true },
    { name: 'IPv6 /128, the next address', allowed: ['2001:db8::42/128'], from: '2001:db8::43', ok: false },
    { name: 'IPv6 /48, inside', allowed: ['2001:db8:abcd::/48'], from: '2001:db8:abcd:ffff::1', ok: true },
    { name: 'IPv6 /48, outside', allowed: ['2001:db8:abcd::/48'], from: '2001:db8:abce::1', ok: false },
    { name: 'IPv6 /0 admits any IPv6 address', allowed: ['::/0'], from: '2001:db8::9', ok: true },
    { name: 'IPv6 /0 does not admit IPv4', allowed: ['::/0'], from: '203.0.113.7', ok: false },
    { name: 'an IPv4-mapped client matches an IPv4 rule', allowed: ['10.0.0.0/8'], from: '::ffff:10.20.30.40', ok: true },
    { name: 'an IPv4-mapped rule matches the IPv4 client', allowed: ['::ffff:10.20.30.40'], from: '10.20.30.40', ok: true },
    { name: 'several entries, the second matches', allowed: ['10.0.0.0/8', '2001:db8::/32', '203.0.113.0/24'], from: '203.0.113.99', ok: true },
    { name: 'an X-Forwarded-For entry that is not an address', allowed: ['0.0.0.0/0', '::/0'], from: 'unknown', ok: false },
  ];

  test('every row: allowed from inside, 403 ip_not_allowed from outside (the client address via a trusted proxy)', async () => {
    for (const [i, row] of rows.entries()) {
      const { value, token } = await issue(proxied, `ip row ${i}`, { allowedIps: row.allowed });
      const reply = await trigger(proxied, value, 'chat', { 'X-Forwarded-For': row.from });
      noSecrets(reply);
      if (row.ok) {
        assert.equal(reply.status, 200, `${row.name}: ${reply.body}`);
        continue;
      }
      assert.equal(reply.status, 403, `${row.name}: ${reply.body}`);
      assert.equal(errorCode(reply), 'ip_not_allowed', row.name);
      assert.match(reply.json<{ error: { message: string } }>().error.message, new RegExp(`token ${token.id} may not be used from`), row.name);
      assert.equal(reply.headers['mechamental-token-expiration'], undefined, `${row.name}: nothing about the token from elsewhere`);
    }
  });

  test('a refusal from elsewhere is not a use; an accepted request records the client address', async () => {
    const { value, token } = await issue(proxied, 'office only', { allowedIps: ['198.51.100.0/24'] });
    assert.equal((await trigger(proxied, value, 'chat', { 'X-Forwarded-For': '203.0.113.7' })).status, 403);
    await proxied.services.usage.flush();
    let view = await proxied.services.tokens.get(token.id);
    assert.deepEqual([view.last_used_at, view.last_used_ip], [null, null]);
    assert.equal((await trigger(proxied, value, 'chat', { 'X-Forwarded-For': '203.0.113.7, 198.51.100.20' })).status, 200);
    await proxied.services.usage.flush();
    view = await proxied.services.tokens.get(token.id);
    assert.equal(view.last_used_ip, '198.51.100.20');
    assert.notEqual(view.last_used_at, null);
  });

  test('the IP check comes before the scope check and the rate limit', async () => {
    const both = await issue(proxied, 'both', { pipelines: ['chat'], allowedIps: ['10.0.0.0/8'] });
    assert.equal(errorCode(await trigger(proxied, both.value, 'other', { 'X-Forwarded-For': '192.0.2.1' })), 'ip_not_allowed');
    assert.equal(errorCode(await trigger(proxied, both.value, 'other', { 'X-Forwarded-For': '10.1.1.1' })), 'insufficient_scope');
    assert.equal((await trigger(proxied, both.value, 'chat', { 'X-Forwarded-For': '10.1.1.1' })).status, 200);
  });

  test('from a trusted proxy: the right-most untrusted entry counts; forged entries on its left do not', async () => {
    const { value } = await issue(proxied, 'behind a proxy', { allowedIps: ['203.0.113.7'] });
    assert.equal((await trigger(proxied, value, 'chat', { 'X-Forwarded-For': '192.0.2.1, 203.0.113.7' })).status, 200);
    assert.equal(errorCode(await trigger(proxied, value, 'chat', { 'X-Forwarded-For': '203.0.113.7, 192.0.2.1' })), 'ip_not_allowed', 'a forged left-hand entry is not believed');
    // Repeated header lines are one list; the proxy itself (127.0.0.1) is skipped as a trusted hop.
    assert.equal((await trigger(proxied, value, 'chat', { 'X-Forwarded-For': '203.0.113.7, 127.0.0.1' })).status, 200);
    // No header: the proxy's own address, which is not allowed.
    assert.equal(errorCode(await trigger(proxied, value, 'chat')), 'ip_not_allowed');
  });

  test('without MM_TRUSTED_PROXIES, X-Forwarded-For is ignored: the socket address counts', async () => {
    const { value } = await issue(direct, 'not fooled', { allowedIps: ['203.0.113.7'] });
    const reply = await trigger(direct, value, 'chat', { 'X-Forwarded-For': '203.0.113.7' });
    assert.equal(reply.status, 403);
    assert.match(reply.body, /may not be used from 127\.0\.0\.1/);
    const loopback = await issue(direct, 'loopback', { allowedIps: ['127.0.0.1/32'] });
    assert.equal((await trigger(direct, loopback.value, 'chat', { 'X-Forwarded-For': '203.0.113.7' })).status, 200);
  });

  test('an IPv6 socket (::1)', async () => {
    const v6 = await startTestServer({ server: { host: '::1' } });
    const allowed = await v6.services.tokens.create({ app: 'default', name: 'v6', expires: '1d', allowedIps: ['::1/128'] }, 'cli');
    const v4only = await v6.services.tokens.create({ app: 'default', name: 'v4', expires: '1d', allowedIps: ['127.0.0.0/8'] }, 'cli');
    SECRETS.push(allowed.value, v4only.value);
    assert.equal((await trigger(v6, allowed.value)).status, 200);
    const refused = await trigger(v6, v4only.value);
    assert.equal(refused.status, 403);
    assert.match(refused.body, /may not be used from ::1/);
    await v6.services.usage.flush();
    assert.equal((await v6.services.tokens.get(allowed.token.id)).last_used_ip, '::1');
  });

  test('a dual-stack socket: an IPv4 client arrives as ::ffff:127.0.0.1 and matches IPv4 rules', async () => {
    const dual = await startTestServer({ server: { host: '::' } });
    const base = `http://127.0.0.1:${dual.server.port}`;
    const allowed = await dual.services.tokens.create({ app: 'default', name: 'v4', expires: '1d', allowedIps: ['127.0.0.1/32'] }, 'cli');
    const v6only = await dual.services.tokens.create({ app: 'default', name: 'v6', expires: '1d', allowedIps: ['::1'] }, 'cli');
    SECRETS.push(allowed.value, v6only.value);
    const send = (value: string) => request(`${base}/v1/trigger/chat`, { method: 'POST', headers: { Authorization: `Bearer ${value}`, ...JSON_CT }, body: hello });
    assert.equal((await send(allowed.value)).status, 200);
    const refused = await send(v6only.value);
    assert.equal(refused.status, 403);
    assert.match(refused.body, /may not be used from 127\.0\.0\.1:/, 'named as the IPv4 address');
    await dual.services.usage.flush();
    assert.equal((await dual.services.tokens.get(allowed.token.id)).last_used_ip, '127.0.0.1');
    // Self-service and the leak report are served here too, on the public listener.
    assert.equal((await request(`${base}/v1/token`, { headers: { Authorization: `Bearer ${allowed.value}` } })).status, 200);
    const report = await request(`${base}/v1/tokens/revoke`, { method: 'POST', headers: JSON_CT, body: { tokens: [v6only.value] } });
    assert.equal(report.status, 202);
    await eventually(async () => (await dual.services.tokens.get(v6only.token.id)).status === 'revoked', 5_000, 'the reported token to be revoked');
  });
});

describe('self-service: GET /v1/token, POST /v1/token/rotate, POST /v1/token/revoke', () => {
  const values: Record<string, string> = {};
  before(async () => {
    values.revoked = (await issue(proxied, 'self revoked')).value;
    await proxied.services.tokens.revoke((await proxied.services.tokens.verify(values.revoked) as { token: { id: string } }).token.id, 'cli');
    const expired = await issue(proxied, 'self expired');
    await expireToken(proxied.services, expired.token.id);
    values.expired = expired.value;
    const admin = await proxied.services.tokens.createAdmin({ name: 'ops', expires: '1d' }, 'cli');
    SECRETS.push(admin.value);
    values.admin = admin.value;
  });

  const routes = [
    { method: 'GET', url: '/v1/token' },
    { method: 'POST', url: '/v1/token/rotate' },
    { method: 'POST', url: '/v1/token/revoke' },
  ];

  test('each route × no token, wrong scheme, malformed, unknown, revoked, expired, admin token', async () => {
    const challenge = /^Bearer realm="mechamental", error="invalid_token", error_description="[^"]+"$/;
    const cases: Array<{ name: string; headers: Record<string, string>; status: number; code: string; challenge: string | RegExp }> = [
      { name: 'no token', headers: {}, status: 401, code: 'unauthorized', challenge: 'Bearer realm="mechamental"' },
      { name: 'wrong scheme', headers: { Authorization: 'Basic dTpw' }, status: 401, code: 'unauthorized', challenge: 'Bearer realm="mechamental"' },
      { name: 'malformed', headers: { Authorization: 'Bearer mm_tok_abc123' }, status: 401, code: 'invalid_token', challenge },
      { name: 'unknown', headers: { Authorization: `Bearer ${generateValue('trigger')}` }, status: 401, code: 'invalid_token', challenge },
      { name: 'revoked', headers: { Authorization: `Bearer ${values.revoked}` }, status: 401, code: 'token_revoked', challenge },
      { name: 'expired', headers: { Authorization: `Bearer ${values.expired}` }, status: 401, code: 'token_expired', challenge },
      { name: 'admin token', headers: { Authorization: `Bearer ${values.admin}` }, status: 403, code: 'insufficient_scope', challenge: 'Bearer realm="mechamental", error="insufficient_scope"' },
    ];
    const before = await proxied.services.audit.list({ limit: 1 });
    for (const route of routes) {
      for (const auth of cases) {
        await runScenario(proxied.url, {
          name: `${route.method} ${route.url}: ${auth.name}`,
          method: route.method,
          url: route.url,
          headers: { ...auth.headers, ...(route.method === 'POST' ? JSON_CT : {}) },
          ...(route.method === 'POST' ? { body: {} } : {}),
          status: auth.status,
          expect: [`"code":"${auth.code}"`],
          notExpect: SECRETS,
          expectHeaders: { 'WWW-Authenticate': auth.challenge },
        });
      }
    }
    assert.deepEqual(await proxied.services.audit.list({ limit: 1 }), before, 'nothing changed');
  });

  test('GET /v1/token: the token itself, its controls, never its value', async () => {
    const { value, token } = await issue(proxied, 'who am I', { pipelines: ['chat'], allowedIps: ['10.0.0.0/8'], description: 'checks itself' });
    const reply = await runScenario(proxied.url, {
      name: 'who am I',
      url: '/v1/token',
      headers: { Authorization: `Bearer ${value}`, 'X-Forwarded-For': '10.0.0.5' },
      status: 200,
      expect: [`"id":"${token.id}"`, '"pipelines":["chat"]', '"allowed_ips":["10.0.0.0/8"]', '"description":"checks itself"', '"status":"active"'],
      notExpect: SECRETS,
      expectHeaders: { 'Mechamental-Token-Expiration': token.expires_at },
    });
    assert.deepEqual(reply.json<{ token: { id: string } }>().token.id, token.id);
  });

  test('the IP allow-list holds for self-service too (and a refusal is not a use)', async () => {
    const { value, token } = await issue(proxied, 'self from elsewhere', { allowedIps: ['10.0.0.0/8'] });
    for (const route of routes) {
      const reply = await request(proxied.url + route.url, { method: route.method, headers: { Authorization: `Bearer ${value}`, 'X-Forwarded-For': '192.0.2.1', ...JSON_CT }, ...(route.method === 'POST' ? { body: {} } : {}) });
      assert.equal(reply.status, 403, `${route.url}: ${reply.body}`);
      assert.equal(errorCode(reply), 'ip_not_allowed');
      assert.equal(reply.headers['mechamental-token-expiration'], undefined);
    }
    await proxied.services.usage.flush();
    const view = await proxied.services.tokens.get(token.id);
    assert.equal(view.status, 'active', 'neither rotated nor revoked');
    assert.equal(view.last_used_at, null);
  });

  test('POST /v1/token/rotate: a new value once, the old one for the grace period (never later), once per token', async () => {
    const { value, token } = await issue(proxied, 'self rotating', { pipelines: ['chat'] }, '3h');
    const rotated = await runScenario(proxied.url, {
      name: 'rotate',
      method: 'POST',
      url: '/v1/token/rotate',
      headers: { Authorization: `Bearer ${value}`, ...JSON_CT },
      body: { grace: '1h' },
      status: 201,
      expect: ['"value":"mm_tok_', '"previous":', `"replaced_by":`],
      notExpect: [value],
    });
    const body = rotated.json<{ token: { id: string; pipelines: string[] }; value: string; previous: { id: string; expires_at: string } }>();
    SECRETS.push(body.value);
    assert.equal(body.previous.id, token.id);
    assert.equal(Date.parse(body.previous.expires_at), proxied.services.clock.now() + 3_600_000);
    assert.deepEqual(body.token.pipelines, ['chat'], 'the scope is carried over');
    assert.equal((await trigger(proxied, body.value)).status, 200, 'the new value works');
    assert.equal((await trigger(proxied, value)).status, 200, 'the old one in its grace period');
    const [event] = await proxied.services.audit.list({ limit: 1 });
    assert.deepEqual([event?.action, event?.actor, event?.token_id], ['token.rotated', `self:${token.id}`, token.id]);

    const again = await request(`${proxied.url}/v1/token/rotate`, { method: 'POST', headers: { Authorization: `Bearer ${value}`, ...JSON_CT }, body: {} });
    assert.equal(again.status, 409);
    assert.equal(errorCode(again), 'conflict');
    // A grace longer than what is left never extends the old token.
    const short = await issue(proxied, 'short', {}, '2h');
    const long = await request(`${proxied.url}/v1/token/rotate`, { method: 'POST', headers: { Authorization: `Bearer ${short.value}`, ...JSON_CT }, body: { grace: '7d' } });
    assert.equal(long.status, 201);
    SECRETS.push(long.json<{ value: string }>().value);
    assert.equal(long.json<{ previous: { expires_at: string } }>().previous.expires_at, short.token.expires_at);
    // No body is fine (default grace); anything but grace is refused.
    const plain = await issue(proxied, 'plain rotate');
    const noBody = await request(`${proxied.url}/v1/token/rotate`, { method: 'POST', headers: { Authorization: `Bearer ${plain.value}` } });
    assert.equal(noBody.status, 201, noBody.body);
    SECRETS.push(noBody.json<{ value: string }>().value);
    const other = await issue(proxied, 'greedy');
    const greedy = await request(`${proxied.url}/v1/token/rotate`, { method: 'POST', headers: { Authorization: `Bearer ${other.value}`, ...JSON_CT }, body: { expires_in: '365d' } });
    assert.equal(greedy.status, 422);
    const badGrace = await request(`${proxied.url}/v1/token/rotate`, { method: 'POST', headers: { Authorization: `Bearer ${other.value}`, ...JSON_CT }, body: { grace: 'soon' } });
    assert.equal(badGrace.status, 422);
    assert.equal((await proxied.services.tokens.get(other.token.id)).replaced_by, null);
  });

  test('POST /v1/token/revoke: 200 with the revoked token; it stops working at once', async () => {
    const { value, token } = await issue(proxied, 'self revoking');
    const reply = await runScenario(proxied.url, {
      name: 'revoke',
      method: 'POST',
      url: '/v1/token/revoke',
      headers: { Authorization: `Bearer ${value}` },
      status: 200,
      expect: [`"id":"${token.id}"`, '"status":"revoked"'],
      notExpect: SECRETS,
    });
    assert.ok(reply.json<{ token: { revoked_at: string } }>().token.revoked_at);
    assert.equal(errorCode(await trigger(proxied, value)), 'token_revoked');
    const [event] = await proxied.services.audit.list({ limit: 1 });
    assert.deepEqual([event?.action, event?.actor], ['token.revoked', `self:${token.id}`]);
  });
});

describe('leaked values: POST /v1/tokens/revoke', () => {
  /** Each test reports from its own client address (X-Forwarded-For through the trusted loopback proxy), so rate limits do not mix. */
  const report = (from: string, body: unknown) => request(`${proxied.url}/v1/tokens/revoke`, { method: 'POST', headers: { ...JSON_CT, 'X-Forwarded-For': from }, body: body as object });

  test('real, garbage and unknown values get the same answer; only the real one is revoked (admin tokens too)', async () => {
    const real = await issue(proxied, 'leaked');
    const bystander = await issue(proxied, 'bystander');
    const admin = await proxied.services.tokens.createAdmin({ name: 'leaked ops', expires: '1d' }, 'cli');
    SECRETS.push(admin.value);
    const bodies: Array<[string, string[]]> = [
      ['real', [real.value]],
      ['garbage', ['not a token at all']],
      ['unknown', [generateValue('trigger')]],
      ['bad checksum', [`${bystander.value.slice(0, -1)}${bystander.value.endsWith('A') ? 'B' : 'A'}`]],
      ['admin', [admin.value]],
    ];
    const answers: string[] = [];
    for (const [name, tokens] of bodies) {
      const reply = await report('198.51.100.1', { tokens });
      assert.equal(reply.status, 202, `${name}: ${reply.body}`);
      assert.equal(reply.body, '{"received":1}', name);
      noSecrets(reply);
      answers.push(JSON.stringify([reply.status, reply.body, reply.headers['content-type'], reply.headers['content-length']]));
    }
    assert.equal(new Set(answers).size, 1, 'one answer whatever matched');
    await eventually(async () => (await proxied.services.tokens.get(real.token.id)).status === 'revoked', 5_000, 'the real value to be revoked');
    await eventually(async () => (await proxied.services.tokens.get(admin.token.id)).status === 'revoked', 5_000, 'the admin value to be revoked');
    assert.equal((await proxied.services.tokens.get(bystander.token.id)).status, 'active', 'a near miss revokes nothing');
    const events = (await proxied.services.audit.list({ limit: 10 })).filter((e) => e.actor === 'leak-report');
    assert.deepEqual(new Set(events.map((e) => e.token_id)), new Set([real.token.id, admin.token.id]));
    assert.equal(errorCode(await trigger(proxied, real.value)), 'token_revoked');
  });

  test('up to 100 values; more, or anything but a list of strings, is 422 without quoting a value', async () => {
    const hundred = Array.from({ length: 100 }, () => generateValue('trigger'));
    const ok = await report('198.51.100.2', { tokens: hundred });
    assert.equal(ok.status, 202);
    assert.deepEqual(ok.json(), { received: 100 });
    const leaked = await issue(proxied, 'in a big report');
    const tooMany = await report('198.51.100.2', { tokens: [...hundred, leaked.value] });
    assert.equal(tooMany.status, 422);
    assert.match(tooMany.body, /at most 100 values \(this one has 101\)/);
    noSecrets(tooMany);
    for (const body of [{}, { tokens: leaked.value }, { tokens: [leaked.value, 42] }, [leaked.value], { tokens: null }]) {
      const reply = await report('198.51.100.2', body);
      assert.equal(reply.status, 422, JSON.stringify(body).slice(0, 40));
      assert.equal(errorCode(reply), 'validation_failed');
      noSecrets(reply);
    }
    const notJson = await request(`${proxied.url}/v1/tokens/revoke`, { method: 'POST', headers: { ...JSON_CT, 'X-Forwarded-For': '198.51.100.2' }, body: `{"tokens": ["${leaked.value}"` });
    assert.equal(notJson.status, 400);
    noSecrets(notJson);
    assert.equal((await proxied.services.tokens.get(leaked.token.id)).status, 'active', 'a refused report revokes nothing');
    assert.deepEqual((await report('198.51.100.3', { tokens: [] })).json(), { received: 0 });
  });

  test('rate-limited per client address: 429 with Retry-After; other addresses unaffected; a new minute opens again', async () => {
    for (let i = 0; i < 10; i++) assert.equal((await report('198.51.100.4', { tokens: [] })).status, 202, `report ${i + 1}`);
    const limited = await report('198.51.100.4', { tokens: [generateValue('trigger')] });
    assert.equal(limited.status, 429);
    assert.equal(errorCode(limited), 'rate_limited');
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${limited.headers['retry-after']}`);
    assert.equal((await report('198.51.100.5', { tokens: [] })).status, 202, 'another address');
    proxied.services.clock.advance(60_000);
    assert.equal((await report('198.51.100.4', { tokens: [] })).status, 202);
  });

  test('the admin API: create with controls, 422 for bad ones', async () => {
    const admin = await proxied.services.tokens.createAdmin({ name: 'api', expires: '1d' }, 'cli');
    SECRETS.push(admin.value);
    const asAdmin = { Authorization: `Bearer ${admin.value}`, ...JSON_CT };
    const created = await runScenario(proxied.url, {
      name: 'create with controls',
      method: 'POST',
      url: '/v1/apps/default/tokens',
      headers: asAdmin,
      body: { name: 'ci', expires_in: '30d', description: 'CI', pipelines: ['summarise', 'chat'], allowed_ips: ['203.0.113.0/24', '2001:DB8::/32'] },
      status: 201,
      expect: ['"pipelines":["chat","summarise"]', '"allowed_ips":["203.0.113.0/24","2001:db8::/32"]', '"description":"CI"', '"last_used_ip":null'],
    });
    SECRETS.push(created.json<{ value: string }>().value);
    const id = created.json<{ token: { id: string } }>().token.id;
    await runScenario(proxied.url, { name: 'get', url: `/v1/apps/default/tokens/${id}`, headers: asAdmin, status: 200, expect: ['"pipelines":["chat","summarise"]'], notExpect: SECRETS });
    const bad: Array<[object, string]> = [
      [{ pipelines: ['nope'] }, 'has no pipeline \\"nope\\"'],
      [{ pipelines: [] }, 'pipelines: give at least one'],
      [{ pipelines: 'chat' }, 'pipelines'],
      [{ allowed_ips: ['10.0.0.0/33'] }, 'allowed_ips: \\"10.0.0.0/33\\" is not'],
      [{ allowed_ips: [] }, 'allowed_ips: give at least one'],
      [{ description: 'x'.repeat(501) }, 'description: is 501 characters long'],
    ];
    for (const [extra, message] of bad) {
      await runScenario(proxied.url, { name: JSON.stringify(extra).slice(0, 60), method: 'POST', url: '/v1/apps/default/tokens', headers: asAdmin, body: { name: 'bad', expires_in: '1d', ...extra }, status: 422, expect: ['"code":"validation_failed"', message] });
    }
  });

  test('no token value in any log line or audit event', async () => {
    await proxied.services.usage.flush();
    for (const t of [proxied, direct]) {
      const logs = t.logs.text;
      const audit = JSON.stringify(await t.services.audit.list({ limit: 1000 }));
      for (const value of SECRETS) {
        assert.ok(!logs.includes(value), 'a value in the log');
        assert.ok(!audit.includes(value), 'a value in the audit trail');
        assert.ok(!logs.includes(value.slice(7, 37)), 'not even its random part');
      }
    }
    const handled = proxied.logs.entries().filter((entry) => entry.msg === 'leaked-token report handled');
    assert.ok(handled.length > 0, 'each report handled is logged (counts only)');
    for (const entry of handled) assert.deepEqual(Object.keys(entry).filter((k) => !['level', 'time', 'pid', 'hostname', 'msg'].includes(k)).sort(), ['received', 'revoked']);
  });
});
