// `npm run bench`: mechamental's trigger path against peers, side by side in one run, on loopback.
//
// Load: wrk (C, one thread, a separate process) when it is installed, else autocannon in this
// process (it saturates before a fast server does; the report says which was used). Requests are
// authenticated POSTs of {"message":"hello world"} to an echo pipeline, rotating through 100
// tokens. Every server under test runs in a child process of its own and is loaded one at a time,
// in turns of a second, in rounds whose order rotates, after a warm-up; figures are the medians
// over the rounds. Besides requests per second we report each server's CPU time per request (from
// /proc/<pid>/stat), which a noisy, shared 2-core machine disturbs far less than throughput, and the
// load generator's own CPU share (near a full core, it may have been the limit).
//
// mechamental is measured as users run it: `dist/mechamental serve` (when built; else the
// development entry point), its access log on, stdout to /dev/null (or a file, BENCH_LOG_SINK=file).
// Latency at a fixed rate and the revoke check use mmload (mmload.c, built at run time with the
// system cc): open-loop pacing, and each request's send and answer times.
//
// Sections (BENCH_ONLY=throughput,latency,sse,revoke,startup,console,postgres to pick; postgres only when
// asked: BENCH_POSTGRES=1 adds it to the default sections): see docs/benchmarks.md.
// BENCH_GROWTH=1 adds the growth part (test/bench/growth.ts, docs/growth.md) after them.
// Goals are reported, not asserted (exit code 0 unless the bench itself broke).
// Knobs: BENCH_QUICK=1 (a smoke run: 1 round of 1 s, short latency and revoke runs, 1,000 SSE
// streams), BENCH_ROUNDS (3), BENCH_SECONDS (3), BENCH_WARMUP_SECONDS (1), BENCH_CONNECTIONS (50),
// BENCH_TOKENS (100), BENCH_LATENCY_RATE (1000), BENCH_LATENCY_SECONDS (10), BENCH_REVOKE_SECONDS
// (6), BENCH_PG_TRIALS (30), BENCH_SSE_STREAMS (10000), BENCH_LOADGEN (wrk | autocannon), BENCH_OURS (dist | dev),
// BENCH_LOG_SINK (null | file), BENCH_PROFILE=1 (or a server kind: a CPU profile under load).
import autocannon, { type Result } from 'autocannon';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pickLoadGenerator, writeTokensFile, type LoadGenerator, type LoadResult, type LoadTarget } from './lib/load';
import { buildMmload, runMmload, type LatencyUs } from './lib/mmload';
import { childEnv, freePort, killAll, MAIN, nextMessage, PINNING, REPO_ROOT, sleep, spawnChild, TSX, waitExit } from './lib/proc';
import { cpuMicros, rssKiB } from './lib/procfs';
import { makeTempDir, startBenchServer, startServe, withServices, type RunningServer } from './lib/servers';
import { consoleBench } from './console';
import { measureCosts } from './costs';
import { fmt, median, percentile, table } from './lib/stats';
import { postgresBench } from './postgres';
import { summarizeProfile } from './profile';

// ---------------------------------------------------------------------------------------------
// Settings

const QUICK = process.env.BENCH_QUICK === '1';

/** A positive number from the environment; `quick` is the default under BENCH_QUICK=1. */
function setting(name: string, normal: number, quick: number, integer = false): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return QUICK ? quick : normal;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new Error(`${name}=${raw}: expected a positive ${integer ? 'whole ' : ''}number`);
  }
  return value;
}

function choice<T extends string>(name: string, allowed: readonly T[]): T | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  if (!allowed.includes(raw as T)) throw new Error(`${name}=${raw}: expected one of ${allowed.join(', ')}`);
  return raw as T;
}

const ROUNDS = setting('BENCH_ROUNDS', 3, 1, true);
const SECONDS = setting('BENCH_SECONDS', 3, 1);
const WARMUP_SECONDS = setting('BENCH_WARMUP_SECONDS', 1, 1);
const CONNECTIONS = setting('BENCH_CONNECTIONS', 50, 50, true);
const TOKEN_COUNT = setting('BENCH_TOKENS', 100, 100, true);
const LATENCY_RATE = setting('BENCH_LATENCY_RATE', 1000, 1000);
const LATENCY_SECONDS = setting('BENCH_LATENCY_SECONDS', 10, 2);
const LATENCY_CONNECTIONS = 16;
const REVOKE_SECONDS = setting('BENCH_REVOKE_SECONDS', 6, 4);
const REVOKE_AT_MS = 2_000;
const REVOKE_CONNECTIONS = 16;
const SSE_STREAMS = setting('BENCH_SSE_STREAMS', 10_000, 1_000, true);
const SECTIONS = ['throughput', 'costs', 'latency', 'sse', 'revoke', 'startup', 'console', 'postgres'] as const;
/** The PostgreSQL section (a throwaway cluster, about a minute) runs when asked: BENCH_POSTGRES=1 or BENCH_ONLY=postgres. */
const DEFAULT_SECTIONS = SECTIONS.filter((s) => s !== 'postgres' || process.env.BENCH_POSTGRES === '1');
const ONLY = new Set((process.env.BENCH_ONLY || DEFAULT_SECTIONS.join(',')).split(',').map((s) => s.trim()));
const PG_TRIALS = setting('BENCH_PG_TRIALS', 30, 5, true);
for (const section of ONLY) {
  if (!(SECTIONS as readonly string[]).includes(section)) throw new Error(`BENCH_ONLY: unknown section "${section}" (sections: ${SECTIONS.join(', ')})`);
}
const LOG_SINK = choice('BENCH_LOG_SINK', ['null', 'file'] as const) ?? 'null';
const OURS_CHOICE = choice('BENCH_OURS', ['dist', 'dev'] as const);
/** BENCH_PROFILE=1 profiles `ours` (startServer in a tsx child, for readable frames); else that kind. */
const PROFILE = process.env.BENCH_PROFILE === '1' ? 'ours' : process.env.BENCH_PROFILE || undefined;

const BODY = JSON.stringify({ message: 'hello world' });
const TRIGGER_PATH = '/v1/trigger/chat';
/** The OpenAI-compatible front door (issue 19) on the same echo pipeline, JSON and streamed. */
const CHAT_PATH = '/v1/chat/completions';
const CHAT_BODY = JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hello world' }] });
const CHAT_STREAM_BODY = JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hello world' }], stream: true });
/** The trigger's event stream (its answer to the same call, streamed): what the streamed door is set against. */
const SSE_ACCEPT = 'text/event-stream';
const hasOpenAI = fs.existsSync(path.join(REPO_ROOT, 'src/http/openai/index.ts'));
const BCRYPT_SECRET = 'Zq3vR8pL0xN4tY7wB2mK5sD9fH1jG6cA';
const DIST_BINARY = path.join(REPO_ROOT, 'dist/mechamental');

// ---------------------------------------------------------------------------------------------
// Report

const hasServer = fs.existsSync(path.join(REPO_ROOT, 'src/http/server.ts'));
const hasTrigger = fs.existsSync(path.join(REPO_ROOT, 'src/http/trigger/index.ts'));
const notes: string[] = [];
const summary: Array<{ figure: string; value: string; goal: string; met: boolean | undefined; metByCpu?: boolean }> = [];
const started = performance.now();

function log(line: string): void {
  process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(1)}s] ${line}\n`);
}

function goal(figure: string, value: string, goalText: string, met: boolean | undefined, metByCpu?: boolean): void {
  summary.push({ figure, value, goal: goalText, met, ...(metByCpu === undefined ? {} : { metByCpu }) });
}

function describeLag(ms: number): string {
  return ms >= 0 ? `${fmt(ms)} ms after` : `${fmt(-ms)} ms before`;
}

// ---------------------------------------------------------------------------------------------
// The run's shared state

interface Bench {
  dataDir: string;
  /** A private temp dir: token files, logs, records. */
  scratch: string;
  tokens: string[];
  tokensFile: string;
  /** As many tokens again, each with a pipeline scope and an IP allow-list (the `ours-controls` variant). */
  controlledTokens: string[];
  controlledTokensFile: string;
  generator: LoadGenerator;
  /** The compiled paced generator, or why there is none. */
  mmload: { binary: string } | { problem: string };
  /** dist/mechamental, or undefined for the development entry point (tsx src/main.ts). */
  oursBinary: string | undefined;
  /** The CPU of one request (µs): ours-handler's, else ours', once the throughput section measured it. */
  requestCpuUs?: number;
}

function target(bench: Bench, server: RunningServer, tokensFile = bench.tokensFile, tokens: readonly string[] = bench.tokens): LoadTarget {
  // A pinned server is loaded from the other CPU (PINNING).
  const cpu = server.cpu === undefined ? undefined : PINNING?.load;
  // ours-controls is ours, loaded with the restricted tokens: what a scope and an allow-list cost.
  if (server.kind === 'ours-controls' && tokensFile === bench.tokensFile) return { url: server.url, path: TRIGGER_PATH, tokens: bench.controlledTokens, tokensFile: bench.controlledTokensFile, body: BODY, cpu };
  if (server.kind === 'ours-openai') return { url: server.url, path: CHAT_PATH, tokens, tokensFile, body: CHAT_BODY, cpu };
  if (server.kind === 'ours-openai-stream') return { url: server.url, path: CHAT_PATH, tokens, tokensFile, body: CHAT_STREAM_BODY, cpu };
  if (server.kind === 'ours-sse') return { url: server.url, path: TRIGGER_PATH, tokens, tokensFile, body: BODY, accept: SSE_ACCEPT, cpu };
  return { url: server.url, path: TRIGGER_PATH, tokens, tokensFile, body: BODY, cpu };
}

/** Where a server's stdout (its log) goes: /dev/null, or a file in the scratch dir. */
function logSink(bench: Bench, kind: string): string {
  return LOG_SINK === 'file' ? path.join(bench.scratch, `${kind}.log`) : 'ignore';
}

/** mechamental as users run it: `serve`, default access log, stdout to the log sink. */
async function startOurs(bench: Bench, kind: string, env: NodeJS.ProcessEnv = {}): Promise<RunningServer> {
  const port = await freePort();
  const sink = logSink(bench, kind);
  const server = await startServe(bench.dataDir, {
    port,
    env,
    cpu: PINNING?.server,
    ...(bench.oursBinary ? { binary: bench.oursBinary } : {}),
    ...(sink === 'ignore' ? {} : { logFile: sink }),
  });
  return { ...server, kind };
}

async function startKind(bench: Bench, kind: string): Promise<RunningServer> {
  if (kind === 'ours') return startOurs(bench, kind);
  // ours-nolog: the same server with the per-request access log off, to show what the line costs.
  if (kind === 'ours-nolog') return startOurs(bench, kind, { MM_LOG_LEVEL: 'warn' });
  if (kind === 'ours-controls' || kind === 'ours-sse' || kind === 'ours-openai' || kind === 'ours-openai-stream') return startOurs(bench, kind);
  return startBenchServer(kind, bench.dataDir, { BENCH_TOKEN: bench.tokens[0] }, [], logSink(bench, kind));
}

/** One sanity request: the server must answer 200 with the echoed message as output. */
async function check(server: RunningServer, token: string): Promise<string | undefined> {
  if (server.kind === 'ours-openai' || server.kind === 'ours-openai-stream') return checkChat(server, token);
  if (server.kind === 'ours-sse') return checkStream(server, token);
  try {
    const res = await fetch(`${server.url}${TRIGGER_PATH}`, {
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

/** The trigger's event stream: run.started, the deltas, run.completed with the echoed text. */
async function checkStream(server: RunningServer, token: string): Promise<string | undefined> {
  try {
    const res = await fetch(`${server.url}${TRIGGER_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, accept: SSE_ACCEPT },
      body: BODY,
    });
    const text = await res.text();
    if (res.status !== 200 || !(res.headers.get('content-type') ?? '').startsWith(SSE_ACCEPT)) return `status ${res.status}: ${text.slice(0, 200)}`;
    if (!text.includes('event: run.completed') || !text.includes('"output":"hello world"')) return `unexpected stream ${text.slice(0, 300)}`;
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** The front door's sanity request: a completion (or chunks then [DONE]) with the echoed text. */
async function checkChat(server: RunningServer, token: string): Promise<string | undefined> {
  const stream = server.kind === 'ours-openai-stream';
  try {
    const res = await fetch(`${server.url}${CHAT_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: stream ? CHAT_STREAM_BODY : CHAT_BODY,
    });
    const text = await res.text();
    if (res.status !== 200) return `status ${res.status}: ${text.slice(0, 200)}`;
    if (stream ? !text.endsWith('data: [DONE]\n\n') : (JSON.parse(text) as { choices: Array<{ message: { content: string } }> }).choices[0]?.message.content !== 'hello world') {
      return `unexpected body ${text.slice(0, 200)}`;
    }
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

// ---------------------------------------------------------------------------------------------
// Throughput

interface Sample {
  rps: number;
  cpuUsPerReq: number;
  /** Server CPU time over wall time while measured (1.0 = one core saturated). */
  busy: number;
  /** The load generator's CPU time over wall time. */
  generatorBusy: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
}

async function measure(bench: Bench, server: RunningServer, t: LoadTarget, seconds: number, connections = CONNECTIONS): Promise<Sample> {
  const cpu0 = cpuMicros(server.pid);
  const result: LoadResult = await bench.generator.run(t, { connections, seconds });
  const cpu1 = cpuMicros(server.pid);
  return sampleOf([{ result, cpuUs: cpu1 - cpu0 }]);
}

/** One sample of the slices measured for one kind: their answers, time and CPU added up. */
function sampleOf(slices: Array<{ result: LoadResult; cpuUs: number }>): Sample {
  let ok = 0;
  let requests = 0;
  let durationS = 0;
  let cpuUs = 0;
  let generatorS = 0;
  let non2xx = 0;
  let errors = 0;
  for (const { result, cpuUs: cpu } of slices) {
    ok += result.ok;
    requests += result.requests;
    durationS += result.durationS;
    cpuUs += cpu;
    generatorS += result.generatorBusy * result.durationS;
    non2xx += result.non2xx;
    errors += result.errors;
  }
  return {
    rps: ok / durationS,
    cpuUsPerReq: requests > 0 ? cpuUs / requests : NaN,
    busy: cpuUs / (durationS * 1e6),
    generatorBusy: generatorS / durationS,
    p99Ms: median(slices.map((slice) => slice.result.latencyMs.p99)),
    non2xx,
    errors,
  };
}

/**
 * The kinds, each for `seconds` in all, measured in turns of a second: the host's slow and fast
 * spells last seconds, and a ratio of two kinds measured for three seconds each, one after the
 * other, swung by ±20 % on this host from one round to the next (docs/benchmarks.md). Interleaved,
 * each spell lands on every kind alike.
 */
async function measureInTurns(bench: Bench, unit: RunningServer[], seconds: number): Promise<Sample[]> {
  const turns = Math.max(1, Math.floor(seconds));
  const slices = unit.map(() => [] as Array<{ result: LoadResult; cpuUs: number }>);
  for (let turn = 0; turn < turns; turn++) {
    for (const [i, server] of unit.entries()) {
      const cpu0 = cpuMicros(server.pid);
      const result = await bench.generator.run(target(bench, server), { connections: CONNECTIONS, seconds: seconds / turns });
      slices[i]!.push({ result, cpuUs: cpuMicros(server.pid) - cpu0 });
    }
  }
  return slices.map(sampleOf);
}

const DESCRIBE: Record<string, string> = {
  ours: 'mechamental serve, access log on',
  'ours-nolog': 'the same, access log off',
  'ours-controls': 'ours; tokens with a pipeline scope and an IP allow-list',
  'ours-sse': `ours; the same trigger call, Accept: ${SSE_ACCEPT}`,
  'ours-openai': `ours; POST ${CHAT_PATH} (JSON) on the same echo`,
  'ours-openai-stream': `ours; POST ${CHAT_PATH}, stream: true`,
  'ours-handler': 'trigger handler on bare node:http',
  'ours-noauth': 'trigger handler, auth switched off',
  'ours-nousage': 'trigger handler, usage counting off',
  'ours-norun': 'trigger handler, runs not kept',
  'ours-norecheck': 'trigger handler, no re-check before a run',
  bare: 'bare node:http, JSON in/out, no auth',
  fastify: 'Fastify 5 + SHA-256 bearer lookup, no logger',
  'fastify-log': 'the same, its logger on (pino, async stdout)',
  express: 'Express 5 + SHA-256 bearer lookup',
  bcrypt: 'node:http + bcryptjs cost 10',
};

/** Kinds measured on the `ours` server process itself, with another call (see `target`). */
const SAME_PROCESS_AS_OURS = new Set(['ours-controls', 'ours-sse', 'ours-openai', 'ours-openai-stream']);

async function throughput(bench: Bench): Promise<void> {
  const kinds = ['ours', 'ours-controls', 'ours-sse', 'ours-openai', 'ours-openai-stream', 'ours-nolog', 'ours-handler', 'ours-noauth', 'ours-nousage', 'ours-norun', 'ours-norecheck', 'bare', 'fastify', 'fastify-log', 'express'].filter((k) => {
    if (k === 'ours' || k === 'ours-nolog' || k === 'ours-controls' || k === 'ours-sse') return hasServer;
    if (k === 'ours-openai' || k === 'ours-openai-stream') return hasServer && hasOpenAI;
    if (k === 'ours-handler' || k === 'ours-noauth' || k === 'ours-nousage' || k === 'ours-norun' || k === 'ours-norecheck') return hasTrigger;
    return true;
  });
  const servers: RunningServer[] = [];
  const results = new Map<string, Sample[]>();
  const seconds = bench.generator.effectiveSeconds(SECONDS);
  const warmup = bench.generator.effectiveSeconds(WARMUP_SECONDS);
  try {
    for (const kind of kinds) {
      let server: RunningServer;
      try {
        // The trigger's other answers and the door are the same server process loaded in turn with
        // another call (like for like: one heap, one process's luck), not a process of their own.
        // Likewise the handler's like-for-like variants, which the `ours-handler` process serves on
        // ports of their own (server-child.ts, SAME_PROCESS_AS_HANDLER).
        const ours = servers.find((s) => s.kind === 'ours');
        const host = SAME_PROCESS_AS_OURS.has(kind) && ours ? ours : servers.find((s) => s.variants?.[kind] !== undefined);
        const port = host?.variants?.[kind] ?? host?.port;
        server = host ? { ...host, kind, port: port!, url: `http://127.0.0.1:${port}`, variants: undefined, stop: async () => undefined } : await startKind(bench, kind);
      } catch (error) {
        notes.push(`${kind}: did not start (${(error as Error).message.split('\n')[0]}); not measured`);
        continue;
      }
      const problem = await check(server, kind === 'ours-controls' ? bench.controlledTokens[0]! : bench.tokens[0]!);
      if (problem) {
        notes.push(`${kind}: sanity request failed (${problem}); not measured`);
        await server.stop();
        continue;
      }
      servers.push(server);
      results.set(kind, []);
    }
    log(`warming up ${servers.map((s) => s.kind).join(', ')}`);
    for (const server of servers) await bench.generator.run(target(bench, server), { connections: CONNECTIONS, seconds: QUICK ? warmup : warmup * 2 });
    // Every kind is measured in turns of a second, one after the other, each round in another
    // order (measureInTurns): the host's slow and fast spells last seconds to a minute, and every
    // ratio here is of two kinds, so a spell must land on all of them alike (docs/benchmarks.md,
    // "Servers under test").
    for (let round = 0; round < ROUNDS; round++) {
      const order = servers.map((_, i) => servers[(i + round) % servers.length]!);
      const samples = await measureInTurns(bench, order, seconds);
      for (const [i, sample] of samples.entries()) {
        const server = order[i]!;
        results.get(server.kind)!.push(sample);
        log(
          `round ${round + 1}/${ROUNDS} ${server.kind.padEnd(12)} ${fmt(sample.rps)} req/s, ${fmt(sample.cpuUsPerReq, 1)} µs CPU/req, ` +
            `server ${fmt(sample.busy * 100)} %, ${bench.generator.name} ${fmt(sample.generatorBusy * 100)} %` +
            (sample.non2xx || sample.errors ? `, ${sample.non2xx} non-2xx, ${sample.errors} errors` : ''),
        );
      }
    }
  } finally {
    for (const server of servers) await server.stop();
  }

  // bcrypt: one short round; it is three orders of magnitude slower.
  const bcrypt = await startBenchServer('bcrypt', bench.dataDir, { BENCH_BCRYPT_SECRET: BCRYPT_SECRET });
  try {
    const bcryptToken = `sk_bench001_${BCRYPT_SECRET}`;
    const problem = await check(bcrypt, bcryptToken);
    if (problem) notes.push(`bcrypt: sanity request failed (${problem})`);
    else {
      const t = target(bench, bcrypt, writeTokensFile(bench.scratch, 'bcrypt-token.txt', [bcryptToken]), [bcryptToken]);
      await bench.generator.run(t, { connections: 8, seconds: 1 });
      const sample = await measure(bench, bcrypt, t, Math.max(SECONDS, QUICK ? 2 : 4), 8);
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
      generatorBusy: median(samples.map((s) => s.generatorBusy)),
      p99Ms: median(samples.map((s) => s.p99Ms)),
      non2xx: samples.reduce((a, s) => a + s.non2xx, 0),
      errors: samples.reduce((a, s) => a + s.errors, 0),
    });
  }
  const ours = medians.get('ours');
  bench.requestCpuUs = (medians.get('ours-handler') ?? ours)?.cpuUsPerReq;
  console.log(
    `\nThroughput: POST ${TRIGGER_PATH} (echo, ${BODY}), ${bench.generator.name}, ${CONNECTIONS} connections, ${bench.tokens.length} tokens rotating, ` +
      `median of ${ROUNDS} × ${seconds} s rounds\n`,
  );
  console.log(
    table(
      ['server', 'what', 'req/s', 'µs CPU/req', 'server CPU', `${bench.generator.name} CPU`, 'p99 ms', 'ours ÷ it (req/s)', 'it ÷ ours (CPU/req)', 'non-2xx', 'errors'],
      [...medians].map(([kind, s]) => [
        kind,
        DESCRIBE[kind] ?? '',
        fmt(s.rps, s.rps < 100 ? 1 : 0),
        fmt(s.cpuUsPerReq, 1),
        `${fmt(s.busy * 100)} %`,
        `${fmt(s.generatorBusy * 100)} %`,
        fmt(s.p99Ms, 2),
        ours ? `${fmt(ours.rps / s.rps, 2)}×` : '–',
        ours ? `${fmt(s.cpuUsPerReq / ours.cpuUsPerReq, 2)}×` : '–',
        String(s.non2xx),
        String(s.errors),
      ]),
      2,
    ),
  );
  const unsaturated = [...medians].filter(([kind, s]) => kind !== 'bcrypt' && s.busy < 0.9).map(([kind, s]) => `${kind} ${fmt(s.busy * 100)} %`);
  if (unsaturated.length) {
    notes.push(`servers below 90 % of a core during measurement (${unsaturated.join(', ')}): the machine was busy or the load generator was the limit, so req/s ratios are unreliable in this run; trust the CPU/req ratios`);
  }
  const generatorBound = [...medians].filter(([, s]) => s.generatorBusy >= 0.9).map(([kind]) => kind);
  if (generatorBound.length) {
    notes.push(`${bench.generator.name} used ≥ 90 % of a core against ${generatorBound.join(', ')}: there the load generator may have been the limit`);
  }
  if (!ours) {
    notes.push('ours was not measured: no ratios');
    return;
  }
  // A ratio is the median of the rounds' own ratios (each round's two samples were taken minutes
  // apart at most, the ours process's kinds one right after the other), so that the host's slow
  // and fast spells, which last longer than a sample, cancel; one sample each: their ratio.
  const paired = (baseName: string, peer: string): { r: number; c: number } | undefined => {
    const b = results.get(baseName);
    const p = results.get(peer);
    if (!p?.length || !b?.length) return undefined;
    const pairs = p.length === b.length ? p.map((sample, i) => [b[i]!, sample] as const) : [[medians.get(baseName)!, medians.get(peer)!] as const];
    return { r: median(pairs.map(([x, y]) => x.rps / y.rps)), c: median(pairs.map(([x, y]) => y.cpuUsPerReq / x.cpuUsPerReq)) };
  };
  const ratio = (peer: string, min: number, label: string, baseName = 'ours') => {
    const q = paired(baseName, peer);
    if (q) goal(`${baseName} ÷ ${label} (req/s)`, `${fmt(q.r, 2)}× (CPU/req ${fmt(q.c, 2)}×)`, `≥ ${min}×`, q.r >= min, q.c >= min);
  };
  ratio('bare', 0.5, 'bare node:http');
  // Token controls (issue 13): a scope and an allow-list cost at most 3 % of throughput.
  ratio('ours', 0.97, 'ours, tokens without controls', 'ours-controls');
  // The OpenAI-compatible front door (issue 19): within 10 % of the trigger's throughput. Both
  // answers against the trigger's JSON answer, and the stream against the trigger's stream too.
  ratio('ours', 0.9, 'ours (the trigger, JSON)', 'ours-openai');
  ratio('ours', 0.9, 'ours (the trigger, JSON)', 'ours-openai-stream');
  ratio('ours-sse', 0.9, 'ours-sse (the trigger, streamed)', 'ours-openai-stream');
  // Authentication's share is judged like for like: the same handler on the same bare listener,
  // with and without verification (the full server adds logs and metrics to both).
  const handler = medians.get('ours-handler');
  ratio('ours-noauth', 0.9, 'it without auth', handler ? 'ours-handler' : 'ours');
  // Usage counting (a Map update per answer, written in batches) is judged the same way: ≤ 3 % of throughput.
  if (handler) ratio('ours-nousage', 0.97, 'it without usage counting', 'ours-handler');
  // Keeping runs (issue 15) is judged the same way: the same handler, keeping runs or not.
  if (handler) ratio('ours-norun', 0.95, 'it not keeping runs', 'ours-handler');
  // The token's re-check before a run (issue 9) the same way: at most 5 % of throughput.
  if (handler) ratio('ours-norecheck', 0.95, 'it without the re-check', 'ours-handler');
  ratio('fastify', 1.0, 'Fastify + auth, no logger');
  ratio('fastify-log', 1.3, 'Fastify + auth, logger on');
  ratio('express', 3.5, 'Express 5 + auth');
  ratio('bcrypt', 100, 'bcrypt cost 10');
}

// ---------------------------------------------------------------------------------------------
// Per-request costs, in-process

/**
 * What the re-check, token controls, usage counting and keeping runs add to a request, measured
 * in-process (test/bench/costs.ts) and set against the CPU of a request measured above: a share of a
 * few per cent is below what throughput rounds on a shared machine can tell apart.
 */
async function costs(bench: Bench): Promise<void> {
  const measured = await measureCosts();
  const base = bench.requestCpuUs;
  console.log(`\nPer-request costs, in-process (test/bench/costs.ts; medians of alternating rounds)${base ? `, as a share of the CPU of a request (ours-handler: ${fmt(base, 1)} µs)` : ''}\n`);
  console.log(
    table(
      ['feature', 'issue', 'ns per request', 'share of a request', 'goal'],
      measured.map((c) => [c.name, String(c.issue), fmt(c.ns, 1), base ? `${fmt((c.ns / 1000 / base) * 100, 2)} %` : '–', `≤ ${fmt(c.maxShare * 100)} %`]),
      2,
    ),
  );
  if (!base) {
    notes.push('per-request costs: the throughput section did not run, so there is no request CPU to compare them with (BENCH_ONLY=throughput,costs)');
    return;
  }
  for (const c of measured) {
    const share = c.ns / 1000 / base;
    goal(`${c.name}, in-process`, `${fmt(c.ns, 1)} ns = ${fmt(share * 100, 2)} % of a request`, `≤ ${fmt(c.maxShare * 100)} %`, share <= c.maxShare);
  }
}

// ---------------------------------------------------------------------------------------------
// Latency at a fixed rate

/** autocannon with one token, for the fallbacks when mmload cannot be built. */
function autocannonLoad(options: {
  url: string;
  token: string;
  connections: number;
  seconds: number;
  overallRate?: number;
  onResponse?: (status: number, responseTimeMs: number) => void;
}): PromiseLike<Result> {
  const instance = autocannon({
    url: `${options.url}${TRIGGER_PATH}`,
    method: 'POST',
    connections: options.connections,
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

async function latency(bench: Bench): Promise<void> {
  const label = `latency p99 at a fixed ${fmt(LATENCY_RATE)} req/s`;
  const warm = (on: RunningServer) => bench.generator.run(target(bench, on), { connections: CONNECTIONS, seconds: bench.generator.effectiveSeconds(WARMUP_SECONDS * 2) });
  const mmload = 'binary' in bench.mmload ? bench.mmload.binary : undefined;
  /** mmload's paced load on one server. */
  const paced = async (on: RunningServer, binary: string) =>
    (
      await runMmload({
        binary,
        port: on.port,
        cpu: on.cpu === undefined ? undefined : PINNING?.load,
        path: TRIGGER_PATH,
        tokensFile: bench.tokensFile,
        body: BODY,
        connections: LATENCY_CONNECTIONS,
        seconds: LATENCY_SECONDS,
        rate: LATENCY_RATE,
      })
    ).summary;
  const ms = (us: number | null) => (us === null ? NaN : us / 1000);
  const server = await startOurs(bench, 'ours');
  try {
    await warm(server);
    if (mmload !== undefined) {
      const s = await paced(server, mmload);
      const ok = s.statuses['200'] ?? 0;
      const achieved = s.answered / s.elapsed_s;
      console.log(
        `\nLatency of ours at a fixed ${fmt(LATENCY_RATE)} req/s (mmload, open loop, ${LATENCY_CONNECTIONS} connections, ${LATENCY_SECONDS} s, ${bench.tokens.length} tokens rotating)\n`,
      );
      const row = (from: string, l: LatencyUs) => [from, ...[l.p50, l.p90, l.p99, l.p999, l.max].map((us) => fmt(ms(us), 2))];
      console.log(
        table(
          ['measured from', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms'],
          [row('when each request was due', s.intended_us), row('when it was written', s.service_us)],
        ),
      );
      console.log(
        `${fmt(s.answered)} of ${fmt(s.scheduled)} answered (${Object.entries(s.statuses).map(([k, v]) => `${k}: ${fmt(v)}`).join(', ') || 'none'}), ` +
          `${fmt(achieved)} req/s achieved, ${s.errors} connection errors, ${s.unanswered} unanswered`,
      );
      const p99 = ms(s.intended_us.p99);
      const complete = ok === s.scheduled && s.errors === 0 && s.unanswered === 0;
      if (!complete) notes.push(`latency: ${fmt(s.scheduled - ok)} of ${fmt(s.scheduled)} paced requests did not get a 200`);
      goal(label, `${fmt(p99, 2)} ms (p50 ${fmt(ms(s.intended_us.p50), 2)}, from when due; mmload)`, '≤ 2 ms, all 200', p99 <= 2 && complete);
    } else {
      // No compiler: autocannon's paced mode, in this process (its timings include this event loop).
      const times: number[] = [];
      let non200 = 0;
      const result = await autocannonLoad({
        url: server.url,
        token: bench.tokens[0]!,
        seconds: LATENCY_SECONDS,
        connections: LATENCY_CONNECTIONS,
        overallRate: LATENCY_RATE,
        onResponse: (status, took) => {
          if (status === 200) times.push(took);
          else non200++;
        },
      });
      const p50 = percentile(times, 50);
      const p99 = percentile(times, 99);
      console.log(
        `\nLatency of ours at a fixed ${fmt(LATENCY_RATE)} req/s (autocannon, ${LATENCY_CONNECTIONS} connections, ${LATENCY_SECONDS} s; ${'problem' in bench.mmload ? bench.mmload.problem : ''}): ` +
          `${times.length} answers, p50 ${fmt(p50, 2)} ms, p99 ${fmt(p99, 2)} ms, max ${fmt(Math.max(...times), 2)} ms ` +
          `(autocannon, corrected for coordinated omission: p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms), non-200 ${non200}`,
      );
      goal(label, `${fmt(p99, 2)} ms (p50 ${fmt(p50, 2)}; autocannon)`, '≤ 2 ms, all 200', p99 <= 2 && non200 === 0);
    }
  } finally {
    await server.stop();
  }
  if (mmload === undefined) return;
  // The host's floor, measured the same way right after: bare node:http (no auth, no log, no run).
  const bare = await startBenchServer('bare', bench.dataDir, { BENCH_TOKEN: bench.tokens[0] });
  try {
    await warm(bare);
    const b = await paced(bare, mmload);
    console.log(`bare node:http at the same rate, measured the same way: p50 ${fmt(ms(b.intended_us.p50), 2)}, p99 ${fmt(ms(b.intended_us.p99), 2)}, p99.9 ${fmt(ms(b.intended_us.p999), 2)} ms (the host's floor)`);
    goal(`  bare node:http at the same rate (the host's floor)`, `${fmt(ms(b.intended_us.p99), 2)} ms (p50 ${fmt(ms(b.intended_us.p50), 2)})`, 'shown', undefined);
  } finally {
    await bare.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// SSE

async function metricsGauge(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = /^mechamental_sse_streams_open(?:\{[^}]*\})? (\S+)$/m.exec(text);
  return match ? Number(match[1]) : NaN;
}

// The SSE client's replies are loosely typed IPC messages, read field by field below.
type ClientReply = Record<string, any>;

async function ask(client: ReturnType<typeof spawnChild>, message: Record<string, unknown>, timeoutMs: number): Promise<ClientReply> {
  const reply = nextMessage<ClientReply>(client, (m) => m?.re === message.cmd, timeoutMs, `sse client ${String(message.cmd)}`);
  client.send(message);
  return reply;
}

async function sse(bench: Bench): Promise<void> {
  const token = bench.tokens[0]!;
  // The goal is 10,000 streams at once, which is past two of the server's limits against hostile
  // clients; an operator who wants that many raises them, as here. Every stream is a run of that
  // one token (MM_MAX_RUNS_PER_TOKEN, 100 by default, would refuse the rest with 429s) and a
  // connection of one listener (MM_MAX_CONNECTIONS, at most 4,096 by default, would hold the rest
  // back). Room for the probes and for warm-up streams that outlive their close.
  const atOnce = String(SSE_STREAMS + 1_000 + 300);
  const server = await startBenchServer('ours', bench.dataDir, { MM_MAX_RUNS_PER_TOKEN: atOnce, MM_MAX_CONNECTIONS: atOnce });
  const client = spawnChild([process.execPath, ...TSX, path.join(REPO_ROOT, 'test/bench/sse-client.ts')], { ipc: true, raiseFdLimit: true, env: childEnv(), cpu: PINNING?.load });
  try {
    await nextMessage(client, (m) => m?.ready === true, 20_000, 'sse client');
    await ask(client, { cmd: 'config', port: server.port, path: '/v1/trigger/hold', token, body: JSON.stringify({ message: 'streams stay open while this echo waits between words' }) }, 5_000);
    // Warm-up: code paths compiled, pools grown; then the baseline.
    const warm = await ask(client, { cmd: 'open', count: 300, concurrency: 50 }, 60_000);
    await ask(client, { cmd: 'closeAll' }, 5_000);
    if (warm.failed > 0) notes.push(`SSE warm-up: ${warm.failed} streams failed (${(warm.errors as string[]).join('; ')})`);
    await sleep(1_500);
    const rss0 = rssKiB(server.pid);

    const firstCount = Math.min(1_000, SSE_STREAMS);
    const first = await ask(client, { cmd: 'open', count: firstCount, concurrency: 100 }, 120_000);
    const probe = await ask(client, { cmd: 'probe', count: 1_000, rate: 200 }, 120_000);
    const ttfe = probe.ttfe as number[];
    const restCount = Math.max(0, SSE_STREAMS - firstCount);
    const cpu0 = cpuMicros(server.pid);
    const rest = await ask(client, { cmd: 'open', count: restCount, concurrency: 200 }, 300_000);
    const cpu1 = cpuMicros(server.pid);
    await sleep(1_000);
    const status = await ask(client, { cmd: 'status' }, 5_000);
    const gauge = await metricsGauge(server.url);
    const rss1 = rssKiB(server.pid);
    const open = status.open as number;
    const perStream = (rss1 - rss0) / open;
    const opening = restCount > 0 ? rest : first;
    const rate = (opening.opened as number) / ((opening.ms as number) / 1000);
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
          [`new streams per second (${restCount > 0 ? `${fmt(firstCount)} → ${fmt(SSE_STREAMS)}, 200` : `the first ${fmt(firstCount)}, 100`} in flight)`, `${fmt(rate)} /s (first ${fmt(firstCount)}: ${fmt((first.opened as number) / ((first.ms as number) / 1000))} /s)`],
          ['server CPU per new stream', restCount > 0 ? `${fmt((cpu1 - cpu0) / Math.max(1, rest.opened as number))} µs` : '–'],
          [`time to first event with ${fmt(firstCount)} open (1,000 probes at 200/s)`, `p50 ${fmt(percentile(ttfe, 50), 2)} ms, p99 ${fmt(percentile(ttfe, 99), 2)} ms (failed ${probe.failed})`],
          ['after closing all: gauge', `${fmt(gaugeAfter)} (closed ${closed.closed})`],
        ],
      ),
    );
    if ((first.errors as string[]).length || (rest.errors as string[]).length) notes.push(`SSE open errors: ${[...first.errors, ...rest.errors].join('; ')}`);
    goal('SSE streams held open', fmt(open), `${fmt(SSE_STREAMS)}`, open >= SSE_STREAMS);
    goal('SSE RSS per open stream', `${fmt(perStream, 1)} KiB`, '≤ 20 KiB', perStream <= 20);
    goal('SSE new streams per second', `${fmt(rate)} /s`, '≥ 5,000 /s', rate >= 5_000);
    goal(`SSE time to first event p99 (${fmt(firstCount)} open)`, `${fmt(percentile(ttfe, 99), 2)} ms (p50 ${fmt(percentile(ttfe, 50), 2)})`, '≤ 20 ms', percentile(ttfe, 99) <= 20);
    goal('SSE gauge after all streams closed', fmt(gaugeAfter), '0', gaugeAfter === 0);
    if (SSE_STREAMS < 10_000) notes.push(`SSE: ${fmt(SSE_STREAMS)} streams (BENCH_SSE_STREAMS or BENCH_QUICK), not the 10,000 of the goal`);
  } finally {
    client.kill('SIGKILL');
    await server.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Revocation under load

/** A moment on two clocks: CLOCK_MONOTONIC ns (mmload's clock) and epoch ms (the SSE client's). */
interface Stamp {
  ns: bigint;
  ms: number;
}

const stamp = (): Stamp => ({ ns: process.hrtime.bigint(), ms: performance.timeOrigin + performance.now() });

/** `tokens revoke ID` from another process on the same database file, as an admin would run it. */
async function revokeFromCli(bench: Bench, tokenId: string): Promise<{ code: number | null; output: string; spawnedAt: Stamp; printedAt: Stamp | undefined; exitedAt: Stamp }> {
  const argv = bench.oursBinary
    ? [bench.oursBinary, 'tokens', 'revoke', tokenId, '--data-dir', bench.dataDir]
    : [process.execPath, ...TSX, MAIN, 'tokens', 'revoke', tokenId, '--data-dir', bench.dataDir];
  // Spawned here rather than with a helper so that the moment it printed its answer (after the
  // commit) is known as well as the moment it exited.
  const cli = spawn(argv[0]!, argv.slice(1), { cwd: REPO_ROOT, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const spawnedAt = stamp();
  let printedAt: Stamp | undefined;
  let output = '';
  cli.stdout.on('data', (d: Buffer) => {
    printedAt ??= stamp();
    output += d.toString();
  });
  cli.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((resolve) => cli.on('exit', resolve));
  return { code, output, spawnedAt, printedAt, exitedAt: stamp() };
}

async function revoke(bench: Bench): Promise<void> {
  const issued = await withServices(bench.dataDir, (s) => s.tokens.create({ app: 'default', name: 'revoke under load', expires: '1d' }, 'cli'));
  const server = await startOurs(bench, 'ours');
  const client = spawnChild([process.execPath, ...TSX, path.join(REPO_ROOT, 'test/bench/sse-client.ts')], { ipc: true, env: childEnv(), cpu: PINNING?.load });
  try {
    await nextMessage(client, (m) => m?.ready === true, 20_000, 'sse client');
    await ask(client, { cmd: 'config', port: server.port, path: '/v1/trigger/hold', token: issued.value, body: JSON.stringify({ message: 'held until revoked' }) }, 5_000);
    const streams = await ask(client, { cmd: 'open', count: 50, concurrency: 50 }, 30_000);

    const ms = (ns: number) => ns / 1e6;
    let rows: string[][];
    let acceptedAfterExit: number;
    let meaningful = true;
    let exitedAtMs: number;
    if ('binary' in bench.mmload) {
      // The revoked token's requests from mmload (closed loop, each one's send and answer times),
      // while wrk keeps the server saturated with the other tokens.
      const recordsFile = path.join(bench.scratch, 'revoke-records.txt');
      const background = bench.generator.name === 'wrk'
        ? bench.generator.run(target(bench, server), { connections: CONNECTIONS, seconds: REVOKE_SECONDS })
        : undefined;
      const measured = runMmload({
        binary: bench.mmload.binary,
        port: server.port,
        cpu: server.cpu === undefined ? undefined : PINNING?.load,
        path: TRIGGER_PATH,
        tokensFile: writeTokensFile(bench.scratch, 'revoke-token.txt', [issued.value]),
        body: BODY,
        connections: REVOKE_CONNECTIONS,
        seconds: REVOKE_SECONDS,
        rate: 0,
        recordsFile,
      });
      await sleep(REVOKE_AT_MS);
      const cli = await revokeFromCli(bench, issued.token.id);
      exitedAtMs = cli.exitedAt.ms;
      const [{ summary: s, records = [] }, bg] = await Promise.all([measured, background]);
      if (cli.code !== 0) notes.push(`revoke CLI exited ${cli.code}: ${cli.output.trim()}`);
      const start = BigInt(s.start_ns);
      const exited = Number(cli.exitedAt.ns - start);
      const printed = cli.printedAt === undefined ? NaN : Number(cli.printedAt.ns - start);
      const ok = records.filter((r) => r.status === 200);
      acceptedAfterExit = ok.filter((r) => r.done > exited).length;
      const sentAfterPrint = ok.filter((r) => r.sent > printed).length;
      const sentAfterExit = records.filter((r) => r.sent > exited).length;
      const lastOk = Math.max(...ok.map((r) => r.done));
      const rejected = records.filter((r) => r.status === 401).length;
      const other = records.length - ok.length - rejected;
      meaningful = sentAfterExit > 0;
      rows = [
        ['requests on the revoked token (mmload)', `${fmt(records.length)} (200: ${fmt(ok.length)}, 401: ${fmt(rejected)}, other or no answer: ${fmt(other)})`],
        ['meanwhile, the other tokens', bg ? `wrk, ${CONNECTIONS} connections: ${fmt(bg.ok / bg.durationS)} req/s (non-2xx ${bg.non2xx}, errors ${bg.errors})` : 'no background load (wrk is not installed)'],
        ['CLI: spawn → printed → exited', `${fmt((cli.printedAt ?? cli.exitedAt).ms - cli.spawnedAt.ms)} ms → +${fmt(cli.exitedAt.ms - (cli.printedAt ?? cli.exitedAt).ms, 1)} ms`],
        ['requests sent after the CLI exited', fmt(sentAfterExit)],
        ['200 received after the CLI exited', String(acceptedAfterExit)],
        ['200 for requests sent after the CLI printed its answer', String(sentAfterPrint)],
        ['last 200 relative to the CLI exit', ok.length ? describeLag(ms(lastOk - exited)) : '–'],
      ];
    } else {
      // No compiler: autocannon in this process, one token, response times from its events.
      const now = () => performance.timeOrigin + performance.now();
      const responses: Array<{ at: number; sentAt: number; status: number }> = [];
      const running = autocannonLoad({
        url: server.url,
        token: issued.value,
        seconds: REVOKE_SECONDS,
        connections: REVOKE_CONNECTIONS,
        onResponse: (status, took) => {
          const at = now();
          responses.push({ at, sentAt: at - took, status });
        },
      });
      await sleep(REVOKE_AT_MS);
      const cli = await revokeFromCli(bench, issued.token.id);
      const exitedAt = cli.exitedAt.ms;
      exitedAtMs = exitedAt;
      const printedAt = cli.printedAt?.ms ?? NaN;
      await running;
      if (cli.code !== 0) notes.push(`revoke CLI exited ${cli.code}: ${cli.output.trim()}`);
      acceptedAfterExit = responses.filter((r) => r.status === 200 && r.at > exitedAt).length;
      const sentAfterPrint = responses.filter((r) => r.status === 200 && r.sentAt > printedAt).length;
      const rejected = responses.filter((r) => r.status === 401).length;
      const lastOk = Math.max(...responses.filter((r) => r.status === 200).map((r) => r.at));
      meaningful = responses.some((r) => r.sentAt > exitedAt);
      rows = [
        ['requests on the revoked token (autocannon)', `${fmt(responses.length)} (200: ${fmt(responses.filter((r) => r.status === 200).length)}, 401: ${fmt(rejected)}); ${bench.mmload.problem}`],
        ['200 received after the CLI exited', String(acceptedAfterExit)],
        ['200 for requests sent after the CLI printed its answer', String(sentAfterPrint)],
        ['last 200 relative to the CLI exit', describeLag(lastOk - exitedAt)],
      ];
    }
    await sleep(1_200);
    const status = await ask(client, { cmd: 'status' }, 5_000);
    // The client's endedAt are epoch ms: the same clock as exitedAtMs.
    const lastStreamLag = Math.max(...((status.endedAt as number[]) ?? []).map((t) => t - exitedAtMs));
    rows.push(['SSE streams on it ended by the server / with run.failed', `${status.endedByServer} / ${status.failedEvents} of ${streams.opened} (the last ${describeLag(lastStreamLag)} the CLI exit)`]);
    console.log(`\nRevocation under load (${REVOKE_CONNECTIONS} connections on one token; \`tokens revoke\` from a separate CLI process at t = ${REVOKE_AT_MS / 1000} s)`);
    console.log(table(['figure', 'value'], rows));
    if (!meaningful) notes.push(`revoke: no request was sent after the CLI exited (the load ended first): raise BENCH_REVOKE_SECONDS (now ${REVOKE_SECONDS})`);
    goal('revoke: 200s after the CLI exited', String(acceptedAfterExit), '0', acceptedAfterExit === 0 && meaningful);
    goal('revoke: SSE streams ended with run.failed within 1 s', `${status.failedEvents}/${streams.opened}, last ${describeLag(lastStreamLag)} exit`, `${streams.opened} within 1000 ms`, status.failedEvents === streams.opened && lastStreamLag <= 1000);
  } finally {
    client.kill('SIGKILL');
    await server.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Start-up

async function startup(): Promise<void> {
  if (!fs.existsSync(DIST_BINARY)) {
    notes.push('dist/mechamental does not exist (run `npm run build`): start-up not measured');
    console.log('\nStart-up: skipped, dist/mechamental does not exist (npm run build)');
    return;
  }
  const versions: number[] = [];
  for (let i = 0; i < (QUICK ? 3 : 7); i++) {
    const t0 = performance.now();
    const child = spawnChild([DIST_BINARY, '--version'], { stdout: 'ignore' });
    await waitExit(child, 10_000);
    versions.push(performance.now() - t0);
  }
  const firsts: number[] = [];
  for (let i = 0; i < (QUICK ? 2 : 5); i++) {
    const tmp = makeTempDir('mm-bench-start-');
    try {
      const port = await freePort();
      const t0 = performance.now();
      const server = await startServe(path.join(tmp.dir, 'data'), { port, binary: DIST_BINARY, timeoutMs: 15_000 });
      firsts.push(performance.now() - t0);
      await server.stop();
    } catch (error) {
      notes.push(`start-up: ${(error as Error).message}`);
    } finally {
      tmp.cleanup();
    }
  }
  console.log(`\nStart-up of dist/mechamental (${fmt(fs.statSync(DIST_BINARY).size / 1_048_576, 1)} MiB): --version median ${fmt(median(versions))} ms; spawn → first 200 (GET /healthz, fresh data dir) median ${fmt(median(firsts))} ms`);
  goal('start-up: --version', `${fmt(median(versions))} ms`, 'reported', undefined);
  goal('start-up: spawn → first 200', `${fmt(median(firsts))} ms`, 'reported', undefined);
}

// ---------------------------------------------------------------------------------------------
// Profile

async function profile(bench: Bench, kind: string): Promise<void> {
  const dir = makeTempDir('mm-bench-prof-');
  const server = await startBenchServer(kind, bench.dataDir, { BENCH_TOKEN: bench.tokens[0] }, ['--cpu-prof', '--cpu-prof-dir', dir.dir], logSink(bench, `profile-${kind}`));
  try {
    await bench.generator.run(target(bench, server), { connections: CONNECTIONS, seconds: 1 });
    const fromUs = Number(process.hrtime.bigint() / 1000n);
    const measured = await bench.generator.run(target(bench, server), { connections: CONNECTIONS, seconds: 5 });
    // Only the measured 5 s count (start-up and warm-up left out of the profile's figures).
    const requests = measured.requests;
    server.child.send('exit');
    await waitExit(server.child, 10_000);
    const file = fs.readdirSync(dir.dir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error('no profile written');
    const kept = path.join(REPO_ROOT, '.tmp', `bench-${kind}-${Date.now()}.cpuprofile`);
    fs.mkdirSync(path.dirname(kept), { recursive: true });
    fs.copyFileSync(path.join(dir.dir, file), kept);
    console.log(`\nCPU profile of ${kind} under load (${bench.generator.name}), ${requests} requests (${kept}): self time by function`);
    console.log(summarizeProfile(kept, 30, requests, fromUs));
  } finally {
    await server.stop();
    dir.cleanup();
  }
}

// ---------------------------------------------------------------------------------------------

/** What dist/mechamental is built from (as test/binary/helpers/ensure-built.mjs sees it). */
const BUILD_SOURCES = ['src', 'tui', 'migrations', 'build', 'build.mjs', 'package.json', 'package-lock.json'];

/** The newest modification time (ms) of `entry` or any file under it; 0 when it does not exist. */
function newestMtime(entry: string): number {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(entry);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...fs.readdirSync(entry).map((name) => newestMtime(path.join(entry, name))));
}

function chooseOurs(): string | undefined {
  if (OURS_CHOICE === 'dev') return undefined;
  if (!fs.existsSync(DIST_BINARY)) {
    if (OURS_CHOICE === 'dist') throw new Error('BENCH_OURS=dist but dist/mechamental does not exist: run `npm run build`');
    notes.push('dist/mechamental does not exist (npm run build): ours ran from the development entry point (tsx src/main.ts serve)');
    return undefined;
  }
  if (fs.statSync(DIST_BINARY).mtimeMs <= Math.max(...BUILD_SOURCES.map((s) => newestMtime(path.join(REPO_ROOT, s))))) {
    notes.push(`dist/mechamental is older than what it is built from (${BUILD_SOURCES.join(', ')}): ours may not be the code you are looking at (npm run build)`);
  }
  return DIST_BINARY;
}

async function main(): Promise<number> {
  const tmp = makeTempDir('mm-bench-');
  fs.chmodSync(tmp.dir, 0o700);
  const dataDir = path.join(tmp.dir, 'data');
  try {
    const { generator, fallbackReason } = pickLoadGenerator();
    const mmload = buildMmload();
    const tokens = await withServices(dataDir, async (s) => {
      await s.pipelines.create('default', { slug: 'hold', kind: 'echo', config: { delay_ms: 60_000 } }, 'cli');
      const values: string[] = [];
      for (let i = 0; i < TOKEN_COUNT; i++) values.push((await s.tokens.create({ app: 'default', name: `bench ${i + 1}`, expires: '30d' }, 'cli')).value);
      // A realistic restriction: one pipeline, and an allow-list of a few networks, the load generator's (loopback) last.
      const controlled: string[] = [];
      const allowedIps = ['10.0.0.0/8', '192.168.0.0/16', '2001:db8::/32', '127.0.0.1/32'];
      for (let i = 0; i < TOKEN_COUNT; i++) {
        controlled.push((await s.tokens.create({ app: 'default', name: `bench controlled ${i + 1}`, expires: '30d', pipelines: ['chat'], allowedIps }, 'cli')).value);
      }
      return { values, controlled };
    });
    const scratch = path.join(tmp.dir, 'scratch');
    fs.mkdirSync(scratch, { mode: 0o700 });
    const bench: Bench = {
      dataDir,
      scratch,
      tokens: tokens.values,
      tokensFile: writeTokensFile(scratch, 'tokens.txt', tokens.values),
      controlledTokens: tokens.controlled,
      controlledTokensFile: writeTokensFile(scratch, 'controlled-tokens.txt', tokens.controlled),
      generator,
      mmload,
      oursBinary: hasServer ? chooseOurs() : undefined,
    };

    console.log(`mechamental bench — ${new Date().toISOString()} — Node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}${QUICK ? ' — QUICK (a smoke run, not figures of record)' : ''}`);
    console.log(`load generator: ${generator.description}${fallbackReason ? ` — fallback: ${fallbackReason}` : ''}`);
    console.log(`paced latency and revoke check: ${'binary' in mmload ? `mmload (C, built with cc: ${path.relative(REPO_ROOT, mmload.binary)})` : `autocannon (${mmload.problem})`}`);
    console.log(
      PINNING
        ? `CPUs: servers under test pinned to CPU ${PINNING.server}, load generators and clients to CPU ${PINNING.load} (taskset; BENCH_PIN=0 leaves them to the scheduler)`
        : `CPUs: not pinned (${process.env.BENCH_PIN === '0' ? 'BENCH_PIN=0' : 'taskset or a second CPU is missing'}): rounds may disagree by tens of per cent`,
    );
    console.log(`ours: ${bench.oursBinary ? path.relative(REPO_ROOT, bench.oursBinary) : 'tsx src/main.ts'} serve; server logs to ${LOG_SINK === 'file' ? `files in ${scratch}` : '/dev/null'}`);
    const [load1] = os.loadavg();
    if (load1! >= os.cpus().length / 2) {
      notes.push(`the machine was already busy when the bench started (load average ${load1!.toFixed(2)} on ${os.cpus().length} CPUs): expect noisy req/s; CPU/req holds better`);
    }
    if (fallbackReason) notes.push(`load generator: autocannon (${fallbackReason}); a JS load generator on the same cores saturates before a fast server does, so req/s ratios understate the fast servers`);

    if (ONLY.has('throughput')) await throughput(bench);
    if (ONLY.has('costs') && hasTrigger) await costs(bench);
    if (ONLY.has('latency') && hasServer) await latency(bench);
    if (ONLY.has('sse') && hasServer) await sse(bench);
    if (ONLY.has('revoke') && hasServer) await revoke(bench);
    if (ONLY.has('startup')) await startup();
    if (ONLY.has('console') && hasServer) await consoleBench({ binary: bench.oursBinary, loads: QUICK ? 3 : 7, log, goal, note: (text) => notes.push(text) });
    if (ONLY.has('postgres') && hasServer) {
      await postgresBench({
        generator,
        oursBinary: bench.oursBinary,
        scratch,
        tmpDir: tmp.dir,
        rounds: ROUNDS,
        seconds: SECONDS,
        warmupSeconds: WARMUP_SECONDS,
        connections: CONNECTIONS,
        tokenCount: TOKEN_COUNT,
        trials: PG_TRIALS,
        body: BODY,
        log,
        goal,
        note: (text) => notes.push(text),
      });
    }
    if (PROFILE && (hasServer || PROFILE !== 'ours')) await profile(bench, PROFILE);
    if (!hasServer) notes.push('src/http/server.ts is missing: ours, latency, SSE and revoke were not measured');

    console.log('\nSummary (goals are reported, not asserted)\n');
    console.log(
      table(
        ['figure', 'value', 'goal', 'met', 'met by CPU/req'],
        summary.map((s) => [s.figure, s.value, s.goal, s.met === undefined ? '' : s.met ? 'yes' : 'NO', s.metByCpu === undefined ? '' : s.metByCpu ? 'yes' : 'NO']),
      ),
    );
    for (const note of notes) console.log(`note: ${note}`);
    // The growth part fills a million tokens: only when asked (docs/growth.md).
    if (process.env.BENCH_GROWTH === '1') await (await import('./growth')).runGrowth();
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
