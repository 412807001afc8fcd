import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { REPO_ROOT } from '../helpers/cli';
import { BUILD_TIMEOUT_MS, ensureBinary, freePort, NOBODY, runBinary, sandbox } from './helpers/binary';

// The image itself is built and run by scripts/container-test.sh (podman; minutes, so .ci/run calls it,
// not `npm test`). These tests keep the Dockerfile's promises and the docs in step with that script,
// and run the executable the way the image runs it.

const dockerfile = fs.readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
/** Instructions with their continuation lines joined. */
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'));
/** The `ARG`s before the first FROM (the base images), with their defaults. */
const baseImageArgs = Object.fromEntries(
  instructions
    .slice(0, instructions.findIndex((l) => l.startsWith('FROM ')))
    .filter((l) => l.startsWith('ARG '))
    .map((l) => l.slice(4).split('=') as [string, string]),
);
const stages = instructions.reduce<string[][]>((all, line) => (line.startsWith('FROM ') ? [...all, [line]] : all.length ? (all.at(-1)!.push(line), all) : all), []);
const stageNamed = (name: string): string[] => {
  const stage = stages.find((s) => s[0]!.endsWith(` AS ${name}`));
  assert.ok(stage, `a stage named ${name}`);
  return stage;
};
const build = stageNamed('build');
const runtime = stages.at(-1)!; // the default target
const runtimeDebian = stageNamed('runtime-debian');

/** A runtime stage's ENV, as variables. */
function envOf(stage: string[]): Record<string, string> {
  return Object.fromEntries(stage.filter((l) => l.startsWith('ENV ')).flatMap((l) => [...l.slice(4).matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!])));
}
const imageEnv = envOf(runtime);

const isRoot = process.getuid?.() === 0;

/** Lines of a file that hold a command, without prompts or trailing comments. */
function commandLines(text: string): Set<string> {
  return new Set(text.split('\n').map((line) => line.replace(/^\s*(#\s*)?(\$ )?/, '').replace(/\s+#\s.*$/, '').trim()));
}

describe('the Dockerfile', () => {
  test('base images are build arguments whose defaults are node:20-bookworm and debian:bookworm-slim', () => {
    assert.deepEqual(baseImageArgs, { BUILD_IMAGE: 'node:20-bookworm', RUNTIME_IMAGE: 'debian:bookworm-slim' });
    assert.equal(build[0], 'FROM ${BUILD_IMAGE} AS build');
    assert.equal(runtimeDebian[0], 'FROM ${RUNTIME_IMAGE} AS runtime-debian');
    assert.equal(runtime[0], 'FROM scratch AS runtime', 'the default target is the scratch one');
    assert.match(dockerfile, /--format docker/, 'a note for podman users');
  });

  test('builds with npm ci and npm run build, and both runtimes get the executable build.mjs writes', () => {
    assert.ok(build.includes('WORKDIR /src'));
    const npmCi = build.findIndex((l) => /^RUN npm ci\b/.test(l));
    assert.ok(npmCi > 0);
    // npm ci runs the postinstall script, which must be in the image by then.
    const postinstall = build.findIndex((l) => /^COPY .*build\/postinstall\.mjs .*build\/patches\.mjs/.test(l));
    assert.ok(postinstall !== -1 && postinstall < npmCi, 'build/postinstall.mjs and build/patches.mjs are copied before npm ci');
    assert.ok(build.some((l) => /^RUN npm run build\b/.test(l)));
    for (const file of ['package.json', 'package-lock.json', 'build.mjs']) assert.ok(fs.existsSync(path.join(REPO_ROOT, file)), file);
    for (const stage of [runtime, runtimeDebian]) {
      assert.ok(stage.includes('COPY --from=build /src/dist/mechamental /usr/local/bin/mechamental'), stage[0]);
    }
  });

  test('the scratch runtime holds the libraries ldd lists for the executable and its SQLite addon, the user, /tmp, and the owned directories', () => {
    const assemble = build.find((l) => l.startsWith('RUN ') && l.includes('/runtime-root'));
    assert.ok(assemble, 'a RUN step that assembles the root filesystem');
    assert.match(assemble, /ldd dist\/mechamental; ldd node_modules\/better-sqlite3\/build\/Release\/better_sqlite3\.node/);
    assert.match(assemble, /grep -q 'not found'.*exit 1/, 'a library ldd cannot find stops the build');
    assert.match(assemble, /mechamental:x:10001:10001:/);
    assert.match(assemble, /chmod 1777 "\$root\/tmp"/);
    assert.match(assemble, /mkdir -p -m 0700 \/runtime-owned\/root\/data \/runtime-owned\/cache\/mechamental/);
    assert.deepEqual(
      runtime.filter((l) => l.startsWith('COPY ')),
      [
        'COPY --from=build /runtime-root/ /',
        'COPY --from=build --chown=10001:10001 /runtime-owned/root/ /',
        'COPY --from=build --chown=10001:10001 /runtime-owned/cache/ /var/cache/',
        'COPY --from=build /src/dist/mechamental /usr/local/bin/mechamental',
      ],
    );
    assert.equal(imageEnv.MM_CACHE_DIR, '/var/cache/mechamental', 'the cache directory the build stage prepares');
  });

  test('both runtimes: uid 10001, the data on VOLUME /data, 0.0.0.0:8080, the health check, SIGTERM', () => {
    for (const stage of [runtime, runtimeDebian]) {
      const env = envOf(stage);
      assert.ok(stage.includes('USER 10001:10001'), `${stage[0]}: a numeric non-root USER`);
      assert.ok(stage.includes('VOLUME /data'));
      assert.ok(stage.includes('WORKDIR /data'));
      assert.ok(stage.includes('EXPOSE 8080'));
      assert.ok(stage.includes('STOPSIGNAL SIGTERM'));
      assert.equal(env.MM_DATA_DIR, '/data');
      assert.equal(env.MM_HOST, '0.0.0.0');
      assert.equal(env.MM_PORT, '8080');
      assert.equal(env.MM_CACHE_DIR, '/var/cache/mechamental');
      assert.match(stage.find((l) => l.startsWith('HEALTHCHECK '))!, /CMD \["mechamental", "healthcheck"\]$/);
      assert.ok(stage.includes('ENTRYPOINT ["mechamental"]'));
      assert.ok(stage.includes('CMD ["serve"]'));
    }
    const prepared = runtimeDebian.find((l) => l.startsWith('RUN ') && l.includes('useradd'));
    assert.ok(prepared?.includes('--uid 10001'));
    assert.ok(prepared?.includes(`chown mechamental:mechamental /data ${envOf(runtimeDebian).MM_CACHE_DIR}`), 'the user owns /data and the cache');
    assert.ok(prepared?.includes(`chmod 0700 /data ${envOf(runtimeDebian).MM_CACHE_DIR}`));
  });

  test('.dockerignore keeps node_modules, dist, the data and what the build does not read out of the context', () => {
    const ignored = fs.readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['node_modules', 'dist', 'mechamental-data', '.git', 'test', 'scripts', 'docs']) assert.ok(ignored.includes(entry), entry);
    // ...and nothing that build.mjs needs.
    for (const needed of ['src', 'tui', 'build', 'migrations', 'build.mjs', 'package.json', 'package-lock.json', 'tsconfig.json']) {
      assert.ok(!ignored.includes(needed), needed);
    }
  });
});

describe('the container docs', () => {
  const printed = spawnSync('bash', [path.join(REPO_ROOT, 'scripts/container-test.sh'), '--print-commands'], { encoding: 'utf8' });
  const commands = printed.stdout.trim().split('\n');

  test('scripts/container-test.sh prints the operator commands it runs', () => {
    assert.equal(printed.status, 0, printed.stderr);
    assert.ok(commands.includes('podman build --format docker -t mechamental .'));
    assert.ok(commands.includes('docker run -d --name mechamental -p 127.0.0.1:8080:8080 -v mechamental-data:/data mechamental'));
    assert.ok(commands.every((c) => /^(podman|docker) /.test(c)));
  });

  test('docs/container.md shows every command the script runs, exactly', () => {
    const documented = commandLines(fs.readFileSync(path.join(REPO_ROOT, 'docs/container.md'), 'utf8'));
    assert.deepEqual(commands.filter((c) => !documented.has(c)), []);
  });

  test('the docker commands in the Dockerfile and the README are ones the script runs', () => {
    const known = new Set(commands);
    const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    for (const [file, text] of [['Dockerfile', dockerfile], ['README.md', readme]] as const) {
      const shown = [...commandLines(text)].filter((line) => /^(docker|podman) (build|run|exec|cp|stop|healthcheck) /.test(line));
      assert.ok(shown.length > 0, `${file} shows container commands`);
      assert.deepEqual(shown.filter((line) => !known.has(line)), [], file);
    }
  });

  test('the admin surface section says where the admin API and the console are served in a container', () => {
    const docs = fs.readFileSync(path.join(REPO_ROOT, 'docs/container.md'), 'utf8');
    for (const phrase of ['MM_ADMIN_HOST', 'MM_ADMIN_PORT', '-p 127.0.0.1:8081:8081', 'mechamental tokens', 'tui']) assert.ok(docs.includes(phrase), phrase);
  });
});

describe('the executable as the image runs it', () => {
  before(() => ensureBinary(), { timeout: BUILD_TIMEOUT_MS });

  test('needs only libraries that debian:bookworm-slim has (the runtime-debian target adds none)', () => {
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
    // On 0.0.0.0 the admin API has a listener of its own, by default on the main port + 1, which a
    // test running beside this one may hold: a free port of its own too.
    let adminPort = await freePort();
    while (adminPort === port) adminPort = await freePort();
    // The image's environment, with its directories moved into the sandbox; no HOME.
    const env: NodeJS.ProcessEnv = { PATH: box.env.PATH, ...imageEnv, MM_DATA_DIR: data, MM_CACHE_DIR: cache, MM_PORT: String(port), MM_ADMIN_PORT: String(adminPort), MM_LOG_LEVEL: 'silent' };
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
