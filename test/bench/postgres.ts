// The bench's PostgreSQL section (issue 12): `BENCH_POSTGRES=1 npm run bench` (with the other
// sections) or `BENCH_ONLY=postgres npm run bench` (alone). Not in the default run: it starts a
// throwaway cluster and takes about a minute.
//
// - Throughput and CPU per request of the trigger for one instance and for two instances on one
//   database: `mechamental serve` with MM_DATABASE_URL (as users run it), loaded by wrk (one wrk
//   per instance, each with the bench's connection count), in interleaved rounds. CPU per request
//   is read from /proc for the instances and for every process of the PostgreSQL cluster (the
//   postmaster and its children: backends, WAL writer, checkpointer…).
// - Revoke → stream-end latency across instances: per trial a fresh token, an SSE stream on it on
//   instance B (and one on A), then `POST …/revoke` on A's admin API; the lag is from the moment
//   the revoke's answer arrived to the moment each stream ended (both seen by this process, one
//   clock). Trials without load, then trials while wrk loads both instances with other tokens.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import postgres from 'postgres';
import { startCluster } from '../helpers/postgres-cluster.mjs';
import type { LoadGenerator, LoadResult, LoadTarget } from './lib/load';
import { writeTokensFile } from './lib/load';
import { freePort, sleep } from './lib/proc';
import { childPids, cpuMicros } from './lib/procfs';
import { loadConfig } from '../../src/config';
import { openServices, type Services } from '../../src/services';
import { startServe, type RunningServer } from './lib/servers';
import { fmt, median, percentile, table } from './lib/stats';

export interface PostgresBenchOptions {
  generator: LoadGenerator;
  /** dist/mechamental, or undefined for the development entry point. */
  oursBinary: string | undefined;
  scratch: string;
  /** A data dir per instance is made under it (serve wants one even on PostgreSQL). */
  tmpDir: string;
  rounds: number;
  seconds: number;
  warmupSeconds: number;
  connections: number;
  tokenCount: number;
  trials: number;
  body: string;
  log(line: string): void;
  goal(figure: string, value: string, goalText: string, met: boolean | undefined): void;
  note(text: string): void;
}

const TRIGGER_PATH = '/v1/trigger/chat';

/** CPU time (µs) of every process of the cluster: the postmaster and its children, by pid. */
function clusterCpu(postmasterPid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of [postmasterPid, ...childPids(postmasterPid)]) {
    try {
      out.set(pid, cpuMicros(pid));
    } catch {
      // ended meanwhile
    }
  }
  return out;
}

/** CPU used between two snapshots; a process that appeared meanwhile counts from zero. */
function cpuBetween(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, us] of after) total += us - (before.get(pid) ?? 0);
  return total;
}

interface PgSample {
  rps: number;
  instanceUsPerReq: number;
  postgresUsPerReq: number;
  /** The instances' CPU over wall time, summed (1.0 = one core). */
  instancesBusy: number;
  postgresBusy: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
}

/** An SSE stream on `token` (pipeline `hold`): resolves `opened` at its first event; `ended` when the server ends it. */
function openStream(url: string, token: string): { opened: Promise<void>; ended: Promise<number>; close(): void } {
  let req: http.ClientRequest | undefined;
  let onEnded: (at: number) => void = () => {};
  const ended = new Promise<number>((resolve) => (onEnded = resolve));
  const opened = new Promise<void>((resolve, reject) => {
    req = http.request(
      `${url}/v1/trigger/hold`,
      { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'text/event-stream' }, agent: false },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`stream answered ${res.statusCode}`));
          return;
        }
        let first = false;
        let done = false;
        const finish = () => {
          if (done) return;
          done = true;
          onEnded(performance.now());
        };
        res.setEncoding('utf8');
        res.on('data', (text: string) => {
          if (!first && text.includes('event:')) {
            first = true;
            resolve();
          }
          if (text.includes('event: run.failed') || text.includes('event: run.completed')) finish();
        });
        res.on('end', finish);
        res.on('close', finish);
        res.on('error', finish);
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ message: 'held until revoked' }));
  });
  return { opened, ended, close: () => req?.destroy() };
}

async function revokeOn(server: RunningServer, admin: string, tokenId: string): Promise<number> {
  const res = await fetch(`${server.url}/v1/apps/default/tokens/${tokenId}/revoke`, { method: 'POST', headers: { Authorization: `Bearer ${admin}` } });
  await res.arrayBuffer();
  const at = performance.now();
  if (res.status !== 200) throw new Error(`revoke answered ${res.status}`);
  return at;
}

/** Runs the PostgreSQL section and prints its tables; figures go to the summary through `goal`. */
export async function postgresBench(o: PostgresBenchOptions): Promise<void> {
  let cluster: Awaited<ReturnType<typeof startCluster>>;
  try {
    cluster = await startCluster();
  } catch (error) {
    o.note(`postgres: no throwaway cluster (${(error as Error).message.split('\n')[0]}); section skipped`);
    console.log('\nPostgreSQL: skipped (no cluster could be started; see the notes)');
    return;
  }
  const servers: RunningServer[] = [];
  let services: Services | undefined;
  try {
    const admin = postgres(cluster.url, { max: 1, onnotice: () => {} });
    await admin.unsafe('CREATE DATABASE mm_bench');
    await admin.end({ timeout: 1 });
    const url = cluster.url.replace(/\/postgres$/, '/mm_bench');
    const postmasterPid = Number(fs.readFileSync(path.join(cluster.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    const env = { MM_DATABASE_URL: url };
    services = await openServices(loadConfig({ MM_DATA_DIR: path.join(o.tmpDir, 'pg-seed'), ...env }), { actor: 'cli' });
    const seeded = await (async (s: Services) => {
      await s.pipelines.create('default', { slug: 'hold', kind: 'echo', config: { delay_ms: 60_000 } }, 'cli');
      const values: string[] = [];
      for (let i = 0; i < o.tokenCount; i++) values.push((await s.tokens.create({ app: 'default', name: `pg bench ${i + 1}`, expires: '30d' }, 'cli')).value);
      const adminToken = (await s.tokens.createAdmin({ name: 'pg bench admin', expires: '1d' }, 'cli')).value;
      return { values, adminToken };
    })(services);
    const tokensFile = writeTokensFile(o.scratch, 'pg-tokens.txt', seeded.values);
    const start = async (n: number) => {
      const server = await startServe(path.join(o.tmpDir, `pg-instance-${n}`), { port: await freePort(), env, ...(o.oursBinary ? { binary: o.oursBinary } : {}) });
      servers.push(server);
      return server;
    };
    const [a, b] = [await start(1), await start(2)];
    const targetOf = (server: RunningServer): LoadTarget => ({ url: server.url, path: TRIGGER_PATH, tokens: seeded.values, tokensFile, body: o.body });
    const seconds = o.generator.effectiveSeconds(o.seconds);
    const warmup = o.generator.effectiveSeconds(o.warmupSeconds);

    const measure = async (instances: RunningServer[]): Promise<PgSample> => {
      await Promise.all(instances.map((s) => o.generator.run(targetOf(s), { connections: o.connections, seconds: warmup })));
      const inst0 = instances.map((s) => cpuMicros(s.pid));
      const pg0 = clusterCpu(postmasterPid);
      const results: LoadResult[] = await Promise.all(instances.map((s) => o.generator.run(targetOf(s), { connections: o.connections, seconds })));
      const pg1 = clusterCpu(postmasterPid);
      const inst1 = instances.map((s) => cpuMicros(s.pid));
      const requests = results.reduce((n, r) => n + r.requests, 0);
      const instanceUs = inst1.reduce((n, v, i) => n + v - inst0[i]!, 0);
      const postgresUs = cpuBetween(pg0, pg1);
      const wall = Math.max(...results.map((r) => r.durationS));
      return {
        rps: results.reduce((n, r) => n + r.ok / r.durationS, 0),
        instanceUsPerReq: instanceUs / requests,
        postgresUsPerReq: postgresUs / requests,
        instancesBusy: instanceUs / (wall * 1e6),
        postgresBusy: postgresUs / (wall * 1e6),
        p99Ms: Math.max(...results.map((r) => r.latencyMs.p99)),
        non2xx: results.reduce((n, r) => n + r.non2xx, 0),
        errors: results.reduce((n, r) => n + r.errors, 0),
      };
    };

    // Throughput, one and two instances, interleaved.
    const configs: Array<[string, RunningServer[]]> = [
      ['one instance', [a]],
      ['two instances', [a, b]],
    ];
    const samples = new Map<string, PgSample[]>(configs.map(([name]) => [name, []]));
    // A longer first warm-up (code compiled, pools filled) on both, as the main throughput section does.
    await Promise.all([a, b].map((s) => o.generator.run(targetOf(s), { connections: o.connections, seconds: warmup * 2 })));
    for (let round = 0; round < o.rounds; round++) {
      const order = round % 2 === 0 ? configs : [...configs].reverse();
      for (const [name, instances] of order) {
        const load = os.loadavg()[0]!;
        const s = await measure(instances);
        samples.get(name)!.push(s);
        o.log(`postgres round ${round + 1}/${o.rounds} ${name}: ${fmt(s.rps)} req/s, instance ${fmt(s.instanceUsPerReq, 1)} µs/req + PostgreSQL ${fmt(s.postgresUsPerReq, 1)} µs/req (load ${load.toFixed(2)})`);
      }
    }
    const loadAverage = os.loadavg().map((l) => l.toFixed(2)).join(' ');
    console.log(`\nPostgreSQL: POST ${TRIGGER_PATH} on mechamental serve with MM_DATABASE_URL (a throwaway local cluster: fsync off), ${o.generator.name} with ${o.connections} connections per instance, median of ${o.rounds} × ${seconds} s rounds; load average ${loadAverage}\n`);
    const rows = [...samples].map(([name, list]) => {
      const m = (f: (s: PgSample) => number) => median(list.map(f));
      return [
        name,
        fmt(m((s) => s.rps)),
        fmt(m((s) => s.instanceUsPerReq), 1),
        fmt(m((s) => s.postgresUsPerReq), 1),
        fmt(m((s) => s.instanceUsPerReq + s.postgresUsPerReq), 1),
        `${fmt(m((s) => s.instancesBusy) * 100)} %`,
        `${fmt(m((s) => s.postgresBusy) * 100)} %`,
        fmt(m((s) => s.p99Ms), 2),
        String(list.reduce((n, s) => n + s.non2xx, 0)),
        String(list.reduce((n, s) => n + s.errors, 0)),
      ];
    });
    console.log(table(['instances', 'req/s (sum)', 'instance µs CPU/req', 'PostgreSQL µs CPU/req', 'total µs CPU/req', 'instances CPU', 'PostgreSQL CPU', 'p99 ms (worst wrk)', 'non-2xx', 'errors'], rows));
    for (const [name, list] of samples) {
      o.goal(`postgres ${name}: req/s, µs CPU/req instance + PostgreSQL`, `${fmt(median(list.map((s) => s.rps)))} req/s, ${fmt(median(list.map((s) => s.instanceUsPerReq)), 1)} + ${fmt(median(list.map((s) => s.postgresUsPerReq)), 1)} µs`, 'reported', undefined);
    }

    // Revoke → stream end, across instances.
    const trial = async (): Promise<{ acrossMs: number; sameMs: number }> => {
      const made = await services!.tokens.create({ app: 'default', name: 'pg revoke trial', expires: '1d' }, 'cli');
      const token = { id: made.token.id, value: made.value };
      const onB = openStream(b.url, token.value);
      const onA = openStream(a.url, token.value);
      try {
        await Promise.all([onB.opened, onA.opened]);
        const revokedAt = await revokeOn(a, seeded.adminToken, token.id);
        const deadline = sleep(5_000).then(() => NaN);
        const [endB, endA] = await Promise.all([Promise.race([onB.ended, deadline]), Promise.race([onA.ended, deadline])]);
        return { acrossMs: endB - revokedAt, sameMs: endA - revokedAt };
      } finally {
        onA.close();
        onB.close();
      }
    };
    const idle: Array<{ acrossMs: number; sameMs: number }> = [];
    for (let i = 0; i < o.trials; i++) idle.push(await trial());
    // The same under load: wrk on both instances (the other tokens) while the trials run.
    const loaded: Array<{ acrossMs: number; sameMs: number }> = [];
    // About half a second per trial under load (a token, two streams, a revoke), up to o.trials of them.
    const loadSeconds = Math.max(5, Math.ceil(o.trials * 0.5));
    const background = Promise.all([a, b].map((s) => o.generator.run(targetOf(s), { connections: o.connections, seconds: loadSeconds })));
    let backgroundDone = false;
    void background.finally(() => (backgroundDone = true));
    await sleep(500);
    while (!backgroundDone && loaded.length < o.trials) loaded.push(await trial());
    const bg = await background;
    const revokeLoad = os.loadavg().map((l) => l.toFixed(2)).join(' ');
    const describe = (list: Array<{ acrossMs: number; sameMs: number }>, key: 'acrossMs' | 'sameMs') => {
      const values = list.map((t) => t[key]);
      const missing = values.filter((v) => Number.isNaN(v)).length;
      const ok = values.filter((v) => !Number.isNaN(v));
      return { text: `p50 ${fmt(percentile(ok, 50), 1)} ms, p99 ${fmt(percentile(ok, 99), 1)} ms, max ${fmt(Math.max(...ok), 1)} ms (${ok.length} trials${missing ? `, ${missing} streams NOT ended within 5 s` : ''})`, p99: percentile(ok, 99), missing };
    };
    const idleAcross = describe(idle, 'acrossMs');
    const loadedAcross = describe(loaded, 'acrossMs');
    console.log(`\nPostgreSQL: revoke on instance A (admin API) → SSE stream on the token ended, from the revoke's answer; load average ${revokeLoad}\n`);
    console.log(
      table(
        ['condition', 'stream on B (the other instance)', 'stream on A (the revoking instance)'],
        [
          ['idle', idleAcross.text, describe(idle, 'sameMs').text],
          [`wrk on both (${fmt(bg.reduce((n, r) => n + r.ok / r.durationS, 0))} req/s)`, loadedAcross.text, describe(loaded, 'sameMs').text],
        ],
      ),
    );
    o.goal('postgres: revoke on A → stream on B ended, p99 (idle)', idleAcross.text, '≤ 250 ms', idleAcross.p99 <= 250 && idleAcross.missing === 0);
    if (loaded.length > 0) o.goal('postgres: the same under load on both', loadedAcross.text, '≤ 250 ms', loadedAcross.p99 <= 250 && loadedAcross.missing === 0);
  } finally {
    for (const server of servers) await server.stop();
    await services?.close();
    cluster.remove();
  }
}
