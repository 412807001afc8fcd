// Runs the test suite: every test/**/*.test.ts(x) under node:test with the tsx loader.
// Node 20's test runner does not expand globs itself, hence this small launcher.
//
// Usage: node test/run.mjs [--postgres] [substring …]   (only files whose path contains one of the substrings)
//
// PostgreSQL: when its server tools are installed (Debian: postgresql), a throwaway cluster is
// started for the run and its URL handed to the tests as MM_TEST_POSTGRES_URL (unless that is set
// already); tests that need PostgreSQL are skipped without it, saying how to install it.
// MM_TEST_DATABASE=postgres (or --postgres) runs the service and HTTP tests against PostgreSQL instead
// of SQLite; --postgres leaves out what cannot differ by database (the built executable's tests, the
// benchmark harness, files named *.sqlite.test.ts).
// MM_TEST_NO_SKIPS=1 (CI) fails the run when any test was skipped.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { INSTALL_HINT, postgresBinDir, startCluster } from './helpers/postgres-cluster.mjs';

const root = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const postgresPass = args.includes('--postgres');
const filters = args.filter((arg) => arg !== '--postgres');
/** What the PostgreSQL pass leaves out: the same with either database. */
const SAME_ON_EITHER = [`${path.sep}binary${path.sep}`, `${path.sep}bench${path.sep}`, '.sqlite.test.'];

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'helpers' || entry.name === 'fixtures' ? [] : walk(full);
    return /\.test\.tsx?$/.test(entry.name) ? [full] : [];
  });
}

const files = walk(root)
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .filter((file) => !postgresPass || !SAME_ON_EITHER.some((part) => file.includes(part)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(', ')}`);
  process.exit(1);
}

const env = { ...process.env, ...(postgresPass ? { MM_TEST_DATABASE: 'postgres' } : {}) };
let cluster;
if (!env.MM_TEST_POSTGRES_URL) {
  if (postgresBinDir()) {
    try {
      cluster = await startCluster();
      env.MM_TEST_POSTGRES_URL = cluster.url;
      env.MM_TEST_POSTGRES_THROWAWAY = '1';
      console.log(`# PostgreSQL test cluster on port ${cluster.port}`);
    } catch (error) {
      console.log(`# PostgreSQL test cluster could not start: ${error.message}`);
    }
  } else {
    console.log(`# no PostgreSQL server tools: tests that need PostgreSQL are skipped (${INSTALL_HINT})`);
  }
}
if (env.MM_TEST_DATABASE === 'postgres' && !env.MM_TEST_POSTGRES_URL) {
  console.error(`MM_TEST_DATABASE=postgres needs PostgreSQL: ${INSTALL_HINT}`);
  process.exit(1);
}

const child = spawn(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`, ...files], {
  stdio: ['inherit', 'pipe', 'inherit'],
  env,
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    child.kill(signal);
    cluster?.remove();
    process.exit(1);
  });
}
let tail = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString('utf8')).slice(-4096);
});
const code = await new Promise((resolve) => child.on('close', (status) => resolve(status ?? 1)));
cluster?.remove();
const skipped = Number(/# skipped (\d+)/.exec(tail)?.[1] ?? 0);
if (code === 0 && skipped > 0 && process.env.MM_TEST_NO_SKIPS === '1') {
  console.error(`\n${skipped} test(s) were skipped, and MM_TEST_NO_SKIPS=1 says none may be (install what their messages name)`);
  process.exit(1);
}
process.exit(code);
