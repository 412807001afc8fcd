import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { tempDataDir } from '../helpers/data-dir';
import { request, spawnServe } from '../helpers/server';

const FIXTURE = pathToFileURL(path.join(import.meta.dirname, 'fixtures', 'fault-after-listen.mjs')).href;

/** `serve` with a fault injected once it listens (see the fixture). */
function faultyServe(fault: string, args: string[] = ['--port', '0']) {
  return spawnServe(tempDataDir(), args, { NODE_OPTIONS: `--import=${FIXTURE}`, MECHAMENTAL_TEST_FAULT: fault });
}

/** Does anything accept connections on 127.0.0.1:`port`? */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A free port (bound and released at once). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('a server that fails after it began listening stops listening and exits (issue 9, finding 3)', () => {
  test('the database fails right after listen (the banner reads it): the listener closes, one line on stderr, exit 1', async () => {
    const port = await freePort();
    const serve = await faultyServe('database', ['--port', String(port)]);
    const exit = await serve.exited;
    assert.deepEqual(exit, { code: 1, signal: null }, `stdout: ${serve.stdout()}\nstderr: ${serve.stderr()}`);
    const lines = serve.stderr().trimEnd().split('\n');
    assert.equal(lines.length, 1, serve.stderr());
    assert.match(lines[0]!, /^mechamental: the server stopped right after it started: injected fault: disk I\/O error$/);
    assert.match(serve.stdout(), /"level":"fatal".*failed right after it began listening: stopped/);
    assert.equal(await accepts(port), false);
  });

  for (const fault of ['uncaught', 'rejection'] as const) {
    test(`an ${fault === 'uncaught' ? 'uncaught exception' : 'unhandled rejection'} while serving: logged, listeners closed (the admin one too), one line on stderr, exit 1`, async () => {
      const serve = await faultyServe(fault, ['--host', '0.0.0.0', '--port', '0']);
      const exit = await serve.exited;
      // Read after the exit: on a busy machine the process may be gone before its banner was seen.
      const port = Number(/listening on http:\/\/0\.0\.0\.0:(\d+)/.exec(serve.stdout())?.[1]);
      const adminPort = Number(/admin API on http:\/\/127\.0\.0\.1:(\d+)/.exec(serve.stdout())?.[1]);
      assert.ok(port > 0 && adminPort > 0, serve.stdout());
      assert.deepEqual(exit, { code: 1, signal: null }, `stdout: ${serve.stdout()}\nstderr: ${serve.stderr()}`);
      const lines = serve.stderr().trimEnd().split('\n');
      assert.equal(lines.length, 1, serve.stderr());
      assert.match(lines[0]!, /^mechamental: the server stopped after an unexpected error: injected fault: nobody (caught this|handled this rejection) \(the log has the details\)$/);
      assert.match(serve.stdout(), /"level":"fatal".*injected fault.*the server stops rather than serve in an unknown state/);
      assert.equal(await accepts(port), false);
      assert.equal(await accepts(adminPort), false);
      await assert.rejects(request(`http://127.0.0.1:${port}/healthz`));
    });
  }
});
