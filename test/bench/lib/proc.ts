// Child processes for benchmarks and reliability runs: each one in its own process group (so a
// kill reaches its own children too), all killed when this process ends for any reason.
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const MAIN = path.join(REPO_ROOT, 'src/main.ts');
export const TSX = ['--import', 'tsx'];

const live = new Set<ChildProcess>();

/** Kills the process group of `child` (SIGKILL unless told otherwise); ignores ones already gone. */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

export function killAll(): void {
  for (const child of live) killGroup(child);
  live.clear();
}

let handlersInstalled = false;
function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      killAll();
      process.exit(130);
    });
  }
  process.on('uncaughtException', (error) => {
    process.stderr.write(`uncaught: ${error.stack ?? String(error)}\n`);
    killAll();
    process.exit(1);
  });
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  /** Where the child's stdout goes: a file path, 'ignore', 'inherit' or 'pipe'. */
  stdout?: string;
  stderr?: string;
  ipc?: boolean;
  /** Raise the open-files limit to the hard limit first (via bash's ulimit, then exec). */
  raiseFdLimit?: boolean;
  cwd?: string;
  /** Run on this CPU only (taskset), e.g. PINNING.server or PINNING.load. */
  cpu?: number;
}

/**
 * Where the bench runs what (BENCH_PIN, on unless `0`, where `taskset` exists and there are two
 * CPUs or more): a server under test on the last CPU, the load generator and clients on CPU 0.
 * Left to the scheduler, a server and its load generator share a core in some rounds and not in
 * others: on the 2-core development machine the same build measured 70–90 µs CPU/request in some
 * rounds and 130–145 in others, at random; pinned, its rounds agree within a few per cent.
 */
export const PINNING: { server: number; load: number } | undefined = choosePinning();

function choosePinning(): { server: number; load: number } | undefined {
  if (process.env.BENCH_PIN === '0') return undefined;
  const cpus = os.availableParallelism();
  if (cpus < 2) return undefined;
  const taskset = spawnSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
  if (taskset.error || taskset.status !== 0) return undefined;
  return { server: cpus - 1, load: 0 };
}

function sink(target: string | undefined, fallback: 'ignore' | 'inherit'): 'ignore' | 'inherit' | 'pipe' | number {
  const t = target ?? fallback;
  if (t === 'ignore' || t === 'inherit' || t === 'pipe') return t;
  return fs.openSync(t, 'a');
}

/** Spawns `argv` in a new process group; it is killed when this process exits. */
export function spawnChild(argv: string[], options: SpawnOptions = {}): ChildProcess {
  installHandlers();
  const pinned = options.cpu === undefined ? argv : ['taskset', '-c', String(options.cpu), ...argv];
  const [file, ...args] = options.raiseFdLimit
    ? ['bash', '-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'bash', ...pinned]
    : pinned;
  const stdio: StdioOptions = ['ignore', sink(options.stdout, 'ignore'), sink(options.stderr, 'inherit')];
  if (options.ipc) stdio.push('ipc');
  const child = spawn(file!, args, {
    cwd: options.cwd ?? REPO_ROOT,
    env: options.env ?? process.env,
    stdio,
    detached: true,
  });
  for (const fd of stdio) if (typeof fd === 'number') fs.closeSync(fd);
  live.add(child);
  child.on('exit', () => live.delete(child));
  return child;
}

/** The environment for a child: this one without MM_* settings, plus `extra`. */
export function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MM_')));
  return { ...base, ...extra };
}

/** Resolves with the first IPC message of `child` that satisfies `accept`. */
export function nextMessage<T>(child: ChildProcess, accept: (m: any) => boolean, timeoutMs: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
    const onMessage = (m: unknown) => {
      if (accept(m)) done(undefined, m as T);
    };
    const onExit = (code: number | null, signal: string | null) => done(new Error(`child exited (${code ?? signal}) while waiting for ${what}`));
    function done(error?: Error, value?: T) {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve(value as T);
    }
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/** Waits for `child` to exit (or `timeoutMs`, then kills its group). */
export function waitExit(child: ChildProcess, timeoutMs = 5_000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => killGroup(child), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Finds a free loopback port (bind to 0, read it, close). */
export async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}
