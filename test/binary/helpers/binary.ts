import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { REPO_ROOT } from '../../helpers/cli';
import { runCollecting } from '../../helpers/process';

/** Long enough for a build from scratch on a busy 2-core machine. */
export const BUILD_TIMEOUT_MS = 10 * 60_000;

let binaryPath: string | undefined;

/**
 * The built executable: dist/mechamental, rebuilt first (`node build.mjs`) when anything it is built
 * from is newer. Serialised with flock, so that test files running in parallel build it once.
 */
export function ensureBinary(): string {
  if (binaryPath) return binaryPath;
  fs.mkdirSync(path.join(REPO_ROOT, 'dist'), { recursive: true });
  const ensure = [process.execPath, path.join(REPO_ROOT, 'test/binary/helpers/ensure-built.mjs')];
  const options = { cwd: REPO_ROOT, encoding: 'utf8', timeout: BUILD_TIMEOUT_MS } as const;
  let result = spawnSync('flock', [path.join(REPO_ROOT, 'dist/.build.lock'), ...ensure], options);
  // Without flock (util-linux), build unserialised: each build writes its own work directory and
  // renames the result into place, so parallel builds waste time but do not collide.
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') result = spawnSync(ensure[0]!, ensure.slice(1), options);
  if (result.status !== 0) throw new Error(`building dist/mechamental failed:\n${result.stderr}${result.error?.message ?? ''}`);
  binaryPath = result.stdout.trim();
  return binaryPath;
}

/** An empty working directory (no node_modules anywhere near) and a minimal environment for the binary. */
export interface Sandbox {
  dir: string;
  cacheDir: string;
  dataDir: string;
  env: NodeJS.ProcessEnv;
}

const sandboxes: string[] = [];
// Registered when a test file imports this module, so at the top level: runs when the file is done
// (an `after` registered inside a hook or test would run as soon as that one ends).
after(() => {
  for (const dir of sandboxes) fs.rmSync(dir, { recursive: true, force: true });
});

export function sandbox(extraEnv: NodeJS.ProcessEnv = {}): Sandbox {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mm-binary-'));
  sandboxes.push(dir);
  const cacheDir = path.join(dir, 'cache');
  return {
    dir,
    cacheDir,
    dataDir: path.join(dir, 'mechamental-data'),
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', MM_CACHE_DIR: cacheDir, MM_LOG_LEVEL: 'silent', ...extraEnv },
  };
}

export interface BinaryResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The "nobody" user, for running the binary as a non-root user when the tests run as root. */
export const NOBODY = { uid: 65534, gid: 65534 };

/** Runs the binary to completion in `box.dir` with exactly `box.env` (optionally as another user, when root). */
export function runBinary(box: Sandbox, args: string[], options: { env?: NodeJS.ProcessEnv; input?: string; user?: { uid: number; gid: number } } = {}): BinaryResult {
  const result = spawnSync(ensureBinary(), args, {
    cwd: box.dir,
    env: options.env ?? box.env,
    ...(options.user ?? {}),
    input: options.input ?? '',
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** Like runBinary, concurrent. */
export function runBinaryAsync(box: Sandbox, args: string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<BinaryResult> {
  return runCollecting(ensureBinary(), args, { cwd: box.dir, env: options.env ?? box.env });
}

/** A TCP port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

export interface RunningServer {
  child: ChildProcess;
  port: number;
  url: string;
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts `mechamental serve --port <free port>` and waits until /healthz answers 200. Rejects with
 * the server's output when it exits first or does not answer within `timeoutMs`.
 */
export async function startServer(box: Sandbox, options: { args?: string[]; timeoutMs?: number } = {}): Promise<RunningServer> {
  const port = await freePort();
  const child = spawn(ensureBinary(), ['serve', '--port', String(port), ...(options.args ?? [])], { cwd: box.dir, env: box.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
  let exited = false;
  const closed = new Promise<void>((resolve) => child.on('close', () => ((exited = true), resolve())));
  const server: RunningServer = {
    child,
    port,
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    async stop() {
      if (!exited) child.kill('SIGTERM');
      await closed;
    },
  };
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  while (Date.now() < deadline && !exited) {
    try {
      const response = await fetch(`${server.url}/healthz`);
      if (response.status === 200) return server;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  await server.stop();
  throw new Error(`mechamental serve did not answer /healthz with 200 (${exited ? 'it exited' : 'timed out'}); its output:\n${output}`);
}
