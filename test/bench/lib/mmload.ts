// mmload (mmload.c): built at run time with the system C compiler, cached by the source's hash
// under .tmp/bench/ (git-ignored), and run as a child process. Used where wrk cannot serve: an
// open-loop request rate (latency at a fixed 1,000 req/s) and per-request timings and statuses
// (the revoke check).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT, spawnChild } from './proc';

const SOURCE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'mmload.c');
export const MMLOAD_INSTALL_HINT = 'apt-get install gcc';

/** Latency figures in microseconds (null when nothing was answered). */
export interface LatencyUs {
  p50: number | null;
  p90: number | null;
  p99: number | null;
  p999: number | null;
  max: number | null;
  mean: number | null;
}

/** mmload's JSON summary. */
export interface MmloadSummary {
  mode: 'paced' | 'closed';
  rate: number;
  connections: number;
  seconds: number;
  elapsed_s: number;
  /** CLOCK_MONOTONIC at the start, ns (the clock of process.hrtime.bigint()). */
  start_ns: string;
  scheduled: number;
  sent: number;
  answered: number;
  /** Requests whose connection failed or was closed before an answer. */
  errors: number;
  reconnects: number;
  /** Requests still in flight when mmload gave up waiting (5 s after the end). */
  unanswered: number;
  statuses: Record<string, number>;
  /** From the moment the request was written to its last byte back. */
  service_us: LatencyUs;
  /** From the moment the request was due (paced) to its last byte back: free of coordinated omission. */
  intended_us: LatencyUs;
}

/** One request: ns after start_ns; status 0 = no answer. */
export interface MmloadRecord {
  due: number;
  sent: number;
  done: number;
  status: number;
}

/**
 * Compiles mmload.c with `cc -O2` unless a binary of this very source is cached. Returns its path,
 * or the reason it cannot (no compiler, or the compiler's message).
 */
export function buildMmload(cacheDir = path.join(REPO_ROOT, '.tmp', 'bench')): { binary: string } | { problem: string } {
  const source = fs.readFileSync(SOURCE);
  const binary = path.join(cacheDir, `mmload-${createHash('sha256').update(source).digest('hex').slice(0, 16)}`);
  if (fs.existsSync(binary)) return { binary };
  fs.mkdirSync(cacheDir, { recursive: true });
  // Another bench or test may build at the same moment: build beside, then rename (atomic).
  const building = `${binary}.${process.pid}.tmp`;
  const cc = spawnSync('cc', ['-O2', '-Wall', '-o', building, SOURCE], { encoding: 'utf8' });
  if (cc.error) return { problem: `no C compiler (cc) to build the paced load generator: ${MMLOAD_INSTALL_HINT}` };
  if (cc.status !== 0) {
    fs.rmSync(building, { force: true });
    return { problem: `cc could not build ${path.relative(REPO_ROOT, SOURCE)}: ${cc.stderr.trim().slice(0, 500)}` };
  }
  fs.renameSync(building, binary);
  return { binary };
}

export interface MmloadRun {
  binary: string;
  port: number;
  path: string;
  tokensFile: string;
  body: string;
  connections: number;
  seconds: number;
  /** Requests per second, open loop; 0 = closed loop. */
  rate: number;
  /** Where to write one line per request (then returned parsed). */
  recordsFile?: string;
  /** Pin mmload to this CPU (taskset). */
  cpu?: number;
}

/** Runs mmload to its end; rejects with its message when it fails to set up (port closed, no tokens). */
export async function runMmload(run: MmloadRun): Promise<{ summary: MmloadSummary; records?: MmloadRecord[] }> {
  const args = [
    '--port', String(run.port),
    '--path', run.path,
    '--tokens', run.tokensFile,
    '--body', run.body,
    '--connections', String(run.connections),
    '--seconds', String(run.seconds),
    '--rate', String(run.rate),
    ...(run.recordsFile ? ['--records', run.recordsFile] : []),
  ];
  const child = spawnChild([run.binary, ...args], { stdout: 'pipe', stderr: 'pipe', cpu: run.cpu });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) throw new Error(`mmload exited ${code}: ${stderr.trim() || stdout.trim()}`);
  const summary = JSON.parse(stdout) as MmloadSummary;
  if (!run.recordsFile) return { summary };
  return { summary, records: parseRecords(fs.readFileSync(run.recordsFile, 'utf8')) };
}

/** mmload's records file: "due sent done status" per line, ns after start. */
export function parseRecords(text: string): MmloadRecord[] {
  const records: MmloadRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [due, sent, done, status] = line.split(' ').map(Number);
    records.push({ due: due!, sent: sent!, done: done!, status: status! });
  }
  return records;
}
