import assert from 'node:assert/strict';
import net from 'node:net';
import os from 'node:os';
import { describe, test } from 'node:test';
import { startServer } from '../../src/http/server';
import { ROUTES } from '../../src/http/routes/index';
import { tempDataDir } from '../helpers/data-dir';
import { request, runScenario, spawnServe, startTestServer } from '../helpers/server';
import { testServices } from '../helpers/services';

/** A free port whose next port is free too (for the "main port + 1" default). */
async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const first = net.createServer();
    await new Promise<void>((resolve) => first.listen(0, '127.0.0.1', resolve));
    const port = (first.address() as net.AddressInfo).port;
    const second = net.createServer();
    const ok = await new Promise<boolean>((resolve) => {
      second.once('error', () => resolve(false));
      second.listen(port + 1, '0.0.0.0', () => resolve(true));
    });
    await new Promise<void>((resolve) => first.close(() => resolve()));
    if (ok) await new Promise<void>((resolve) => second.close(() => resolve()));
    if (ok && port < 65535) return port;
  }
  throw new Error('no two free consecutive ports');
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

const ADMIN_PATHS = [...new Set(ROUTES.filter((r) => r.auth === 'admin').map((r) => r.path))];

describe('the admin API on loopback when the server listens beyond it (issue 9, finding 7)', () => {
  test('bound to 0.0.0.0: every admin route answers 403 admin_on_loopback_only on the main listener, whatever the method or token, and is served on 127.0.0.1', async () => {
    const t = await startTestServer({ server: { host: '0.0.0.0' } });
    const admin = await t.services.tokens.createAdmin({ name: 'ops', expires: '30d' }, 'cli');
    const trigger = await t.services.tokens.create({ app: 'default', name: 'svc', expires: '30d' }, 'cli');
    const publicBase = `http://127.0.0.1:${t.server.port}`;
    assert.notEqual(t.server.adminServer, null);
    assert.equal((t.server.adminServer!.address() as net.AddressInfo).address, '127.0.0.1');
    assert.match(t.server.adminUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(portOf(t.server.adminUrl), t.server.port);

    for (const path of [...ADMIN_PATHS, '/console', '/console/tokens']) {
      const url = path.replace(':app', 'default').replace(':id', trigger.token.id).replace(':slug', 'chat');
      for (const method of ['GET', 'POST', 'PUT', 'DELETE']) {
        await runScenario(publicBase, {
          name: `${method} ${path} on the public listener`,
          method,
          url,
          headers: { Authorization: `Bearer ${admin.value}`, ...(method === 'POST' || method === 'PUT' ? { 'Content-Type': 'application/json' } : {}) },
          ...(method === 'POST' || method === 'PUT' ? { body: { slug: 'x', kind: 'echo', name: 'n', expires_in: '1d' } } : {}),
          status: 403,
          expect: ['"code":"admin_on_loopback_only"', t.server.adminUrl, 'MM_ADMIN_HOST'],
          notExpect: [admin.value],
          expectHeaders: { 'Mechamental-Token-Expiration': null },
        });
      }
    }
    assert.deepEqual((await t.services.apps.list()).map((a) => a.slug), ['default'], 'nothing was created through the public listener');

    // The admin listener serves the admin API, and only it.
    await runScenario(t.server.adminUrl, { name: 'admin API on loopback', url: '/v1/apps', headers: { Authorization: `Bearer ${admin.value}` }, status: 200, expect: ['"slug":"default"'] });
    await runScenario(t.server.adminUrl, { name: 'still authenticated', url: '/v1/apps', status: 401, expect: ['"code":"unauthorized"'] });
    await runScenario(t.server.adminUrl, { name: 'still 405', method: 'DELETE', url: '/v1/apps', headers: { Authorization: `Bearer ${admin.value}` }, status: 405, expectHeaders: { Allow: 'GET, HEAD, POST, OPTIONS' } });
    for (const [method, url] of [
      ['GET', '/healthz'],
      ['GET', '/metrics'],
      ['POST', '/v1/trigger/chat'],
    ] as const) {
      await runScenario(t.server.adminUrl, {
        name: `${url} is not on the admin listener`,
        method,
        url,
        headers: { Authorization: `Bearer ${trigger.value}`, 'Content-Type': 'application/json' },
        ...(method === 'POST' ? { body: { message: 'x' } } : {}),
        status: 404,
        expect: ['serves only the admin API', `:${t.server.port}`],
      });
    }

    // The public listener serves the trigger and the operations endpoints.
    await runScenario(publicBase, { name: 'trigger', method: 'POST', url: '/v1/trigger/chat', headers: { Authorization: `Bearer ${trigger.value}`, 'Content-Type': 'application/json' }, body: { message: 'hi' }, status: 200, expect: ['"output":"hi"'] });
    for (const url of ['/healthz', '/readyz', '/metrics']) await runScenario(publicBase, { name: url, url, status: 200 });

    // Beyond loopback, this machine's name is answered too; IP literals always; other names never.
    for (const [host, status] of [
      [`${os.hostname()}:${t.server.port}`, 200],
      [os.hostname().toUpperCase(), 200],
      [`192.0.2.44:${t.server.port}`, 200],
      [`localhost:${t.server.port}`, 200],
      ['evil.example', 421],
    ] as const) {
      assert.equal((await request(`${publicBase}/healthz`, { headers: { Host: host } })).status, status, host);
    }
  });

  test('on loopback (the default) everything stays on one listener', async () => {
    const t = await startTestServer();
    assert.equal(t.server.adminServer, null);
    assert.equal(t.server.adminUrl, t.url);
    const admin = await t.services.tokens.createAdmin({ name: 'ops', expires: '30d' }, 'cli');
    await runScenario(t.url, { name: 'admin API on the one listener', url: '/v1/apps', headers: { Authorization: `Bearer ${admin.value}` }, status: 200 });
  });

  test('MM_ADMIN_PORT and MM_ADMIN_HOST move it; a non-loopback MM_ADMIN_HOST exposes it; a busy admin port leaves nothing listening', async () => {
    const port = await freePortPair();
    const moved = await startTestServer({ env: { MM_ADMIN_PORT: String(port) }, server: { host: '0.0.0.0' } });
    assert.equal(moved.server.adminUrl, `http://127.0.0.1:${port}`);

    const exposed = await startTestServer({ env: { MM_ADMIN_HOST: '0.0.0.0' }, server: { host: '0.0.0.0' } });
    assert.equal((exposed.server.adminServer!.address() as net.AddressInfo).address, '0.0.0.0');
    const admin = await exposed.services.tokens.createAdmin({ name: 'ops', expires: '30d' }, 'cli');
    await runScenario(`http://127.0.0.1:${portOf(exposed.server.adminUrl)}`, { name: 'exposed admin', url: '/v1/apps', headers: { Authorization: `Bearer ${admin.value}`, Host: `${os.hostname()}:1` }, status: 200 });

    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const busy = (blocker.address() as net.AddressInfo).port;
    try {
      const services = await testServices({ env: { MM_ADMIN_PORT: String(busy), MM_LOG_LEVEL: 'silent' } });
      const mainPort = await freePortPair();
      await assert.rejects(startServer(services, { host: '0.0.0.0', port: mainPort }), /^AppError: the admin API's listener: cannot listen on 127\.0\.0\.1:\d+: the port is already in use; .*MM_ADMIN_PORT/);
      // The main listener was closed again: its port is free.
      const probe = net.createServer();
      await new Promise<void>((resolve, reject) => {
        probe.once('error', reject);
        probe.listen(mainPort, '0.0.0.0', resolve);
      });
      await new Promise<void>((resolve) => probe.close(() => resolve()));
    } finally {
      blocker.close();
    }
  });

  test('serve --host 0.0.0.0: the banner prints both addresses; the admin port defaults to the main port + 1', async () => {
    const port = await freePortPair();
    const serve = await spawnServe(tempDataDir(), ['--host', '0.0.0.0', '--port', String(port)]);
    assert.match(serve.stdout(), new RegExp(`mechamental listening on http://0\\.0\\.0\\.0:${port}\\nadmin API on http://127\\.0\\.0\\.1:${port + 1} \\(this machine only; MM_ADMIN_HOST, MM_ADMIN_PORT\\)\\n`));
    assert.equal((await request(`http://127.0.0.1:${port + 1}/v1/apps`)).status, 401);
    assert.equal((await request(`http://127.0.0.1:${port}/v1/apps`)).status, 403);
    serve.child.kill('SIGTERM');
    assert.equal((await serve.exited).code, 0);
  });
});
