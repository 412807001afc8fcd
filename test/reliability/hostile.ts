// Hostile: the attacks of issue 9 against the BUILT executable (dist/mechamental serve on
// 127.0.0.1, built first when stale), round after round, while a steady legitimate load runs
// (HOSTILE_CALLERS callers triggering JSON and SSE echo runs and checking every answer). Each round:
//
//   race       staged bodies (headers + half a body; half of them sent after a `100 Continue`, proof
//              that the token was checked) to a `command` pipeline that appends a line to a file per
//              run; the token is revoked (admin API, then the CLI), the bodies finished: every answer
//              401 token_revoked, 0 runs after the revoke returned
//   streams    open SSE streams of a token, revoked (admin API, then the CLI): each ends within
//              STREAM_END_BOUND_MS, none completes
//   nesting    deeply nested JSON to a `command` pipeline: 400 invalid_json, no child started
//   slowloris  half of MM_MAX_CONNECTIONS half-open connections (the callers and /healthz must not
//              notice), then HOSTILE_CONNECTIONS at once (over the cap: the server holds at most the
//              cap; every one closed within MM_HEADERS_TIMEOUT and a check interval; /healthz back)
//   caps       one token opens more streams than MM_MAX_RUNS_PER_TOKEN (429 too_many_runs beyond it),
//              then several tokens more `command` runs than MM_MAX_CHILDREN (503 busy beyond it)
//   upstream   `http`/`openai` pipelines against a local upstream in this process: 128 MiB answers
//              (JSON and SSE), 24 MiB SSE lines without a newline, a redirect to another origin
//              carrying a secret header, an upstream error quoting a password, a `command` whose
//              stderr holds a secret, and one printing its environment: 502 pipeline_failed with the
//              generic message, nothing internal in any answer, nothing sent to the other origin, the
//              server's own environment not in the child's
//   leaks      POST /v1/tokens/revoke flooded with forged values (and spoofed X-Forwarded-For): every
//              answer 202 {"received": n} or 429 with Retry-After, never more 202s than the rate allows
//
// After every attack the load pauses and the server's open fds and child processes (/proc) must
// come back to the baseline taken at rest after a warm-up "round 0" (children exactly, fds within
// FD_TOLERANCE) within HOSTILE_SETTLE_SECONDS (polled, no sleeps). RSS is noisier, and the check
// says so: round 0 runs the attacks that make the server buffer megabytes once (nested bodies, 16
// MiB of upstream answer), and RSS must stay under round 0's high-water mark + RSS_BOUND_MIB. Why
// not the resting baseline + a small margin: V8 collects its old generation only when it has grown
// to a limit set by the live size, and an idle server does not collect (no allocation, no GC), so
// the garbage of those attacks can sit uncollected for minutes. Measured: V8 heap in use 123 MiB →
// 21 MiB at the next major GC, RSS 315 → 168 MiB, with 0-4 MiB of runs kept; at rest, RSS swings
// between ~165 and ~315 MiB with when the last major GC happened, and a round's peak can sit 60 MiB
// over round 0's; after round 1's 128 MiB upstream answers (round 0 has only 16 MiB of them) RSS was
// seen resting at 405 MiB with 236 MiB of V8 heap not yet collected, 156 MiB over round 0's mark. So
// this check is coarse: it catches 256 MiB over the run (e.g. upstream answers
// read whole: issue 9 saw 1.9 GB); a leak per request (a child and its pipes, a socket) shows in
// fds and children, which are exact, and a slow one in the highest RSS at rest per round, printed. Peaks are sampled every 100 ms; the V8 heap, Buffer memory
// and runs kept (/metrics) are printed next to RSS, to tell where it lives.
//
// Knobs: HOSTILE_ROUNDS (3), HOSTILE_CONNECTIONS (the over-cap flood, 3000), HOSTILE_MAX_CONNECTIONS
// (the server's MM_MAX_CONNECTIONS, 256), HOSTILE_RACE (staged bodies per revoke, 40),
// HOSTILE_CALLERS (4), HOSTILE_LEAK_REPORTS (60), HOSTILE_SETTLE_SECONDS (30). Shortened (.ci/run):
// HOSTILE_ROUNDS=1 HOSTILE_CONNECTIONS=600 HOSTILE_RACE=20 HOSTILE_LEAK_REPORTS=20.
// Run alone: node --import tsx test/reliability/hostile.ts
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCollecting } from '../helpers/process';
import { freePort, killAll, REPO_ROOT, sleep } from '../bench/lib/proc';
import { alive, childPids, fdCount, rssKiB } from '../bench/lib/procfs';
import { makeTempDir, startServe, withServices } from '../bench/lib/servers';
import { api, request } from './lib/http';
import { figure, newReport, promise, runAsScript, scanLog, type Report } from './lib/report';

const MiB = 1_048_576;
/** Open fds may differ from the baseline by this much at rest (a keep-alive socket to an upstream being closed, an fd the runtime opens lazily). */
const FD_TOLERANCE = 2;
/** RSS must stay under round 0's high-water mark + this; see the header for why it is this coarse. */
const RSS_BOUND_MIB = 256;
/** Peak RSS growth allowed while 128 MiB upstream answers are refused (read whole, three of them would need > 1 GiB). */
const UPSTREAM_PEAK_BOUND_MIB = 384;
/** SPEC: open streams end within 1 s of a revoke; the rest is slack for a loaded 2-core machine. */
const STREAM_END_BOUND_MS = 2_500;
/** The server's MM_HEADERS_TIMEOUT: shorter than the default 10 s to keep the floods short, long enough that a legitimate client on a machine with a load average of 25 is never cut off. */
const HEADERS_TIMEOUT_MS = 5_000;
/**
 * The server's MM_RUN_MEMORY. Finished runs are kept (15 min) within it by design; an `http` run
 * relaying an upstream SSE answer keeps up to 16 MiB of deltas. At the default 64 MiB, the kept
 * runs alone (as counted; more in V8) could fill the RSS bound, and hide a leak.
 */
const RUN_MEMORY = '16MiB';
/** Node checks the timeouts every quarter of the headers timeout, at most 1 s; plus slack for load. */
const TIMEOUT_SLACK_MS = 3_000;
const GENERIC = 'the pipeline failed; the server log has the details';

// --- the built executable ----------------------------------------------------------------------

/** dist/mechamental, rebuilt first (test/binary/helpers/ensure-built.mjs, under flock) when anything it is built from is newer. */
function ensureBinary(): string {
  fs.mkdirSync(path.join(REPO_ROOT, 'dist'), { recursive: true });
  const ensure = [process.execPath, path.join(REPO_ROOT, 'test/binary/helpers/ensure-built.mjs')];
  const options = { cwd: REPO_ROOT, encoding: 'utf8', timeout: 10 * 60_000 } as const;
  let result = spawnSync('flock', [path.join(REPO_ROOT, 'dist/.build.lock'), ...ensure], options);
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') result = spawnSync(ensure[0]!, ensure.slice(1), options);
  if (result.status !== 0) throw new Error(`building dist/mechamental failed:\n${result.stderr}${result.error?.message ?? ''}`);
  return result.stdout.trim();
}

// --- raw connections ---------------------------------------------------------------------------

interface Raw {
  socket: net.Socket;
  text: string;
  closed: Promise<{ ms: number; byServer: boolean }>;
}

/** A raw connection that writes `bytes` and keeps its side open; `closed` resolves when it ends (or is cut after `timeoutMs`). */
function openRaw(port: number, bytes: string, timeoutMs: number): Promise<Raw> {
  return new Promise((resolveOpen) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    let cut = false;
    const raw: Raw = { socket, text: '', closed: undefined as never };
    raw.closed = new Promise((resolve) => {
      const timer = setTimeout(() => {
        cut = true;
        socket.destroy();
      }, timeoutMs);
      socket.on('close', () => {
        clearTimeout(timer);
        resolve({ ms: Date.now() - started, byServer: !cut });
        resolveOpen(raw); // when the connect itself failed
      });
    });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (raw.text += chunk));
    socket.on('error', () => {
      // a reset is a close here
    });
    socket.on('connect', () => {
      if (bytes.length === 0) return resolveOpen(raw);
      socket.write(bytes, () => resolveOpen(raw));
    });
  });
}

/** The status of the last response in `text` (after any `100 Continue`), or 0. */
const finalStatusOf = (text: string) => Number([...text.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3}) /g)].at(-1)?.[1] ?? 0);
const codeOf = (text: string) => /"code":"([a-z_]+)"/.exec(text)?.[1];

/** An SSE trigger that stays open until `close()`; `status` resolves with the status (0: the connection failed). */
function openStream(port: number, pipeline: string, token: string, body: unknown): { status: Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Promise<string> }>; close(): void } {
  const req = http.request({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: `/v1/trigger/${pipeline}`,
    agent: false,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'text/event-stream' },
  });
  const status = new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Promise<string> }>((resolve) => {
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      const body = new Promise<string>((done) => {
        res.on('end', () => done(text));
        res.on('close', () => done(text));
        res.on('error', () => done(text));
      });
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
    });
    req.on('error', () => resolve({ status: 0, headers: {}, body: Promise.resolve('') }));
  });
  req.end(JSON.stringify(body));
  return { status, close: () => req.destroy() };
}

/** The server's V8 heap in use (garbage included until the next major GC), its memory outside the heap (Buffers) and what its kept runs count, from /metrics, in KiB (NaN when unreadable). */
async function heapKiB(port: number): Promise<{ heap: number; external: number; kept: number; lagMs: number }> {
  const answer = await request(port, { path: '/metrics', timeoutMs: 10_000 }).catch(() => ({ body: '' }));
  const raw = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(answer.body)?.[1] ?? NaN);
  const read = (name: string) => raw(name) / 1024;
  // prom-client resets its event-loop delay histogram at each scrape: this is the longest stall since the last one.
  const lagMs = raw('nodejs_eventloop_lag_max_seconds') * 1000;
  return { heap: read('nodejs_heap_size_used_bytes'), external: read('nodejs_external_memory_bytes'), kept: read('mechamental_runs_kept_bytes'), lagMs };
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
  }
}

// --- the local upstream ------------------------------------------------------------------------

/** Writes `piece` until `total` bytes, honouring back-pressure; stops when the client goes away. Answers the bytes written. */
async function writeRepeatedly(res: http.ServerResponse, piece: Buffer, total: number): Promise<number> {
  let written = 0;
  let gone = false;
  res.on('close', () => (gone = true));
  while (written < total && !gone) {
    written += piece.length;
    if (!res.write(piece)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    }
  }
  return written;
}

function listen(handler: http.RequestListener): Promise<{ url: string; server: http.Server }> {
  return new Promise((resolve) => {
    const server = http.createServer(handler);
    server.keepAliveTimeout = 1_000; // the server under test keeps pooled upstream sockets; let them go quickly
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, server }));
  });
}

const UPSTREAM_PASSWORD = 'hunter2-upstream-password';
const HEADER_SECRET = 'x-secret-header-value-7781';
const STDERR_SECRET = 'stderr-secret-db-password-5512';
const SERVER_SECRET = 'server-environment-secret-9903';

// --- the run -----------------------------------------------------------------------------------

export async function hostile(): Promise<Report> {
  const env = process.env;
  const rounds = Number(env.HOSTILE_ROUNDS ?? 3);
  const maxConnections = Number(env.HOSTILE_MAX_CONNECTIONS ?? 256);
  const raceSize = Number(env.HOSTILE_RACE ?? 40);
  const callers = Number(env.HOSTILE_CALLERS ?? 4);
  const leakReports = Number(env.HOSTILE_LEAK_REPORTS ?? 60);
  const settleMs = Number(env.HOSTILE_SETTLE_SECONDS ?? 30) * 1000;
  // The flood is opened from this process: stay within its own open-file limit.
  const fdLimit = Number(/Max open files\s+(\d+)/.exec(fs.readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? 1024);
  const floodSize = Math.min(Number(env.HOSTILE_CONNECTIONS ?? 3000), fdLimit - 300);
  // Every staged body holds a run slot of its token and a child slot from its headers on: the caps leave room for the race.
  const maxRunsPerToken = raceSize + 4;
  const maxChildren = raceSize + 8;
  const report = newReport(`hostile (${rounds} round${rounds === 1 ? '' : 's'} of issue 9's attacks on the built executable, ${callers} legitimate callers throughout)`);

  const binary = ensureBinary();
  const tmp = makeTempDir('mm-hostile-');
  const dataDir = path.join(tmp.dir, 'data');
  const logFile = path.join(tmp.dir, 'server.log');
  const countFile = path.join(tmp.dir, 'runs.count');
  const cacheDir = path.join(tmp.dir, 'cache');
  const servers: http.Server[] = [];
  try {
    // The other origin: records every request that reaches it.
    const reachedOther: string[] = [];
    const other = await listen((req, res) => {
      reachedOther.push(`${req.method} ${req.url} x-secret=${req.headers['x-secret'] ?? ''}`);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"stolen":true}');
    });
    servers.push(other.server);
    const upstreamSent: number[] = [];
    const upstream = await listen((req, res) => {
      req.resume();
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://x');
        const record = (p: Promise<number>) => void p.then((n) => upstreamSent.push(n)).finally(() => res.end());
        switch (url.pathname) {
          case '/ok':
            return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
          case '/big':
            res.writeHead(200, { 'content-type': 'application/json' });
            return record(writeRepeatedly(res, Buffer.alloc(64 * 1024, ' '), 128 * MiB));
          case '/big-sse':
            res.writeHead(200, { 'content-type': 'text/event-stream' });
            return record(writeRepeatedly(res, Buffer.alloc(64 * 1024, `data: ${'x'.repeat(56)}\n\n`), 128 * MiB));
          case '/newline-less':
          case '/llm/chat/completions':
            res.writeHead(200, { 'content-type': 'text/event-stream' });
            res.write('data: ');
            return record(writeRepeatedly(res, Buffer.alloc(64 * 1024, 'y'), 24 * MiB));
          case '/big-llm/chat/completions':
            res.writeHead(200, { 'content-type': 'text/event-stream' });
            return record(writeRepeatedly(res, Buffer.alloc(64 * 1024, ': padding padding padding\n'), 128 * MiB));
          case '/redirect':
            return void res.writeHead(307, { location: `${other.url}/steal` }).end('moved');
          case '/error':
            return void res
              .writeHead(500, { 'content-type': 'application/json' })
              .end(JSON.stringify({ error: `connect to postgres://app:${UPSTREAM_PASSWORD}@db.internal:5432 failed; got header ${req.headers['x-secret']}`, trace: 'at Object.<anonymous> (/srv/upstream/app.js:12:7)' }));
          default:
            return void res.writeHead(404).end();
        }
      });
    });
    servers.push(upstream.server);

    const { legit, admin } = await withServices(dataDir, async (s) => {
      const add = (slug: string, kind: string, config: Record<string, unknown>) => s.pipelines.create('default', { slug, kind, config }, 'cli');
      await add('counter', 'command', { argv: ['sh', '-c', `cat >/dev/null; echo run >> '${countFile}'`], timeout_ms: 30_000 });
      await add('nested', 'command', { argv: ['cat'], timeout_ms: 30_000 });
      await add('sleeper', 'command', { argv: ['sleep', '60'], timeout_ms: 120_000 });
      await add('slow', 'echo', { delay_ms: 200 });
      await add('stderr', 'command', { argv: ['sh', '-c', `cat >/dev/null; echo "FATAL: ${STDERR_SECRET} in /etc/app/secret.conf" >&2; exit 3`] });
      await add('envdump', 'command', { argv: ['sh', '-c', 'cat >/dev/null; env'] });
      await add('ok', 'http', { url: `${upstream.url}/ok` });
      await add('big', 'http', { url: `${upstream.url}/big` });
      await add('big-sse', 'http', { url: `${upstream.url}/big-sse` });
      await add('newline-less', 'http', { url: `${upstream.url}/newline-less` });
      await add('llm-newline-less', 'openai', { base_url: `${upstream.url}/llm`, model: 'm' });
      await add('llm-big', 'openai', { base_url: `${upstream.url}/big-llm`, model: 'm' });
      await add('redirect', 'http', { url: `${upstream.url}/redirect`, headers: { 'X-Secret': HEADER_SECRET } });
      await add('upstream-error', 'http', { url: `${upstream.url}/error`, headers: { 'X-Secret': HEADER_SECRET } });
      return {
        legit: (await s.tokens.create({ app: 'default', name: 'legitimate load', expires: '1d' }, 'cli')).value,
        admin: (await s.tokens.createAdmin({ name: 'hostile harness', expires: '1d' }, 'cli')).value,
      };
    });
    const port = await freePort();
    const serverEnv = {
      MM_LOG_LEVEL: 'warn',
      MM_CACHE_DIR: cacheDir,
      MM_MAX_CONNECTIONS: String(maxConnections),
      MM_HEADERS_TIMEOUT: `${HEADERS_TIMEOUT_MS / 1000}s`,
      MM_REQUEST_TIMEOUT: '20s',
      MM_MAX_RUNS_PER_TOKEN: String(maxRunsPerToken),
      MM_MAX_CHILDREN: String(maxChildren),
      MM_RUN_MEMORY: RUN_MEMORY,
      HOSTILE_SERVER_SECRET: SERVER_SECRET,
    };
    const server = await startServe(dataDir, { port, logFile, binary, env: serverEnv, timeoutMs: 60_000 });
    const pid = server.pid;
    let died = false;
    server.child.once('exit', () => (died = true));
    const cliEnv = { PATH: env.PATH ?? '/usr/bin:/bin', MM_CACHE_DIR: cacheDir, MM_LOG_LEVEL: 'silent' };
    const cli = (args: string[]) => runCollecting(binary, [...args, '--data-dir', dataDir], { env: cliEnv, cwd: tmp.dir });
    const newToken = async (name: string) => {
      const answer = await api(port, 'POST', '/v1/apps/default/tokens', admin, { name, expires_in: '1d' });
      if (answer.status !== 201) throw new Error(`creating a token answered ${answer.status} ${answer.body}`);
      return { id: answer.json.token.id as string, value: answer.json.value as string };
    };
    const revokeByApi = async (id: string) => {
      const answer = await api(port, 'POST', `/v1/apps/default/tokens/${id}/revoke`, admin, {});
      if (answer.status !== 200) throw new Error(`the admin API revoke answered ${answer.status} ${answer.body}`);
    };
    const revokeByCli = async (id: string) => {
      const result = await cli(['tokens', 'revoke', id]);
      if (result.code !== 0) throw new Error(`mechamental tokens revoke exited ${result.code}: ${result.stderr}`);
    };
    const runLines = () => (fs.existsSync(countFile) ? fs.readFileSync(countFile, 'utf8').split('\n').filter(Boolean).length : 0);

    // --- measurements: sampled every 100 ms; peaks per attack -----------------------------------
    const peak = { rss: 0, fds: 0, children: 0 };
    const sampler = setInterval(() => {
      if (died) return;
      peak.rss = Math.max(peak.rss, rssKiB(pid) || 0);
      try {
        peak.fds = Math.max(peak.fds, fdCount(pid));
      } catch {
        // gone
      }
      peak.children = Math.max(peak.children, childPids(pid).length);
    }, 100);
    const resetPeaks = () => {
      peak.rss = rssKiB(pid);
      peak.fds = fdCount(pid);
      peak.children = childPids(pid).length;
    };

    // --- the legitimate load --------------------------------------------------------------------
    const load = { sent: 0, right: 0, wrong: 0, refusedAtCap: 0, healthz: 0, healthzFailed: 0 };
    const wrongDetail: string[] = [];
    let saturated = false; // while the over-cap flood holds every slot, new connections are closed at once
    let paused = true;
    let stopped = false;
    let inFlight = 0;
    const caller = async (n: number) => {
      let seq = 0;
      while (!stopped && !died) {
        if (paused) {
          await sleep(20);
          continue;
        }
        inFlight++;
        seq++;
        const sse = seq % 3 === 0;
        const health = seq % 7 === 0;
        const message = `caller ${n} request ${seq}`;
        const wasSaturated = saturated;
        try {
          if (health) {
            load.healthz++;
            const answer = await request(port, { path: '/healthz', timeoutMs: 15_000 });
            if (answer.status !== 200) throw new Error(`/healthz answered ${answer.status}`);
          } else {
            load.sent++;
            const answer = await request(port, {
              method: 'POST',
              path: '/v1/trigger/chat',
              headers: { authorization: `Bearer ${legit}`, 'content-type': 'application/json', ...(sse ? { accept: 'text/event-stream' } : {}) },
              body: JSON.stringify({ message }),
              timeoutMs: 15_000,
            });
            const good = sse
              ? answer.status === 200 && answer.events.join(',') === `run.started,${'message.delta,'.repeat(4)}run.completed`
              : answer.status === 200 && JSON.parse(answer.body).output === message;
            if (!good) throw new Error(`${sse ? 'SSE' : 'JSON'} answered ${answer.status} ${answer.body.slice(0, 200)}`);
            load.right++;
          }
        } catch (error) {
          const text = (error as Error).message;
          const connectionRefused = /ECONNRESET|socket hang up|EPIPE|ECONNREFUSED/.test(text);
          if (connectionRefused && (wasSaturated || saturated)) {
            load.refusedAtCap++;
            await sleep(50); // the flood holds every slot: retry a little later, as a client would
          } else {
            if (health) load.healthzFailed++;
            else load.wrong++;
            if (wrongDetail.length < 10) wrongDetail.push(`${message}: ${text}`);
          }
        } finally {
          inFlight--;
        }
      }
    };
    const workers = Array.from({ length: callers }, (_, i) => caller(i + 1));
    const pause = async () => {
      paused = true;
      await until(() => inFlight === 0, 30_000, 10);
    };

    // --- settling back to the baseline ------------------------------------------------------------
    let baseline = { fds: 0, children: 0, rss: 0 };
    let rssCeiling = 0;
    const rows: string[][] = [];
    const restRss: number[] = [];
    let maxLagMs = 0;
    const settle = async (attack: string, round: number): Promise<void> => {
      const peaks = { ...peak };
      await pause();
      const started = Date.now();
      const back = await until(
        () => !died && childPids(pid).length <= baseline.children && fdCount(pid) <= baseline.fds + FD_TOLERANCE && rssKiB(pid) <= rssCeiling,
        settleMs,
        100,
      );
      const now = died ? { fds: NaN, children: NaN, rss: NaN } : { fds: fdCount(pid), children: childPids(pid).length, rss: rssKiB(pid) };
      restRss.push(now.rss);
      const mib = (kib: number) => (kib / 1024).toFixed(0);
      const memory = await heapKiB(port);
      rows.push([`${round}`, attack, `${peaks.fds} → ${now.fds}`, `${peaks.children} → ${now.children}`, `${mib(peaks.rss)} → ${mib(now.rss)}`, `${mib(memory.heap)} / ${mib(memory.external)} / ${mib(memory.kept)}`, `${memory.lagMs.toFixed(0)} ms`, back ? `${Date.now() - started} ms` : 'never']);
      maxLagMs = Math.max(maxLagMs, memory.lagMs || 0);
      promise(report, !died, `round ${round}, ${attack}: the server died`);
      promise(report, now.children <= baseline.children, `round ${round}, ${attack}: ${now.children} child processes ${settleMs / 1000} s later (baseline ${baseline.children})`);
      promise(report, now.fds <= baseline.fds + FD_TOLERANCE, `round ${round}, ${attack}: ${now.fds} open fds ${settleMs / 1000} s later (baseline ${baseline.fds} + ${FD_TOLERANCE})`);
      promise(report, now.rss <= rssCeiling, `round ${round}, ${attack}: RSS ${mib(now.rss)} MiB ${settleMs / 1000} s later (ceiling ${mib(rssCeiling)} MiB: round 0's high-water mark + ${RSS_BOUND_MIB})`);
      const health = await request(port, { path: '/healthz', timeoutMs: 10_000 }).catch((error: Error) => ({ status: 0, body: error.message }));
      promise(report, health.status === 200, `round ${round}, after ${attack}: /healthz answered ${health.status}`);
      resetPeaks();
      paused = false;
    };

    // --- the attacks ------------------------------------------------------------------------------
    const race = { sent: 0, answered401: 0, other: [] as string[], runsAfterRevoke: 0 };
    const streams = { opened: 0, endedInTime: 0, completed: 0, slowest: 0 };
    const nesting = { sent: 0, refused: 0, other: [] as string[] };
    const slow = { held: 0, heldClosedMs: 0, floods: 0, floodPeakFds: 0, floodClosedMs: 0, healthyAfterMs: 0, notClosed: 0, during: [] as string[] };
    const caps = { runsOk: 0, runs429: 0, childrenOk: 0, children503: 0, peakChildren: 0, timedOut: 0, other: [] as string[] };
    const up = { sent: 0, envdumps: 0, generic: 0, leaks: [] as string[], other: [] as string[], newlineLessMs: 0, peakGrowthMiB: 0 };
    const leaks = { sent: 0, accepted: 0, limited: 0, other: [] as string[], firstAt: 0, lastAt: 0 };

    const staged = async (round: number, via: 'admin API' | 'CLI') => {
      const token = await newToken(`race ${round} ${via}`);
      const body = JSON.stringify({ message: 'x'.repeat(200) });
      const half = Math.floor(body.length / 2);
      const before = runLines();
      // Half JSON, half SSE; every other pair sends `Expect: 100-continue` and its half body only
      // after the `100 Continue`, which the server sends once it has authenticated and admitted the
      // request (SPEC "HTTP conformance"): proof that the token was checked before the revoke.
      const expecting = (i: number) => i % 4 >= 2;
      const head = (i: number) =>
        `POST /v1/trigger/counter HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${token.value}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n${i % 2 ? 'Accept: text/event-stream\r\n' : ''}${expecting(i) ? 'Expect: 100-continue\r\n' : ''}Connection: close\r\n\r\n`;
      const conns = await Promise.all(Array.from({ length: raceSize }, (_, i) => openRaw(port, expecting(i) ? head(i) : head(i) + body.slice(0, half), 30_000)));
      const continued = await until(() => conns.every((c, i) => !expecting(i) || c.text.includes(' 100 Continue') || c.socket.destroyed), 15_000, 10);
      promise(report, continued && conns.every((c, i) => !expecting(i) || c.text.includes(' 100 Continue')), `round ${round}: staged requests with Expect: 100-continue got no 100 Continue`);
      await Promise.all(conns.map((c, i) => (expecting(i) ? new Promise<void>((resolve) => c.socket.write(body.slice(0, half), () => resolve())) : undefined)));
      // The plain ones' headers went out before the others': by now the server has read them too (a margin for a loaded machine).
      await sleep(100);
      if (via === 'CLI') await revokeByCli(token.id);
      else await revokeByApi(token.id);
      const atRevoke = runLines();
      for (const conn of conns) conn.socket.write(body.slice(half));
      await Promise.all(conns.map((c) => c.closed));
      await sleep(300); // a run that started would have appended its line by now
      race.sent += raceSize;
      race.runsAfterRevoke += runLines() - atRevoke;
      promise(report, atRevoke === before, `round ${round}: ${atRevoke - before} staged runs ran before their bodies were complete`);
      for (const conn of conns) {
        if (finalStatusOf(conn.text) === 401 && codeOf(conn.text) === 'token_revoked') race.answered401++;
        else if (race.other.length < 5) race.other.push(`${via}: ${finalStatusOf(conn.text)} ${codeOf(conn.text) ?? '(nothing)'}`);
      }
    };

    const revokeStreams = async (round: number, via: 'admin API' | 'CLI') => {
      const token = await newToken(`streams ${round} ${via}`);
      const count = 8;
      const opened = Array.from({ length: count }, () => openStream(port, 'slow', token.value, { message: 'w '.repeat(100) }));
      const statuses = await Promise.all(opened.map((s) => s.status));
      streams.opened += statuses.filter((s) => s.status === 200).length;
      if (via === 'CLI') await revokeByCli(token.id);
      else await revokeByApi(token.id);
      const revoked = Date.now();
      await Promise.all(
        statuses.map(async (s, i) => {
          const timer = setTimeout(() => opened[i]!.close(), 20_000);
          const text = await s.body;
          clearTimeout(timer);
          const took = Date.now() - revoked;
          streams.slowest = Math.max(streams.slowest, took);
          if (took <= STREAM_END_BOUND_MS) streams.endedInTime++;
          if (text.includes('event: run.completed')) streams.completed++;
        }),
      );
    };

    const nestedJson = async () => {
      const depth65 = '{"a":'.repeat(65) + '1' + '}'.repeat(65);
      const deep = '['.repeat(500_000);
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          request(port, {
            method: 'POST',
            path: '/v1/trigger/nested',
            headers: { authorization: `Bearer ${legit}`, 'content-type': 'application/json' },
            body: i % 2 ? deep : depth65,
            timeoutMs: 30_000,
          }).catch((error: Error) => ({ status: 0, body: error.message })),
        ),
      );
      nesting.sent += answers.length;
      for (const a of answers) {
        if (a.status === 400 && codeOf(a.body) === 'invalid_json') nesting.refused++;
        else if (nesting.other.length < 5) nesting.other.push(`${a.status} ${a.body.slice(0, 120)}`);
      }
      promise(report, peak.children <= baseline.children, `nested JSON started ${peak.children - baseline.children} child processes`);
    };

    const slowloris = async (round: number) => {
      // Under the cap: held until the headers timeout; nobody else may notice.
      const underCap = Math.floor(maxConnections / 2);
      const wrongBefore = load.wrong + load.healthzFailed;
      const held = await Promise.all(Array.from({ length: underCap }, (_, i) => openRaw(port, i % 2 ? '' : `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Slow: a`, HEADERS_TIMEOUT_MS + 20_000)));
      const closedHeld = await Promise.all(held.map((h) => h.closed));
      slow.held += underCap;
      slow.heldClosedMs = Math.max(slow.heldClosedMs, ...closedHeld.map((c) => c.ms));
      slow.notClosed += closedHeld.filter((c) => !c.byServer).length;
      if (load.wrong + load.healthzFailed > wrongBefore) slow.during.push(`round ${round}: ${load.wrong + load.healthzFailed - wrongBefore} legitimate requests went wrong while ${underCap} half-open connections were held`);

      // Over the cap: the server keeps at most the cap, closes the rest at once, the held ones on time.
      saturated = true;
      const fdsBefore = fdCount(pid);
      let floodPeak = 0;
      const sampleFds = setInterval(() => (floodPeak = Math.max(floodPeak, fdCount(pid))), 25);
      const started = Date.now();
      const flood = await Promise.all(Array.from({ length: floodSize }, (_, i) => openRaw(port, i % 2 ? '' : `POST /v1/trigger/chat HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bear`, HEADERS_TIMEOUT_MS + 20_000)));
      const closedFlood = await Promise.all(flood.map((f) => f.closed));
      slow.floodClosedMs = Math.max(slow.floodClosedMs, Date.now() - started);
      slow.notClosed += closedFlood.filter((c) => !c.byServer).length;
      const healthy = await until(async () => (await request(port, { path: '/healthz', timeoutMs: 5_000 }).catch(() => ({ status: 0 }))).status === 200, 10_000, 50);
      slow.healthyAfterMs = Math.max(slow.healthyAfterMs, Date.now() - started);
      clearInterval(sampleFds);
      await sleep(200);
      saturated = false;
      slow.floods++;
      slow.floodPeakFds = Math.max(slow.floodPeakFds, floodPeak - fdsBefore);
      promise(report, healthy, `round ${round}: /healthz did not answer again after the over-cap flood`);
      promise(report, floodPeak - fdsBefore <= maxConnections + callers + 16, `round ${round}: the server held ${floodPeak - fdsBefore} more fds during the flood; the cap is ${maxConnections}`);
    };

    const capRuns = async (round: number) => {
      const hog = await newToken(`runs hog ${round}`);
      const opened = Array.from({ length: maxRunsPerToken * 2 }, () => openStream(port, 'slow', hog.value, { message: 'w '.repeat(200) }));
      const statuses = await Promise.all(opened.map((s) => s.status));
      for (const s of statuses) {
        if (s.status === 200) caps.runsOk++;
        else if (s.status === 429 && s.headers['retry-after'] && codeOf(await s.body) === 'too_many_runs') caps.runs429++;
        else if (caps.other.length < 5) caps.other.push(`runs: ${s.status} ${(await s.body).slice(0, 120)}`);
      }
      promise(report, statuses.filter((s) => s.status === 200).length === maxRunsPerToken, `round ${round}: one token held ${statuses.filter((s) => s.status === 200).length} runs at once (MM_MAX_RUNS_PER_TOKEN ${maxRunsPerToken})`);
      for (const s of opened) s.close();
    };

    const capChildren = async (round: number) => {
      const tokens = await Promise.all(Array.from({ length: Math.ceil((maxChildren * 1.5) / maxRunsPerToken) }, (_, i) => newToken(`children hog ${round}.${i}`)));
      const perToken = Math.floor((maxChildren * 1.5) / tokens.length);
      const children = tokens.flatMap((t) => Array.from({ length: perToken }, () => openStream(port, 'sleeper', t.value, {})));
      const childStatuses = await Promise.all(children.map((s) => s.status));
      await until(() => childPids(pid).length >= baseline.children + childStatuses.filter((s) => s.status === 200).length, 10_000);
      caps.peakChildren = Math.max(caps.peakChildren, childPids(pid).length, peak.children);
      for (const s of childStatuses) {
        if (s.status === 200) caps.childrenOk++;
        else if (s.status === 503 && s.headers['retry-after'] && codeOf(await s.body) === 'busy') caps.children503++;
        else if (s.status === 408) caps.timedOut++; // see the figure: the machine's load, not the cap
        else if (caps.other.length < 5) caps.other.push(`children: ${s.status} ${(await s.body).slice(0, 120)}`);
      }
      const okChildren = childStatuses.filter((s) => s.status === 200).length;
      promise(report, okChildren === maxChildren, `round ${round}: ${okChildren} command runs at once (MM_MAX_CHILDREN ${maxChildren})`);
      promise(report, peak.children <= baseline.children + maxChildren, `round ${round}: ${peak.children} child processes at once (MM_MAX_CHILDREN ${maxChildren})`);
      for (const s of children) s.close();
    };

    const upstreams = async (round: number) => {
      const rssBefore = rssKiB(pid);
      const sentBefore = upstreamSent.length;
      const reachedBefore = reachedOther.length;
      const trigger = (pipeline: string) =>
        request(port, { method: 'POST', path: `/v1/trigger/${pipeline}`, headers: { authorization: `Bearer ${legit}`, 'content-type': 'application/json' }, body: '{"message":"hi"}', timeoutMs: 60_000 }).catch((error: Error) => ({
          status: 0,
          body: error.message,
        }));
      const t0 = Date.now();
      const failing = ['big', 'big', 'big-sse', 'llm-big', 'newline-less', 'llm-newline-less', 'redirect', 'upstream-error', 'stderr'];
      const [answers, envdump] = await Promise.all([
        Promise.all(
          failing.map(async (p) => {
            const answer = await trigger(p);
            if (p.includes('newline-less')) up.newlineLessMs = Math.max(up.newlineLessMs, Date.now() - t0);
            return [p, answer] as const;
          }),
        ),
        trigger('envdump'),
      ]);
      up.sent += answers.length + 1;
      up.envdumps++;
      for (const [p, a] of answers) {
        const code = codeOf(a.body);
        const message = /"message":"([^"]*)"/.exec(a.body)?.[1] ?? '';
        if (a.status === 502 && code === 'pipeline_failed' && message.startsWith(GENERIC) && /\(run run_[A-Za-z0-9_-]+\)$/.test(message)) up.generic++;
        else if (up.other.length < 5) up.other.push(`${p}: ${a.status} ${a.body.slice(0, 160)}`);
        for (const secret of [UPSTREAM_PASSWORD, HEADER_SECRET, STDERR_SECRET, 'db.internal', '/srv/upstream', '/etc/app', upstream.url, other.url, dataDir, ' at ']) {
          if (a.body.includes(secret)) up.leaks.push(`${p}: the answer holds "${secret}"`);
        }
      }
      const childEnv = envdump.status === 200 ? String(JSON.parse(envdump.body).output) : '';
      if (envdump.status !== 200) up.other.push(`envdump: ${envdump.status} ${envdump.body.slice(0, 160)}`);
      if (childEnv.includes(SERVER_SECRET) || /^MM_/m.test(childEnv)) up.leaks.push('envdump: the command child saw the server environment');
      if (reachedOther.length > reachedBefore) up.leaks.push(`redirect: ${reachedOther.length - reachedBefore} requests reached the other origin (${reachedOther.at(-1)})`);
      const bigSent = upstreamSent.slice(sentBefore);
      promise(report, bigSent.every((n) => n < 32 * MiB), `round ${round}: an upstream could send ${Math.max(...bigSent) / MiB} MiB before the server stopped reading (cap 16 MiB)`);
      up.peakGrowthMiB = Math.max(up.peakGrowthMiB, (peak.rss - rssBefore) / 1024);
      promise(report, peak.rss - rssBefore <= UPSTREAM_PEAK_BOUND_MIB * 1024, `round ${round}: RSS grew by ${((peak.rss - rssBefore) / 1024).toFixed(0)} MiB while refusing 128 MiB upstream answers (bound ${UPSTREAM_PEAK_BOUND_MIB} MiB)`);
    };

    const leakFlood = async () => {
      const victim = await newToken('leak victim');
      const forged = () => `mm_tok_${Array.from({ length: 36 }, () => 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'[Math.floor(Math.random() * 62)]).join('')}`;
      if (leaks.firstAt === 0) leaks.firstAt = Date.now();
      let acceptedNow = 0;
      for (let batch = 0; batch < leakReports; batch += 10) {
        const answers = await Promise.all(
          Array.from({ length: Math.min(10, leakReports - batch) }, (_, i) => {
            const values = [victim.value, ...Array.from({ length: 1 + ((batch + i) % 99) }, forged)];
            return request(port, {
              method: 'POST',
              path: '/v1/tokens/revoke',
              headers: { 'content-type': 'application/json', 'x-forwarded-for': `203.0.113.${(batch + i) % 250}` },
              body: JSON.stringify({ tokens: values }),
              timeoutMs: 15_000,
            })
              .then((a) => ({ ...a, values: values.length }))
              .catch((error: Error) => ({ status: 0, body: error.message, headers: {} as http.IncomingHttpHeaders, values: values.length }));
          }),
        );
        leaks.sent += answers.length;
        leaks.lastAt = Date.now();
        for (const a of answers) {
          if (a.status === 202 && a.body === JSON.stringify({ received: a.values })) {
            leaks.accepted++;
            acceptedNow++;
          } else if (a.status === 429 && a.headers['retry-after'] && codeOf(a.body) === 'rate_limited') leaks.limited++;
          else if (leaks.other.length < 5) leaks.other.push(`${a.status} ${a.body.slice(0, 120)}`);
        }
      }
      if (acceptedNow > 0) {
        const revoked = await until(async () => (await api(port, 'GET', `/v1/apps/default/tokens/${victim.id}`, admin)).json?.token?.status === 'revoked', 10_000, 100);
        promise(report, revoked, 'a reported leaked value was not revoked');
      }
    };

    // --- warm-up and baseline ---------------------------------------------------------------------
    // Round 0, unmeasured: every pipeline once, then the attacks that make the server buffer
    // megabytes (nested bodies, 16 MiB of upstream answer). The first time, V8 and the allocator
    // grow into that memory and keep much of it (glibc does not hand freed arenas back, V8 shrinks
    // its old space lazily): that is a high-water mark, not a leak. A leak grows round after round,
    // so the RSS baseline is taken after it.
    paused = false;
    for (const pipeline of ['ok', 'envdump', 'nested', 'slow']) {
      const answer = await api(port, 'POST', `/v1/trigger/${pipeline}`, legit, { message: 'warm up' });
      if (answer.status !== 200) throw new Error(`warm-up run of ${pipeline} answered ${answer.status} ${answer.body}`);
    }
    await until(() => childPids(pid).length === 0, 10_000);
    process.stderr.write('[hostile] round 0 (warm-up): nested JSON, upstreams\n');
    resetPeaks();
    await nestedJson();
    let round0Peak = peak.rss;
    resetPeaks();
    await upstreams(0);
    round0Peak = Math.max(round0Peak, peak.rss);
    await sleep(2_000);
    await pause();
    await until(() => childPids(pid).length === 0, 10_000);
    await sleep(1_500); // pooled upstream sockets (keep-alive 1 s) and finished children's pipes close
    baseline = { fds: fdCount(pid), children: childPids(pid).length, rss: rssKiB(pid) };
    rssCeiling = Math.max(baseline.rss, round0Peak) + RSS_BOUND_MIB * 1024;
    const heapBefore = await heapKiB(port);
    resetPeaks();
    paused = false;

    const attacks: Array<[string, (round: number) => Promise<void>]> = [
      ['race, admin API revoke', (r) => staged(r, 'admin API')],
      ['race, CLI revoke', (r) => staged(r, 'CLI')],
      ['streams, admin API revoke', (r) => revokeStreams(r, 'admin API')],
      ['streams, CLI revoke', (r) => revokeStreams(r, 'CLI')],
      ['nested JSON', () => nestedJson()],
      ['slowloris', (r) => slowloris(r)],
      ['runs per token cap', (r) => capRuns(r)],
      ['children cap', (r) => capChildren(r)],
      ['upstreams, redirects, errors', (r) => upstreams(r)],
      ['leak-report flood', () => leakFlood()],
    ];
    const started = Date.now();
    for (let round = 1; round <= rounds && !died; round++) {
      for (const [name, attack] of attacks) {
        if (died) break;
        process.stderr.write(`[hostile] round ${round}: ${name}\n`);
        await attack(round);
        await settle(name, round);
      }
    }
    const elapsed = (Date.now() - started) / 1000;
    stopped = true;
    await Promise.all(workers);
    clearInterval(sampler);
    const stillAlive = !died && alive(pid);
    const heapAfter = await heapKiB(port);
    await server.stop();
    const log = scanLog(logFile);

    // --- the report -------------------------------------------------------------------------------
    // GCRA (src/db/rate-limits.ts): a burst of 10, then one every 6 s; +1 for a report that came in just as the interval ended.
    const allowedAccepted = 10 + Math.floor((leaks.lastAt - leaks.firstAt) / 6_000) + 1;
    figure(report, 'duration', `${elapsed.toFixed(0)} s, ${rounds} rounds; server MM_MAX_CONNECTIONS ${maxConnections}, MM_MAX_RUNS_PER_TOKEN ${maxRunsPerToken}, MM_MAX_CHILDREN ${maxChildren}, MM_HEADERS_TIMEOUT ${HEADERS_TIMEOUT_MS / 1000} s`);
    figure(report, 'baseline at rest after round 0: fds / children / RSS', `${baseline.fds} / ${baseline.children} / ${(baseline.rss / 1024).toFixed(0)} MiB (fds within +${FD_TOLERANCE}, children exactly; RSS ceiling ${(rssCeiling / 1024).toFixed(0)} MiB: round 0's high-water mark ${(round0Peak / 1024).toFixed(0)} MiB + ${RSS_BOUND_MIB})`);
    figure(report, 'RSS at rest after each attack: lowest / highest', `${(Math.min(...restRss) / 1024).toFixed(0)} / ${(Math.max(...restRss) / 1024).toFixed(0)} MiB`);
    const perRound = Array.from({ length: rounds }, (_, r) => restRss.slice(r * attacks.length, (r + 1) * attacks.length)).filter((xs) => xs.length > 0);
    figure(report, 'RSS at rest, highest per round', perRound.map((xs) => (Math.max(...xs) / 1024).toFixed(0)).join(' → ') + ' MiB');
    figure(report, 'server heap used / Buffers / kept runs: baseline → end', `${(heapBefore.heap / 1024).toFixed(0)} → ${(heapAfter.heap / 1024).toFixed(0)} MiB / ${(heapBefore.external / 1024).toFixed(0)} → ${(heapAfter.external / 1024).toFixed(0)} MiB / ${(heapBefore.kept / 1024).toFixed(0)} → ${(heapAfter.kept / 1024).toFixed(0)} MiB (MM_RUN_MEMORY ${RUN_MEMORY})`);
    figure(report, 'legitimate load', `${load.sent} triggers (right ${load.right}, wrong ${load.wrong}), ${load.healthz} /healthz (failed ${load.healthzFailed}), ${load.refusedAtCap} requests refused at the connection cap during over-cap floods`);
    figure(report, 'race: staged bodies / 401 token_revoked / runs after the revoke', `${race.sent} / ${race.answered401} / ${race.runsAfterRevoke}`);
    figure(report, 'streams revoked: opened / ended in time / completed / slowest', `${streams.opened} / ${streams.endedInTime} / ${streams.completed} / ${streams.slowest} ms (bound ${STREAM_END_BOUND_MS} ms)`);
    figure(report, 'nested JSON: sent / 400 invalid_json', `${nesting.sent} / ${nesting.refused}`);
    figure(report, 'slowloris under the cap: held / closed by', `${slow.held} / ${slow.heldClosedMs} ms (MM_HEADERS_TIMEOUT ${HEADERS_TIMEOUT_MS} ms)`);
    figure(report, 'slowloris over the cap: floods × size / fds held / over after / healthy after', `${slow.floods} × ${floodSize} / +${slow.floodPeakFds} / ${slow.floodClosedMs} ms / ${slow.healthyAfterMs} ms`);
    figure(report, 'runs per token: admitted / 429 too_many_runs', `${caps.runsOk} / ${caps.runs429}`);
    figure(report, 'children: admitted / 503 busy / most at once', `${caps.childrenOk} / ${caps.children503} / ${caps.peakChildren}`);
    figure(report, 'cap attack requests answered 408 (not read within MM_HEADERS_TIMEOUT)', caps.timedOut);
    figure(report, "server's longest event-loop stall (nodejs_eventloop_lag_max_seconds)", `${maxLagMs.toFixed(0)} ms`);
    figure(report, 'upstream attacks: sent / generic 502 / leaks', `${up.sent} / ${up.generic} / ${up.leaks.length}`);
    figure(report, 'upstream: newline-less answers over by / RSS peak growth', `${up.newlineLessMs} ms / ${up.peakGrowthMiB.toFixed(0)} MiB (bound ${UPSTREAM_PEAK_BOUND_MIB} MiB)`);
    figure(report, 'leak reports: sent / 202 / 429', `${leaks.sent} / ${leaks.accepted} / ${leaks.limited}`);
    figure(report, 'server log lines at level error', log.errors.length);
    console.log('\n  round  attack                         fds peak → after  children peak → after  RSS MiB peak → after  heap / Buffers / kept runs MiB  loop stall  back in');
    for (const row of rows) console.log(`  ${row[0]!.padEnd(5)}  ${row[1]!.padEnd(29)}  ${row[2]!.padEnd(16)}  ${row[3]!.padEnd(21)}  ${row[4]!.padEnd(20)}  ${row[5]!.padEnd(29)}  ${row[6]!.padEnd(10)}  ${row[7]}`);

    promise(report, stillAlive, 'the server exited during the attacks');
    promise(report, load.wrong === 0 && load.healthzFailed === 0, `${load.wrong + load.healthzFailed} legitimate requests went wrong: ${wrongDetail.slice(0, 3).join(' | ')}`);
    promise(report, slow.during.length === 0, slow.during.join('; '));
    promise(report, race.runsAfterRevoke === 0, `${race.runsAfterRevoke} command runs started after the revoke returned`);
    promise(report, race.answered401 === race.sent, `${race.sent - race.answered401} staged requests were not refused 401 token_revoked: ${race.other.join(' | ')}`);
    promise(report, streams.opened === streams.endedInTime && streams.completed === 0, `${streams.opened - streams.endedInTime} revoked streams outlived ${STREAM_END_BOUND_MS} ms (slowest ${streams.slowest} ms), ${streams.completed} ran to run.completed`);
    promise(report, nesting.refused === nesting.sent, `${nesting.sent - nesting.refused} nested bodies not refused 400 invalid_json: ${nesting.other.join(' | ')}`);
    promise(report, slow.notClosed === 0, `${slow.notClosed} half-open connections were not closed by the server in time`);
    promise(report, slow.heldClosedMs <= HEADERS_TIMEOUT_MS + TIMEOUT_SLACK_MS, `held half-open connections lasted ${slow.heldClosedMs} ms (MM_HEADERS_TIMEOUT ${HEADERS_TIMEOUT_MS} ms)`);
    promise(report, slow.floodClosedMs <= HEADERS_TIMEOUT_MS + TIMEOUT_SLACK_MS + 2_000, `the over-cap flood lasted ${slow.floodClosedMs} ms`);
    promise(report, caps.other.length === 0, `cap refusals of the wrong kind: ${caps.other.join(' | ')}`);
    promise(report, up.generic === up.sent - up.envdumps && up.other.length === 0, `upstream attacks not answered 502 pipeline_failed with the generic message and run id: ${up.other.join(' | ')}`);
    promise(report, up.leaks.length === 0, `internals leaked: ${[...new Set(up.leaks)].slice(0, 5).join(' | ')}`);
    promise(report, leaks.other.length === 0, `leak reports answered neither 202 nor 429 rate_limited: ${leaks.other.join(' | ')}`);
    promise(report, leaks.accepted <= allowedAccepted, `${leaks.accepted} leak reports accepted from one address, at most ${allowedAccepted} allowed`);
    if (log.errors.length) for (const line of log.errors.slice(0, 3)) console.log(`  server error log: ${line}`);
    return report;
  } finally {
    killAll();
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
    await sleep(100);
    tmp.cleanup();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) runAsScript(hostile, killAll);
