import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isSafeErrorDescription, safeErrorDescription } from '../../src/http/challenge';
import { ROUTES } from '../../src/http/routes/index';
import { generateValue } from '../../src/tokens/value';
import { runCli } from '../helpers/cli';
import { tempDataDir } from '../helpers/data-dir';
import { request, runScenario, startTestServer, type Scenario } from '../helpers/server';
import { headerOf, jsonBodyOf, rawExchange, responseCount, statusOf } from './helpers/raw-http';

// Short limits, so that the timeouts are seen in a second or two.
const t = await startTestServer({ env: { MM_HEADERS_TIMEOUT: '1s', MM_REQUEST_TIMEOUT: '2s' } });
const { services } = t;
const port = t.server.port;
const admin = await services.tokens.createAdmin({ name: 'ops', expires: '30d' }, 'cli');
const trigger = await services.tokens.create({ app: 'default', name: 'CI/CD Pipeline', expires: '30d' }, 'cli');
const asAdmin = { Authorization: `Bearer ${admin.value}` };
const HOST = `Host: 127.0.0.1:${port}\r\n`;

/** A concrete URL for a route pattern. */
function concrete(path: string): string {
  return path.replace(':app', 'default').replace(':id', trigger.token.id).replace(':slug', 'chat');
}

/** Asserts a raw answer is the JSON error body with `status` and `code`, on a connection the server then closes. */
function assertJsonError(text: string, status: number, code: string): void {
  assert.equal(statusOf(text), status, text);
  assert.match(headerOf(text, 'content-type') ?? '', /^application\/json/, text);
  const body = jsonBodyOf(text);
  assert.equal(body.error?.code, code, text);
  assert.equal(typeof body.error?.message, 'string', text);
}

describe('HTTP conformance (SPEC "HTTP conformance")', () => {
  test('a known path with a wrong method: 405 method_not_allowed with Allow, for every route and the trigger; OPTIONS: 204 with Allow', async () => {
    const byPath = new Map<string, Set<string>>();
    for (const route of ROUTES) byPath.set(route.path, new Set([...(byPath.get(route.path) ?? []), route.method.toUpperCase()]));
    byPath.set('/v1/trigger/:pipeline', new Set(['POST']));
    assert.ok(byPath.size >= 10, 'the whole route table');
    for (const [path, methods] of byPath) {
      const allowed = new Set(methods);
      if (allowed.has('GET')) allowed.add('HEAD');
      allowed.add('OPTIONS');
      const url = concrete(path.replace(':pipeline', 'chat'));
      for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH']) {
        if (allowed.has(method)) continue;
        const reply = await request(`${t.url}${url}`, { method, headers: asAdmin });
        assert.equal(reply.status, 405, `${method} ${url}: ${reply.body}`);
        assert.deepEqual(new Set(String(reply.headers.allow).split(', ')), allowed, `${method} ${url}: Allow`);
        if (method !== 'HEAD') {
          assert.equal(reply.json<{ error: { code: string } }>().error.code, 'method_not_allowed');
          assert.match(reply.body, new RegExp(`${method} is not allowed on`));
        }
      }
      const options = await request(`${t.url}${url}`, { method: 'OPTIONS' });
      assert.equal(options.status, 204, `OPTIONS ${url}`);
      assert.deepEqual(new Set(String(options.headers.allow).split(', ')), allowed, `OPTIONS ${url}: Allow`);
    }
    // The trigger path with a valid token and any sub-path: the trigger handler leaves it to Express.
    await runScenario(t.url, { name: 'GET on the trigger with a token', url: '/v1/trigger/chat', headers: { Authorization: `Bearer ${trigger.value}` }, status: 405, expectHeaders: { Allow: 'POST, OPTIONS' }, notExpect: [trigger.value] });
    await runScenario(t.url, { name: 'PUT on a nested trigger path', method: 'PUT', url: '/v1/trigger/a/b', status: 405, expectHeaders: { Allow: 'POST, OPTIONS' } });
    // An unknown path stays 404.
    await runScenario(t.url, { name: 'unknown path', method: 'DELETE', url: '/v1/nothing', status: 404, expect: ['"code":"not_found"'] });
  });

  test('415 carries Accept-Post: application/json (admin API)', async () => {
    const scenarios: Scenario[] = [
      { name: 'text body', method: 'POST', url: '/v1/apps', headers: { ...asAdmin, 'Content-Type': 'text/plain' }, body: 'slug=x', status: 415, expect: ['"code":"unsupported_media_type"'], expectHeaders: { 'Accept-Post': 'application/json' } },
      { name: 'Latin-1 JSON', method: 'POST', url: '/v1/apps', headers: { ...asAdmin, 'Content-Type': 'application/json; charset=latin1' }, body: '{}', status: 415, expect: ['"code":"unsupported_media_type"'], expectHeaders: { 'Accept-Post': 'application/json' } },
    ];
    for (const scenario of scenarios) await runScenario(t.url, scenario);
  });

  test('headers over 16 KiB: 431 headers_too_large, JSON', async () => {
    const answer = await rawExchange(port, `GET /healthz HTTP/1.1\r\n${HOST}X-Big: ${'b'.repeat(20_000)}\r\n\r\n`);
    assertJsonError(answer.text, 431, 'headers_too_large');
    assert.ok(answer.closedByServer);
    const many = await rawExchange(port, `GET /healthz HTTP/1.1\r\n${HOST}${Array.from({ length: 3000 }, (_, i) => `X-H${i}: v`).join('\r\n')}\r\n\r\n`);
    assertJsonError(many.text, 431, 'headers_too_large');
  });

  test('what is not HTTP/1.1: 400 invalid_request, JSON', async () => {
    for (const bytes of ['HELLO\r\n\r\n', `GET /healthz HTTP/1.1\r\n${HOST}NoColon\r\n\r\n`, `GET /healthz HTTP/1.1\r\n${HOST}Content-Length: 1\r\nContent-Length: 2\r\n\r\n`]) {
      const answer = await rawExchange(port, bytes);
      assertJsonError(answer.text, 400, 'invalid_request');
    }
  });

  test('a missing (HTTP/1.1), duplicated or empty Host: 400 invalid_request, JSON; HTTP/1.0 without Host is answered', async () => {
    const missing = await rawExchange(port, 'GET /healthz HTTP/1.1\r\n\r\n');
    assertJsonError(missing.text, 400, 'invalid_request');
    assert.match(jsonBodyOf(missing.text).error!.message!, /needs a Host header/);
    const twice = await rawExchange(port, `GET /healthz HTTP/1.1\r\n${HOST}Host: evil.example\r\n\r\n`);
    assertJsonError(twice.text, 400, 'invalid_request');
    assert.match(jsonBodyOf(twice.text).error!.message!, /more than one Host/);
    const twiceSame = await rawExchange(port, `GET /healthz HTTP/1.1\r\n${HOST}${HOST}\r\n`);
    assertJsonError(twiceSame.text, 400, 'invalid_request');
    const empty = await rawExchange(port, 'GET /healthz HTTP/1.1\r\nHost:\r\n\r\n');
    assertJsonError(empty.text, 400, 'invalid_request');
    // On the trigger path too, before authentication.
    const trig = await rawExchange(port, `POST /v1/trigger/chat HTTP/1.1\r\nAuthorization: Bearer ${trigger.value}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`);
    assertJsonError(trig.text, 400, 'invalid_request');
    const http10 = await rawExchange(port, 'GET /healthz HTTP/1.0\r\n\r\n');
    assert.equal(statusOf(http10.text), 200, http10.text);
  });

  test('408 request_timeout, JSON: headers not finished within MM_HEADERS_TIMEOUT, a body not within MM_REQUEST_TIMEOUT, a connection that sends nothing', async () => {
    const [headers, nothing, triggerBody, adminBody] = await Promise.all([
      rawExchange(port, `GET /healthz HTTP/1.1\r\n${HOST}X-Slow: a`),
      rawExchange(port, ''),
      rawExchange(port, `POST /v1/trigger/chat HTTP/1.1\r\n${HOST}Authorization: Bearer ${trigger.value}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"message":`),
      rawExchange(port, `POST /v1/apps HTTP/1.1\r\n${HOST}Authorization: Bearer ${admin.value}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"slug":`),
    ]);
    for (const [name, answer, limitMs] of [
      ['headers', headers, 1000],
      ['nothing sent', nothing, 1000],
      ['trigger body', triggerBody, 2000],
      ['admin body', adminBody, 2000],
    ] as const) {
      assertJsonError(answer.text, 408, 'request_timeout');
      assert.match(jsonBodyOf(answer.text).error!.message!, /MM_HEADERS_TIMEOUT.*MM_REQUEST_TIMEOUT/);
      assert.ok(answer.closedByServer, `${name}: closed by the server`);
      assert.ok(answer.ms >= limitMs - 50 && answer.ms < limitMs + 1500, `${name}: closed after ${answer.ms} ms, the limit is ${limitMs} ms`);
      assert.ok(!answer.text.includes(trigger.value) && !answer.text.includes(admin.value));
    }
    assert.equal(await eventuallyNoActiveRuns(), true);
  });

  test('a request answered before its body arrived gets no second, unasked-for answer when the body never comes', async () => {
    const answer = await rawExchange(port, `POST /v1/trigger/chat HTTP/1.1\r\n${HOST}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":`);
    assert.equal(statusOf(answer.text), 401, answer.text);
    assert.equal(responseCount(answer.text), 1, answer.text);
    assert.ok(answer.closedByServer && answer.ms < 3500, `closed after ${answer.ms} ms`);
    // Bytes after a request answered with Connection: close (a GET whose body has no length) get no answer either.
    const closing = await rawExchange(port, `GET /healthz HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n{"not":"a request"}`);
    assert.equal(statusOf(closing.text), 200, closing.text);
    assert.equal(responseCount(closing.text), 1, closing.text);
  });

  test('Host allow-list: 421 misdirected_request for names this server does not answer for, before authentication and on /metrics (DNS rebinding)', async () => {
    const refused = ['evil.example', `evil.example:${port}`, 'localhost.evil.example', '127.0.0.1.nip.io', 'localhost:abc', 'a:b:c', '[::1', `[::1]:${port}x`, 'localhost:123456'];
    for (const host of refused) {
      for (const [method, url, headers] of [
        ['GET', '/metrics', {}],
        ['GET', '/healthz', {}],
        ['GET', '/v1/apps', asAdmin],
        ['POST', '/v1/trigger/chat', { Authorization: `Bearer ${trigger.value}`, 'Content-Type': 'application/json' }],
      ] as const) {
        const reply = await request(`${t.url}${url}`, { method, headers: { ...headers, Host: host }, ...(method === 'POST' ? { body: { message: 'x' } } : {}) });
        assert.equal(reply.status, 421, `${host} ${url}: ${reply.body}`);
        assert.equal(reply.json<{ error: { code: string } }>().error.code, 'misdirected_request');
        assert.match(reply.body, /MM_ALLOWED_HOSTS/);
        assert.ok(!reply.body.includes('mechamental_http_requests_total'), 'no metrics for a rebound page');
        assert.equal(reply.headers['mechamental-token-expiration'], undefined, 'the token was not looked at');
      }
    }
    const answered = [`127.0.0.1:${port}`, '127.0.0.1', 'localhost', `localhost:${port}`, 'LOCALHOST:9999', 'localhost.:80', '[::1]', `[::1]:${port}`, '10.1.2.3:8080', '[fd00::2]:1', '192.0.2.7'];
    for (const host of answered) {
      const reply = await request(`${t.url}/healthz`, { headers: { Host: host } });
      assert.equal(reply.status, 200, `${host}: ${reply.body}`);
    }
    // The trigger works behind the check.
    const ok = await request(`${t.url}/v1/trigger/chat`, { method: 'POST', headers: { Host: 'localhost:9000', Authorization: `Bearer ${trigger.value}`, 'Content-Type': 'application/json' }, body: { message: 'hi' } });
    assert.equal(ok.status, 200, ok.body);
    const logged = t.logs.entries().filter((entry) => entry.msg === 'request refused: Host');
    assert.ok(logged.some((entry) => entry.host === 'evil.example' && entry.status === 421));
    assert.ok(!t.logs.text.includes(trigger.value) && !t.logs.text.includes(admin.value));
  });

  test('MM_ALLOWED_HOSTS adds names (any port, any case); * answers any Host but still refuses a missing or duplicated one', async () => {
    const named = await startTestServer({ env: { MM_ALLOWED_HOSTS: 'mm.example.com, intranet' } });
    for (const [host, status] of [
      ['mm.example.com', 200],
      ['MM.Example.com:8443', 200],
      ['intranet:80', 200],
      ['other.example.com', 421],
      ['example.com', 421],
    ] as const) {
      assert.equal((await request(`${named.url}/healthz`, { headers: { Host: host } })).status, status, host);
    }
    const any = await startTestServer({ env: { MM_ALLOWED_HOSTS: '*' } });
    assert.equal((await request(`${any.url}/healthz`, { headers: { Host: 'anything.example' } })).status, 200);
    assertJsonError((await rawExchange(any.server.port, 'GET /healthz HTTP/1.1\r\n\r\n')).text, 400, 'invalid_request');
    assertJsonError((await rawExchange(any.server.port, 'GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n')).text, 400, 'invalid_request');
  });

  test('WWW-Authenticate error_description holds only RFC 6750 characters (trigger and admin API, every failure)', async () => {
    const revoked = await services.tokens.create({ app: 'default', name: 'gone', expires: '30d' }, 'cli');
    await services.tokens.revoke(revoked.token.id, 'cli');
    const values = ['mm_tok_short', `mm_tok_${'é'.repeat(36)}`, generateValue('trigger'), revoked.value, 'x"y\\z', `${trigger.value.slice(0, -1)}0`];
    let seen = 0;
    for (const value of values) {
      for (const [method, url] of [
        ['POST', '/v1/trigger/chat'],
        ['GET', '/v1/apps'],
      ] as const) {
        const reply = await request(`${t.url}${url}`, { method, headers: { Authorization: `Bearer ${value}`, 'Content-Type': 'application/json' }, ...(method === 'POST' ? { body: {} } : {}) });
        const challenge = String(reply.headers['www-authenticate'] ?? '');
        const description = /error_description="([^"]*)"/.exec(challenge)?.[1];
        if (description === undefined) continue;
        seen++;
        assert.ok(isSafeErrorDescription(description), `${url}: ${challenge}`);
      }
    }
    assert.ok(seen >= 8, 'the failures carry descriptions');
  });
});

describe('safeErrorDescription', () => {
  test('keeps safe text as it is; replaces ", \\, …, control and non-ASCII characters; cuts at 200', async () => {
    const safe = 'token tok_abc was revoked at 2026-01-01T00:00:00.000Z';
    assert.equal(safeErrorDescription(safe), safe);
    assert.equal(safeErrorDescription('the "name" is C:\\x'), "the 'name' is C:/x");
    assert.equal(safeErrorDescription('mm_tok_AbCd…wxyz'), 'mm_tok_AbCd...wxyz');
    assert.equal(safeErrorDescription('a\r\nb\tc\u0000d\u007f'), 'a??b?c?d?');
    assert.equal(safeErrorDescription('naïve 😀 ok'), 'na?ve ? ok');
    assert.equal(safeErrorDescription('x'.repeat(500)).length, 200);
    assert.equal(safeErrorDescription(`"${'y'.repeat(500)}`).length, 200);
    for (const text of ['', '"', '\\\\', '…'.repeat(100), '\ud800', 'a\udc00b', String.fromCharCode(...Array.from({ length: 300 }, (_, i) => i))]) {
      assert.ok(isSafeErrorDescription(safeErrorDescription(text)), JSON.stringify(text));
    }
  });
});

describe('command pipelines over HTTP are local_only', () => {
  test('POST or PUT of a command pipeline: 403 local_only (after authentication); other kinds, and turning a command pipeline into another kind, are allowed; the CLI always can', async () => {
    await services.pipelines.create('default', { slug: 'made-locally', kind: 'command', config: { argv: ['cat'] } }, 'cli');
    const json = { ...asAdmin, 'Content-Type': 'application/json' };
    const scenarios: Scenario[] = [
      { name: 'create command', method: 'POST', url: '/v1/apps/default/pipelines', headers: json, body: { slug: 'sh', kind: 'command', config: { argv: ['sh', '-c', 'id'] } }, status: 403, expect: ['"code":"local_only"', 'MM_ALLOW_REMOTE_COMMANDS=1', 'pipelines add'] },
      { name: 'create command, invalid config', method: 'POST', url: '/v1/apps/default/pipelines', headers: json, body: { slug: 'sh', kind: 'command', config: { argv: [] } }, status: 403, expect: ['"code":"local_only"'] },
      { name: 'change echo into command', method: 'PUT', url: '/v1/apps/default/pipelines/chat', headers: json, body: { kind: 'command', config: { argv: ['sh'] } }, status: 403, expect: ['"code":"local_only"'] },
      { name: 'change a command config', method: 'PUT', url: '/v1/apps/default/pipelines/made-locally', headers: json, body: { kind: 'command', config: { argv: ['sh'] } }, status: 403, expect: ['"code":"local_only"'] },
      { name: 'no token', method: 'POST', url: '/v1/apps/default/pipelines', headers: { 'Content-Type': 'application/json' }, body: { slug: 'sh', kind: 'command', config: { argv: ['sh'] } }, status: 401, expect: ['"code":"unauthorized"'] },
      { name: 'trigger token', method: 'POST', url: '/v1/apps/default/pipelines', headers: { Authorization: `Bearer ${trigger.value}`, 'Content-Type': 'application/json' }, body: { slug: 'sh', kind: 'command', config: { argv: ['sh'] } }, status: 403, expect: ['"code":"insufficient_scope"'] },
      { name: 'create echo', method: 'POST', url: '/v1/apps/default/pipelines', headers: json, body: { slug: 'talk', kind: 'echo' }, status: 201 },
      { name: 'command into echo', method: 'PUT', url: '/v1/apps/default/pipelines/made-locally', headers: json, body: { kind: 'echo', config: {} }, status: 200, expect: ['"kind":"echo"'] },
    ];
    for (const scenario of scenarios) await runScenario(t.url, scenario);
    assert.equal((await services.pipelines.list('default')).find((p) => p.slug === 'sh'), undefined, 'nothing was created');
    assert.equal((await services.pipelines.get('default', 'chat')).kind, 'echo', 'nothing was changed');

    const allowed = await startTestServer({ env: { MM_ALLOW_REMOTE_COMMANDS: '1' } });
    const allowedAdmin = await allowed.services.tokens.createAdmin({ name: 'ops', expires: '1d' }, 'cli');
    await runScenario(allowed.url, { name: 'allowed by the operator', method: 'POST', url: '/v1/apps/default/pipelines', headers: { Authorization: `Bearer ${allowedAdmin.value}`, 'Content-Type': 'application/json' }, body: { slug: 'wc', kind: 'command', config: { argv: ['wc', '-c'] } }, status: 201 });

    const dataDir = tempDataDir();
    const cli = runCli(['pipelines', 'add', 'wc', '--app', 'default', '--kind', 'command', '--config', '{"argv":["wc","-c"]}'], { dataDir });
    assert.equal(cli.code, 0, cli.stderr);
  });
});

/** Waits until the server has no run in progress (the timed-out trigger never started one). */
async function eventuallyNoActiveRuns(): Promise<boolean> {
  const deadline = Date.now() + 2_000;
  while (t.server.trigger.activeRuns !== 0) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}
