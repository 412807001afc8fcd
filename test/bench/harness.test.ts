// The bench's load harness, cheaply: wrk's report read from captured output; wrk, mmload and the
// autocannon fallback each run for about a second against a tiny node:http server in this process
// (skipped, with the install command, where wrk or cc is missing).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pickLoadGenerator, writeTokensFile, type LoadTarget } from './lib/load';
import { buildMmload, parseRecords, runMmload } from './lib/mmload';
import { startBenchServer, withServices } from './lib/servers';
import { findWrk, parseTimesChildren, parseWrkCount, parseWrkJson, parseWrkOutput, parseWrkText, parseWrkTime, runWrk } from './lib/wrk';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const report = fs.readFileSync(path.join(FIXTURES, 'wrk-report.txt'), 'utf8');
const reportWithErrors = fs.readFileSync(path.join(FIXTURES, 'wrk-report-errors.txt'), 'utf8');
const withoutJson = (text: string) => text.split('\n').filter((l) => !l.startsWith('WRK_JSON ')).join('\n');
const BODY = '{"message":"hello world"}';
/** Four tokens for one test (a request still in flight from an earlier test is told apart by its token); the server refuses the last. */
const tokensFor = (test: string) => ['alpha', 'beta', 'gamma', 'refused'].map((name) => `${test}-${name}`);

describe("reading wrk's report", () => {
  test('the text report and the JSON line of one real run agree', () => {
    const text = parseWrkText(withoutJson(report));
    const json = parseWrkJson(report.split('\n').find((l) => l.startsWith('WRK_JSON '))!);
    assert.equal(text.requests, 27_842);
    assert.equal(json.requests, 27_842);
    assert.equal(text.non2xx, 9_281);
    assert.equal(json.non2xx, 9_281);
    assert.equal(text.requestsPerSecond, 13_835);
    assert.ok(Math.abs(json.requestsPerSecond - text.requestsPerSecond) / text.requestsPerSecond < 0.01);
    assert.equal(text.durationS, 2.01);
    assert.equal(json.durationS, 2.012432);
    // The text rounds to two decimals in its unit; the JSON has whole microseconds.
    for (const p of ['p50', 'p75', 'p90', 'p99', 'mean', 'max'] as const) {
      assert.ok(Math.abs(text.latencyUs[p] - json.latencyUs[p]) <= 10, `${p}: text ${text.latencyUs[p]} vs JSON ${json.latencyUs[p]}`);
    }
    assert.equal(json.latencyUs.p999, 481_534);
    assert.deepEqual(text.socketErrors, { connect: 0, read: 0, write: 0, timeout: 0 });
  });

  test('socket errors and non-2xx answers are read from either form', () => {
    const text = parseWrkText(withoutJson(reportWithErrors));
    const json = parseWrkOutput(reportWithErrors);
    assert.deepEqual(text.socketErrors, { connect: 0, read: 33, write: 0, timeout: 0 });
    assert.deepEqual(json.socketErrors, text.socketErrors);
    assert.equal(text.non2xx, 5_583);
    assert.equal(json.non2xx, 5_583);
    assert.equal(text.latencyUs.p50, 491);
  });

  test('parseWrkOutput takes the JSON line when there is one, else the text', () => {
    assert.equal(parseWrkOutput(report).latencyUs.p50, 2_449); // JSON: exact microseconds
    assert.equal(parseWrkOutput(withoutJson(report)).latencyUs.p50, 2_450); // text: "2.45ms"
  });

  test("wrk's units", () => {
    assert.equal(parseWrkTime('652.47us'), 652.47);
    assert.equal(parseWrkTime('2.45ms'), 2_450);
    assert.equal(parseWrkTime('1.02s'), 1_020_000);
    assert.equal(parseWrkTime('1.50m'), 90_000_000);
    assert.equal(parseWrkCount('76.89k'), 76_890);
    assert.equal(parseWrkCount('2.13M'), 2_130_000);
    assert.equal(parseWrkCount('812'), 812);
    assert.throws(() => parseWrkTime('2.45 parsecs'), /not a wrk time: "2.45 parsecs"/);
    assert.throws(() => parseWrkCount('-nan'), /not a wrk count/);
  });

  test('output that is not a finished report: an error saying what is missing, with the start of the text', () => {
    assert.throws(() => parseWrkText(''), /no "N requests in T" line/);
    assert.throws(() => parseWrkText('unable to connect to 127.0.0.1:1 Connection refused\n'), /no "N requests in T" line.*unable to connect/);
    const noLatencyFlag = withoutJson(report).replace(/ {2}Latency Distribution\n(?:\s+[\d.]+%.*\n)+/, '');
    assert.throws(() => parseWrkText(noLatencyFlag), /no 50% line \(was wrk run with --latency\?\)/);
    assert.throws(() => parseWrkText(withoutJson(report).replace(/^Requests\/sec.*$/m, '')), /no "Requests\/sec" line/);
    assert.throws(() => parseWrkJson('WRK_JSON {"requests":'), SyntaxError);
  });

  test("bash's `times`: the children's CPU time, or NaN when the line is not there", () => {
    assert.equal(parseTimesChildren('0m0.001s 0m0.002s\n0m1.250s 0m0.500s\n'), 1_750_000);
    assert.equal(parseTimesChildren('0m0.001s 0m0.002s\n1m0.000s 0m0.000s'), 60_000_000);
    assert.ok(Number.isNaN(parseTimesChildren('')));
    assert.ok(Number.isNaN(parseTimesChildren('PANIC: unprotected error in call to Lua API')));
  });
});

describe('choosing the load generator', () => {
  test('an unknown BENCH_LOADGEN is refused with the choices', () => {
    assert.throws(() => pickLoadGenerator('gatling'), /BENCH_LOADGEN=gatling: expected wrk or autocannon/);
  });

  test('autocannon when asked, saying why', () => {
    const { generator, fallbackReason } = pickLoadGenerator('autocannon');
    assert.equal(generator.name, 'autocannon');
    assert.match(fallbackReason!, /BENCH_LOADGEN=autocannon/);
  });

  test('wrk when installed, else autocannon with the install command', () => {
    const { generator, fallbackReason } = pickLoadGenerator('');
    if (findWrk()) {
      assert.equal(generator.name, 'wrk');
      assert.equal(fallbackReason, undefined);
      assert.equal(generator.effectiveSeconds(1.2), 2, 'wrk runs whole seconds');
    } else {
      assert.equal(generator.name, 'autocannon');
      assert.match(fallbackReason!, /apt-get install wrk/);
    }
  });
});

/** What the tiny server saw, per token, and anything that was not the request the bench sends. */
interface Seen {
  byToken: Map<string, number>;
  wrong: string[];
}

describe('the load tools against a tiny server', () => {
  let server: http.Server;
  let url: string;
  let port: number;
  let dir: string;
  let seen: Seen = { byToken: new Map(), wrong: [] };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mm-bench-harness-'));
    server = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '(none)';
        seen.byToken.set(token, (seen.byToken.get(token) ?? 0) + 1);
        const problem =
          req.method !== 'POST' ? `method ${req.method}` :
          req.url !== '/v1/trigger/chat' ? `url ${req.url}` :
          req.headers['content-type'] !== 'application/json' ? `content-type ${req.headers['content-type']}` :
          body !== BODY ? `body ${body}` : undefined;
        if (problem && seen.wrong.length < 5) seen.wrong.push(problem);
        const status = token.endsWith('-refused') ? 401 : 200;
        const answer = JSON.stringify(status === 200 ? { output: 'hello world' } : { error: { code: 'invalid_token' } });
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
        res.end(answer);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
    url = `http://127.0.0.1:${port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A test's own tokens and their file, with the server's counts reset. */
  function fresh(test: string): { tokens: string[]; tokensFile: string } {
    seen = { byToken: new Map(), wrong: [] };
    const tokens = tokensFor(test);
    return { tokens, tokensFile: writeTokensFile(dir, `${test}.txt`, tokens) };
  }

  /** How many requests the server saw with these tokens. */
  const answeredWith = (tokens: string[]) => tokens.reduce((sum, t) => sum + (seen.byToken.get(t) ?? 0), 0);

  /** Every token got the same share of the requests (they rotate), within `slack`. */
  function assertRotated(tokens: string[], slack: number): void {
    assert.deepEqual(seen.wrong, []);
    const total = answeredWith(tokens);
    for (const token of tokens) {
      const count = seen.byToken.get(token) ?? 0;
      assert.ok(Math.abs(count - total / tokens.length) <= slack, `${token}: ${count} of ${total}`);
    }
  }

  test('wrk (1 s): the bench request rotating every token; its counts match what the server saw', { skip: !findWrk() && 'wrk is not installed: apt-get install wrk' }, async () => {
    const { tokens, tokensFile } = fresh('wrk');
    const result = await runWrk({ url: `${url}/v1/trigger/chat`, tokensFile, body: BODY, connections: 4, seconds: 1 });
    const answered = answeredWith(tokens);
    // Correctness, not speed: on a loaded CI machine this process may get little CPU.
    assert.ok(result.requests >= 2 * tokens.length, `only ${result.requests} requests`);
    // wrk counts answers received before its time was up; the server may have answered a few more.
    assert.ok(answered >= result.requests && answered - result.requests <= 4, `server ${answered}, wrk ${result.requests}`);
    assertRotated(tokens, 4);
    assert.ok(Math.abs(result.non2xx - result.requests / tokens.length) <= 4, `non-2xx ${result.non2xx} of ${result.requests}`);
    assert.ok(result.latencyUs.p50 > 0 && result.latencyUs.p50 <= result.latencyUs.p99 && result.latencyUs.p99 <= result.latencyUs.max);
    assert.ok(result.cpuUs > 0, "wrk's CPU time comes from bash's times");
    assert.deepEqual(result.argv.slice(0, 3), ['wrk', '-t1', '-c4']);
  });

  test('wrk: a tokens file without tokens stops it with the script’s message', { skip: !findWrk() && 'wrk is not installed: apt-get install wrk' }, async () => {
    const empty = writeTokensFile(dir, 'empty.txt', []);
    await assert.rejects(runWrk({ url: `${url}/v1/trigger/chat`, tokensFile: empty, body: BODY, connections: 1, seconds: 1 }), /wrk exited 1: .*has no tokens \(one per line\)/);
    await assert.rejects(runWrk({ url: `${url}/v1/trigger/chat`, tokensFile: path.join(dir, 'missing.txt'), body: BODY, connections: 1, seconds: 1 }), /cannot read the tokens file/);
  });

  test('the autocannon fallback (1 s) sends the same requests, rotating every token', async () => {
    const { tokens, tokensFile } = fresh('autocannon');
    const target: LoadTarget = { url, path: '/v1/trigger/chat', tokens, tokensFile, body: BODY };
    const result = await pickLoadGenerator('autocannon').generator.run(target, { connections: 2, seconds: 1 });
    assert.ok(result.requests >= 2 * tokens.length, `only ${result.requests} requests`);
    assertRotated(tokens, 2);
    assert.ok(Math.abs(result.non2xx - result.requests / tokens.length) <= 2);
    assert.ok(result.generatorBusy > 0);
  });

  const cc = spawnSync('cc', ['--version']).error ? 'no C compiler: apt-get install gcc' : false;

  test('mmload paced (200 req/s, 1 s): open loop on schedule, every request recorded', { skip: cc }, async () => {
    const built = buildMmload();
    assert.ok('binary' in built, 'problem' in built ? built.problem : '');
    const { tokens, tokensFile } = fresh('paced');
    const recordsFile = path.join(dir, 'records.txt');
    const { summary, records } = await runMmload({ binary: built.binary, port, path: '/v1/trigger/chat', tokensFile, body: BODY, connections: 4, seconds: 1, rate: 200, recordsFile });
    assert.equal(summary.mode, 'paced');
    assert.equal(summary.scheduled, 200);
    assert.equal(summary.answered, 200);
    assert.deepEqual(summary.statuses, { '200': 150, '401': 50 });
    assert.equal(summary.errors + summary.unanswered, 0);
    assertRotated(tokens, 0);
    assert.equal(answeredWith(tokens), 200);
    assert.equal(records!.length, 200);
    // Request i is due at i × 5 ms; none is sent before it is due, and each answer follows its send.
    // (Records are kept in the order answers arrived.)
    [...records!].sort((a, b) => a.due - b.due).forEach((r, i) => {
      assert.equal(r.due, i * 5_000_000);
      assert.ok(r.sent >= r.due && r.done >= r.sent, JSON.stringify(r));
    });
    const { p50, p99, max } = summary.intended_us;
    assert.ok(p50! > 0 && p50! <= p99! && p99! <= max!);
    assert.ok(summary.service_us.p50! <= summary.intended_us.p50!);
    assert.ok(Number.isFinite(Number(BigInt(summary.start_ns))));
  });

  test('mmload closed loop: as fast as answers come; statuses counted', { skip: cc }, async () => {
    const built = buildMmload();
    assert.ok('binary' in built);
    const { tokens, tokensFile } = fresh('closed');
    const { summary } = await runMmload({ binary: built.binary, port, path: '/v1/trigger/chat', tokensFile, body: BODY, connections: 2, seconds: 0.5, rate: 0 });
    assert.equal(summary.mode, 'closed');
    assert.ok(summary.answered >= 2 * tokens.length, `only ${summary.answered} answered`);
    assert.equal(summary.answered, (summary.statuses['200'] ?? 0) + (summary.statuses['401'] ?? 0));
    assertRotated(tokens, 2);
    assert.equal(answeredWith(tokens), summary.answered);
  });

  test('mmload refuses what it cannot do, with a message', { skip: cc }, async () => {
    const built = buildMmload();
    assert.ok('binary' in built);
    const { tokensFile } = fresh('refusals');
    const base = { binary: built.binary, port, path: '/v1/trigger/chat', tokensFile, body: BODY, connections: 1, seconds: 0.2, rate: 0 };
    const closed = await new Promise<number>((resolve) => {
      const probe = http.createServer().listen(0, '127.0.0.1', () => {
        const p = (probe.address() as { port: number }).port;
        probe.close(() => resolve(p));
      });
    });
    await assert.rejects(runMmload({ ...base, port: closed }), /mmload exited 2: mmload: cannot connect to 127\.0\.0\.1:\d+: Connection refused/);
    await assert.rejects(runMmload({ ...base, tokensFile: writeTokensFile(dir, 'blank.txt', ['', '']) }), /the tokens file has no tokens/);
    await assert.rejects(runMmload({ ...base, tokensFile: path.join(dir, 'missing.txt') }), /cannot read the tokens file/);
    await assert.rejects(runMmload({ ...base, connections: 0 }), /usage: mmload/);
    await assert.rejects(runMmload({ ...base, rate: -1 }), /usage: mmload/);
  });
});

test('mmload records: "due sent done status" per line', () => {
  assert.deepEqual(parseRecords('0 10 250 200\n5000000 5000100 5000900 0\n'), [
    { due: 0, sent: 10, done: 250, status: 200 },
    { due: 5_000_000, sent: 5_000_100, done: 5_000_900, status: 0 },
  ]);
  assert.deepEqual(parseRecords(''), []);
});

describe("the handler's variants", () => {
  test("ours-handler's process serves its like-for-like variants on ports of their own", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mm-bench-variants-'));
    try {
      const dataDir = path.join(dir, 'data');
      const value = await withServices(dataDir, async (s) => (await s.tokens.create({ app: 'default', name: 'bench', expires: '1d' }, 'cli')).value);
      const server = await startBenchServer('ours-handler', dataDir, { BENCH_TOKEN: value });
      try {
        const trigger = (port: number, token: string) =>
          fetch(`http://127.0.0.1:${port}/v1/trigger/chat`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: BODY });
        assert.deepEqual(Object.keys(server.variants ?? {}).sort(), ['ours-noauth', 'ours-norecheck']);
        const forged = `mm_tok_${'A'.repeat(36)}`;
        assert.equal((await trigger(server.port, value)).status, 200);
        assert.equal((await trigger(server.port, forged)).status, 401, 'the handler checks tokens');
        assert.equal((await trigger(server.variants!['ours-norecheck']!, forged)).status, 401, 'without the re-check, still authenticated');
        const noauth = await trigger(server.variants!['ours-noauth']!, forged);
        assert.equal(noauth.status, 200, 'the variant without authentication runs any bearer');
        assert.equal(((await noauth.json()) as { output?: string }).output, 'hello world');
      } finally {
        await server.stop();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
