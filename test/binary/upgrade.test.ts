import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { REPO_ROOT, runCli, type CliResult } from '../helpers/cli';
import { BUILD_TIMEOUT_MS, ensureBinary, runBinary, sandbox, type BinaryResult, type Sandbox } from './helpers/binary';

const MIGRATIONS = readMigrationFiles({ migrationsFolder: path.join(REPO_ROOT, 'migrations/sqlite') });

function ok<T extends CliResult | BinaryResult>(result: T): T {
  assert.equal(result.code, 0, `exit ${result.code}; stderr: ${result.stderr}`);
  return result;
}

function appliedMigrations(dataDir: string): Array<{ hash: string; created_at: number }> {
  const db = new Database(path.join(dataDir, 'mechamental.db'), { readonly: true });
  try {
    return db.prepare('SELECT hash, created_at FROM __drizzle_migrations ORDER BY created_at').all() as Array<{ hash: string; created_at: number }>;
  } finally {
    db.close();
  }
}

/** Every file in `dir` with its SHA-256, for "not a byte changed" checks. */
function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(
    fs
      .readdirSync(dir)
      .sort()
      .map((name) => [name, crypto.createHash('sha256').update(fs.readFileSync(path.join(dir, name))).digest('hex')]),
  );
}

function tokenNames(output: string): string[] {
  return (JSON.parse(output) as { tokens: Array<{ name: string }> }).tokens.map((t) => t.name).sort();
}

describe('one database file, the development build and the executable', () => {
  let box: Sandbox;
  before(
    () => {
      ensureBinary();
      box = sandbox();
    },
    { timeout: BUILD_TIMEOUT_MS },
  );
  const expected = () => MIGRATIONS.map((m) => ({ hash: m.hash, created_at: m.folderMillis }));

  test('a database made by the development build opens in the executable, with the same migration hashes', () => {
    const dataDir = path.join(box.dir, 'from-dev');
    ok(runCli(['tokens', 'create', '--app', 'default', '--name', 'made by dev', '--expires', '30d'], { dataDir }));
    assert.deepEqual(appliedMigrations(dataDir), expected());
    ok(runBinary(box, ['migrate', '--data-dir', dataDir]));
    ok(runBinary(box, ['tokens', 'create', '--app', 'default', '--name', 'made by binary', '--expires', '30d', '--data-dir', dataDir]));
    assert.deepEqual(tokenNames(ok(runBinary(box, ['tokens', 'list', '--app', 'default', '--json', '--data-dir', dataDir])).stdout), ['made by binary', 'made by dev']);
    assert.deepEqual(appliedMigrations(dataDir), expected(), 'nothing re-applied');
  });

  test('a database made by the executable opens in the development build, with the same migration hashes', () => {
    const dataDir = path.join(box.dir, 'from-binary');
    ok(runBinary(box, ['tokens', 'create', '--app', 'default', '--name', 'made by binary', '--expires', '30d', '--data-dir', dataDir]));
    assert.deepEqual(appliedMigrations(dataDir), expected());
    ok(runCli(['migrate'], { dataDir }));
    ok(runCli(['tokens', 'create', '--app', 'default', '--name', 'made by dev', '--expires', '30d'], { dataDir }));
    assert.deepEqual(tokenNames(ok(runCli(['tokens', 'list', '--app', 'default', '--json'], { dataDir })).stdout), ['made by binary', 'made by dev']);
    assert.deepEqual(appliedMigrations(dataDir), expected());
  });

  test('a database from a newer version is refused by both, and not a byte changes', () => {
    const dataDir = path.join(box.dir, 'from-the-future');
    ok(runBinary(box, ['migrate', '--data-dir', dataDir]));
    const db = new Database(path.join(dataDir, 'mechamental.db'));
    const last = MIGRATIONS.at(-1)!.folderMillis;
    db.prepare('INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?)').run('f'.repeat(64), last + 86_400_000);
    db.close();
    const before = snapshot(dataDir);

    for (const [who, result] of [
      ['executable', runBinary(box, ['tokens', 'list', '--app', 'default', '--data-dir', dataDir])],
      ['executable migrate', runBinary(box, ['migrate', '--data-dir', dataDir])],
      ['development build', runCli(['tokens', 'list', '--app', 'default'], { dataDir })],
      ['development build migrate', runCli(['migrate'], { dataDir })],
    ] as const) {
      assert.equal(result.code, 1, `${who}: ${result.stdout}${result.stderr}`);
      assert.equal(result.stderr.trimEnd().split('\n').length, 1, `${who}: one line: ${result.stderr}`);
      assert.match(result.stderr, /written by a newer version of mechamental.*nothing was changed/, who);
      // The database file is byte for byte the same. Opening a WAL database, even read-only, lets
      // SQLite create its shared-memory index (-shm) and an empty -wal; neither holds data.
      const after = snapshot(dataDir);
      assert.equal(after['mechamental.db'], before['mechamental.db'], `${who} left the database file unchanged`);
      for (const name of Object.keys(after).filter((n) => !(n in before))) {
        assert.ok(name === 'mechamental.db-shm' || (name === 'mechamental.db-wal' && fs.statSync(path.join(dataDir, name)).size === 0), `${who} created ${name}`);
      }
    }
  });
});
