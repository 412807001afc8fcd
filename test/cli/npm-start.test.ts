import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { test } from 'node:test';
import { REPO_ROOT, cliEnv } from '../helpers/cli';
import { tempDataDir } from '../helpers/data-dir';
import { eventually } from '../helpers/server';

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

test('npm start is one server that stops on SIGTERM: no orphan keeps the port', async () => {
  const child = spawn('npm', ['start', '--silent'], { cwd: REPO_ROOT, env: cliEnv({ MM_DATA_DIR: tempDataDir(), MM_PORT: '0', MM_LOG_LEVEL: 'warn' }), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const port = Number(await eventually(() => /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1], 30_000, `npm start to listen (${out})`));
  assert.equal(await connects(port), true);
  child.kill('SIGTERM');
  await exited;
  await eventually(async () => !(await connects(port)), 10_000, 'the port to be free once npm start has ended');
});
