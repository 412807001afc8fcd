// Soak: SOAK_SECONDS (300) of mixed traffic — JSON and SSE triggers, clients that go away mid-run,
// `command` pipelines (`cat`, and `sleep 5` that is always abandoned) so that child processes are
// started and killed, idempotent retries, admin reads and /metrics. Promises, once the traffic
// stops and the server has had a few seconds to settle: no child process of the server left
// (`/proc/<pid>/task/*/children`), no more open file descriptors than before the traffic
// (`/proc/<pid>/fd`), the open-streams gauge at 0, no 5xx, the server alive, and the runs it keeps
// within MM_RUN_MEMORY (memory levels off: RSS is sampled every 30 s and printed). Run alone: node --import tsx test/reliability/soak.ts
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config';
import { freePort, killAll, sleep } from '../bench/lib/proc';
import { alive, childPids, fdCount, rssKiB } from '../bench/lib/procfs';
import { makeTempDir, startServe, withServices } from '../bench/lib/servers';
import { prng } from '../bench/lib/stats';
import { request, type RequestOptions } from './lib/http';
import { figure, newReport, promise, runAsScript, scanLog, type Report } from './lib/report';

async function gauge(port: number, name = 'mechamental_sse_streams_open'): Promise<number> {
  const answer = await request(port, { path: '/metrics', timeoutMs: 10_000 });
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(answer.body);
  return match ? Number(match[1]) : NaN;
}

export async function soak(): Promise<Report> {
  const seconds = Number(process.env.SOAK_SECONDS ?? 300);
  const report = newReport(`soak (${seconds} s of mixed JSON/SSE traffic with aborts and command pipelines)`);
  const concurrency = Number(process.env.SOAK_CONCURRENCY ?? 24);
  const random = prng(Number(process.env.SOAK_SEED ?? 77));
  const runMemory = loadConfig({ MM_RUN_MEMORY: process.env.MM_RUN_MEMORY }).runMemoryBytes;
  const tmp = makeTempDir('mm-soak-');
  const dataDir = path.join(tmp.dir, 'data');
  const logFile = path.join(tmp.dir, 'server.log');
  try {
    const { trigger, admin } = await withServices(dataDir, async (s) => {
      await s.pipelines.create('default', { slug: 'slow', kind: 'echo', config: { delay_ms: 40 } }, 'cli');
      await s.pipelines.create('default', { slug: 'cat', kind: 'command', config: { argv: ['cat'], timeout_ms: 10_000 } }, 'cli');
      await s.pipelines.create('default', { slug: 'sleeper', kind: 'command', config: { argv: ['sleep', '5'], timeout_ms: 20_000 } }, 'cli');
      return {
        trigger: (await s.tokens.create({ app: 'default', name: 'soak', expires: '1d' }, 'cli')).value,
        admin: (await s.tokens.createAdmin({ name: 'soak', expires: '1d' }, 'cli')).value,
      };
    });
    const port = await freePort();
    const server = await startServe(dataDir, { port, logFile, env: { MM_LOG_LEVEL: 'warn', ...(process.env.MM_RUN_MEMORY ? { MM_RUN_MEMORY: process.env.MM_RUN_MEMORY } : {}) } });
    const pid = server.pid;
    let died = false;
    server.child.once('exit', () => (died = true));

    const counts = new Map<string, { n: number; ok: number; aborted: number; bad: number }>();
    const bad: string[] = [];
    let fiveXX = 0;
    let total = 0;
    let maxChildren = 0;
    const post = (pipeline: string, body: unknown, sse: boolean, extra: Partial<RequestOptions> = {}): RequestOptions => ({
      method: 'POST',
      path: `/v1/trigger/${pipeline}`,
      headers: { authorization: `Bearer ${trigger}`, 'content-type': 'application/json', ...(sse ? { accept: 'text/event-stream' } : {}) },
      body: JSON.stringify(body),
      timeoutMs: 30_000,
      ...extra,
    });
    // name, weight, request, what a complete answer must look like
    const mix: Array<[string, number, () => RequestOptions, (a: { status: number; events: string[]; body: string }) => boolean]> = [
      ['json echo', 30, () => post('chat', { message: 'soak hello' }, false), (a) => a.status === 200 && a.body.includes('"output":"soak hello"')],
      ['json cat', 10, () => post('cat', { n: 1 }, false), (a) => a.status === 200 && a.body.includes('\\"n\\":1')],
      ['sse echo', 15, () => post('chat', { message: 'one two three' }, true), (a) => a.status === 200 && a.events.join(',') === 'run.started,message.delta,message.delta,message.delta,run.completed'],
      ['sse cat', 8, () => post('cat', { line: 'x' }, true), (a) => a.status === 200 && a.events.at(-1) === 'run.completed'],
      ['sse slow, client leaves', 10, () => post('slow', { message: 'a b c d e f g h i j' }, true, { abortAfterMs: Math.floor(random() * 300) }), (a) => a.status === 200],
      ['sse sleep 5, client leaves', 8, () => post('sleeper', {}, true, { abortAfterMs: 50 + Math.floor(random() * 1_000) }), (a) => a.status === 200],
      ['json sleep 5, client leaves', 5, () => post('sleeper', {}, false, { abortAfterMs: 50 + Math.floor(random() * 1_000) }), (a) => a.status === 200],
      ['json echo, client leaves at once', 4, () => post('slow', { message: 'a b c' }, false, { abortAfterMs: Math.floor(random() * 60) }), (a) => a.status === 200],
      [
        'json idempotent, keys retried',
        5,
        () => {
          const options = post('chat', { message: 'soak hello' }, false);
          return { ...options, headers: { ...options.headers, 'idempotency-key': `soak-${Math.floor(random() * 200)}` } };
        },
        // A key retried while its first run is going is 409; its body is always the same, so never 422.
        (a) => (a.status === 200 && a.body.includes('"output":"soak hello"')) || a.status === 409,
      ],
      ['admin list tokens', 5, () => ({ path: '/v1/apps/default/tokens', headers: { authorization: `Bearer ${admin}` } }), (a) => a.status === 200],
      ['metrics', 3, () => ({ path: '/metrics' }), (a) => a.status === 200],
      ['unauthenticated', 2, () => ({ method: 'POST', path: '/v1/trigger/chat', headers: { 'content-type': 'application/json' }, body: '{}' }), (a) => a.status === 401],
    ];
    const weightSum = mix.reduce((a, m) => a + m[1], 0);
    const choose = () => {
      let x = random() * weightSum;
      for (const m of mix) if ((x -= m[1]) < 0) return m;
      return mix[0]!;
    };

    let stop = false;
    const worker = async () => {
      while (!stop && !died) {
        const [name, , make, good] = choose();
        const c = counts.get(name) ?? { n: 0, ok: 0, aborted: 0, bad: 0 };
        counts.set(name, c);
        c.n++;
        total++;
        try {
          const answer = await request(port, make());
          if (answer.status >= 500) {
            fiveXX++;
            bad.push(`${name}: ${answer.status} ${answer.body.slice(0, 200)}`);
          }
          if (answer.aborted) c.aborted++;
          else if (good(answer)) c.ok++;
          else {
            c.bad++;
            if (bad.length < 20) bad.push(`${name}: ${answer.status} ${answer.body.slice(0, 200)}`);
          }
        } catch (error) {
          c.bad++;
          if (bad.length < 20) bad.push(`${name}: ${(error as Error).message}`);
        }
      }
    };

    // Warm-up, then the baseline at rest.
    const warm = Array.from({ length: 4 }, worker);
    await sleep(3_000);
    stop = true;
    await Promise.all(warm);
    await sleep(6_000); // `sleep 5` children from the warm-up are gone by now
    const fdBefore = fdCount(pid);
    const rssBefore = rssKiB(pid);
    const childrenBefore = childPids(pid).length;
    counts.clear();
    total = 0;

    stop = false;
    const started = Date.now();
    const workers = Array.from({ length: concurrency }, worker);
    let lastReport = Date.now();
    const rssSeries: number[] = [];
    while (Date.now() - started < seconds * 1000 && !died) {
      await sleep(500);
      maxChildren = Math.max(maxChildren, childPids(pid).length);
      if (Date.now() - lastReport >= 30_000) {
        lastReport = Date.now();
        rssSeries.push(rssKiB(pid));
        process.stderr.write(`[soak] ${Math.round((Date.now() - started) / 1000)} s, ${total} requests, fds ${fdCount(pid)}, children ${childPids(pid).length}, RSS ${(rssKiB(pid) / 1024).toFixed(1)} MiB\n`);
      }
    }
    stop = true;
    await Promise.all(workers);
    const elapsed = (Date.now() - started) / 1000;

    // Settle: aborted runs are killed at once; give the event loop and the kernel a moment.
    let children = childPids(pid).length;
    let fdAfter = fdCount(pid);
    let streamsOpen = await gauge(port);
    for (let i = 0; i < 40 && (children > childrenBefore || fdAfter > fdBefore || streamsOpen !== 0); i++) {
      await sleep(250);
      children = childPids(pid).length;
      fdAfter = fdCount(pid);
      streamsOpen = await gauge(port);
    }
    const rssAfter = rssKiB(pid);
    const keptBytes = await gauge(port, 'mechamental_runs_kept_bytes');
    const keptRuns = await gauge(port, 'mechamental_runs_kept');
    const stillAlive = !died && alive(pid);
    await server.stop();
    const log = scanLog(logFile);

    figure(report, 'duration', `${elapsed.toFixed(0)} s, ${concurrency} concurrent clients`);
    figure(report, 'requests', total);
    for (const [name, c] of counts) figure(report, `  ${name}`, `${c.n} (complete and right ${c.ok}, client left ${c.aborted}, wrong ${c.bad})`);
    figure(report, '5xx answers', fiveXX);
    figure(report, 'child processes: before / most at once / after', `${childrenBefore} / ${maxChildren} / ${children}`);
    figure(report, 'open fds: before / after', `${fdBefore} / ${fdAfter}`);
    figure(report, 'open streams gauge after', streamsOpen);
    figure(report, 'RSS before / after', `${(rssBefore / 1024).toFixed(1)} / ${(rssAfter / 1024).toFixed(1)} MiB`);
    figure(report, 'RSS every 30 s', rssSeries.map((kib) => (kib / 1024).toFixed(0)).join(' → ') + ' MiB');
    figure(report, 'runs kept at the end', `${keptRuns} counting ${(keptBytes / 1_048_576).toFixed(1)} MiB of MM_RUN_MEMORY ${(runMemory / 1_048_576).toFixed(0)} MiB`);
    figure(report, 'server log lines at level error', log.errors.length);
    promise(report, stillAlive, 'the server exited during the soak');
    promise(report, fiveXX === 0, `${fiveXX} answers ≥ 500: ${bad.slice(0, 3).join(' | ')}`);
    promise(report, children <= childrenBefore, `${children - childrenBefore} child processes leaked`);
    promise(report, fdAfter <= fdBefore, `${fdAfter - fdBefore} file descriptors leaked (${fdBefore} → ${fdAfter})`);
    promise(report, keptBytes <= runMemory, `the runs kept count ${keptBytes} bytes, over MM_RUN_MEMORY (${runMemory})`);
    promise(report, streamsOpen === 0, `the open-streams gauge reads ${streamsOpen} with no client connected`);
    const wrong = [...counts.values()].reduce((a, c) => a + c.bad, 0);
    promise(report, wrong === 0, `${wrong} wrong answers: ${bad.slice(0, 3).join(' | ')}`);
    if (log.errors.length) for (const line of log.errors.slice(0, 3)) console.log(`  server error log: ${line}`);
    return report;
  } finally {
    killAll();
    await sleep(100);
    tmp.cleanup();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) runAsScript(soak, killAll);
