// A throwaway PostgreSQL cluster for the tests: initdb + pg_ctl in a temporary directory, on a free
// port of 127.0.0.1, as the `postgres` user when running as root (initdb refuses root). Used by
// test/run.mjs (one cluster per test run, its URL handed to the test processes as
// MM_TEST_POSTGRES_URL) and by tests that stop and start PostgreSQL themselves.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const INSTALL_HINT = 'install PostgreSQL (Debian: apt-get install postgresql) or set MM_TEST_POSTGRES_URL';

/** The directory holding initdb and pg_ctl, or undefined when PostgreSQL's server tools are not installed. */
export function postgresBinDir() {
  const candidates = [];
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) if (dir) candidates.push(dir);
  try {
    const versions = fs.readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
    for (const version of versions) candidates.push(path.join('/usr/lib/postgresql', version, 'bin'));
  } catch {
    // not a Debian layout
  }
  return candidates.find((dir) => fs.existsSync(path.join(dir, 'initdb')) && fs.existsSync(path.join(dir, 'pg_ctl')));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Runs a PostgreSQL tool as the user that owns the cluster. */
function asOwner(bin, args, options = {}) {
  const [command, fullArgs] = isRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  return spawnSync(command, fullArgs, { encoding: 'utf8', ...options });
}

/**
 * Starts a new cluster and resolves with `{ url, port, dir, stop(mode), start() }`; `url` connects as
 * the superuser `postgres` over TCP (trust authentication on 127.0.0.1 only).
 */
export async function startCluster() {
  const bin = postgresBinDir();
  if (!bin) throw new Error(`PostgreSQL's server tools (initdb, pg_ctl) are not installed: ${INSTALL_HINT}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mm-pg-'));
  const data = path.join(dir, 'data');
  if (isRoot) {
    try {
      execFileSync('id', ['postgres'], { stdio: 'ignore' });
    } catch {
      throw new Error('running as root, but there is no `postgres` user to own the test cluster (the Debian postgresql package makes one)');
    }
    fs.chmodSync(dir, 0o755);
    execFileSync('chown', ['postgres', dir]);
  }
  const init = asOwner(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
  const port = await freePort();
  const options = `-c port=${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c shared_buffers=64MB`;
  const log = path.join(dir, 'server.log');
  const start = () => {
    const started = asOwner(path.join(bin, 'pg_ctl'), ['-D', data, '-l', log, '-o', options, '-w', '-t', '30', 'start']);
    if (started.status !== 0) throw new Error(`pg_ctl start failed: ${started.stderr || started.stdout}\n${fs.existsSync(log) ? fs.readFileSync(log, 'utf8').slice(-2000) : ''}`);
  };
  start();
  const stop = (mode = 'fast') => {
    asOwner(path.join(bin, 'pg_ctl'), ['-D', data, '-m', mode, '-w', '-t', '30', 'stop']);
  };
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dir,
    start,
    stop,
    remove() {
      stop('immediate');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
