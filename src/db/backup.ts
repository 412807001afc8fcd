import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { AppError } from '../errors';

/**
 * Writes a consistent copy of the database behind `sqlite` to `target` (SQLite's online backup API:
 * a snapshot even while other processes write).
 *
 * Invariants:
 * - The copy is mode 0600 from its first byte: the partial file is created by us with
 *   O_CREAT|O_EXCL and mode 0600 before SQLite writes into it (SQLite keeps an existing file's mode,
 *   and gives its journal the same mode), never created 0644 and tightened afterwards.
 * - It never overwrites: the partial file, written in the target's own directory, is put in place
 *   with link(2), which fails with EEXIST when `target` exists (also when it appeared while the
 *   backup ran), and then unlinked. There is no exists-then-rename race.
 * - On any failure nothing is left behind but what was there before.
 */
export async function writeBackup(sqlite: Database.Database, target: string): Promise<void> {
  const dir = path.dirname(target);
  // Early, clear answers (link() below is what actually guarantees them).
  if (fs.existsSync(target)) throw alreadyExists(target);
  if (!fs.existsSync(dir)) throw new AppError('io_error', `the directory ${dir} does not exist`);
  const partial = path.join(dir, `.${path.basename(target)}.partial-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  let fd: number;
  try {
    fd = fs.openSync(partial, 'wx', 0o600);
  } catch (error) {
    throw new AppError('io_error', `backup to ${target} failed: cannot create a file in ${dir} (${(error as Error).message})`);
  }
  try {
    // The umask could only have made it stricter (and then SQLite might not write it): exactly 0600.
    fs.fchmodSync(fd, 0o600);
    fs.closeSync(fd);
    await sqlite.backup(partial);
    syncFile(partial);
    try {
      fs.linkSync(partial, target);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw alreadyExists(target);
      if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP') {
        throw new AppError('io_error', `backup to ${target} failed: the filesystem of ${dir} does not support hard links, which backups need so that they never overwrite a file; write it to another directory`);
      }
      throw error;
    }
  } catch (error) {
    fs.rmSync(partial, { force: true });
    if (error instanceof AppError) throw error;
    throw new AppError('io_error', `backup to ${target} failed: ${(error as Error).message}`);
  }
  fs.rmSync(partial, { force: true });
  syncFile(dir);
}

function alreadyExists(target: string): AppError {
  return new AppError('validation_failed', `${target} already exists; choose a new file name (backups never overwrite)`);
}

/** fsync a file or directory, so that the backup (and its name) survive a crash right after. */
function syncFile(file: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Best effort: some filesystems refuse fsync on a directory.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
