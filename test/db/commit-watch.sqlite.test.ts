// CommitWatch (src/db/sqlite/commit-watch.ts): the check every trigger request makes before it
// trusts a cached verification. It must see every commit that returned — of this connection, of
// another one, of another process — and, where it reads the WAL index's header, keep one shared
// descriptor of the -shm file per process, closed only after the last watch of that file.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { CommitWatch } from '../../src/db/sqlite/commit-watch';

function tempDb(t: TestContext, journalMode: 'wal' | 'delete'): { file: string; open(): Database.Database } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mm-commit-watch-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'watched.db');
  const open = () => {
    const db = new Database(file);
    db.pragma(`journal_mode = ${journalMode}`);
    db.prepare('SELECT 1').get();
    return db;
  };
  const setup = open();
  setup.exec('CREATE TABLE IF NOT EXISTS t (v INTEGER)');
  setup.close();
  return { file, open };
}

/** Descriptors of this process open on `file` (Linux: /proc/self/fd). */
function descriptorsOn(file: string): number {
  const real = fs.realpathSync(file);
  return fs.readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`) === real;
    } catch {
      return false;
    }
  }).length;
}

for (const mode of ['wal', 'delete'] as const) {
  test(`${mode === 'wal' ? 'WAL (the header is read)' : 'rollback journal (PRAGMA data_version)'}: every commit that returned is seen, and nothing else`, (t) => {
    const { file, open } = tempDb(t, mode);
    const watched = open();
    const other = open();
    const watch = new CommitWatch(watched, file);
    t.after(() => {
      watched.close();
      other.close();
      watch.release();
    });
    assert.equal(watch.readsHeader, mode === 'wal');
    assert.equal(watch.changed(), true, 'the first look reports a change (nothing was seen before)');
    assert.equal(watch.changed(), false);
    assert.equal(watch.changed(), false, 'looking changes nothing');

    other.prepare('INSERT INTO t (v) VALUES (1)').run();
    assert.equal(watch.changed(), true, "another connection's commit");
    assert.equal(watch.changed(), false);

    other.exec('BEGIN IMMEDIATE; INSERT INTO t (v) VALUES (2)');
    assert.equal(watch.changed(), false, 'a transaction not yet committed is not a change');
    other.exec('ROLLBACK');
    assert.equal(watch.changed(), false, 'nor one rolled back');

    const child = spawnSync(process.execPath, ['-e', `const D = require('better-sqlite3'); const d = new D(${JSON.stringify(file)}); d.prepare('INSERT INTO t (v) VALUES (3)').run(); d.close();`], { cwd: process.cwd(), encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    assert.equal(watch.changed(), true, "another process's commit");
    assert.equal(watch.changed(), false);

    if (mode === 'wal') {
      // A checkpoint that restarts the WAL, then a commit into the restarted WAL.
      other.pragma('wal_checkpoint(TRUNCATE)');
      watch.changed();
      other.prepare('INSERT INTO t (v) VALUES (4)').run();
      assert.equal(watch.changed(), true, 'a commit after the WAL restarted');
      watched.prepare('INSERT INTO t (v) VALUES (5)').run();
      assert.equal(watch.changed(), true, "the watched connection's own commit (reported: a cache dropped once more than needed)");
      assert.equal(watch.changed(), false);
    }
  });
}

test('WAL: the header read while a commit writes it (its two copies differ) is a change, and not remembered', (t) => {
  const { file, open } = tempDb(t, 'wal');
  const watched = open();
  const watch = new CommitWatch(watched, file);
  watch.changed();
  assert.equal(watch.changed(), false);
  // What a reader sees between the commit's two writes: the second copy new, the first not yet.
  const shm = `${file}-shm`;
  const fd = fs.openSync(shm, 'r+');
  const header = Buffer.alloc(96);
  fs.readSync(fd, header, 0, 96, 0);
  const torn = Buffer.from(header);
  torn[48 + 8] = torn[48 + 8]! ^ 0xff;
  fs.writeSync(fd, torn, 0, 96, 0);
  assert.equal(watch.changed(), true);
  assert.equal(watch.changed(), true, 'still a change: the copies still differ');
  fs.writeSync(fd, header, 0, 96, 0);
  assert.equal(watch.changed(), false, 'the copies agree again, as they were last seen');
  // Closed only after the watch, whose shared descriptor holds this process's locks with it.
  watched.close();
  watch.release();
  fs.closeSync(fd);
});

test("WAL: one descriptor of the -shm file per process, closed only when the file's last watch is released", (t) => {
  const { file, open } = tempDb(t, 'wal');
  const first = open();
  const second = open();
  const shm = `${file}-shm`;
  const sqliteOwn = descriptorsOn(shm);
  const a = new CommitWatch(first, file);
  const b = new CommitWatch(second, file);
  assert.equal(descriptorsOn(shm), sqliteOwn + 1, 'two watches share one descriptor');
  second.close();
  b.release();
  b.release(); // twice: no effect
  assert.equal(descriptorsOn(shm) >= 1, true);
  assert.equal(a.readsHeader, true);
  // The remaining watch still reads the file its connection uses, and still sees commits.
  a.changed();
  const writer = open();
  writer.prepare('INSERT INTO t (v) VALUES (1)').run();
  writer.close();
  assert.equal(a.changed(), true);
  first.close();
  a.release();
  assert.equal(a.readsHeader, false);
  assert.equal(fs.existsSync(shm) ? descriptorsOn(shm) : 0, 0, 'no descriptor is left open once every watch is released');
});

test('a journal mode other than WAL, or no -shm file to open: PRAGMA data_version answers', (t) => {
  const { file, open } = tempDb(t, 'wal');
  const watched = open();
  // A watch given a path with no -shm beside it (as if the file could not be opened).
  const watch = new CommitWatch(watched, path.join(path.dirname(file), 'elsewhere.db'));
  t.after(() => {
    watched.close();
    watch.release();
  });
  assert.equal(watch.readsHeader, false);
  watch.changed();
  assert.equal(watch.changed(), false);
  const other = open();
  other.prepare('INSERT INTO t (v) VALUES (1)').run();
  other.close();
  assert.equal(watch.changed(), true);
});
