import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, test } from 'node:test';
import { defaultMaxConnections } from '../../src/config';
import { readOpenFileLimit } from '../../src/http/listeners';
import { tempDataDir, tempDir } from '../helpers/data-dir';
import { eventually, request, spawnServe } from '../helpers/server';
import { jsonBodyOf, rawExchange, statusOf, type RawExchange } from './helpers/raw-http';

const MAX_CONNECTIONS = 50;
const HEADERS_TIMEOUT_MS = 1_000;
/** Node checks the timeouts every quarter of the headers timeout (at most 1 s): the slack a limit may take. */
const CHECK_SLACK_MS = 1_000;

function openFds(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

function rssKiB(pid: number): number {
  const line = fs
    .readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? NaN);
}

async function healthy(url: string): Promise<boolean> {
  try {
    return (await request(`${url}/healthz`)).status === 200;
  } catch {
    return false; // the connection was closed at once: over the cap
  }
}

/**
 * A slowloris flood: `count` connections at once, half sending nothing, half sending the start of
 * a request and then nothing more. Resolves when every one has been closed by the server.
 */
function flood(port: number, count: number): Promise<RawExchange[]> {
  return Promise.all(
    Array.from({ length: count }, (_, i) => rawExchange(port, i % 2 === 0 ? '' : `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Slow: a`, { timeoutMs: 20_000 })),
  );
}

describe('slowloris and resource bounds (issue 9, finding 4)', () => {
  test('a flood of half-open connections on 127.0.0.1 is bounded in count (MM_MAX_CONNECTIONS) and time (MM_HEADERS_TIMEOUT); /healthz answers again once they time out; fds and memory flat afterwards', async () => {
    const serve = await spawnServe(tempDataDir(), ['--port', '0'], { MM_MAX_CONNECTIONS: String(MAX_CONNECTIONS), MM_HEADERS_TIMEOUT: '1s', MM_REQUEST_TIMEOUT: '2s', MM_LOG_LEVEL: 'warn' });
    const pid = serve.child.pid!;
    const port = Number(new URL(serve.url).port);
    for (let i = 0; i < 20; i++) assert.ok(await healthy(serve.url));
    // A first flood warms everything up that a flood touches once (code paths, buffers), so that the second one measures growth.
    await flood(port, 400);
    await eventually(() => healthy(serve.url), 10_000, '/healthz after the warm-up flood');
    const fdsBefore = openFds(pid);
    const rssBefore = rssKiB(pid);

    const started = Date.now();
    const pending = flood(port, 400);
    // While the flood is open: the server holds at most MAX_CONNECTIONS of them.
    let peakFds = 0;
    const sampler = setInterval(() => (peakFds = Math.max(peakFds, openFds(pid))), 25);
    await eventually(() => healthy(serve.url), HEADERS_TIMEOUT_MS + CHECK_SLACK_MS + 3_000, '/healthz to answer again');
    const healthyAfterMs = Date.now() - started;
    const answers = await pending;
    clearInterval(sampler);
    const floodMs = Date.now() - started;

    assert.ok(peakFds <= fdsBefore + MAX_CONNECTIONS + 5, `the server held ${peakFds - fdsBefore} more descriptors than before; the cap is ${MAX_CONNECTIONS}`);
    assert.ok(answers.every((a) => a.closedByServer), 'the server closed every connection of the flood');
    const timedOut = answers.filter((a) => a.text !== '');
    const dropped = answers.filter((a) => a.text === '');
    assert.ok(timedOut.length <= MAX_CONNECTIONS, `${timedOut.length} connections were held; the cap is ${MAX_CONNECTIONS}`);
    assert.ok(dropped.length >= 400 - MAX_CONNECTIONS, `${dropped.length} connections were closed at once`);
    for (const answer of timedOut) {
      assert.equal(statusOf(answer.text), 408, answer.text);
      assert.equal(jsonBodyOf(answer.text).error?.code, 'request_timeout');
      assert.ok(answer.ms < HEADERS_TIMEOUT_MS + CHECK_SLACK_MS + 1_000, `a held connection lasted ${answer.ms} ms`);
    }
    assert.ok(healthyAfterMs < HEADERS_TIMEOUT_MS + CHECK_SLACK_MS + 2_000, `/healthz answered again after ${healthyAfterMs} ms`);
    assert.ok(floodMs < HEADERS_TIMEOUT_MS + CHECK_SLACK_MS + 3_000, `the flood was over after ${floodMs} ms`);

    // Afterwards: descriptors back to where they were, memory about flat.
    await eventually(() => openFds(pid) <= fdsBefore + 2, 5_000, `descriptors back to ${fdsBefore} (now ${openFds(pid)})`);
    const grownKiB = rssKiB(pid) - rssBefore;
    assert.ok(grownKiB < 24 * 1024, `RSS grew by ${grownKiB} KiB over a flood`);
    const log = serve.stdout();
    assert.match(log, /connection limit reached: closing new connections \(MM_MAX_CONNECTIONS\)/);
    const metrics = await request(`${serve.url}/metrics`);
    assert.match(metrics.body, /mechamental_http_connections_dropped_total\{listener="main"\} \d+/);
    assert.match(metrics.body, /mechamental_http_connections_open\{listener="main"\} [1-9]/);
    serve.child.kill('SIGTERM');
    assert.equal((await serve.exited).code, 0);
  });

  test('the default cap stays below the open-file limit: 4096, or half of what a 256-descriptor reserve leaves', async () => {
    assert.equal(defaultMaxConnections(undefined), 4096);
    assert.equal(defaultMaxConnections(1024), 384);
    assert.equal(defaultMaxConnections(20_000), 4096);
    assert.equal(defaultMaxConnections(300), 64);
    assert.ok(defaultMaxConnections(readOpenFileLimit()) < (readOpenFileLimit() ?? Infinity));
    const fake = `${tempDir()}/limits`;
    fs.writeFileSync(fake, 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n');
    assert.equal(readOpenFileLimit(fake), 1024);
    fs.writeFileSync(fake, 'Max open files            unlimited            unlimited            files\n');
    assert.equal(readOpenFileLimit(fake), undefined);
    assert.equal(readOpenFileLimit(`${fake}.missing`), undefined);
  });
});
