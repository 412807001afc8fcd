import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { test, type TestContext } from 'node:test';
import { tempDataDir, tempDir } from '../helpers/data-dir';
import { freshDatabase, requirePostgres } from '../helpers/postgres';
import { eventually, request, SseClient, spawnServe } from '../helpers/server';
import { testServices } from '../helpers/services';

const NGINX = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx'].find((file) => fs.existsSync(file));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/**
 * The configuration docs/scaling.md shows: two instances behind one nginx, round robin, with the
 * buffering of event streams off so that each event reaches the client as it is written.
 */
function nginxConf(dir: string, port: number, upstreams: string[]): string {
  return `
daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream mechamental {
${upstreams.map((u) => `    server ${u};`).join('\n')}
    keepalive 16;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://mechamental;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_buffering off;
      proxy_read_timeout 1h;
    }
  }
}
`;
}

test('nginx in front of two instances: both serve, and an event stream through it ends within 1 s of a revoke', async (t: TestContext) => {
  if (!requirePostgres(t)) return;
  if (!NGINX) return t.skip('needs nginx: apt-get install nginx');
  const url = await freshDatabase();
  const services = await testServices({ databaseUrl: url });
  await services.pipelines.create('default', { slug: 'slow', kind: 'echo', config: { delay_ms: 200 } }, 'cli');
  const token = await services.tokens.create({ app: 'default', name: 'behind nginx', expires: '1d' }, 'cli');
  const [a, b] = await Promise.all(
    [0, 1].map(() => spawnServe(tempDataDir(), ['--port', '0'], { MM_DATABASE_URL: url, MM_LOG_LEVEL: 'info' })),
  );
  const dir = tempDir('mm-nginx-');
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'nginx.conf'), nginxConf(dir, port, [a!.url, b!.url].map((u) => new URL(u).host)));
  const nginx = spawn(NGINX, ['-p', dir, '-c', path.join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let nginxErr = '';
  nginx.stderr.setEncoding('utf8').on('data', (d: string) => (nginxErr += d));
  t.after(() => {
    nginx.kill('SIGQUIT');
  });
  const front = `http://127.0.0.1:${port}`;
  await eventually(async () => {
    try {
      return (await request(`${front}/healthz`)).status === 200;
    } catch {
      return false;
    }
  }, 10_000, `nginx to answer (${nginxErr})`);

  // Round robin: requests reach both instances (each logs its own access lines).
  for (let i = 0; i < 6; i++) {
    const reply = await request(`${front}/v1/trigger/chat`, { method: 'POST', headers: { Authorization: `Bearer ${token.value}`, 'Content-Type': 'application/json' }, body: { message: 'hi' } });
    assert.equal(reply.status, 200, reply.body);
  }
  await eventually(() => a!.stdout().includes('/v1/trigger/:pipeline') && b!.stdout().includes('/v1/trigger/:pipeline'), 10_000, 'both instances to have served');

  // Events arrive one by one through the proxy (not buffered to the end).
  const stream = new SseClient(`${front}/v1/trigger/slow`, token.value, { message: 'one two three four five six seven eight nine ten' });
  await stream.waitFor('message.delta', 10_000);
  const firstDeltaAt = performance.now();
  await eventually(() => stream.events.filter((e) => e.event === 'message.delta').length >= 3, 10_000, 'more deltas');
  assert.ok(!stream.ended, 'the stream is still open: events were not held back until its end');
  assert.ok(performance.now() - firstDeltaAt < 2_000);

  await services.tokens.revoke(token.token.id, 'cli');
  const revokedAt = performance.now();
  await stream.done;
  const latency = performance.now() - revokedAt;
  t.diagnostic(`revoke → stream end through nginx: ${latency.toFixed(0)} ms`);
  assert.ok(latency < 1_000, `${latency.toFixed(0)} ms`);
  assert.equal((JSON.parse(stream.events.at(-1)!.data!) as { error: { code: string } }).error.code, 'token_revoked');
});
