// Fuzz: FUZZ_REQUESTS (100,000) generated requests against every route over raw `net` sockets
// (one connection each, so malformed HTTP is possible): random methods, header sets, malformed
// Authorization values, wrong content types, truncated / huge / invalid-UTF-8 bodies, broken
// framing, slow clients, clients that leave early. Promises: no answer ≥ 500, the server never
// exits, and its RSS after the run is within 20 % of before ("before" being the peak RSS over the
// first fifth of the run, so that lazily built state and the GC sawtooth are not counted as growth).
// Deterministic: FUZZ_SEED (printed) replays the same requests.
// Run alone: node --import tsx test/reliability/fuzz.ts
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, killAll, sleep } from '../bench/lib/proc';
import { alive, rssKiB } from '../bench/lib/procfs';
import { makeTempDir, startServe, withServices } from '../bench/lib/servers';
import { prng } from '../bench/lib/stats';
import { generate, type FuzzContext, type FuzzRequest } from './lib/fuzz-gen';
import { figure, newReport, promise, runAsScript, scanLog, type Report } from './lib/report';

interface Outcome {
  status: number; // 0: no status line (closed, reset or timed out without an answer)
  timedOut: boolean;
  later5xx: number;
}

/**
 * Sends one raw request on a new connection; resolves with the first final (non-1xx) status code,
 * and counts any later 5xx status line (pipelined answers). Once an answer has started, the
 * connection is dropped after 200 ms of silence (a kept-alive connection would otherwise idle).
 */
function send(port: number, request: FuzzRequest, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let received = '';
    let status = 0;
    let later5xx = 0;
    let complete = false;
    let bodyLeft = Infinity;
    let done = false;
    let idle: NodeJS.Timeout | undefined;
    const finish = (timedOut = false) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(idle);
      socket.destroy();
      resolve({ status, timedOut, later5xx });
    };
    const timer = setTimeout(() => finish(true), timeoutMs);
    socket.on('error', () => finish());
    socket.on('close', () => finish());
    socket.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      if (status === 0) {
        received += text;
        const match = /^HTTP\/1\.[01] (\d{3})[^\r]*\r\n(?:[^\r]*\r\n)*?\r\n/.exec(received);
        if (match) {
          const code = Number(match[1]);
          if (code >= 100 && code < 200) {
            received = received.slice(match[0].length); // 100 Continue: the final answer follows
            return;
          }
          status = code;
          if (request.delivery.kind === 'abort-on-status') return finish();
          const length = /\r\ncontent-length: *(\d+)/i.exec(match[0]);
          const rest = Buffer.byteLength(received.slice(match[0].length), 'latin1');
          complete = length !== null && rest >= Number(length[1]);
          bodyLeft = length === null ? Infinity : Number(length[1]) - rest;
          received = '';
        } else if (received.length > 64 && !received.startsWith('HTTP/')) {
          status = -1; // not HTTP at all
        } else {
          return;
        }
      } else {
        for (const m of text.matchAll(/HTTP\/1\.[01] (5\d\d) /g)) if (m) later5xx++;
        bodyLeft -= chunk.length;
        if (bodyLeft <= 0) complete = true;
      }
      // A complete answer: linger briefly for pipelined ones; otherwise wait for more.
      clearTimeout(idle);
      idle = setTimeout(() => finish(), complete ? 25 : 200);
    });
    socket.on('connect', async () => {
      const { bytes, delivery } = request;
      try {
        if (delivery.kind === 'slow') {
          const size = Math.ceil(bytes.length / delivery.pieces);
          for (let i = 0; i < bytes.length && !done; i += size) {
            socket.write(bytes.subarray(i, i + size));
            await sleep(delivery.pauseMs);
          }
        } else if (delivery.kind === 'truncate') {
          socket.end(bytes.subarray(0, delivery.keep));
        } else {
          socket.write(bytes);
        }
      } catch {
        finish();
      }
    });
  });
}

export async function fuzz(): Promise<Report> {
  const report = newReport('fuzz (generated requests against every route)');
  const total = Number(process.env.FUZZ_REQUESTS ?? 100_000);
  const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const workers = Number(process.env.FUZZ_CONCURRENCY ?? 48);
  console.log(`fuzz seed ${seed} (replay with FUZZ_SEED=${seed}), ${total} requests, ${workers} at a time`);
  const tmp = makeTempDir('mm-fuzz-');
  const dataDir = path.join(tmp.dir, 'data');
  const logFile = path.join(tmp.dir, 'server.log');
  try {
    const ctx: Omit<FuzzContext, 'port'> = await withServices(dataDir, async (s) => {
      const revoked = await s.tokens.create({ app: 'default', name: 'fuzz revoked', expires: '1d' }, 'cli');
      await s.tokens.revoke(revoked.token.id, 'cli');
      await s.pipelines.create('default', { slug: 'fz', kind: 'echo', config: { delay_ms: 5 } }, 'cli');
      await s.pipelines.create('default', { slug: 'fz-cat', kind: 'command', config: { argv: ['cat'], timeout_ms: 5_000 } }, 'cli');
      const victimIds: string[] = [];
      for (let i = 0; i < 20; i++) victimIds.push((await s.tokens.create({ app: 'default', name: `victim ${i}`, expires: '30d' }, 'cli')).token.id);
      return {
        trigger: (await s.tokens.create({ app: 'default', name: 'fuzz', expires: '30d' }, 'cli')).value,
        admin: (await s.tokens.createAdmin({ name: 'fuzz', expires: '1d' }, 'cli')).value,
        revoked: revoked.value,
        victimIds,
      };
    });
    const port = await freePort();
    const server = await startServe(dataDir, { port, logFile, env: { MM_LOG_LEVEL: 'warn' } });
    const context: FuzzContext = { ...ctx, port };
    const random = prng(seed);
    const rssStart = rssKiB(server.pid);
    const statuses = new Map<number, number>();
    const failures: string[] = [];
    let sent = 0;
    let timeouts = 0;
    const timeoutKinds = new Map<string, number>();
    let next = 0;
    let serverDied = false;
    let last = Date.now();
    const started = Date.now();
    server.child.once('exit', () => (serverDied = true));

    const worker = async (limit: number) => {
      while (next < limit && !serverDied) {
        const index = next++;
        const request = generate(random, context);
        const outcome = await send(port, request, request.delivery.kind === 'slow' ? 8_000 : 2_000);
        sent++;
        if (outcome.timedOut) {
          timeouts++;
          const key = `${request.delivery.kind}${outcome.status ? ' after an answer' : ' without an answer'}: ${request.label.split(' ').slice(0, 1).join('')} ${request.label.split(' ').slice(2).join(' ')}`;
          timeoutKinds.set(key, (timeoutKinds.get(key) ?? 0) + 1);
        }
        if (outcome.later5xx > 0) failures.push(`#${index} a later pipelined answer was 5xx: ${request.label}`);
        statuses.set(outcome.status, (statuses.get(outcome.status) ?? 0) + 1);
        if (outcome.status >= 500) failures.push(`#${index} ${outcome.status}: ${request.label}`);
        if (Date.now() - last > 10_000) {
          last = Date.now();
          process.stderr.write(`[fuzz] ${sent}/${total} sent, RSS ${(rssKiB(server.pid) / 1024).toFixed(1)} MiB, ≥500: ${failures.length}\n`);
        }
      }
    };
    // Request i is generated when index i is taken, from the one seeded PRNG, so a seed always
    // yields the same requests (only which connection carries which varies).
    const warmUp = Math.floor(total / 10);
    // RSS under load is a garbage-collection sawtooth (±10 % here from one moment to the next), so
    // "before" is the highest of the samples taken over the first fifth of the run, not one sample
    // at an arbitrary phase: a real leak still shows as growth well past that early peak.
    let rssBefore = 0;
    const sampler = setInterval(() => {
      if (sent <= total / 5) rssBefore = Math.max(rssBefore, rssKiB(server.pid));
    }, 250);
    await Promise.all(Array.from({ length: workers }, () => worker(warmUp)));
    await Promise.all(Array.from({ length: workers }, () => worker(total)));
    clearInterval(sampler);
    rssBefore = Math.max(rssBefore, 1);
    const seconds = (Date.now() - started) / 1000;
    await sleep(3_000);
    const rssAfter = rssKiB(server.pid);
    const stillAlive = !serverDied && alive(server.pid);
    let healthy = false;
    try {
      healthy = (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200;
    } catch {
      healthy = false;
    }
    await server.stop();
    const log = scanLog(logFile);
    const growth = (rssAfter - rssBefore) / rssBefore;
    const histogram = [...statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s === 0 ? 'none' : s === -1 ? 'non-HTTP' : s}:${n}`).join(' ');

    figure(report, 'seed', String(seed));
    figure(report, 'requests sent', `${sent} in ${seconds.toFixed(1)} s`);
    figure(report, 'answers by status', histogram);
    figure(report, 'answers ≥ 500', failures.length);
    figure(report, 'no answer within the timeout (truncated/slow requests the server waits on)', timeouts);
    figure(report, 'server alive and healthy at the end', stillAlive && healthy ? 'yes' : 'NO');
    figure(report, 'server log lines at level error', log.errors.length);
    figure(report, 'RSS at start / early peak (first fifth of the run) / after', `${(rssStart / 1024).toFixed(1)} / ${(rssBefore / 1024).toFixed(1)} / ${(rssAfter / 1024).toFixed(1)} MiB (${(growth * 100).toFixed(1)} %)`);
    promise(report, failures.length === 0, `${failures.length} answers ≥ 500, e.g. ${failures.slice(0, 5).join(' | ')}`);
    promise(report, stillAlive && healthy, 'the server exited or stopped answering /healthz');
    promise(report, Math.abs(growth) <= 0.2, `RSS changed by ${(growth * 100).toFixed(1)} % (limit 20 %)`);
    promise(report, sent >= total, `only ${sent} of ${total} requests were sent`);
    for (const [k, n] of [...timeoutKinds].sort((a, b) => b[1] - a[1]).slice(0, 8)) console.log(`  no answer in time: ${n}× ${k}`);
    if (log.errors.length) for (const line of log.errors.slice(0, 3)) console.log(`  server error log: ${line}`);
    return report;
  } finally {
    killAll();
    await sleep(100);
    tmp.cleanup();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) runAsScript(fuzz, killAll);
