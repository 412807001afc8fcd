import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { APPLICATION_ID, DB_FILE_NAME, openDatabase } from '../../src/db/sqlite/open';
import { AppError } from '../../src/errors';
import { REPO_ROOT } from '../helpers/cli';
import { tempDataDir, tempDir } from '../helpers/data-dir';

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function refusal(dataDir: string, code: string, message: RegExp): void {
  assert.throws(
    () => openDatabase(dataDir),
    (error: unknown) => error instanceof AppError && error.code === code && message.test(error.message) && /nothing was changed/.test(error.message),
  );
}

describe('opening the database', () => {
  test('creates the data directory 0700 and the file 0600, in WAL mode with foreign keys and full sync', () => {
    const dataDir = tempDataDir();
    const db = openDatabase(dataDir);
    try {
      assert.equal(fs.statSync(dataDir).mode & 0o777, 0o700);
      assert.equal(fs.statSync(path.join(dataDir, DB_FILE_NAME)).mode & 0o777, 0o600);
      assert.equal(db.sqlite.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(db.sqlite.pragma('foreign_keys', { simple: true }), 1);
      assert.equal(db.sqlite.pragma('synchronous', { simple: true }), 2, 'FULL');
      assert.ok(Number(db.sqlite.pragma('busy_timeout', { simple: true })) >= 5000);
      assert.equal(db.sqlite.pragma('application_id', { simple: true }), APPLICATION_ID);
    } finally {
      db.close();
    }
  });

  test('records the migrations exactly as drizzle-kit does (same hashes), and reopening applies nothing twice', () => {
    const dataDir = tempDataDir();
    openDatabase(dataDir).close();
    const db = openDatabase(dataDir);
    try {
      const rows = db.sqlite.prepare('SELECT hash, created_at FROM __drizzle_migrations ORDER BY created_at').all() as Array<{ hash: string; created_at: number }>;
      const expected = readMigrationFiles({ migrationsFolder: path.join(REPO_ROOT, 'migrations/sqlite') });
      assert.deepEqual(rows.map((r) => [r.hash, Number(r.created_at)]), expected.map((m) => [m.hash, m.folderMillis]));
    } finally {
      db.close();
    }
  });

  test('refuses a file that is not SQLite and leaves every byte of it', () => {
    const dataDir = tempDataDir();
    fs.mkdirSync(dataDir, { recursive: true });
    const file = path.join(dataDir, DB_FILE_NAME);
    fs.writeFileSync(file, 'these are my notes, not a database\n'.repeat(100));
    const before = sha256(file);
    refusal(dataDir, 'database_invalid', /is not a SQLite database/);
    assert.equal(sha256(file), before);
    assert.deepEqual(fs.readdirSync(dataDir), [DB_FILE_NAME], 'no -wal or -shm files appear either');
  });

  test('refuses a SQLite file of another program and leaves it unchanged', () => {
    const dataDir = tempDataDir();
    fs.mkdirSync(dataDir, { recursive: true });
    const file = path.join(dataDir, DB_FILE_NAME);
    const other = new Database(file);
    other.exec("CREATE TABLE recipes (name TEXT); INSERT INTO recipes VALUES ('bread');");
    other.close();
    const before = sha256(file);
    refusal(dataDir, 'database_invalid', /another program/);
    assert.equal(sha256(file), before);
  });

  test('refuses a database written by a newer mechamental and leaves it unchanged', () => {
    const dataDir = tempDataDir();
    openDatabase(dataDir).close();
    const file = path.join(dataDir, DB_FILE_NAME);
    const newer = new Database(file);
    newer.prepare('INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?)').run('f'.repeat(64), Date.UTC(2099, 0, 1));
    newer.pragma('wal_checkpoint(TRUNCATE)');
    newer.pragma('journal_mode = DELETE');
    newer.close();
    const before = sha256(file);
    refusal(dataDir, 'database_too_new', /newer version of mechamental/);
    assert.equal(sha256(file), before);
  });

  test('a damaged file (valid header, garbage after) is refused with advice to restore a backup', () => {
    const dataDir = tempDataDir();
    openDatabase(dataDir).close();
    const file = path.join(dataDir, DB_FILE_NAME);
    const db = new Database(file);
    db.pragma('journal_mode = DELETE');
    db.close();
    const bytes = fs.readFileSync(file);
    bytes.fill(0xab, 100);
    fs.writeFileSync(file, bytes);
    assert.throws(() => openDatabase(dataDir), (error: unknown) => error instanceof AppError && /damaged|another program|not a SQLite/.test(error.message));
  });

  test('a data dir that is a file is a clear error', () => {
    const file = path.join(tempDir(), 'not-a-dir');
    fs.writeFileSync(file, 'x');
    assert.throws(() => openDatabase(file), (error: unknown) => error instanceof AppError && /is a file, not a directory; choose a data directory with --data-dir/.test(error.message));
  });
});

test('a newer schema generation in the file header is refused before SQLite opens the file: not even a -shm file appears', () => {
  const dataDir = tempDataDir();
  openDatabase(dataDir).close();
  const file = path.join(dataDir, DB_FILE_NAME);
  const db = new Database(file);
  assert.equal(db.pragma('user_version', { simple: true }), readMigrationFiles({ migrationsFolder: path.join(REPO_ROOT, 'migrations/sqlite') }).length);
  db.pragma('user_version = 999');
  db.close();
  assert.deepEqual(fs.readdirSync(dataDir), [DB_FILE_NAME], 'a clean close leaves only the database file');
  const before = sha256(file);
  refusal(dataDir, 'database_too_new', /schema generation 999/);
  assert.equal(sha256(file), before);
  assert.deepEqual(fs.readdirSync(dataDir), [DB_FILE_NAME]);
});
