import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { BUILD_TIMEOUT_MS, ensureBinary, freePort, runBinaryAsync, sandbox, type BinaryResult } from './helpers/binary';

/** A stand-in server on 127.0.0.1 whose /healthz answers as told (the real one is tested in serve.test.ts). */
async function fakeServer(handler: http.RequestListener): Promise<{ port: number; close(): void }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = () => {
    server.closeAllConnections();
    server.close();
  };
  after(close);
  return { port: (server.address() as AddressInfo).port, close };
}

function failsWith(result: BinaryResult, message: RegExp): void {
  assert.equal(result.code, 1, `stdout: ${result.stdout}\nstderr: ${result.stderr}`);
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0]!, message);
}

describe('mechamental healthcheck (the built executable)', () => {
  before(() => ensureBinary(), { timeout: BUILD_TIMEOUT_MS });

  test('exit 0 when /healthz answers 200; MM_HOST=0.0.0.0 is probed on 127.0.0.1, MM_PORT is used', async () => {
    const paths: string[] = [];
    const server = await fakeServer((req, res) => {
      paths.push(`${req.method} ${req.url}`);
      res.writeHead(req.url === '/healthz' ? 200 : 404).end('{"status":"ok"}');
    });
    const box = sandbox();
    const byFlag = await runBinaryAsync(box, ['healthcheck', '--port', String(server.port)]);
    assert.equal(byFlag.code, 0, byFlag.stderr);
    assert.match(byFlag.stdout, /^healthy: http:\/\/127\.0\.0\.1:\d+\/healthz answered 200/);
    const byEnv = await runBinaryAsync(box, ['healthcheck'], { env: { ...box.env, MM_HOST: '0.0.0.0', MM_PORT: String(server.port) } });
    assert.equal(byEnv.code, 0, byEnv.stderr);
    assert.deepEqual(paths, ['GET /healthz', 'GET /healthz']);
  });

  test('exit 1 with one line when the answer is not 200', async () => {
    const server = await fakeServer((_req, res) => res.writeHead(503).end());
    failsWith(await runBinaryAsync(sandbox(), ['healthcheck', '--port', String(server.port)]), /^mechamental: unhealthy: http:\/\/127\.0\.0\.1:\d+\/healthz answered 503, not 200$/);
  });

  test('exit 1 with one line when nothing listens', async () => {
    const port = await freePort();
    failsWith(await runBinaryAsync(sandbox(), ['healthcheck', '--port', String(port)]), /^mechamental: unhealthy: .*: connection refused/);
  });

  test('exit 1 within the timeout when the server does not answer', async () => {
    const server = await fakeServer(() => {
      // never answers
    });
    const started = Date.now();
    failsWith(await runBinaryAsync(sandbox(), ['healthcheck', '--host', '127.0.0.1', '--port', String(server.port)]), /^mechamental: unhealthy: .*: no answer within 3 s$/);
    assert.ok(Date.now() - started < 8_000, 'gives up after its timeout');
  });

  test('a bad port is a usage error', async () => {
    const result = await runBinaryAsync(sandbox(), ['healthcheck', '--port', 'eighty']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /port/);
  });
});
