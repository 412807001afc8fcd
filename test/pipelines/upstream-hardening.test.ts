import assert from 'node:assert/strict';
import type http from 'node:http';
import { describe, test } from 'node:test';
import { GENERIC_FAILURE_MESSAGE } from '../../src/pipelines/index';
import { MAX_UPSTREAM_BYTES } from '../../src/pipelines/upstream';
import { failure, localServer, readText, run, runIsolated, until, writeRepeatedly } from './helpers';

const MiB = 1_048_576;

// ---------------------------------------------------------------------------------------------
// Redirects (finding 8): server B is another origin (another port), and records what reaches it.

const reachedOther: Array<{ url: string; headers: http.IncomingHttpHeaders }> = [];
const other = await localServer((req, res) => {
  reachedOther.push({ url: req.url ?? '', headers: req.headers });
  res.writeHead(200, { 'content-type': 'application/json' }).end('{"stolen": true}');
});

const main = await localServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const redirect = (status: number, location: string) => res.writeHead(status, { location }).end('moved');
  const hop = /^\/hops\/(\d+)$/.exec(url.pathname);
  if (hop) return void (Number(hop[1]) > 0 ? redirect(302, `/hops/${Number(hop[1]) - 1}`) : res.writeHead(200, { 'content-type': 'application/json' }).end('{"arrived": true}'));
  switch (url.pathname) {
    case '/to-other-302':
      return redirect(302, `${other.url}/steal`);
    case '/to-other-307':
      return redirect(307, `${other.url}/steal`);
    case '/to-localhost':
      // Same port, another host name: another origin all the same.
      return redirect(307, `http://localhost:${main.port}/echo`);
    case '/to-https':
      return redirect(308, `https://127.0.0.1:${main.port}/echo`);
    case '/v1/chat/completions':
      return redirect(307, `${other.url}/v1/chat/completions`);
    case '/echo': {
      const body = await readText(req);
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ method: req.method, body, secret: req.headers['x-secret'] ?? null, contentType: req.headers['content-type'] ?? null }));
    }
    default: {
      const status = /^\/same-(\d{3})$/.exec(url.pathname);
      if (status) return redirect(Number(status[1]), url.searchParams.get('absolute') ? `${main.url}/echo` : '/echo');
      res.writeHead(404).end();
    }
  }
});

describe('http: redirects are followed only within the origin', () => {
  const headers = { 'X-Secret': 'header-secret-123' };

  for (const path of ['/to-other-302', '/to-other-307', '/to-localhost', '/to-https']) {
    test(`a redirect to another origin (${path}) fails the run and sends nothing there`, async () => {
      const before = reachedOther.length;
      const error = await failure(run({ kind: 'http', config: { url: `${main.url}${path}`, headers } }, { message: 'hi' }));
      assert.equal(error.code, 'pipeline_failed');
      assert.equal(error.message, GENERIC_FAILURE_MESSAGE);
      assert.match(error.details?.detail as string, /a redirect to another origin \([^)]+\); only redirects within http:\/\/127\.0\.0\.1:\d+ are followed/);
      assert.equal(reachedOther.length, before, 'the other origin got no request at all');
    });
  }

  test('307 and 308 repeat the POST with its body and headers', async () => {
    for (const target of [`${main.url}/same-307`, `${main.url}/same-308?absolute=1`]) {
      const { output } = await run({ kind: 'http', config: { url: target, headers } }, { message: 'hi' });
      assert.deepEqual(output, { method: 'POST', body: '{"message":"hi"}', secret: 'header-secret-123', contentType: 'application/json' });
    }
  });

  test('301, 302 and 303 continue as a GET without the body, as fetch does', async () => {
    for (const status of [301, 302, 303]) {
      const { output } = await run({ kind: 'http', config: { url: `${main.url}/same-${status}`, headers } }, { message: 'hi' });
      assert.deepEqual(output, { method: 'GET', body: '', secret: 'header-secret-123', contentType: null }, `after ${status}`);
    }
  });

  test('at most 5 redirects', async () => {
    const { output } = await run({ kind: 'http', config: { url: `${main.url}/hops/5` } }, {});
    assert.deepEqual(output, { arrived: true });
    const error = await failure(run({ kind: 'http', config: { url: `${main.url}/hops/6` } }, {}));
    assert.equal(error.code, 'pipeline_failed');
    assert.match(error.details?.detail as string, /redirected more than 5 times/);
  });

  test('openai: a redirect to another origin never carries the API key there', async () => {
    process.env.MM_TEST_REDIRECT_KEY = 'sk-redirect-secret';
    const before = reachedOther.length;
    const error = await failure(run({ kind: 'openai', config: { base_url: `${main.url}/v1`, model: 'm', api_key_env: 'MM_TEST_REDIRECT_KEY' } }, { message: 'hi' }));
    assert.equal(error.code, 'pipeline_failed');
    assert.match(error.details?.detail as string, /another origin/);
    assert.equal(reachedOther.length, before);
  });
});

// ---------------------------------------------------------------------------------------------
// Upstream bytes (finding 9): 32 MiB answers, with and without a declared length, JSON and SSE.

/** Bytes each answer of `huge` wrote, by request id (`?id=`), and whether its connection closed. */
const sentById = new Map<string, { bytes: number; closed: boolean }>();
const huge = await localServer(async (req, res) => {
  await readText(req);
  const url = new URL(req.url ?? '/', 'http://x');
  const total = Number(url.searchParams.get('mib') ?? '32') * MiB;
  const sse = url.searchParams.get('type') === 'sse';
  const headers: http.OutgoingHttpHeaders = { 'content-type': sse ? 'text/event-stream' : 'application/json' };
  if (url.searchParams.get('declare') === '1') headers['content-length'] = total;
  res.writeHead(200, headers);
  const sent = { bytes: 0, closed: false };
  sentById.set(url.searchParams.get('id') ?? '', sent);
  res.on('close', () => (sent.closed = true));
  // One 64 KiB piece, written again and again while the client reads.
  const piece = Buffer.alloc(64 * 1024, sse ? `data: ${'x'.repeat(56)}\n\n` : ' ');
  await writeRepeatedly(res, piece, total, (written) => (sent.bytes = written));
  res.end();
});

/** A request to `huge` (see its query parameters), with an id to find what the upstream sent. */
function hugeUrl(query: string): { url: string; sent: () => { bytes: number; closed: boolean } | undefined } {
  const id = Math.random().toString(36).slice(2);
  return { url: `${huge.url}/?id=${id}&${query}`, sent: () => sentById.get(id) };
}

describe('upstream answers are capped at 16 MiB, read as they stream in', () => {
  assert.equal(MAX_UPSTREAM_BYTES, 16 * MiB);

  for (const [name, type] of [
    ['a JSON answer', 'json'],
    ['an SSE answer', 'sse'],
  ] as const) {
    test(`${name} of 32 MiB is refused; reading stops at the cap, and memory does not grow with the answer`, async () => {
      const first = hugeUrl(`mib=32&type=${type}`);
      const second = hugeUrl(`mib=256&type=${type}`);
      // In a process of its own, so that its peak RSS is the client's alone: 32 MiB, then 256 MiB.
      const [at32, at256] = await runIsolated([{ pipeline: { kind: 'http', config: { url: first.url } } }, { pipeline: { kind: 'http', config: { url: second.url } } }]);
      for (const [result, request] of [[at32!, first], [at256!, second]] as const) {
        assert.equal(result.error?.code, 'pipeline_failed', JSON.stringify(result));
        assert.equal(result.error?.message, GENERIC_FAILURE_MESSAGE);
        assert.match(result.error?.detail ?? '', /(larger|longer) than 16777216 bytes/);
        await until(() => request.sent()?.closed === true, 5_000, 'the upstream connection to be closed');
        assert.ok(request.sent()!.bytes < 24 * MiB, `the upstream could send only ${request.sent()!.bytes} bytes before the client stopped reading`);
      }
      // Reading answers whole grew the peak by ~3 bytes per byte of answer here (32 MiB: +114 MiB,
      // 256 MiB: +800 MiB or more); capped, the 256 MiB answer after the 32 MiB one adds ~nothing.
      const mib = (kib: number) => Math.round(kib / 1024);
      assert.ok(at32!.peakRssGrowthKiB < 160 * 1024, `the 32 MiB answer raised peak RSS by ${mib(at32!.peakRssGrowthKiB)} MiB`);
      assert.ok(at256!.peakRssGrowthKiB < 64 * 1024, `the 256 MiB answer raised peak RSS by another ${mib(at256!.peakRssGrowthKiB)} MiB`);
    });
  }

  test('an answer that declares a length over the cap is refused before its body is read', async () => {
    const request = hugeUrl('mib=32&declare=1');
    const error = await failure(run({ kind: 'http', config: { url: request.url } }, {}));
    assert.equal(error.code, 'pipeline_failed');
    assert.match(error.details?.detail as string, /larger than 16777216 bytes/);
    await until(() => request.sent()?.closed === true, 5_000, 'the upstream connection to be closed');
  });

  test('openai: a 32 MiB answer (streamed or not) is refused the same way', async () => {
    for (const type of ['json', 'sse']) {
      const openaiHuge = await localServer(async (req, res) => {
        await readText(req);
        res.writeHead(200, { 'content-type': type === 'sse' ? 'text/event-stream' : 'application/json' });
        await writeRepeatedly(res, Buffer.alloc(64 * 1024, type === 'sse' ? ': padding padding padding\n' : ' '), 32 * MiB);
        res.end();
      });
      const error = await failure(run({ kind: 'openai', config: { base_url: openaiHuge.url, model: 'm' } }, { message: 'hi' }));
      assert.equal(error.code, 'pipeline_failed');
      assert.match(error.details?.detail as string, /16777216 bytes/);
    }
  });

  test('an answer just under the cap is read whole', async () => {
    const { output } = await run({ kind: 'http', config: { url: hugeUrl('mib=15&type=sse').url } }, {});
    // Each 64-byte event carries 56 characters of data.
    assert.equal((output as string).length, (15 * MiB * 56) / 64);
  });
});

// ---------------------------------------------------------------------------------------------
// A newline-less SSE stream through the runner (the reader's own linear-time test is in sse-reader.test.ts).

const newlineLess = await localServer(async (req, res) => {
  await readText(req);
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write('data: ');
  await writeRepeatedly(res, Buffer.alloc(4096, 'y'), 4 * MiB);
  res.end('\n\n');
});

describe('http: a 4 MiB SSE line without a newline', () => {
  test('arrives as one event', async () => {
    const { output, deltas } = await run({ kind: 'http', config: { url: newlineLess.url } }, {});
    assert.equal(deltas.length, 1);
    assert.equal((output as string).length, 4 * MiB);
  });
});

// ---------------------------------------------------------------------------------------------
// Failure details (finding 11): never a query string, a configured header value or an API key.

const leaky = await localServer(async (req, res) => {
  await readText(req);
  res.writeHead(401, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { message: `bad credentials: got "${req.headers.authorization}" and "${req.headers['x-api-key']}" for ${req.url}` } }));
});

describe('failure details name no secret', () => {
  test('http: the upstream body is quoted with header values redacted, the URL by its origin only', async () => {
    const error = await failure(
      run({ kind: 'http', config: { url: `${leaky.url}/hook/T000/B000?token=query-secret-789`, headers: { Authorization: 'Bearer bearer-secret-456', 'X-Api-Key': 'api-key-secret-123' } } }, {}),
    );
    const detail = error.details?.detail as string;
    assert.equal(error.message, GENERIC_FAILURE_MESSAGE);
    assert.match(detail, new RegExp(`^the upstream ${leaky.url} answered 401: bad credentials`));
    assert.match(detail, /\[redacted\]/);
    for (const secret of ['bearer-secret-456', 'api-key-secret-123']) assert.doesNotMatch(detail, new RegExp(secret));
    // The upstream quoted its own path and query back: that is its text; ours never holds them.
    assert.doesNotMatch(detail.replace(/: bad credentials.*$/, ''), /query-secret|hook/);
  });

  test('openai: the API key is redacted from an upstream error', async () => {
    process.env.MM_TEST_LEAKY_KEY = 'sk-live-leaky-0001';
    const error = await failure(run({ kind: 'openai', config: { base_url: `${leaky.url}/v1?key=query-secret`, model: 'm', api_key_env: 'MM_TEST_LEAKY_KEY' } }, { message: 'hi' }));
    const detail = error.details?.detail as string;
    assert.match(detail, /answered 401/);
    assert.doesNotMatch(detail, /sk-live-leaky-0001/);
  });

  test('an unreachable upstream names its origin only', async () => {
    const error = await failure(run({ kind: 'http', config: { url: 'http://user:pass@127.0.0.1:1/path?token=query-secret' } }, {}));
    assert.equal(error.code, 'pipeline_failed');
    assert.doesNotMatch(error.details?.detail as string, /user|pass|path|query-secret/);
  });
});
