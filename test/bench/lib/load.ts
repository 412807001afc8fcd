// The bench's closed-loop load: wrk when it is installed, autocannon (in this process) otherwise,
// behind one interface so that every section reads the same figures from either.
import autocannon from 'autocannon';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { findWrk, runWrk, WRK_INSTALL_HINT } from './wrk';

/** What to load: a URL path on a server, the tokens to rotate through, the JSON body. */
export interface LoadTarget {
  url: string;
  path: string;
  tokens: readonly string[];
  /** The same tokens, one per line (wrk and mmload read them from a file). */
  tokensFile: string;
  body: string;
  /** An Accept header to send (text/event-stream: the trigger's event stream); none when absent. */
  accept?: string;
  /** The CPU the load generator runs on (PINNING.load when the server is pinned); autocannon runs in this process, unpinned. */
  cpu?: number;
}

export interface LoadResult {
  /** Answers received (any status). */
  requests: number;
  /** Answers with a 2xx status. */
  ok: number;
  non2xx: number;
  /** Connection errors and timeouts. */
  errors: number;
  durationS: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** The load generator's CPU time over wall time (1.0 = a core): near 1, it may have been the limit. */
  generatorBusy: number;
}

export interface LoadGenerator {
  name: 'wrk' | 'autocannon';
  /** One line for the report: the tool, its version, where it runs. */
  description: string;
  /** wrk takes whole seconds: a duration it will actually run for. */
  effectiveSeconds(seconds: number): number;
  run(target: LoadTarget, options: { connections: number; seconds: number }): Promise<LoadResult>;
}

/** Writes `tokens` one per line to a 0600 file in `dir` (a private temp dir) and returns its path. */
export function writeTokensFile(dir: string, name: string, tokens: readonly string[]): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `${tokens.join('\n')}\n`, { mode: 0o600 });
  return file;
}

function wrkGenerator(version: string): LoadGenerator {
  return {
    name: 'wrk',
    description: `wrk ${version} (C, a separate process, 1 thread)`,
    effectiveSeconds: (seconds) => Math.max(1, Math.ceil(seconds)),
    async run(target, { connections, seconds }) {
      const result = await runWrk({ url: `${target.url}${target.path}`, tokensFile: target.tokensFile, body: target.body, accept: target.accept, connections, seconds, cpu: target.cpu });
      const e = result.socketErrors;
      return {
        requests: result.requests,
        ok: result.requests - result.non2xx,
        non2xx: result.non2xx,
        errors: e.connect + e.read + e.write + e.timeout,
        durationS: result.durationS,
        latencyMs: { p50: result.latencyUs.p50 / 1000, p90: result.latencyUs.p90 / 1000, p99: result.latencyUs.p99 / 1000, max: result.latencyUs.max / 1000 },
        generatorBusy: result.cpuUs / (result.durationS * 1e6),
      };
    },
  };
}

const autocannonGenerator: LoadGenerator = {
  name: 'autocannon',
  description: 'autocannon 8 (JavaScript, in the bench process: it saturates before a fast server does)',
  effectiveSeconds: (seconds) => seconds,
  async run(target, { connections, seconds }) {
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    // Each connection cycles through the list: one pre-built request per token.
    const requests = target.tokens.map((token) => ({
      method: 'POST',
      path: target.path,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...(target.accept ? { accept: target.accept } : {}) },
      body: target.body,
    }));
    const result = await autocannon({ url: target.url, connections, duration: seconds, timeout: 10, requests });
    const cpu = process.cpuUsage(cpu0);
    const wallS = (performance.now() - wall0) / 1000;
    return {
      requests: result['2xx'] + result.non2xx,
      ok: result['2xx'],
      non2xx: result.non2xx,
      errors: result.errors,
      durationS: result.duration,
      latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
      generatorBusy: (cpu.user + cpu.system) / (wallS * 1e6),
    };
  },
};

/**
 * wrk when it is on PATH, else autocannon; `BENCH_LOADGEN=autocannon` (or `wrk`) forces one.
 * `fallbackReason` says why autocannon was used, with the install command.
 */
export function pickLoadGenerator(choice = process.env.BENCH_LOADGEN): { generator: LoadGenerator; fallbackReason?: string } {
  if (choice !== undefined && choice !== '' && choice !== 'wrk' && choice !== 'autocannon') {
    throw new Error(`BENCH_LOADGEN=${choice}: expected wrk or autocannon`);
  }
  if (choice === 'autocannon') return { generator: autocannonGenerator, fallbackReason: 'BENCH_LOADGEN=autocannon' };
  const wrk = findWrk();
  if (wrk) return { generator: wrkGenerator(wrk.version) };
  if (choice === 'wrk') throw new Error(`BENCH_LOADGEN=wrk but wrk is not installed: ${WRK_INSTALL_HINT}`);
  return { generator: autocannonGenerator, fallbackReason: `wrk is not installed (${WRK_INSTALL_HINT})` };
}
