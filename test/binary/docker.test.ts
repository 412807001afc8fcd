import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { REPO_ROOT } from '../helpers/cli';
import { BUILD_TIMEOUT_MS, ensureBinary, freePort, NOBODY, runBinary, sandbox } from './helpers/binary';

// No Docker engine runs here, so the image cannot be built in the tests: they check the Dockerfile's
// promises by reading it, and then run the executable the way the image runs it.

const dockerfile = fs.readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
/** Instructions with their continuation lines joined. */
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'));
const stages = instructions.reduce<string[][]>((all, line) => (line.startsWith('FROM ') ? [...all, [line]] : (all.at(-1)!.push(line), all)), []);
const runtime = stages.at(-1)!;
/** The runtime stage's ENV, as variables. */
const imageEnv: Record<string, string> = Object.fromEntries(
  runtime.filter((l) => l.startsWith('ENV ')).flatMap((l) => [...l.slice(4).matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!])),
);

const isRoot = process.getuid?.() === 0;

describe('the Dockerfile', () => {
  test('builds in node:20-bookworm with npm ci and npm run build, and runs in debian:bookworm-slim', () => {
    assert.equal(stages.length, 2);
    assert.match(stages[0]![0]!, /^FROM node:20-bookworm AS build$/);
    assert.ok(stages[0]!.some((l) => /^RUN npm ci\b/.test(l)));
    assert.ok(stages[0]!.some((l) => /^RUN npm run build\b/.test(l)));
    assert.match(runtime[0]!, /^FROM debian:bookworm-slim$/);
    for (const file of ['package.json', 'package-lock.json', 'build.mjs']) assert.ok(fs.existsSync(path.join(REPO_ROOT, file)), file);
    const copy = runtime.find((l) => l.startsWith('COPY --from=build'));
    assert.equal(copy, 'COPY --from=build /src/dist/mechamental /usr/local/bin/mechamental', 'copies what build.mjs writes (dist/mechamental under WORKDIR /src)');
    assert.ok(stages[0]!.includes('WORKDIR /src'));
  });

  test('runs as a non-root user with the data on VOLUME /data, listening on 0.0.0.0:8080, with a health check', () => {
    const user = runtime.find((l) => l.startsWith('USER '));
    assert.ok(user && !/\broot\b|\b0\b/.test(user), 'a non-root USER');
    assert.ok(runtime.includes('VOLUME /data'));
    assert.ok(runtime.includes('EXPOSE 8080'));
    assert.equal(imageEnv.MM_DATA_DIR, '/data');
    assert.equal(imageEnv.MM_HOST, '0.0.0.0');
    assert.ok(imageEnv.MM_CACHE_DIR, 'a cache directory for the native addon');
    const prepared = runtime.find((l) => l.startsWith('RUN ') && l.includes('useradd'));
    assert.ok(prepared?.includes(`chown mechamental:mechamental /data ${imageEnv.MM_CACHE_DIR}`), 'the user owns /data and the cache');
    assert.match(runtime.find((l) => l.startsWith('HEALTHCHECK '))!, /CMD \["mechamental", "healthcheck"\]$/);
    assert.ok(runtime.includes('ENTRYPOINT ["mechamental"]'));
  });

  test('.dockerignore keeps node_modules and dist out of the build context', () => {
    const ignored = fs.readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['node_modules', 'dist', 'mechamental-data', '.git']) assert.ok(ignored.includes(entry), entry);
  });
});

describe('the executable as the image runs it', () => {
  before(() => ensureBinary(), { timeout: BUILD_TIMEOUT_MS });

  test('needs only libraries that debian:bookworm-slim has', () => {
    const ldd = spawnSync('ldd', [ensureBinary()], { encoding: 'utf8' });
    if (ldd.status !== 0) return; // no ldd: nothing to check
    const libraries = [...ldd.stdout.matchAll(/^\s*(\S+)/gm)].map((m) => path.basename(m[1]!));
    const inSlim = /^(linux-vdso\.so\.1|ld-linux-x86-64\.so\.2|ld-linux-aarch64\.so\.1|libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|libstdc\+\+\.so\.6|libgcc_s\.so\.1)$/;
    assert.deepEqual(libraries.filter((lib) => !inSlim.test(lib)), []);
  });

  test(`as a non-root user with HOME unset: serve on 0.0.0.0, healthcheck answers, tokens are made with docker exec`, { timeout: 60_000 }, async () => {
    const box = sandbox();
    const data = path.join(box.dir, 'data');
    const cache = path.join(box.dir, 'cache');
    fs.mkdirSync(data, { mode: 0o700 });
    fs.mkdirSync(cache, { mode: 0o700 });
    const user = isRoot ? NOBODY : undefined;
    if (user) {
      fs.chmodSync(box.dir, 0o755);
      fs.chownSync(data, user.uid, user.gid);
      fs.chownSync(cache, user.uid, user.gid);
    }
    const port = await freePort();
    // The image's environment, with its directories moved into the sandbox; no HOME.
    const env: NodeJS.ProcessEnv = { PATH: box.env.PATH, ...imageEnv, MM_DATA_DIR: data, MM_CACHE_DIR: cache, MM_PORT: String(port), MM_LOG_LEVEL: 'silent' };
    assert.equal(env.MM_HOST, '0.0.0.0');
    const server = spawn(ensureBinary(), ['serve'], { cwd: data, env, stdio: ['ignore', 'pipe', 'pipe'], ...(user ?? {}) });
    let output = '';
    server.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    server.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    const exited = new Promise<number | null>((resolve) => server.on('exit', (code) => resolve(code)));
    try {
      let health = runBinary(box, ['healthcheck'], { env, ...(user ? { user } : {}) });
      for (let i = 0; i < 100 && health.code !== 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        health = runBinary(box, ['healthcheck'], { env, ...(user ? { user } : {}) });
      }
      assert.equal(health.code, 0, `${health.stderr}\nserver output:\n${output}`);
      const created = runBinary(box, ['tokens', 'create', '--app', 'default', '--name', 'CI/CD Pipeline', '--expires', '30d', '--json'], { env, ...(user ? { user } : {}) });
      assert.equal(created.code, 0, created.stderr);
      const { value } = JSON.parse(created.stdout) as { value: string };
      const response = await fetch(`http://127.0.0.1:${port}/v1/trigger/chat`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${value}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ message: 'Hello, how can I reset my password?' }),
      });
      assert.equal(response.status, 200);
      if (user) {
        for (const file of fs.readdirSync(data)) assert.equal(fs.statSync(path.join(data, file)).uid, user.uid, `${file} belongs to the user`);
      }
      assert.equal(fs.statSync(cache).mode & 0o777, 0o700);
    } finally {
      server.kill('SIGTERM');
      assert.equal(await exited, 0, `graceful stop; output:\n${output}`);
    }
  });
});
