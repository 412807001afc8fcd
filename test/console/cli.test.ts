import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test } from 'node:test';
import { runCliAsync } from '../helpers/cli';
import { rowsOf } from '../helpers/rows';
import { storeEnv, testServices } from '../helpers/services';

/** A port nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('mechamental console (the CLI command)', () => {
  test('prints the link alone on stdout, says on stderr how long it works and where the address came from, and warns when nothing answers there', async () => {
    const services = await testServices();
    const port = await closedPort();
    const result = await runCliAsync(['console', '--port', String(port)], { env: storeEnv(services) });
    assert.equal(result.code, 0, result.stderr);
    const link = result.stdout.trim();
    assert.match(link, new RegExp(`^http://127\\.0\\.0\\.1:${port}/console/#/sign-in\\?code=[A-Za-z0-9_-]{43}$`));
    assert.equal(result.stdout.split('\n').filter(Boolean).length, 1, 'stdout is the link alone');
    assert.match(result.stderr, /works once, within 10 minutes/);
    assert.match(result.stderr, /MM_HOST\/--host 127\.0\.0\.1, MM_PORT\/--port \d+/);
    assert.match(result.stderr, /admin-tokens revoke adm_[a-z2-7]{20}/);
    assert.match(result.stderr, new RegExp(`Nothing answers at http://127\\.0\\.0\\.1:${port} now`));
    const [code] = await rowsOf(services, 'console_sign_in_codes');
    assert.ok(code, 'the code is stored');
    assert.ok(!JSON.stringify(code).includes(link.split('code=')[1]!), 'as its hash only');
  });

  test('beyond loopback the link points at the admin listener; HTTPS when a certificate is configured; --json', async () => {
    const services = await testServices();
    const split = await runCliAsync(['console', '--host', '0.0.0.0', '--port', '9000', '--json'], { env: storeEnv(services) });
    assert.equal(split.code, 0, split.stderr);
    const answer = JSON.parse(split.stdout) as { url: string; expires_at: string; admin_token_id: string };
    assert.match(answer.url, /^http:\/\/127\.0\.0\.1:9001\/console\/#\/sign-in\?code=/, 'the admin listener: MM_ADMIN_HOST 127.0.0.1, the main port + 1');
    assert.match(answer.admin_token_id, /^adm_/);
    assert.ok(Date.parse(answer.expires_at) > Date.now());

    const moved = await runCliAsync(['console', '--json'], { env: { ...storeEnv(services), MM_HOST: '0.0.0.0', MM_PORT: '9000', MM_ADMIN_HOST: '0.0.0.0', MM_ADMIN_PORT: '9443', MM_TLS_CERT: '/etc/mm/cert.pem', MM_TLS_KEY: '/etc/mm/key.pem' } });
    assert.equal(moved.code, 0, moved.stderr);
    assert.match((JSON.parse(moved.stdout) as { url: string }).url, /^https:\/\/127\.0\.0\.1:9443\/console\//, 'a wildcard admin host is opened on loopback');

    const plain = await runCliAsync(['console', '--port', '9000'], { env: { ...storeEnv(services), MM_HOST: '::1' } });
    assert.match(plain.stdout, /^http:\/\/\[::1\]:9000\/console\//);
  });

  test('bad options are usage errors (exit 2) and change nothing', async () => {
    const services = await testServices();
    for (const [args, says] of [
      [['console', '--port', '0'], /port 0/],
      [['console', '--port', 'eighty'], /port/],
      [['console', 'extra'], /unexpected argument/],
      [['console', '--nope'], /nope/],
    ] as const) {
      const result = await runCliAsync([...args], { env: storeEnv(services) });
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, says);
      assert.equal(result.stdout, '');
    }
    assert.deepEqual(await rowsOf(services, 'console_sign_in_codes'), []);
  });
});
