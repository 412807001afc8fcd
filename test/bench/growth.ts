// The growth bench (issue 18): the same figures for a small database (1,000 tokens) and a large one
// (1,000,000 tokens and 5,000,000 audit events by default), side by side. See docs/growth.md.
//
//   node --import tsx test/bench/growth.ts                 (alone)
//   BENCH_GROWTH=1 npm run bench                           (after the main bench; not by default)
//
// Knobs: BENCH_GROWTH_TOKENS (1000000), BENCH_GROWTH_EVENTS (5 × tokens), BENCH_GROWTH_SMALL (1000),
// BENCH_GROWTH_SECONDS (10: turns of a second of trigger load per database), BENCH_GROWTH_DB
// (sqlite | postgres | both; postgres needs BENCH_GROWTH_POSTGRES_URL, a database URL whose user may
// create databases; the bench drops the databases it created when it ends).
//
// Figures: the fill (straight through the store, in batches), trigger throughput (goal ≥ 0.95× the
// small one), the first page of the token list through the API (≤ 20 ms), `tokens list --all
// --json` peak RSS (≤ 100 MB), the TUI opening on the Tokens tab to its first frame (≤ 500 ms,
// ≤ 120 MB RSS) and a filter keystroke (≤ 50 ms), bytes per token, `backup` time (SQLite).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import postgres from 'postgres';
import { loadConfig } from '../../src/config';
import { openServices, type Services } from '../../src/services';
import { bundleChild } from './lib/bundle';
import { fillStore } from './lib/growth-fill';
import { pickLoadGenerator, writeTokensFile } from './lib/load';
import { childEnv, freePort, killAll, MAIN, PINNING, REPO_ROOT, sleep, TSX } from './lib/proc';
import { makeTempDir, startServe } from './lib/servers';
import { fmt, median, table } from './lib/stats';

function count(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name}=${raw}: expected a whole number of at least 1`);
  return value;
}

const LARGE = count('BENCH_GROWTH_TOKENS', 1_000_000);
const EVENTS = count('BENCH_GROWTH_EVENTS', 5 * LARGE);
const SMALL = count('BENCH_GROWTH_SMALL', 1_000);
const SECONDS = count('BENCH_GROWTH_SECONDS', 10);
const DATABASES = (process.env.BENCH_GROWTH_DB || 'sqlite') === 'both' ? ['sqlite', 'postgres'] : [process.env.BENCH_GROWTH_DB || 'sqlite'];
const LOAD_TOKENS = 100;
const BODY = JSON.stringify({ message: 'hello world' });
/** Runs of the TUI child per database (its figures: medians over the runs, the RSS the highest). */
const TUI_RUNS = 3;

/** What the TUI child reports (test/bench/growth-tui-child.tsx). */
interface TuiReport {
  firstFrameMs: number;
  rssAtFirstFrameMiB: number;
  keystrokesMs: number[];
}

interface Figures {
  label: string;
  /** What a server on this database needs (for the trigger's side-by-side run, `triggerSideBySide`). */
  dataDir: string;
  env: NodeJS.ProcessEnv;
  loadTokens: string[];
  tokens: number;
  events: number;
  fillS: number;
  firstPageMs: number;
  listAllRssMiB: number;
  /** The same command for one page of one token: what the process costs without the listing. */
  listOneRssMiB: number;
  listAllS: number;
  tuiFirstFrameMs: number;
  tuiRssMiB: number;
  keystrokeMs: number;
  bytesPerToken: number;
  backupS: number | undefined;
}

const DIST = path.join(REPO_ROOT, 'dist/mechamental');
const TUI_CHILD = path.join(REPO_ROOT, 'test/bench/growth-tui-child.tsx');

/** The CLI as users run it: dist/mechamental when built, else the development entry point. */
function cliArgv(args: string[]): string[] {
  return fs.existsSync(DIST) ? [DIST, ...args] : [process.execPath, ...TSX, MAIN, ...args];
}

/**
 * The TUI child as plain JavaScript: bundled by esbuild the way the executable bundles the TUI
 * (production React, migrations embedded), so that its RSS and times are the TUI's and not the
 * tsx loader's (30–40 MB and a slower start). Answers the command that runs it.
 */
let tuiChild: Promise<string[]> | undefined;
function tuiChildArgv(): Promise<string[]> {
  // Bundled once per bench run, for every database measured.
  return (tuiChild ??= bundleTuiChild());
}

function bundleTuiChild(): Promise<string[]> {
  return bundleChild({ entry: TUI_CHILD, outfile: path.join(REPO_ROOT, '.tmp/bench/growth-tui-child.mjs'), react: true });
}

/**
 * Drops the executable's pages from the page cache (written out first, then POSIX_FADV_DONTNEED
 * through dd's `iflag=nocache`), so that each CLI measurement starts as after a restart: read from
 * disk. Its file pages are half of the CLI's RSS, and how many of them a run maps depends on how
 * they came into the cache: right after the build wrote the file in one piece, the kernel maps it in
 * larger pieces, and the same listing peaked 7–10 MiB higher (97–100 MiB against 90 MiB, measured
 * on 2026-12-02; docs/growth.md). Answers whether it could (false also when it is not built).
 */
function evictFromPageCache(file: string): boolean {
  if (!fs.existsSync(file)) return false;
  const written = spawnSync('sync', [file], { stdio: 'ignore' });
  const dropped = spawnSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none'], { stdio: 'ignore' });
  return written.status === 0 && dropped.status === 0;
}

/** A CLI command measured (see `measured`), the executable first dropped from the page cache. */
function measuredCli(args: string[], env: NodeJS.ProcessEnv, log: (text: string) => void): ReturnType<typeof measured> {
  if (fs.existsSync(DIST) && !evictFromPageCache(DIST)) log('could not drop dist/mechamental from the page cache (sync and dd): its RSS may include more file pages');
  return measured(cliArgv(args), env);
}

/** Runs a command; answers its exit code, wall time and peak RSS (VmHWM polled until it exits). */
async function measured(argv: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; seconds: number; peakMiB: number; stdout: string }> {
  const started = performance.now();
  const child = spawn(argv[0]!, argv.slice(1), { env: childEnv(env), stdio: ['ignore', 'pipe', 'inherit'] });
  let peakKiB = 0;
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => {
    // Kept short: the listing's output is counted, not held.
    if (stdout.length < 4096) stdout += chunk.toString();
  });
  const poll = setInterval(() => {
    try {
      const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
      if (hwm) peakKiB = Math.max(peakKiB, Number(hwm[1]));
    } catch {
      // exited
    }
  }, 20);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearInterval(poll);
  return { code, seconds: (performance.now() - started) / 1000, peakMiB: peakKiB / 1024, stdout };
}

/** The PostgreSQL databases this run created (dropped at its end: a million tokens is 1.6 GB). */
const createdDatabases: string[] = [];

async function storeFor(database: string, label: string, dataDir: string, admin: postgres.Sql | undefined): Promise<{ env: NodeJS.ProcessEnv; open: () => Promise<Services> }> {
  if (database === 'sqlite') return { env: { MM_DATA_DIR: dataDir }, open: () => openServices(loadConfig({ MM_DATA_DIR: dataDir }), { actor: 'cli' }) };
  const name = `mm_growth_${label}_${process.pid}`;
  await admin!.unsafe(`DROP DATABASE IF EXISTS ${name}`);
  await admin!.unsafe(`CREATE DATABASE ${name}`);
  createdDatabases.push(name);
  const url = new URL(process.env.BENCH_GROWTH_POSTGRES_URL!);
  url.pathname = `/${name}`;
  const env = { MM_DATA_DIR: dataDir, MM_DATABASE_URL: url.toString() };
  return { env, open: () => openServices(loadConfig(env), { actor: 'cli' }) };
}

async function measure(database: string, label: string, tokens: number, events: number, root: string, admin: postgres.Sql | undefined): Promise<Figures> {
  const dataDir = path.join(root, `${database}-${label}`);
  fs.mkdirSync(dataDir, { mode: 0o700 });
  const { env, open } = await storeFor(database, label, dataDir, admin);
  const log = (text: string) => process.stderr.write(`[growth ${database} ${label}] ${text}\n`);

  // Fill, then the tokens the load uses and an admin token for the API, through the services.
  const services = await open();
  const appId = (await services.store.apps.bySlug('default'))!.id;
  const fillStarted = performance.now();
  let lastReport = 0;
  await fillStore(services.store, {
    appId,
    tokens: tokens - LOAD_TOKENS,
    auditEvents: events,
    now: services.clock.now(),
    onProgress: (what, done) => {
      if (performance.now() - lastReport > 10_000) {
        lastReport = performance.now();
        log(`${what}: ${done.toLocaleString('en-US')}`);
      }
    },
  });
  const fillS = (performance.now() - fillStarted) / 1000;
  log(`filled in ${fmt(fillS, 1)} s`);
  const values: string[] = [];
  for (let i = 0; i < LOAD_TOKENS; i++) values.push((await services.tokens.create({ app: 'default', name: `load ${i}`, expires: '30d' }, 'cli')).value);
  const adminToken = (await services.tokens.createAdmin({ name: 'growth bench', expires: '1d' }, 'cli')).value;
  if (database === 'postgres') await (services.store as unknown as { sql: postgres.Sql }).sql.unsafe('ANALYZE');
  let bytesPerToken: number;
  if (database === 'sqlite') {
    (services.store as unknown as { db: { sqlite: { pragma(text: string): unknown } } }).db.sqlite.pragma('wal_checkpoint(TRUNCATE)');
    const file = path.join(dataDir, 'mechamental.db');
    bytesPerToken = fs.statSync(file).size / tokens;
  } else {
    const [row] = await (services.store as unknown as { sql: postgres.Sql }).sql`SELECT pg_database_size(current_database())::bigint AS size`;
    bytesPerToken = Number(row!.size) / tokens;
  }
  await services.close();

  // The server: the first page of the token list (the trigger's throughput is measured after both
  // databases are filled, side by side: triggerSideBySide).
  const port = await freePort();
  const server = await startServe(dataDir, { port, env, timeoutMs: 120_000, cpu: PINNING?.server, ...(fs.existsSync(DIST) ? { binary: DIST } : {}) });
  let firstPageMs: number;
  try {
    const times: number[] = [];
    for (let i = 0; i < 25; i++) {
      const started = performance.now();
      const res = await fetch(`${server.url}/v1/apps/default/tokens?limit=100`, { headers: { authorization: `Bearer ${adminToken}` } });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`token list answered ${res.status}`);
      if (i >= 5) times.push(performance.now() - started);
    }
    firstPageMs = median(times);
  } finally {
    await server.stop();
  }
  log(`first page ${fmt(firstPageMs, 1)} ms`);

  const listAll = await measuredCli(['tokens', 'list', '--app', 'default', '--all', '--json'], env, log);
  if (listAll.code !== 0) throw new Error(`tokens list --all --json exited ${listAll.code}`);
  const listOne = await measuredCli(['tokens', 'list', '--app', 'default', '--limit', '1', '--json'], env, log);
  log(`tokens list --all --json: ${fmt(listAll.seconds, 1)} s, peak ${fmt(listAll.peakMiB)} MiB (one page of one: ${fmt(listOne.peakMiB)} MiB)`);

  // The TUI child runs TUI_RUNS times: one run's keystroke can land on a stop of the VM (the
  // profile of the eighth session showed gaps of 2–12 ms several times a second), so each letter's
  // time is its median over the runs, and the figure is the slowest letter's. Every run is logged.
  const reports: TuiReport[] = [];
  for (let run = 1; run <= TUI_RUNS; run++) {
    const tui = await measured([...(await tuiChildArgv()), dataDir, 'svc-0003', env.MM_DATABASE_URL ?? ''], env);
    if (tui.code !== 0) throw new Error('the TUI child failed');
    const report = JSON.parse(tui.stdout.trim().split('\n').at(-1)!) as TuiReport;
    log(`TUI run ${run}/${TUI_RUNS}: first frame ${fmt(report.firstFrameMs)} ms, RSS ${fmt(report.rssAtFirstFrameMiB)} MiB, keystrokes ${report.keystrokesMs.map((k) => fmt(k)).join(' ')} ms`);
    reports.push(report);
  }
  const letterMedians = reports[0]!.keystrokesMs.map((_, i) => median(reports.map((r) => r.keystrokesMs[i]!)));
  log(`TUI keystrokes, each letter's median: ${letterMedians.map((k) => fmt(k)).join(' ')} ms`);

  let backupS: number | undefined;
  if (database === 'sqlite') {
    const backup = await measured(cliArgv(['backup', path.join(dataDir, 'backup.db')]), env);
    if (backup.code !== 0) throw new Error('backup failed');
    backupS = backup.seconds;
  }
  if (admin) await sleep(0);
  return {
    label,
    dataDir,
    env,
    loadTokens: values,
    tokens,
    events,
    fillS,
    firstPageMs,
    listAllRssMiB: listAll.peakMiB,
    listOneRssMiB: listOne.peakMiB,
    listAllS: listAll.seconds,
    tuiFirstFrameMs: median(reports.map((r) => r.firstFrameMs)),
    tuiRssMiB: Math.max(...reports.map((r) => r.rssAtFirstFrameMiB)),
    keystrokeMs: Math.max(...letterMedians),
    bytesPerToken,
    backupS,
  };
}

/**
 * The trigger's throughput on both databases, side by side: a `serve` on each (pinned alike), loaded
 * in turns of a second, SECONDS turns each, the order swapped every turn. Measured one after the
 * other, minutes apart (the large database's fill lies between), the ratio of the two swung from
 * 0.70× to 1.12× between runs with the host's spells (docs/growth.md); in turns, a spell lands on
 * both alike. Answers req/s of each (2xx answers over the time loaded).
 */
async function triggerSideBySide(small: Figures, large: Figures, log: (text: string) => void): Promise<{ small: number; large: number }> {
  const { generator } = pickLoadGenerator();
  const sides: Array<{ figures: Figures; server: Awaited<ReturnType<typeof startServe>>; target: Parameters<typeof generator.run>[0]; ok: number; seconds: number }> = [];
  try {
    for (const figures of [small, large]) {
      const server = await startServe(figures.dataDir, { port: await freePort(), env: figures.env, timeoutMs: 120_000, cpu: PINNING?.server, ...(fs.existsSync(DIST) ? { binary: DIST } : {}) });
      const tokensFile = writeTokensFile(figures.dataDir, 'tokens.txt', figures.loadTokens);
      sides.push({ figures, server, target: { url: server.url, path: '/v1/trigger/chat', tokens: figures.loadTokens, tokensFile, body: BODY, cpu: PINNING?.load }, ok: 0, seconds: 0 });
    }
    for (const side of sides) await generator.run(side.target, { connections: 50, seconds: 2 });
    for (let turn = 0; turn < SECONDS; turn++) {
      for (const side of turn % 2 === 0 ? sides : [...sides].reverse()) {
        const result = await generator.run(side.target, { connections: 50, seconds: 1 });
        side.ok += result.ok;
        side.seconds += result.durationS;
      }
    }
  } finally {
    for (const side of sides) await side.server.stop();
  }
  const [s, l] = sides.map((side) => side.ok / side.seconds) as [number, number];
  log(`trigger, side by side in turns of a second: ${fmt(s)} req/s (${small.label}), ${fmt(l)} req/s (${large.label})`);
  return { small: s, large: l };
}

/** Runs the growth bench; prints its report. */
export async function runGrowth(): Promise<void> {
  const tmp = makeTempDir('mm-growth-');
  fs.chmodSync(tmp.dir, 0o700);
  const admin = DATABASES.includes('postgres') ? postgres(process.env.BENCH_GROWTH_POSTGRES_URL ?? '', { max: 1, onnotice: () => undefined }) : undefined;
  if (admin && !process.env.BENCH_GROWTH_POSTGRES_URL) throw new Error('BENCH_GROWTH_DB=postgres needs BENCH_GROWTH_POSTGRES_URL');
  try {
    const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');
    const binary = fs.existsSync(DIST);
    console.log(`\nGrowth — ${new Date().toISOString()} — Node ${process.version}, ${os.cpus().length} CPUs, load average ${load()}`);
    console.log(
      `server and CLI: ${binary ? 'dist/mechamental (dropped from the page cache before each CLI RSS figure: as after a restart)' : 'tsx src/main.ts (dist/mechamental is not built: RSS figures include the tsx loader)'}; TUI: test/bench/growth-tui-child.tsx bundled by esbuild (production React), run by node`,
    );
    for (const database of DATABASES) {
      const small = await measure(database, 'small', SMALL, 5 * SMALL, tmp.dir, admin);
      const large = await measure(database, 'large', LARGE, EVENTS, tmp.dir, admin);
      const trigger = await triggerSideBySide(small, large, (text) => process.stderr.write(`[growth ${database}] ${text}\n`));
      const ratio = trigger.large / trigger.small;
      const rows: string[][] = [
        ['tokens / audit events', `${small.tokens.toLocaleString('en-US')} / ${small.events.toLocaleString('en-US')}`, `${large.tokens.toLocaleString('en-US')} / ${large.events.toLocaleString('en-US')}`, ''],
        ['fill through the store (s)', fmt(small.fillS, 1), fmt(large.fillS, 1), ''],
        [`trigger throughput (req/s, side by side, ${SECONDS} turns of 1 s each)`, fmt(trigger.small), fmt(trigger.large), `≥ 0.95× small: ${fmt(ratio, 2)}× ${ratio >= 0.95 ? 'met' : 'NOT met'}`],
        ['first page of the token list, API (ms, median)', fmt(small.firstPageMs, 1), fmt(large.firstPageMs, 1), `≤ 20 ms: ${large.firstPageMs <= 20 ? 'met' : 'NOT met'}`],
        ['tokens list --all --json: peak RSS (MiB)', fmt(small.listAllRssMiB), fmt(large.listAllRssMiB), `≤ 100 MB: ${large.listAllRssMiB * 1.048576 <= 100 ? 'met' : 'NOT met'}`],
        ['  the same command for one token (MiB)', fmt(small.listOneRssMiB), fmt(large.listOneRssMiB), 'the process without the listing'],
        ['tokens list --all --json: time (s)', fmt(small.listAllS, 1), fmt(large.listAllS, 1), ''],
        [`TUI open to first frame, Tokens tab (ms, median of ${TUI_RUNS})`, fmt(small.tuiFirstFrameMs), fmt(large.tuiFirstFrameMs), `≤ 500 ms: ${large.tuiFirstFrameMs <= 500 ? 'met' : 'NOT met'}`],
        [`TUI RSS at first frame (MiB, highest of ${TUI_RUNS})`, fmt(small.tuiRssMiB), fmt(large.tuiRssMiB), `≤ 120 MB: ${large.tuiRssMiB * 1.048576 <= 120 ? 'met' : 'NOT met'}`],
        [`filter keystroke typing "svc-0003", slowest letter (ms, each letter's median of ${TUI_RUNS})`, fmt(small.keystrokeMs), fmt(large.keystrokeMs), `≤ 50 ms: ${large.keystrokeMs <= 50 ? 'met' : 'NOT met'}`],
        ['database bytes per token (events included)', fmt(small.bytesPerToken), fmt(large.bytesPerToken), ''],
        ['backup (s)', small.backupS === undefined ? '-' : fmt(small.backupS, 1), large.backupS === undefined ? '-' : fmt(large.backupS, 1), ''],
      ];
      console.log(`\n${database}\n`);
      console.log(table(['figure', 'small', 'large', 'goal'], rows));
    }
    console.log(`\nload average at the end: ${load()} (a busy machine slows every figure; compare small with large, measured alike)`);
  } finally {
    killAll();
    for (const name of createdDatabases) await admin?.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch((error: Error) => process.stderr.write(`could not drop ${name}: ${error.message}\n`));
    await admin?.end();
    tmp.cleanup();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(REPO_ROOT, 'test/bench/growth.ts')) {
  runGrowth().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`growth bench failed: ${(error as Error).stack ?? String(error)}\n`);
      killAll();
      process.exit(1);
    },
  );
}
