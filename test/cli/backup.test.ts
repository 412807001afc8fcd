import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { cliEnv, devCommand, REPO_ROOT, runCli } from '../helpers/cli';
import { tempDataDir, tempDir } from '../helpers/data-dir';
import { runCollecting, type ProcessResult } from '../helpers/process';

const FILLER_ROWS = 20;
const ROW_BYTES = 1_048_576;

/** `mechamental backup target` as a child process under umask 022, the common default (SQLite would create files 0644 under it). */
function startBackup(dataDir: string, target: string): Promise<ProcessResult> {
  const [node, ...args] = devCommand();
  return runCollecting('sh', ['-c', 'umask 022 && exec "$@"', 'sh', node!, ...args, 'backup', target], { cwd: REPO_ROOT, env: cliEnv({ MM_DATA_DIR: dataDir }) });
}

/** Polls `dir` (every turn of the event loop) until `done` settles, recording each file's name and mode as seen. */
async function watchDirectory<T>(dir: string, done: Promise<T>, onSeen: (name: string) => void = () => {}): Promise<{ result: T; seen: Map<string, Set<number>> }> {
  const seen = new Map<string, Set<number>>();
  let finished = false;
  const result = done.finally(() => (finished = true));
  while (!finished) {
    for (const name of fs.readdirSync(dir)) {
      let mode: number;
      try {
        mode = fs.lstatSync(path.join(dir, name)).mode & 0o777;
      } catch {
        continue; // gone between readdir and lstat
      }
      if (!seen.has(name)) seen.set(name, new Set());
      seen.get(name)!.add(mode);
      onSeen(name);
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { result: await result, seen };
}

describe('backup (finding 6)', () => {
  const dataDir = tempDataDir();

  before(() => {
    assert.equal(runCli(['migrate'], { dataDir }).code, 0);
    // ~20 MB of data, so that the copy takes a while to write.
    const db = new Database(path.join(dataDir, 'mechamental.db'));
    db.exec('CREATE TABLE filler (bytes BLOB)');
    const insert = db.prepare('INSERT INTO filler (bytes) VALUES (?)');
    for (let i = 0; i < FILLER_ROWS; i++) insert.run(crypto.randomBytes(ROW_BYTES));
    db.close();
  });

  test('the copy is 0600 from its first byte: every file seen in the directory while it is written', async () => {
    const dir = tempDir('mm-backup-');
    const target = path.join(dir, 'backup.db');
    const { result, seen } = await watchDirectory(dir, startBackup(dataDir, target));
    assert.equal(result.code, 0, result.stderr);
    for (const [name, modes] of seen) assert.deepEqual([...modes], [0o600], `${name} was ${[...modes].map((m) => m.toString(8)).join(', ')}`);
    const partials = [...seen.keys()].filter((name) => name.startsWith('.backup.db.partial-'));
    assert.ok(partials.length > 0, `the partial file was seen while being written (seen: ${[...seen.keys()].join(', ')})`);
    assert.deepEqual(fs.readdirSync(dir), ['backup.db'], 'nothing else left behind');
    assert.equal(fs.statSync(target).mode & 0o777, 0o600);
    const copy = new Database(target, { readonly: true });
    assert.equal((copy.prepare('SELECT count(*) AS n FROM filler').get() as { n: number }).n, FILLER_ROWS);
    assert.equal((copy.prepare('PRAGMA integrity_check').get() as { integrity_check: string }).integrity_check, 'ok');
    copy.close();
  });

  test('an existing target is never overwritten', async () => {
    const dir = tempDir('mm-backup-');
    const target = path.join(dir, 'backup.db');
    fs.writeFileSync(target, 'precious');
    const result = await startBackup(dataDir, target);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /already exists; choose a new file name \(backups never overwrite\)/);
    assert.equal(fs.readFileSync(target, 'utf8'), 'precious');
    assert.deepEqual(fs.readdirSync(dir), ['backup.db']);
  });

  test('nor is a target that appears while the backup is being written (no exists-then-rename race)', async () => {
    // The file is created the moment the partial copy shows up; should the backup win that race on
    // a fast machine, the round is tried again with a new name.
    for (let round = 0; round < 3; round++) {
      const dir = tempDir('mm-backup-');
      const target = path.join(dir, 'backup.db');
      const state: { planted: 'no' | 'yes' | 'too late' } = { planted: 'no' };
      const { result } = await watchDirectory(dir, startBackup(dataDir, target), (name) => {
        if (state.planted !== 'no' || !name.startsWith('.backup.db.partial-')) return;
        try {
          fs.writeFileSync(target, 'precious', { flag: 'wx' });
          state.planted = 'yes';
        } catch {
          state.planted = 'too late';
        }
      });
      if (state.planted !== 'yes') continue;
      assert.equal(result.code, 1, result.stdout);
      assert.match(result.stderr, /already exists/);
      assert.equal(fs.readFileSync(target, 'utf8'), 'precious');
      assert.deepEqual(fs.readdirSync(dir), ['backup.db'], 'the partial copy was removed');
      return;
    }
    assert.fail('the target could never be planted while the backup ran');
  });
});
