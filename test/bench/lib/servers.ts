// Starting servers under test as child processes, and a data directory with a token to use.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../src/config';
import { openServices, type Services } from '../../../src/services';
import { bundleChild } from './bundle';
import { childEnv, killGroup, MAIN, nextMessage, PINNING, REPO_ROOT, sleep, spawnChild, TSX, waitExit } from './proc';
import { childPids } from './procfs';

const SERVER_CHILD = path.join(REPO_ROOT, 'test/bench/server-child.ts');

/**
 * The server child as plain JavaScript (bundleChild; Fastify, Express and the other packages load
 * from node_modules as usual): the handler's like-for-like rows (`ours-handler` and its variants)
 * then run our code as the executable does, without tsx's naming helper (~9 µs per request on the
 * trigger path, docs/benchmarks.md). Bundled once per process.
 */
let serverChild: Promise<string[]> | undefined;
function serverChildArgv(): Promise<string[]> {
  return (serverChild ??= bundleChild({ entry: SERVER_CHILD, outfile: path.join(REPO_ROOT, '.tmp/bench/server-child.mjs'), packagesExternal: true }));
}

export interface RunningServer {
  kind: string;
  child: ChildProcess;
  pid: number;
  port: number;
  url: string;
  /** The CPU it is pinned to (PINNING.server), if it is. */
  cpu?: number;
  /** Other kinds this process serves, each on a port of its own (server-child's `variants`). */
  variants?: Record<string, number>;
  stop(): Promise<void>;
}

/** A fresh temporary directory (removed by `cleanup`). */
export function makeTempDir(prefix: string): { dir: string; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Opens the services on `dataDir` (creating and seeding it), runs `fn`, closes them. */
export async function withServices<T>(dataDir: string, fn: (services: Services) => Promise<T> | T): Promise<T> {
  const services = await openServices(loadConfig({ MM_DATA_DIR: dataDir }), { actor: 'cli' });
  try {
    return await fn(services);
  } finally {
    await services.close();
  }
}

/** Stops a server: its command-pipeline children (own process groups) first, then its group. */
async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.pid !== undefined) {
    for (const pid of childPids(child.pid)) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
  }
  killGroup(child);
  await waitExit(child, 3_000);
}

/**
 * Starts `test/bench/server-child.ts KIND DATA_DIR` (bundled: serverChildArgv) and waits for its
 * port. Its stdout (where a peer with a logger writes) goes to `stdout`: a file path, or 'ignore'
 * (/dev/null, the default). Pinned to PINNING.server when the bench pins.
 */
export async function startBenchServer(kind: string, dataDir: string, env: NodeJS.ProcessEnv = {}, extraNodeArgs: string[] = [], stdout = 'ignore'): Promise<RunningServer> {
  const cpu = PINNING?.server;
  const [node, script] = await serverChildArgv();
  const child = spawnChild([node!, ...extraNodeArgs, script!, kind, dataDir], {
    env: childEnv(env),
    ipc: true,
    raiseFdLimit: true,
    stdout,
    cpu,
  });
  const { port, variants } = await nextMessage<{ port: number; variants?: Record<string, number> }>(child, (m) => typeof m?.port === 'number', 30_000, `${kind} server to listen`);
  return { kind, child, pid: child.pid!, port, url: `http://127.0.0.1:${port}`, cpu, variants, stop: () => stopProcess(child) };
}

/**
 * Starts `mechamental serve` (the development entry point, or `binary` / $RELIABILITY_BIN when given) on a free port and
 * waits until /healthz answers. stdout (the JSON request log) goes to `logFile` or nowhere.
 */
export async function startServe(
  dataDir: string,
  options: { port: number; logFile?: string; env?: NodeJS.ProcessEnv; binary?: string; nodeArgs?: string[]; timeoutMs?: number; cpu?: number },
): Promise<RunningServer> {
  // RELIABILITY_BIN=dist/mechamental runs the reliability checks against the built executable.
  const binary = options.binary ?? (process.env.RELIABILITY_BIN ? path.resolve(REPO_ROOT, process.env.RELIABILITY_BIN) : undefined);
  const argv = binary
    ? [binary, 'serve', '--port', String(options.port), '--data-dir', dataDir]
    : [process.execPath, ...(options.nodeArgs ?? []), ...TSX, MAIN, 'serve', '--port', String(options.port), '--data-dir', dataDir];
  const child = spawnChild(argv, { env: childEnv(options.env), stdout: options.logFile ?? 'ignore', stderr: options.logFile ?? 'inherit', raiseFdLimit: true, cpu: options.cpu });
  const url = `http://127.0.0.1:${options.port}`;
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let exited = false;
  child.once('exit', () => (exited = true));
  while (Date.now() < deadline && !exited) {
    try {
      const res = await fetch(`${url}/healthz`);
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    await sleep(20);
  }
  if (exited || Date.now() >= deadline) {
    await stopProcess(child);
    throw new Error(`mechamental serve did not become healthy on port ${options.port}${exited ? ' (it exited)' : ''}`);
  }
  return { kind: 'serve', child, pid: child.pid!, port: options.port, url, cpu: options.cpu, stop: () => stopProcess(child) };
}
