// A/B of two builds of mechamental on the bench's trigger load: `node --import tsx test/bench/ab.ts
// BINARY_A BINARY_B [ROUNDS] [SECONDS]`. Both serve the same fresh data directory (100 tokens, an
// echo pipeline), access log on, stdout to /dev/null; wrk loads one at a time in rounds whose order
// alternates, each round preceded by 1 s of warm-up. Prints per-round and median req/s and server
// CPU µs per request, with the load average: how each hot-path step was judged (docs/benchmarks.md).
// AB_ACCEPT=text/event-stream loads the trigger's event stream instead of its JSON answer.
import os from 'node:os';
import path from 'node:path';
import { pickLoadGenerator, writeTokensFile } from './lib/load';
import { freePort, killAll, PINNING } from './lib/proc';
import { cpuMicros } from './lib/procfs';
import { makeTempDir, startServe, withServices, type RunningServer } from './lib/servers';
import { fmt, median } from './lib/stats';

const binA = process.argv[2] ?? '';
const binB = process.argv[3] ?? '';
if (!binA || !binB) throw new Error('usage: ab.ts BINARY_A BINARY_B [ROUNDS] [SECONDS]');
const rounds = Number(process.argv[4] ?? 6);
const seconds = Number(process.argv[5] ?? 3);
const BODY = JSON.stringify({ message: 'hello world' });

async function main(): Promise<void> {
  const tmp = makeTempDir('mm-ab-');
  try {
    const dataDir = path.join(tmp.dir, 'data');
    const tokens = await withServices(dataDir, async (s) => {
      const values: string[] = [];
      for (let i = 0; i < 100; i++) values.push((await s.tokens.create({ app: 'default', name: `ab ${i}`, expires: '30d' }, 'cli')).value);
      return values;
    });
    const tokensFile = writeTokensFile(tmp.dir, 'tokens.txt', tokens);
    const { generator } = pickLoadGenerator();
    const servers: Array<[string, RunningServer]> = [];
    for (const [name, bin] of [['A', binA], ['B', binB]] as const) servers.push([name, await startServe(dataDir, { port: await freePort(), binary: path.resolve(bin), cpu: PINNING?.server })]);
    const results = new Map<string, Array<{ rps: number; cpu: number }>>([['A', []], ['B', []]]);
    const load = (s: RunningServer, secs: number) => generator.run({ url: s.url, path: '/v1/trigger/chat', tokens, tokensFile, body: BODY, accept: process.env.AB_ACCEPT || undefined, cpu: PINNING?.load }, { connections: 50, seconds: secs });
    for (const [, s] of servers) await load(s, 2);
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? servers : [...servers].reverse();
      for (const [name, s] of order) {
        await load(s, 1);
        const c0 = cpuMicros(s.pid);
        const r = await load(s, seconds);
        const c1 = cpuMicros(s.pid);
        results.get(name)!.push({ rps: r.ok / r.durationS, cpu: (c1 - c0) / r.requests });
        console.log(`round ${round + 1} ${name}: ${fmt(r.ok / r.durationS)} req/s, ${fmt((c1 - c0) / r.requests, 1)} µs CPU/req, non-2xx ${r.non2xx}, load ${os.loadavg()[0]!.toFixed(2)}`);
      }
    }
    const m = (name: string, f: (x: { rps: number; cpu: number }) => number) => median(results.get(name)!.map(f));
    console.log(`A ${binA}: median ${fmt(m('A', (x) => x.rps))} req/s, ${fmt(m('A', (x) => x.cpu), 1)} µs CPU/req`);
    console.log(`B ${binB}: median ${fmt(m('B', (x) => x.rps))} req/s, ${fmt(m('B', (x) => x.cpu), 1)} µs CPU/req`);
    console.log(`B ÷ A: req/s ${fmt(m('B', (x) => x.rps) / m('A', (x) => x.rps), 3)}×, CPU/req ${fmt(m('B', (x) => x.cpu) / m('A', (x) => x.cpu), 3)}× (load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')})`);
    for (const [, s] of servers) await s.stop();
  } finally {
    killAll();
    tmp.cleanup();
  }
}

main().then(() => process.exit(0), (error: unknown) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  killAll();
  process.exit(1);
});
