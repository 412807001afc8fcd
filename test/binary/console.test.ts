import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildWebAssets } from '../../build/web-assets.mjs';
import { BUILD_TIMEOUT_MS, ensureBinary, runBinary, sandbox, startServer, type RunningServer, type Sandbox } from './helpers/binary';

describe('the web console in the built executable', () => {
  let box: Sandbox;
  let server: RunningServer;

  before(
    async () => {
      ensureBinary();
      box = sandbox();
      server = await startServer(box);
    },
    { timeout: BUILD_TIMEOUT_MS },
  );
  after(() => server?.stop());

  test('serves the embedded console: the same files the development build makes from web/, with their headers', async () => {
    const built = await buildWebAssets();
    const root = await fetch(`${server.url}/`, { redirect: 'manual' });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get('location'), '/console/');
    const page = await fetch(`${server.url}/console/`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    assert.match(String(page.headers.get('content-security-policy')), /^default-src 'self'/);
    assert.equal(await page.text(), built.files['index.html']!.body.toString('utf8'), 'index.html as web/ builds it');
    for (const [file, { type, body }] of Object.entries(built.files)) {
      if (!file.startsWith('assets/')) continue;
      const reply = await fetch(`${server.url}/console/${file}`);
      assert.equal(reply.status, 200, file);
      assert.equal(reply.headers.get('content-type'), type);
      assert.equal(reply.headers.get('cache-control'), 'public, max-age=31536000, immutable');
      assert.ok(Buffer.from(await reply.arrayBuffer()).equals(body), `${file}: the embedded bytes`);
    }
  });

  test('`mechamental console` prints a link that signs in once', async () => {
    const printed = runBinary(box, ['console', '--port', String(server.port)]);
    assert.equal(printed.code, 0, printed.stderr);
    const link = printed.stdout.trim();
    assert.match(link, new RegExp(`^http://127\\.0\\.0\\.1:${server.port}/console/#/sign-in\\?code=[A-Za-z0-9_-]{43}$`));
    assert.match(printed.stderr, /MM_PORT\/--port/);
    const code = new URLSearchParams(link.split('?')[1]).get('code')!;
    const signIn = () => fetch(`${server.url}/console/api/sign-in`, { method: 'POST', headers: { 'Content-Type': 'application/json', Origin: server.url }, body: JSON.stringify({ code }) });
    const first = await signIn();
    assert.equal(first.status, 200, await first.clone().text());
    const cookie = String(first.headers.get('set-cookie')).split(';')[0]!;
    const apps = await fetch(`${server.url}/v1/apps`, { headers: { Cookie: cookie } });
    assert.equal(apps.status, 200);
    assert.equal((await signIn()).status, 401, 'the link works once');
  });
});
