import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import https from 'node:https';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, test } from 'node:test';
import { SESSION_IDLE_MS } from '../../src/console/sessions';
import { tempDir } from '../helpers/data-dir';
import { rowsOf } from '../helpers/rows';
import { eventually, request, runScenario, startTestServer, type TestServer } from '../helpers/server';
import { EventStream, signIn, withSession } from './helpers';

const CSP = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";

async function setUp(options: Parameters<typeof startTestServer>[0] = {}) {
  const t = await startTestServer(options);
  const admin = await t.services.tokens.createAdmin({ name: 'ops', expires: '30d' }, 'cli');
  return { t, admin };
}

function assetPaths(html: string): string[] {
  return [...html.matchAll(/(?:src|href)="(assets\/[^"]+)"/g)].map((m) => `/console/${m[1]}`);
}

describe('the web console over HTTP (issue 16)', () => {
  test('pages and files: / redirects, index.html is never cached, hashed files are cached for a year, every answer carries the CSP and its friends', async () => {
    const { t } = await setUp();
    const root = await request(`${t.url}/`);
    assert.equal(root.status, 302);
    assert.equal(root.headers.location, '/console/');
    assert.equal((await request(`${t.url}/console`)).headers.location, '/console/');
    assert.equal((await request(`${t.url}/console/index.html`)).headers.location, '/console/');

    const page = await request(`${t.url}/console/`);
    assert.equal(page.status, 200);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(page.headers['cache-control'], 'no-cache');
    for (const [name, value] of Object.entries({
      'content-security-policy': CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
    })) {
      assert.equal(page.headers[name], value, name);
    }
    assert.doesNotMatch(page.body, /<script>|<style>|\sstyle=|\son[a-z]+=|https?:\/\//, 'no inline script or style, no external URL');
    const assets = assetPaths(page.body);
    assert.equal(assets.length, 3, page.body);
    for (const asset of assets) {
      assert.match(asset, /-[A-Za-z0-9_-]{8,}\.(js|css|svg)$/, 'content-hashed names');
      const reply = await request(`${t.url}${asset}`);
      assert.equal(reply.status, 200, asset);
      assert.equal(reply.headers['cache-control'], 'public, max-age=31536000, immutable');
      assert.equal(reply.headers['content-security-policy'], CSP);
      assert.equal(reply.headers['x-content-type-options'], 'nosniff');
      assert.doesNotMatch(reply.body, /https?:\/\/(?!www\.w3\.org|reactjs\.org|react\.dev)/, `${asset} names no other server (only XML namespaces and React's error links)`);
    }
    const js = assets.find((a) => a.endsWith('.js'))!;
    const zipped = await new Promise<{ encoding: string | undefined; body: Buffer; plain: number }>((resolve, reject) => {
      import('node:http').then(({ get }) =>
        get(`${t.url}${js}`, { headers: { 'Accept-Encoding': 'gzip, br' } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks), plain: 0 }));
        }).on('error', reject),
      );
    });
    assert.equal(zipped.encoding, 'gzip');
    assert.equal(gunzipSync(zipped.body).toString('utf8'), (await request(`${t.url}${js}`)).body);

    await runScenario(t.url, { name: 'an unknown file', url: '/console/assets/main-XXXXXXXX.js', status: 404, expect: ['"code":"not_found"'] });
    await runScenario(t.url, { name: 'an unknown page', url: '/console/admin', status: 404, expect: ['"code":"not_found"'] });
    await runScenario(t.url, { name: 'POST on the page', method: 'POST', url: '/console/', status: 405, expectHeaders: { Allow: 'GET, HEAD, OPTIONS' } });
    await runScenario(t.url, { name: 'GET on sign-in', url: '/console/api/sign-in', status: 405, expectHeaders: { Allow: 'POST, OPTIONS' } });
  });

  test('sign-in with an admin token: the cookie is HttpOnly, SameSite=Strict, Path=/, not Secure over HTTP; the answer has the CSRF token and never the cookie or the value', async () => {
    const { t, admin } = await setUp();
    const session = await signIn(t.url, { token: admin.value });
    assert.match(session.setCookie, /^mm_console=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Strict$/);
    const maxAge = Number(/Max-Age=(\d+)/.exec(session.setCookie)![1]);
    assert.ok(maxAge > 6 * 86_400 && maxAge <= 7 * 86_400, `Max-Age ${maxAge}: the session's 7 days`);
    const text = JSON.stringify(session.body);
    assert.ok(!text.includes(session.cookie.split('=')[1]!), 'the session id is only in the cookie');
    assert.ok(!text.includes(admin.value));
    assert.equal((session.body.session as Record<string, string>).admin_token_id, admin.token.id);
    assert.equal(session.body.trigger_url, t.url);

    const again = await withSession(t.url, session, '/console/api/session');
    assert.equal(again.status, 200);
    assert.equal(again.headers['cache-control'], 'no-store');
    assert.equal(again.json<{ session: { csrf_token: string } }>().session.csrf_token, session.csrf);
    // A browser with no cookie asks "am I signed in?": not an authentication failure, just no.
    const none = await request(`${t.url}/console/api/session`);
    assert.equal(none.status, 200);
    assert.equal(none.headers['cache-control'], 'no-store');
    assert.deepEqual(none.json(), { session: null, trigger_url: t.url });
    assert.equal(none.headers['www-authenticate'], undefined);
    const [event] = await t.services.audit.list({ limit: 1 });
    assert.deepEqual([event!.action, event!.actor, event!.detail?.via], ['console.signed_in', `console:${admin.token.id}`, 'admin token']);
  });

  test('sign-in refuses other origins, other media types and bad bodies, and says why without quoting a token', async () => {
    const { t, admin } = await setUp();
    const trigger = await t.services.tokens.create({ app: 'default', name: 'svc', expires: '30d' }, 'cli');
    const json = { 'Content-Type': 'application/json' };
    const cases: Array<{ name: string; headers: Record<string, string>; body?: string | object; status: number; code: string }> = [
      { name: 'another origin', headers: { ...json, Origin: 'http://evil.example' }, body: { token: admin.value }, status: 403, code: 'csrf_rejected' },
      { name: 'another port on the same host (same site, not same origin)', headers: { ...json, Origin: 'http://127.0.0.1:1' }, body: { token: admin.value }, status: 403, code: 'csrf_rejected' },
      { name: 'an opaque origin', headers: { ...json, Origin: 'null' }, body: { token: admin.value }, status: 403, code: 'csrf_rejected' },
      { name: 'no Origin, no Sec-Fetch-Site', headers: json, body: { token: admin.value }, status: 403, code: 'csrf_rejected' },
      { name: 'Sec-Fetch-Site: cross-site', headers: { ...json, 'Sec-Fetch-Site': 'cross-site' }, body: { token: admin.value }, status: 403, code: 'csrf_rejected' },
      { name: 'a form post', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: t.url }, body: `token=${admin.value}`, status: 415, code: 'unsupported_media_type' },
      { name: 'not JSON', headers: { ...json, Origin: t.url }, body: '{"token":', status: 400, code: 'invalid_json' },
      { name: 'neither code nor token', headers: { ...json, Origin: t.url }, body: {}, status: 422, code: 'validation_failed' },
      { name: 'both', headers: { ...json, Origin: t.url }, body: { token: admin.value, code: 'x' }, status: 422, code: 'validation_failed' },
      { name: 'a token that is not a string', headers: { ...json, Origin: t.url }, body: { token: 12 }, status: 422, code: 'validation_failed' },
      { name: 'an array', headers: { ...json, Origin: t.url }, body: [admin.value], status: 422, code: 'validation_failed' },
      { name: 'a malformed code', headers: { ...json, Origin: t.url }, body: { code: 'abc' }, status: 422, code: 'validation_failed' },
      { name: 'a token value as a code', headers: { ...json, Origin: t.url }, body: { code: admin.value }, status: 422, code: 'validation_failed' },
      { name: 'an unknown code', headers: { ...json, Origin: t.url }, body: { code: 'A'.repeat(43) }, status: 401, code: 'unauthorized' },
      { name: 'a trigger token', headers: { ...json, Origin: t.url }, body: { token: trigger.value }, status: 403, code: 'insufficient_scope' },
      { name: 'a malformed token', headers: { ...json, Origin: t.url }, body: { token: `${admin.value}x` }, status: 401, code: 'invalid_token' },
      { name: 'a body over 4 KiB', headers: { ...json, Origin: t.url }, body: { token: 'x'.repeat(5000) }, status: 413, code: 'payload_too_large' },
    ];
    for (const c of cases) {
      const reply = await runScenario(t.url, {
        name: c.name,
        method: 'POST',
        url: '/console/api/sign-in',
        headers: c.headers,
        ...(c.body !== undefined ? { body: c.body } : {}),
        status: c.status,
        expect: [`"code":"${c.code}"`],
        notExpect: [admin.value, trigger.value],
      });
      assert.equal(reply.headers['set-cookie'], undefined, `${c.name}: no cookie`);
    }
    // A browser that sends no Origin but says the request is same-origin is believed (the CSRF token still guards changes).
    const reply = await request(`${t.url}/console/api/sign-in`, { method: 'POST', headers: { ...json, 'Sec-Fetch-Site': 'same-origin' }, body: { token: admin.value } });
    assert.equal(reply.status, 200, reply.body);
  });

  test('the admin API with the session cookie: reads need only the cookie; changes need a same-origin Origin (or Sec-Fetch-Site) and the CSRF token; the audit actor is console:<admin token id>', async () => {
    const { t, admin } = await setUp();
    const session = await signIn(t.url, { token: admin.value });
    const apps = await withSession(t.url, session, '/v1/apps');
    assert.equal(apps.status, 200);
    assert.match(apps.body, /"slug":"default"/);
    assert.equal(apps.headers['mechamental-token-expiration'], admin.token.expires_at);

    const create = { name: 'CI/CD Pipeline', expires_in: '30d' };
    const refused: Array<[string, Record<string, string | undefined>, string]> = [
      ['no CSRF token', { 'X-CSRF-Token': undefined }, 'X-CSRF-Token'],
      ['a wrong CSRF token', { 'X-CSRF-Token': 'A'.repeat(43) }, 'X-CSRF-Token'],
      ['another origin', { Origin: 'http://evil.example' }, 'another origin'],
      ['another port (same site)', { Origin: 'http://127.0.0.1:9' }, 'another origin'],
      ['https instead of http', { Origin: t.url.replace('http:', 'https:') }, 'another origin'],
      ['no Origin, no Sec-Fetch-Site', { Origin: undefined }, 'Sec-Fetch-Site'],
      ['no Origin, Sec-Fetch-Site: same-site', { Origin: undefined, 'Sec-Fetch-Site': 'same-site' }, 'Sec-Fetch-Site'],
    ];
    for (const [name, headers, says] of refused) {
      const reply = await withSession(t.url, session, '/v1/apps/default/tokens', { method: 'POST', body: create, headers });
      assert.equal(reply.status, 403, `${name}: ${reply.body}`);
      assert.equal(reply.json<{ error: { code: string } }>().error.code, 'csrf_rejected', name);
      assert.ok(reply.json<{ error: { message: string } }>().error.message.includes(says), `${name}: ${reply.body}`);
    }
    for (const method of ['PUT', 'DELETE']) {
      const reply = await withSession(t.url, session, '/v1/apps/default/pipelines/chat', { method, headers: { 'X-CSRF-Token': undefined }, ...(method === 'PUT' ? { body: { kind: 'echo' } } : {}) });
      assert.equal(reply.status, 403, `${method} without the CSRF token`);
    }
    assert.deepEqual(await t.services.tokens.list('default'), [], 'nothing was created by a refused request');

    const created = await withSession(t.url, session, '/v1/apps/default/tokens', { method: 'POST', body: create });
    assert.equal(created.status, 201, created.body);
    const viaFetchMetadata = await withSession(t.url, session, '/v1/apps/default/tokens', { method: 'POST', body: { ...create, name: 'Mobile App Backend' }, headers: { Origin: undefined, 'Sec-Fetch-Site': 'same-origin' } });
    assert.equal(viaFetchMetadata.status, 201, viaFetchMetadata.body);
    const [event] = await t.services.audit.list({ limit: 1 });
    assert.deepEqual([event!.action, event!.actor], ['token.created', `console:${admin.token.id}`]);

    // An Authorization header decides on its own: a bearer admin token needs no CSRF token, and a bad one is not rescued by the cookie.
    const bearer = await request(`${t.url}/v1/apps/default/tokens`, { method: 'POST', headers: { Cookie: session.cookie, Authorization: `Bearer ${admin.value}`, 'Content-Type': 'application/json' }, body: { ...create, name: 'bearer' } });
    assert.equal(bearer.status, 201);
    const badBearer = await request(`${t.url}/v1/apps`, { headers: { Cookie: session.cookie, Authorization: 'Bearer mm_adm_nope' } });
    assert.equal(badBearer.status, 401);
    // GET /console/api/session is about the cookie's session.
    const noSession = await request(`${t.url}/console/api/session`, { headers: { Authorization: `Bearer ${admin.value}` } });
    assert.equal(noSession.status, 401);
  });

  test('a session ends at once when its admin token is revoked (from another process, the CLI, as here through the services), at sign-out, and after 12 idle hours; the cookie is then cleared', async () => {
    const { t, admin } = await setUp();
    const session = await signIn(t.url, { token: admin.value });
    await t.services.tokens.revoke(admin.token.id, 'cli', { kind: 'admin' });
    const revoked = await withSession(t.url, session, '/v1/apps');
    assert.equal(revoked.status, 401);
    assert.match(revoked.body, /admin token adm_\w+ was revoked/);
    assert.equal(revoked.headers['www-authenticate'], 'Bearer realm="mechamental"');
    assert.match(String(revoked.headers['set-cookie']?.[0]), /^mm_console=; Path=\/; Max-Age=0; HttpOnly; SameSite=Strict$/);

    const other = await t.services.tokens.createAdmin({ name: 'ops 2', expires: '30d' }, 'cli');
    const second = await signIn(t.url, { token: other.value });
    const noCsrf = await withSession(t.url, second, '/console/api/sign-out', { method: 'POST', headers: { 'X-CSRF-Token': undefined } });
    assert.equal(noCsrf.status, 403, 'sign-out is a change like any other');
    const out = await withSession(t.url, second, '/console/api/sign-out', { method: 'POST' });
    assert.equal(out.status, 204);
    assert.match(String(out.headers['set-cookie']?.[0]), /Max-Age=0/);
    assert.equal((await withSession(t.url, second, '/v1/apps')).status, 401);
    assert.equal((await withSession(t.url, second, '/console/api/session')).status, 401);

    const third = await signIn(t.url, { token: other.value });
    t.services.clock.advance(SESSION_IDLE_MS);
    const idle = await withSession(t.url, third, '/v1/apps');
    assert.equal(idle.status, 401);
    assert.match(idle.body, /12 hours without use/);
    assert.equal((await rowsOf(t.services, 'console_sessions')).length, 0, 'ended sessions are deleted');
  });

  test('a one-time code from `mechamental console` signs in once over HTTP', async () => {
    const { t } = await setUp();
    const { code, adminTokenId } = await t.services.console.createSignInCode('cli');
    const session = await signIn(t.url, { code });
    assert.equal((session.body.session as Record<string, string>).admin_token_id, adminTokenId);
    await runScenario(t.url, { name: 'the same code again', method: 'POST', url: '/console/api/sign-in', headers: { 'Content-Type': 'application/json', Origin: t.url }, body: { code }, status: 401, expect: ['used already'], expectHeaders: { 'WWW-Authenticate': 'Bearer realm="mechamental"' } });
    assert.equal((await withSession(t.url, session, '/v1/apps')).status, 200);
  });

  test('GET /v1/settings: the token policy the console offers choices from', async () => {
    const { t, admin } = await setUp({ env: { MM_MAX_TOKEN_TTL: '90d', MM_ROTATE_GRACE: '1h' } });
    const reply = await request(`${t.url}/v1/settings`, { headers: { Authorization: `Bearer ${admin.value}` } });
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.json(), {
      settings: { max_token_ttl_seconds: 90 * 86_400, max_token_ttl: '90 days', default_rotate_grace_seconds: 3600, max_rotate_grace_seconds: 30 * 86_400, expiring_window_seconds: 7 * 86_400 },
    });
    await runScenario(t.url, { name: 'settings need an admin', url: '/v1/settings', status: 401 });
  });

  test('the change feed: a change made elsewhere reaches an open console within 2 s; a revoke of its admin token ends the feed; shutdown ends it too', async () => {
    const { t, admin } = await setUp();
    const session = await signIn(t.url, { token: admin.value });
    const unauthenticated = await request(`${t.url}/console/api/changes`);
    assert.equal(unauthenticated.status, 401);

    const feed = new EventStream(`${t.url}/console/api/changes`, { Cookie: session.cookie });
    await feed.ready;
    assert.equal(feed.status, 200);
    await eventually(() => feed.count('ready') === 1, 5_000, 'the ready event');
    const started = Date.now();
    await t.services.tokens.create({ app: 'default', name: 'made by the CLI', expires: '30d' }, 'cli');
    await eventually(() => feed.count('change') >= 1, 5_000, 'a change event');
    assert.ok(Date.now() - started < 2_000, `the change arrived after ${Date.now() - started} ms`);

    const bearerFeed = new EventStream(`${t.url}/console/api/changes`, { Authorization: `Bearer ${admin.value}` });
    await bearerFeed.ready;
    assert.equal(bearerFeed.status, 200, 'an admin token may follow the feed too');

    await t.services.tokens.revoke(admin.token.id, 'cli', { kind: 'admin' });
    await eventually(() => feed.ended && bearerFeed.ended, 5_000, 'the feeds to end');
    assert.equal(feed.count('session-ended'), 1);

    const other = await t.services.tokens.createAdmin({ name: 'ops 2', expires: '30d' }, 'cli');
    const next = await signIn(t.url, { token: other.value });
    const last = new EventStream(`${t.url}/console/api/changes`, { Cookie: next.cookie });
    await last.ready;
    const closing = t.server.close();
    await eventually(() => last.ended, 5_000, 'shutdown to end the feed');
    await closing;
  });

  test('HTTPS: the cookie is Secure and carries the __Host- prefix; its plain-HTTP name is not accepted there', async () => {
    const dir = tempDir();
    const cert = path.join(dir, 'c.crt');
    const key = path.join(dir, 'c.key');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-nodes'], { stdio: 'ignore' });
    const { t, admin } = await setUp({ env: { MM_TLS_CERT: cert, MM_TLS_KEY: key } });
    assert.match(t.url, /^https:/);
    const post = (headers: Record<string, string>, body: string) =>
      new Promise<{ status: number; setCookie: string; body: string }>((resolve, reject) => {
        const req = https.request(`${t.url}/console/api/sign-in`, { method: 'POST', rejectUnauthorized: false, agent: false, headers: { 'Content-Type': 'application/json', ...headers } }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (d: string) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, setCookie: String(res.headers['set-cookie']?.[0] ?? ''), body: text }));
        });
        req.on('error', reject);
        req.end(body);
      });
    const reply = await post({ Origin: t.url }, JSON.stringify({ token: admin.value }));
    assert.equal(reply.status, 200, reply.body);
    assert.match(reply.setCookie, /^__Host-mm_console=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Strict; Secure$/);
    const insecureOrigin = await post({ Origin: t.url.replace('https:', 'http:') }, JSON.stringify({ token: admin.value }));
    assert.equal(insecureOrigin.status, 403, 'http:// is another origin than https://');
  });

  test('bound beyond loopback: the console is on the admin listener only, and its curl examples point at the main listener', async () => {
    const { t, admin } = await setUp({ server: { host: '0.0.0.0' } });
    const publicBase = `http://127.0.0.1:${t.server.port}`;
    await runScenario(publicBase, { name: 'no console on the public listener', url: '/console/', status: 403, expect: ['admin_on_loopback_only'] });
    await runScenario(publicBase, { name: 'no sign-in on the public listener', method: 'POST', url: '/console/api/sign-in', headers: { 'Content-Type': 'application/json', Origin: publicBase }, body: { token: admin.value }, status: 403, expect: ['admin_on_loopback_only'], notExpect: [admin.value] });
    const session = await signIn(t.server.adminUrl, { token: admin.value });
    assert.equal(session.body.trigger_url, publicBase, 'the trigger is on the main listener; 0.0.0.0 is named by the host the admin used');
    assert.equal((await request(`${t.server.adminUrl}/console/`)).status, 200);
  });
});
