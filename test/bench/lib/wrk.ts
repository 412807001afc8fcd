// wrk (the C load generator, Debian package `wrk`): finding it, running it with the trigger
// script (wrk-trigger.lua), and reading its output.
//
// wrk is closed-loop: each connection sends its next request when the previous answer arrives, so
// what it measures is throughput at saturation. One wrk thread on a 2-core machine leaves the
// other core to the server under test.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnChild } from './proc';

export const WRK_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'wrk-trigger.lua');
export const WRK_INSTALL_HINT = 'apt-get install wrk';

/** What wrk reported for one run. Latencies in microseconds. */
export interface WrkSummary {
  requests: number;
  durationS: number;
  requestsPerSecond: number;
  /** Answers with a status outside 2xx/3xx (wrk's "Non-2xx or 3xx responses", errors.status). */
  non2xx: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  latencyUs: { mean: number; max: number; p50: number; p75: number; p90: number; p99: number; p999?: number };
}

/** `wrk` on PATH: its version string, or undefined when it is not installed. */
export function findWrk(): { version: string } | undefined {
  const probe = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
  if (probe.error) return undefined; // ENOENT: not installed. (wrk --version itself exits 1.)
  const match = /^wrk (\S+)/m.exec(`${probe.stdout}${probe.stderr}`);
  return { version: match?.[1] ?? 'unknown version' };
}

const TIME_UNITS: Record<string, number> = { us: 1, ms: 1_000, s: 1_000_000, m: 60_000_000, h: 3_600_000_000 };
const COUNT_UNITS: Record<string, number> = { '': 1, k: 1_000, M: 1_000_000, G: 1_000_000_000 };

/** "652.47us", "2.45ms", "1.02s", "1.50m" → microseconds. */
export function parseWrkTime(text: string): number {
  const match = /^(-?[\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (!match) throw new Error(`not a wrk time: "${text}"`);
  return Number(match[1]) * TIME_UNITS[match[2]!]!;
}

/** "76.89k", "2.13M", "812" → a number. */
export function parseWrkCount(text: string): number {
  const match = /^([\d.]+)([kMG]?)$/.exec(text.trim());
  if (!match) throw new Error(`not a wrk count: "${text}"`);
  return Number(match[1]) * COUNT_UNITS[match[2]!]!;
}

/** Reads the JSON line that wrk-trigger.lua's done() prints ("WRK_JSON {…}"). */
export function parseWrkJson(line: string): WrkSummary {
  const raw = JSON.parse(line.replace(/^WRK_JSON /, '')) as {
    requests: number;
    duration_us: number;
    errors: { connect: number; read: number; write: number; status: number; timeout: number };
    latency_us: Record<string, number>;
  };
  const l = raw.latency_us;
  const durationS = raw.duration_us / 1e6;
  return {
    requests: raw.requests,
    durationS,
    requestsPerSecond: durationS > 0 ? raw.requests / durationS : NaN,
    non2xx: raw.errors.status,
    socketErrors: { connect: raw.errors.connect, read: raw.errors.read, write: raw.errors.write, timeout: raw.errors.timeout },
    latencyUs: { mean: l.mean!, max: l.max!, p50: l['50']!, p75: l['75']!, p90: l['90']!, p99: l['99']!, p999: l['99.9']! },
  };
}

/**
 * Reads wrk's own text report (run with `--latency`), for when no script printed JSON. Throws when
 * the text is not a finished wrk report, with the start of the text in the message.
 */
export function parseWrkText(text: string): WrkSummary {
  const fail = (what: string): never => {
    throw new Error(`could not read wrk's report: ${what} (it began: ${JSON.stringify(text.slice(0, 160))})`);
  };
  const total = /^\s*(\d+) requests in ([\d.]+(?:us|ms|s|m|h)),/m.exec(text) ?? fail('no "N requests in T" line');
  const latency = /^\s*Latency\s+([\d.]+(?:us|ms|s|m|h))\s+(\S+)\s+(\S+)/m.exec(text) ?? fail('no "Latency" line in the thread stats');
  const percentile = (p: string) => {
    const match = new RegExp(`^\\s*${p.replace('.', '\\.')}%\\s+(\\S+)\\s*$`, 'm').exec(text) ?? fail(`no ${p}% line (was wrk run with --latency?)`);
    return parseWrkTime(match[1]!);
  };
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(text) ?? fail('no "Requests/sec" line');
  return {
    requests: Number(total[1]),
    durationS: parseWrkTime(total[2]!) / 1e6,
    requestsPerSecond: Number(rps[1]),
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    socketErrors: socket
      ? { connect: Number(socket[1]), read: Number(socket[2]), write: Number(socket[3]), timeout: Number(socket[4]) }
      : { connect: 0, read: 0, write: 0, timeout: 0 },
    latencyUs: { mean: parseWrkTime(latency[1]!), max: parseWrkTime(latency[3]!), p50: percentile('50'), p75: percentile('75'), p90: percentile('90'), p99: percentile('99') },
  };
}

/** wrk's output: the script's JSON line when there is one (exact figures), else the text report. */
export function parseWrkOutput(stdout: string): WrkSummary {
  const line = stdout.split('\n').find((l) => l.startsWith('WRK_JSON '));
  return line ? parseWrkJson(line) : parseWrkText(stdout);
}

/** bash's `times`: the last line is the children's user and system time ("0m1.234s 0m0.456s"). */
export function parseTimesChildren(stderr: string): number {
  const lines = stderr.trimEnd().split('\n');
  const match = /^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/.exec(lines[lines.length - 1] ?? '');
  if (!match) return NaN;
  return (Number(match[1]) * 60 + Number(match[2]) + Number(match[3]) * 60 + Number(match[4])) * 1e6;
}

export interface WrkRun {
  url: string;
  tokensFile: string;
  body: string;
  /** An Accept header (the trigger's event stream: text/event-stream); none when absent. */
  accept?: string;
  connections: number;
  /** wrk takes whole seconds; this is rounded up. */
  seconds: number;
  threads?: number;
  /** Pin wrk to this CPU (taskset). */
  cpu?: number;
}

/**
 * Runs wrk with wrk-trigger.lua to its end. Resolves with its summary and the CPU time wrk used
 * (µs, from bash's `times`, so that a run where the generator was the limit can be told apart);
 * rejects with wrk's own message when it fails (bad URL, unreadable tokens file, …).
 */
export async function runWrk(run: WrkRun): Promise<WrkSummary & { cpuUs: number; argv: string[] }> {
  const args = [
    `-t${run.threads ?? 1}`,
    `-c${run.connections}`,
    `-d${Math.max(1, Math.ceil(run.seconds))}s`,
    '--timeout', '10s',
    '--latency',
    '-s', WRK_SCRIPT,
    run.url,
    '--', run.tokensFile, run.body,
    ...(run.accept ? [run.accept] : []),
  ];
  const child = spawnChild(['bash', '-c', 'wrk "$@"; code=$?; times >&2; exit $code', 'bash', ...args], { stdout: 'pipe', stderr: 'pipe', cpu: run.cpu });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  const cpuUs = parseTimesChildren(stderr);
  const message = stderr.split('\n').filter((l) => l && !/^\d+m[\d.]+s \d+m[\d.]+s$/.test(l)).join('\n');
  if (code !== 0) throw new Error(`wrk exited ${code}: ${message || stdout.slice(0, 300)}`);
  return { ...parseWrkOutput(stdout), cpuUs, argv: ['wrk', ...args] };
}
