// `npm run bench`: mechamental's trigger path against peers, side by side in one run, on loopback.
//
// The load generator (autocannon) runs in this process; every server under test runs in a child
// process of its own (test/bench/server-child.ts) and is loaded one at a time, in rounds whose
// order rotates, with a short warm-up before each measurement; figures are the medians over the
// rounds. Besides requests per second we report each server's CPU time per request (from
// /proc/<pid>/stat), which a noisy, shared 2-core machine disturbs far less than throughput.
//
// Sections (BENCH_ONLY=throughput,latency,sse,revoke,startup to pick): throughput, latency at a
// fixed rate, SSE (10,000 held streams, set-up rate, time to first event), revocation under load,
// start-up of dist/mechamental. Goals are reported, not asserted (exit code 0 unless the bench
// itself broke). Knobs: BENCH_ROUNDS (3), BENCH_SECONDS (3), BENCH_CONNECTIONS (32),
// BENCH_SSE_STREAMS (10000), BENCH_PROFILE=1 (write a CPU profile of `ours` under load).
import autocannon, { type Result } from 'autocannon';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { childEnv, freePort, killAll, MAIN, nextMessage, REPO_ROOT, sleep, spawnChild, TSX, waitExit } from './lib/proc';
import { cpuMicros, rssKiB } from './lib/procfs';
import { makeTempDir, startBenchServer, startServe, withServices, type RunningServer } from './lib/servers';
import { fmt, median, percentile, table } from './lib/stats';
import { summarizeProfile } from './profile';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const SSE_STREAMS = Number(process.env.BENCH_SSE_STREAMS ?? 10_000);
const ONLY = new Set((process.env.BENCH_ONLY ?? 'throughput,latency,sse,revoke,startup').split(','));
/** BENCH_PROFILE=1 profiles `ours`; BENCH_PROFILE=<kind> profiles that server kind. */
const PROFILE = process.env.BENCH_PROFILE === '1' ? 'ours' : process.env.BENCH_PROFILE;
const BODY = JSON.stringify({ message: 'hello from the benchmark, please echo this back' });
const BCRYPT_SECRET = 'Zq3vR8pL0xN4tY7wB2mK5sD9fH1jG6cA';

const now = () => performance.timeOrigin + performance.now();
const hasServer = fs.existsSync(path.join(REPO_ROOT, 'src/http/server.ts'));
const hasTrigger = fs.existsSync(path.join(REPO_ROOT, 'src/http/trigger.ts'));
const notes: string[] = [];
const summary: Array<{ figure: string; value: string; goal: string; met: boolean | undefined; metByCpu?: boolean }> = [];
const started = performance.now();

function log(line: string): void {
  process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(1)}s] ${line}\n`);
}

function goal(figure: string, value: string, goalText: string, met: boolean | undefined, metByCpu?: boolean): void {
  summary.push({ figure, value, goal: goalText, met, ...(metByCpu === undefined ? {} : { metByCpu }) });
}

interface Load {
  url: string;
  token: string;
  connections?: number;
  seconds: number;
  overallRate?: number;
  path?: string;
  onResponse?: (status: number, responseTimeMs: number) => void;
}

async function load(options: Load): Promise<Result> {
  const instance = autocannon({
    url: `${options.url}${options.path ?? '/v1/trigger/chat'}`,
    method: 'POST',
    connections: options.connections ?? CONNECTIONS,
    duration: options.seconds,
    timeout: 10,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${options.token}` },
    body: BODY,
    ...(options.overallRate ? { overallRate: options.overallRate } : {}),
  });
  if (options.onResponse) {
    const on = options.onResponse;
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => on(status, ms));
  }
  return instance;
}

/** One sanity request: the server must answer 200 with the echoed message as output. */
async function check(server: RunningServer, token: string): Promise<string | undefined> {
  try {
    const res = await fetch(`${server.url}/v1/trigger/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: BODY,
    });
    const body = (await res.json()) as { output?: unknown; run_id?: unknown };
    if (res.status !== 200) return `status ${res.status}: ${JSON.stringify(body).slice(0, 200)}`;
    if (body.output !== JSON.parse(BODY).message || typeof body.run_id !== 'string') return `unexpected body ${JSON.stringify(body).slice(0, 200)}`;
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

interface Sample {
  rps: number;
  cpuUsPerReq: number;
  /** Server CPU time over wall time while measured (1.0 = one core saturated). */
  busy: number;
  non2xx: number;
  errors: number;
}

async function measure(server: RunningServer, token: string, seconds: number, connections = CONNECTIONS): Promise<Sample> {
  const cpu0 = cpuMicros(server.pid);
  const result = await load({ url: server.url, token, seconds, connections });
  const cpu1 = cpuMicros(server.pid);
  const ok = result['2xx'];
  const total = ok + result.non2xx;
  return { rps: ok / result.duration, cpuUsPerReq: total > 0 ? (cpu1 - cpu0) / total : NaN, busy: (cpu1 - cpu0) / (result.duration * 1e6), non2xx: result.non2xx, errors: result.errors };
}

// ---------------------------------------------------------------------------------------------

async function throughput(dataDir: string, token: string): Promise<Map<string, Sample>> {
  const kinds = ['ours', 'ours-nolog', 'ours-handler', 'ours-noauth', 'bare', 'fastify', 'express'].filter((k) => {
    if ((k === 'ours' || k === 'ours-nolog') && !hasServer) return false;
    if (k !== 'ours' && k.startsWith('ours') && !hasTrigger) return false;
    return true;
  });
  if (!hasServer) notes.push('src/http/server.ts is missing: `ours` was not measured');
  const servers: RunningServer[] = [];
  const results = new Map<string, Sample[]>();
  try {
    for (const kind of kinds) {
      // ours-nolog: the same server with the per-request access log off (MM_LOG_LEVEL=warn), to
      // show what the log line costs.
      const server = kind === 'ours-nolog'
        ? { ...(await startBenchServer('ours', dataDir, { MM_LOG_LEVEL: 'warn' })), kind }
        : await startBenchServer(kind, dataDir, { BENCH_TOKEN: token });
      const problem = await check(server, token);
      if (problem) {
        notes.push(`${kind}: sanity request failed (${problem}); not measured`);
        await server.stop();
        continue;
      }
      servers.push(server);
      results.set(kind, []);
    }
    log(`warming up ${servers.map((s) => s.kind).join(', ')}`);
    for (const server of servers) await load({ url: server.url, token, seconds: 1.5 });
    for (let round = 0; round < ROUNDS; round++) {
      const order = servers.map((_, i) => servers[(i + round) % servers.length]!);
      for (const server of order) {
        await load({ url: server.url, token, seconds: 0.5 });
        const sample = await measure(server, token, SECONDS);
        results.get(server.kind)!.push(sample);
        log(`round ${round + 1}/${ROUNDS} ${server.kind.padEnd(12)} ${fmt(sample.rps)} req/s, ${fmt(sample.cpuUsPerReq)} µs CPU/req${sample.non2xx || sample.errors ? `, ${sample.non2xx} non-2xx, ${sample.errors} errors` : ''}`);
      }
    }
  } finally {
    for (const server of servers) await server.stop();
  }
  // bcrypt: one short round; it is three orders of magnitude slower.
  const bcrypt = await startBenchServer('bcrypt', dataDir, { BENCH_BCRYPT_SECRET: BCRYPT_SECRET });
  try {
    const bcryptToken = `sk_bench001_${BCRYPT_SECRET}`;
    const problem = await check(bcrypt, bcryptToken);
    if (problem) notes.push(`bcrypt: sanity request failed (${problem})`);
    else {
      await load({ url: bcrypt.url, token: bcryptToken, seconds: 1, connections: 8 });
      const sample = await measure(bcrypt, bcryptToken, Math.max(SECONDS, 4), 8);
      results.set('bcrypt', [sample]);
      log(`bcrypt       ${fmt(sample.rps, 1)} req/s, ${fmt(sample.cpuUsPerReq)} µs CPU/req`);
    }
  } finally {
    await bcrypt.stop();
  }

  const medians = new Map<string, Sample>();
  for (const [kind, samples] of results) {
    medians.set(kind, {
      rps: median(samples.map((s) => s.rps)),
      cpuUsPerReq: median(samples.map((s) => s.cpuUsPerReq)),
      busy: median(samples.map((s) => s.busy)),
      non2xx: samples.reduce((a, s) => a + s.non2xx, 0),
      errors: samples.reduce((a, s) => a + s.errors, 0),
    });
  }
  const describe: Record<string, string> = {
    ours: 'mechamental serve (startServer)',
    'ours-nolog': 'the same, access log off',
    'ours-handler': 'trigger handler on bare node:http',
    'ours-noauth': 'trigger handler, auth switched off',
    bare: 'bare node:http, JSON in/out, no auth',
    fastify: 'Fastify 5 + SHA-256 bearer lookup',
    express: 'Express 5 + SHA-256 bearer lookup',
    bcrypt: 'node:http + bcryptjs cost 10',
  };
  const ours = medians.get('ours');
  console.log(`\nThroughput: POST /v1/trigger/chat (echo, JSON), ${CONNECTIONS} connections, median of ${ROUNDS} × ${SECONDS} s rounds\n`);
  console.log(
    table(
      ['server', 'what', 'req/s', 'µs CPU/req', 'server CPU', 'ours ÷ it (req/s)', 'it ÷ ours (CPU/req)', 'non-2xx', 'errors'],
      [...medians].map(([kind, s]) => [
        kind,
        describe[kind] ?? '',
        fmt(s.rps, s.rps < 100 ? 1 : 0),
        fmt(s.cpuUsPerReq),
        `${fmt(s.busy * 100)} %`,
        ours ? `${fmt(ours.rps / s.rps, 2)}×` : '–',
        ours ? `${fmt(s.cpuUsPerReq / ours.cpuUsPerReq, 2)}×` : '–',
        String(s.non2xx),
        String(s.errors),
      ]),
    ),
  );
  if (ours) {
    const ratio = (peer: string, min: number, label: string, base = ours, baseName = 'ours') => {
      const p = medians.get(peer);
      if (!p) return;
      const r = base.rps / p.rps;
      const c = p.cpuUsPerReq / base.cpuUsPerReq;
      goal(`${baseName} ÷ ${label} (req/s)`, `${fmt(r, 2)}× (CPU/req ${fmt(c, 2)}×)`, `≥ ${min}×`, r >= min, c >= min);
    };
    const unsaturated = [...medians].filter(([kind, s]) => kind !== 'bcrypt' && s.busy < 0.9).map(([kind, s]) => `${kind} ${fmt(s.busy * 100)} %`);
    if (unsaturated.length) {
      notes.push(`servers below 90 % of a core during measurement (${unsaturated.join(', ')}): the machine was busy or the load generator was the limit, so req/s ratios are unreliable in this run; trust the CPU/req ratios`);
    }
    ratio('bare', 0.5, 'bare node:http');
    // Authentication's share is judged like for like: the same handler on the same bare listener,
    // with and without verification (the full server adds metrics and the stream watcher to both).
    const handler = medians.get('ours-handler');
    ratio('ours-noauth', 0.85, 'it without auth', handler ?? ours, handler ? 'ours-handler' : 'ours');
    ratio('fastify', 1.0, 'Fastify');
    ratio('express', 3, 'Express 5');
    ratio('bcrypt', 100, 'bcrypt cost 10');
  }
  return medians;
}

// ---------------------------------------------------------------------------------------------

async function latency(dataDir: string, token: string): Promise<void> {
  const server = await startBenchServer('ours', dataDir);
  try {
    await load({ url: server.url, token, seconds: 1.5 });
    const rate = Number(process.env.BENCH_LATENCY_RATE ?? 1000);
    const times: number[] = [];
    let non200 = 0;
    const result = await load({
      url: server.url,
      token,
      seconds: 6,
      connections: 16,
      overallRate: rate,
      onResponse: (status, ms) => {
        if (status === 200) times.push(ms);
        else non200++;
      },
    });
    const p50 = percentile(times, 50);
    const p99 = percentile(times, 99);
    console.log(`\nLatency of ours at a fixed ${rate} req/s (16 connections, 6 s): ${times.length} answers, p50 ${fmt(p50, 2)} ms, p99 ${fmt(p99, 2)} ms, max ${fmt(Math.max(...times), 2)} ms (autocannon, corrected for coordinated omission: p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms), non-200 ${non200}`);
    goal(`latency p50 / p99 at ${rate} req/s`, `${fmt(p50, 2)} / ${fmt(p99, 2)} ms`, 'reported', undefined);
  } finally {
    await server.stop();
  }
}

// ---------------------------------------------------------------------------------------------

async function metricsGauge(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = /^mechamental_sse_streams_open(?:\{[^}]*\})? (\S+)$/m.exec(text);
  return match ? Number(match[1]) : NaN;
}

type ClientReply = Record<string, any>;

async function ask(client: ReturnType<typeof spawnChild>, message: Record<string, unknown>, timeoutMs: number): Promise<ClientReply> {
  const reply = nextMessage<ClientReply>(client, (m) => m?.re === message.cmd, timeoutMs, `sse client ${String(message.cmd)}`);
  client.send(message);
  return reply;
}

async function sse(dataDir: string, token: string): Promise<void> {
  const server = await startBenchServer('ours', dataDir);
  const client = spawnChild([process.execPath, ...TSX, path.join(REPO_ROOT, 'test/bench/sse-client.ts')], { ipc: true, raiseFdLimit: true, env: childEnv() });
  try {
    await nextMessage(client, (m) => m?.ready === true, 20_000, 'sse client');
    await ask(client, { cmd: 'config', port: server.port, path: '/v1/trigger/hold', token, body: JSON.stringify({ message: 'streams stay open while this echo waits between words' }) }, 5_000);
    // Warm-up: code paths compiled, pools grown; then the baseline.
    const warm = await ask(client, { cmd: 'open', count: 300, concurrency: 50 }, 60_000);
    await ask(client, { cmd: 'closeAll' }, 5_000);
    if (warm.failed > 0) notes.push(`SSE warm-up: ${warm.failed} streams failed (${(warm.errors as string[]).join('; ')})`);
    await sleep(1_500);
    const rss0 = rssKiB(server.pid);

    const first = await ask(client, { cmd: 'open', count: 1_000, concurrency: 100 }, 120_000);
    const probe = await ask(client, { cmd: 'probe', count: 1_000, rate: 200 }, 120_000);
    const ttfe = probe.ttfe as number[];
    const restCount = Math.max(0, SSE_STREAMS - 1_000);
    const cpu0 = cpuMicros(server.pid);
    const rest = await ask(client, { cmd: 'open', count: restCount, concurrency: 200 }, 300_000);
    const cpu1 = cpuMicros(server.pid);
    await sleep(1_000);
    const status = await ask(client, { cmd: 'status' }, 5_000);
    const gauge = await metricsGauge(server.url);
    const rss1 = rssKiB(server.pid);
    const open = status.open as number;
    const perStream = (rss1 - rss0) / open;
    const rate = (rest.opened as number) / ((rest.ms as number) / 1000);
    const closed = await ask(client, { cmd: 'closeAll' }, 30_000);
    await sleep(2_000);
    const gaugeAfter = await metricsGauge(server.url);
    const rss2 = rssKiB(server.pid);

    console.log(`\nSSE (pipeline "hold": echo with delay_ms 60000, so streams stay open; client: raw net sockets in a separate process)`);
    console.log(
      table(
        ['figure', 'value'],
        [
          ['streams held open at once', `${fmt(open)} (server gauge ${fmt(gauge)}; failed to open ${fmt((first.failed as number) + (rest.failed as number))}, ended by server ${status.endedByServer})`],
          ['server RSS before → with streams open → after closing', `${fmt(rss0 / 1024, 1)} → ${fmt(rss1 / 1024, 1)} → ${fmt(rss2 / 1024, 1)} MiB`],
          ['RSS per open stream', `${fmt(perStream, 1)} KiB`],
          ['new streams per second (1,000 → 10,000, 200 in flight)', `${fmt(rate)} /s (first 1,000: ${fmt((first.opened as number) / ((first.ms as number) / 1000))} /s)`],
          ['server CPU per new stream', `${fmt((cpu1 - cpu0) / Math.max(1, rest.opened as number))} µs`],
          ['time to first event with 1,000 open (1,000 probes at 200/s)', `p50 ${fmt(percentile(ttfe, 50), 2)} ms, p99 ${fmt(percentile(ttfe, 99), 2)} ms (failed ${probe.failed})`],
          ['after closing all: gauge', `${fmt(gaugeAfter)} (closed ${closed.closed})`],
        ],
      ),
    );
    if ((first.errors as string[]).length || (rest.errors as string[]).length) notes.push(`SSE open errors: ${[...first.errors, ...rest.errors].join('; ')}`);
    goal('SSE streams held open', fmt(open), `${fmt(SSE_STREAMS)}`, open >= SSE_STREAMS);
    goal('SSE RSS per open stream', `${fmt(perStream, 1)} KiB`, '≤ 20 KiB', perStream <= 20);
    goal('SSE new streams per second', `${fmt(rate)} /s`, '≥ 5,000 /s', rate >= 5_000);
    goal('SSE time to first event p99 (1,000 open)', `${fmt(percentile(ttfe, 99), 2)} ms (p50 ${fmt(percentile(ttfe, 50), 2)})`, '≤ 20 ms', percentile(ttfe, 99) <= 20);
    goal('SSE gauge after all streams closed', fmt(gaugeAfter), '0', gaugeAfter === 0);
  } finally {
    client.kill('SIGKILL');
    await server.stop();
  }
}

// ---------------------------------------------------------------------------------------------

async function revoke(dataDir: string): Promise<void> {
  const issued = withServices(dataDir, (s) => s.tokens.create({ app: 'default', name: 'revoke under load', expires: '1d' }, 'cli'));
  const server = await startBenchServer('ours', dataDir);
  const client = spawnChild([process.execPath, ...TSX, path.join(REPO_ROOT, 'test/bench/sse-client.ts')], { ipc: true, env: childEnv() });
  try {
    await nextMessage(client, (m) => m?.ready === true, 20_000, 'sse client');
    await ask(client, { cmd: 'config', port: server.port, path: '/v1/trigger/hold', token: issued.value, body: JSON.stringify({ message: 'held until revoked' }) }, 5_000);
    const streams = await ask(client, { cmd: 'open', count: 50, concurrency: 50 }, 30_000);

    const responses: Array<{ at: number; sentAt: number; status: number }> = [];
    const running = load({
      url: server.url,
      token: issued.value,
      seconds: 5,
      connections: 16,
      onResponse: (status, ms) => {
        const at = now();
        responses.push({ at, sentAt: at - ms, status });
      },
    });
    await sleep(2_000);
    // The revoke, from another process on the same database file (the CLI, as an admin would).
    // Spawned here rather than with runCliAsync so that the moment it printed its answer (after
    // the commit) is known as well as the moment it exited.
    const cli = spawn(process.execPath, [...TSX, MAIN, 'tokens', 'revoke', issued.token.id, '--data-dir', dataDir], { cwd: REPO_ROOT, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const cliStart = now();
    let printedAt = NaN;
    let cliOut = '';
    cli.stdout.on('data', (d: Buffer) => {
      if (Number.isNaN(printedAt)) printedAt = now();
      cliOut += d.toString();
    });
    cli.stderr.on('data', (d: Buffer) => (cliOut += d.toString()));
    const code = await new Promise<number | null>((resolve) => cli.on('exit', resolve));
    const exitedAt = now();
    await running;
    await sleep(1_200);
    const status = await ask(client, { cmd: 'status' }, 5_000);
    if (code !== 0) notes.push(`revoke CLI exited ${code}: ${cliOut.trim()}`);

    const acceptedAfterExit = responses.filter((r) => r.status === 200 && r.at > exitedAt).length;
    const sentAfterPrint = responses.filter((r) => r.status === 200 && r.sentAt > printedAt).length;
    const rejected = responses.filter((r) => r.status === 401).length;
    const other = responses.filter((r) => r.status !== 200 && r.status !== 401).length;
    const lastOk = Math.max(...responses.filter((r) => r.status === 200).map((r) => r.at));
    const endTimes = (status.endedAt as number[]) ?? [];
    const streamLag = endTimes.map((t) => t - exitedAt);
    console.log(`\nRevocation under load (16 connections on one token; \`tokens revoke\` from a separate CLI process at t = 2 s)`);
    console.log(
      table(
        ['figure', 'value'],
        [
          ['requests answered', `${fmt(responses.length)} (200: ${fmt(responses.filter((r) => r.status === 200).length)}, 401: ${fmt(rejected)}, other: ${other})`],
          ['CLI: spawn → printed → exited', `${fmt(printedAt - cliStart)} ms → +${fmt(exitedAt - printedAt, 1)} ms`],
          ['200 received after the CLI exited', String(acceptedAfterExit)],
          ['200 for requests sent after the CLI printed its answer', String(sentAfterPrint)],
          ['last 200 relative to the CLI exit', `${fmt(lastOk - exitedAt, 2)} ms`],
          ['SSE streams on it ended by the server / with run.failed', `${status.endedByServer} / ${status.failedEvents} of ${streams.opened} (the last ${describeLag(Math.max(...streamLag))} the CLI exit)`],
        ],
      ),
    );
    goal('revoke: 200s after the CLI exited', String(acceptedAfterExit), '0', acceptedAfterExit === 0);
    goal('revoke: SSE streams ended with run.failed within 1 s', `${status.failedEvents}/${streams.opened}, last ${describeLag(Math.max(...streamLag))} exit`, `${streams.opened} within 1000 ms`, status.failedEvents === streams.opened && Math.max(...streamLag) <= 1000);
  } finally {
    client.kill('SIGKILL');
    await server.stop();
  }
}

// ---------------------------------------------------------------------------------------------

function describeLag(ms: number): string {
  return ms >= 0 ? `${fmt(ms)} ms after` : `${fmt(-ms)} ms before`;
}

async function startup(): Promise<void> {
  const binary = path.join(REPO_ROOT, 'dist/mechamental');
  if (!fs.existsSync(binary)) {
    notes.push('dist/mechamental does not exist (run `npm run build`): start-up not measured');
    console.log('\nStart-up: skipped, dist/mechamental does not exist (npm run build)');
    return;
  }
  const versions: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    const child = spawnChild([binary, '--version'], { stdout: 'ignore' });
    await waitExit(child, 10_000);
    versions.push(performance.now() - t0);
  }
  const firsts: number[] = [];
  for (let i = 0; i < 5; i++) {
    const tmp = makeTempDir('mm-bench-start-');
    try {
      const port = await freePort();
      const t0 = performance.now();
      const server = await startServe(path.join(tmp.dir, 'data'), { port, binary, timeoutMs: 15_000 });
      firsts.push(performance.now() - t0);
      await server.stop();
    } catch (error) {
      notes.push(`start-up: ${(error as Error).message}`);
    } finally {
      tmp.cleanup();
    }
  }
  console.log(`\nStart-up of dist/mechamental (${fmt(fs.statSync(binary).size / 1_048_576, 1)} MiB): --version median ${fmt(median(versions))} ms; spawn → first 200 (GET /healthz, fresh data dir) median ${fmt(median(firsts))} ms`);
  goal('start-up: --version', `${fmt(median(versions))} ms`, 'reported', undefined);
  goal('start-up: spawn → first 200', `${fmt(median(firsts))} ms`, 'reported', undefined);
}

// ---------------------------------------------------------------------------------------------

async function profile(kind: string, dataDir: string, token: string): Promise<void> {
  const dir = makeTempDir('mm-bench-prof-');
  const server = await startBenchServer(kind, dataDir, { BENCH_TOKEN: token }, ['--cpu-prof', '--cpu-prof-dir', dir.dir]);
  try {
    const warm = await load({ url: server.url, token, seconds: 1 });
    const measured = await load({ url: server.url, token, seconds: 5 });
    const requests = warm['2xx'] + warm.non2xx + measured['2xx'] + measured.non2xx;
    server.child.send('exit');
    await waitExit(server.child, 10_000);
    const file = fs.readdirSync(dir.dir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error('no profile written');
    const kept = path.join(REPO_ROOT, '.tmp', `bench-${kind}-${Date.now()}.cpuprofile`);
    fs.mkdirSync(path.dirname(kept), { recursive: true });
    fs.copyFileSync(path.join(dir.dir, file), kept);
    console.log(`\nCPU profile of ${kind} under load, ${requests} requests (${kept}): self time by function`);
    console.log(summarizeProfile(kept, 30, requests));
  } finally {
    await server.stop();
    dir.cleanup();
  }
}

async function main(): Promise<number> {
  const tmp = makeTempDir('mm-bench-');
  const dataDir = path.join(tmp.dir, 'data');
  try {
    const token = withServices(dataDir, (s) => {
      s.pipelines.create('default', { slug: 'hold', kind: 'echo', config: { delay_ms: 60_000 } }, 'cli');
      return s.tokens.create({ app: 'default', name: 'bench', expires: '30d' }, 'cli').value;
    });
    console.log(`mechamental bench — ${new Date().toISOString()} — Node ${process.version}, ${(await import('node:os')).cpus().length} CPUs (${(await import('node:os')).cpus()[0]?.model ?? '?'})`);
    if (ONLY.has('throughput')) await throughput(dataDir, token);
    if (ONLY.has('latency') && hasServer) await latency(dataDir, token);
    if (ONLY.has('sse') && hasServer) await sse(dataDir, token);
    if (ONLY.has('revoke') && hasServer) await revoke(dataDir);
    if (ONLY.has('startup')) await startup();
    if (PROFILE && (hasServer || PROFILE !== 'ours')) await profile(PROFILE, dataDir, token);

    console.log('\nSummary (goals are reported, not asserted)\n');
    console.log(
      table(
        ['figure', 'value', 'goal', 'met', 'met by CPU/req'],
        summary.map((s) => [s.figure, s.value, s.goal, s.met === undefined ? '' : s.met ? 'yes' : 'NO', s.metByCpu === undefined ? '' : s.metByCpu ? 'yes' : 'NO']),
      ),
    );
    for (const note of notes) console.log(`note: ${note}`);
    console.log(`\nbench finished in ${fmt((performance.now() - started) / 1000, 1)} s`);
    return 0;
  } finally {
    killAll();
    tmp.cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
    killAll();
    process.exit(1);
  },
);
