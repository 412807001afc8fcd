import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import type { MigrationMeta } from 'drizzle-orm/migrator';
import { AppError, isAppError } from '../../errors';
import { embeddedMigrations } from '../migrations';
import { nativeBinding } from '../native';
import { applyMigrations, assertNotNewer } from './migrate';
import * as schema from './schema';

export const DB_FILE_NAME = 'mechamental.db';
/** `PRAGMA application_id` of a mechamental file ("MMNT"), so that other programs' files are told apart. */
export const APPLICATION_ID = 0x4d4d4e54;
const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');
/** How long a writer waits for another process's write to finish before giving up. */
const BUSY_TIMEOUT_MS = 10_000;

export type Orm = BetterSQLite3Database<typeof schema>;

export interface Db {
  /** The raw connection, for prepared hot-path statements, pragmas and backups. */
  readonly sqlite: Database.Database;
  readonly orm: Orm;
  readonly file: string;
  readonly dataDir: string;
  /** How many migrations this open applied (0 when the file was already up to date). */
  readonly appliedMigrations: number;
  close(): void;
}

/**
 * Opens (creating on first use) the database in `dataDir`: the directory is made with mode 0700
 * and the file with 0600; WAL, foreign keys, a busy timeout so that the server, CLI and TUI share
 * the file, and `synchronous=FULL` so that every committed write (token state changes included)
 * survives power loss. Pending migrations are applied.
 *
 * Before anything is written, the file is checked: a file that is not SQLite, a SQLite file of
 * another program, or one written by a newer mechamental is refused with an AppError and left
 * byte-for-byte unchanged.
 */
export function openDatabase(dataDir: string, options: { pageCacheKiB?: number } = {}): Db {
  const dir = path.resolve(dataDir);
  ensureDataDir(dir);
  const file = path.join(dir, DB_FILE_NAME);
  const migrations = embeddedMigrations('sqlite');
  if (fs.existsSync(file) && fs.statSync(file).size > 0) inspectExisting(file, migrations);
  else createEmptyFile(file);

  let sqlite: Database.Database;
  let appliedMigrations: number;
  try {
    sqlite = new Database(file, { nativeBinding: nativeBinding() as string | undefined });
  } catch (error) {
    throw describeSqliteError(error, file);
  }
  try {
    sqlite.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = FULL');
    sqlite.pragma('foreign_keys = ON');
    // better-sqlite3 builds SQLite with a 16 MB page cache: right for a server, more than a one-shot command needs.
    if (options.pageCacheKiB !== undefined) sqlite.pragma(`cache_size = -${options.pageCacheKiB}`);
    appliedMigrations = applyMigrations(sqlite, migrations, file);
    if (sqlite.pragma('application_id', { simple: true }) !== APPLICATION_ID) {
      sqlite.pragma(`application_id = ${APPLICATION_ID}`);
    }
  } catch (error) {
    sqlite.close();
    throw describeSqliteError(error, file);
  }
  const orm = drizzle({ client: sqlite, schema });
  return { sqlite, orm, file, dataDir: dir, appliedMigrations, close: () => sqlite.close() };
}

/**
 * Opens an existing database read-only, changing nothing in it (for `db copy`): refused like
 * `openDatabase` refuses (not SQLite, another program's, newer), and also when migrations are
 * pending, since applying them would change the file: the error says to run `mechamental migrate`.
 */
export function openReadOnly(dataDir: string): Database.Database {
  const file = path.join(path.resolve(dataDir), DB_FILE_NAME);
  if (!fs.existsSync(file) || fs.statSync(file).size === 0) {
    throw new AppError('not_found', `there is no database at ${file}; choose the data directory with --data-dir or MM_DATA_DIR`);
  }
  const migrations = embeddedMigrations('sqlite');
  inspectExisting(file, migrations);
  let sqlite: Database.Database;
  try {
    sqlite = new Database(file, { readonly: true, fileMustExist: true, nativeBinding: nativeBinding() as string | undefined });
    sqlite.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  } catch (error) {
    throw describeSqliteError(error, file);
  }
  const known = migrations.at(-1);
  const hasTable = sqlite.prepare(`SELECT 1 FROM sqlite_master WHERE name = '__drizzle_migrations'`).get();
  const last = hasTable ? (sqlite.prepare('SELECT hash FROM __drizzle_migrations ORDER BY created_at DESC LIMIT 1').get() as { hash: string } | undefined) : undefined;
  if (known && last?.hash !== known.hash) {
    sqlite.close();
    throw new AppError('usage', `${file} has migrations pending; run \`mechamental migrate\` on it first (nothing was changed)`);
  }
  return sqlite;
}

function ensureDataDir(dir: string): void {
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(dir);
  } catch {
    stat = undefined;
  }
  if (stat && !stat.isDirectory()) {
    throw new AppError('io_error', `${dir} is a file, not a directory; choose a data directory with --data-dir or MM_DATA_DIR`);
  }
  if (!stat) {
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'ENOTDIR' || code === 'EEXIST' ? 'a part of the path is a file' : (error as Error).message;
      throw new AppError('io_error', `cannot create the data directory ${dir}: ${why}; choose another with --data-dir or MM_DATA_DIR`);
    }
  }
}

function createEmptyFile(file: string): void {
  try {
    fs.closeSync(fs.openSync(file, 'a', 0o600));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const exists = fs.existsSync(file);
    const why = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (error as Error).message;
    throw new AppError('io_error', exists ? `cannot open ${file}: ${why}; check its owner and permissions` : `cannot create ${file}: ${why}; check the data directory's owner and permissions`);
  }
}

/**
 * Read-only checks of an existing file; throws before the file could be modified. The header is
 * read as plain bytes first (magic, `user_version` at offset 60, `application_id` at 68), so the
 * common refusals happen without SQLite creating even a `-shm` file beside it.
 */
function inspectExisting(file: string, migrations: MigrationMeta[]): void {
  const header = Buffer.alloc(100);
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new AppError('io_error', `cannot open ${file}: ${code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (error as Error).message}; check its owner and permissions`);
  }
  try {
    fs.readSync(fd, header, 0, header.length, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (!header.subarray(0, SQLITE_MAGIC.length).equals(SQLITE_MAGIC)) {
    throw new AppError(
      'database_invalid',
      `${file} is not a SQLite database, so it is not a mechamental database; nothing was changed. Move it aside, or choose another data directory with --data-dir.`,
    );
  }
  const userVersion = header.readUInt32BE(60);
  const headerApplicationId = header.readUInt32BE(68);
  if (headerApplicationId !== 0 && headerApplicationId !== APPLICATION_ID) {
    throw new AppError(
      'database_invalid',
      `${file} is a SQLite database of another program, not of mechamental; nothing was changed. Move it aside, or choose another data directory with --data-dir.`,
    );
  }
  if (headerApplicationId === APPLICATION_ID && userVersion > migrations.length) {
    throw new AppError(
      'database_too_new',
      `${file} was written by a newer version of mechamental (schema generation ${userVersion}, this program knows ${migrations.length}); nothing was changed. Run the newer mechamental, or restore a backup made by this version.`,
    );
  }
  let probe: Database.Database | undefined;
  try {
    probe = new Database(file, { readonly: true, fileMustExist: true, nativeBinding: nativeBinding() as string | undefined });
    probe.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    const applicationId = probe.pragma('application_id', { simple: true });
    const hasMigrations = probe.prepare(`SELECT 1 FROM sqlite_master WHERE name = '__drizzle_migrations'`).get();
    const tableCount = (probe.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'`).get() as { n: number }).n;
    const foreign = applicationId !== 0 && applicationId !== APPLICATION_ID;
    if (foreign || (!hasMigrations && tableCount > 0)) {
      throw new AppError(
        'database_invalid',
        `${file} is a SQLite database of another program, not of mechamental; nothing was changed. Move it aside, or choose another data directory with --data-dir.`,
      );
    }
    assertNotNewer(probe, migrations, file);
  } catch (error) {
    throw describeSqliteError(error, file);
  } finally {
    probe?.close();
  }
}

/** Turns SQLite's error codes into sentences that say what to do. */
export function describeSqliteError(error: unknown, file: string): AppError {
  if (isAppError(error)) return error;
  const code = (error as { code?: string }).code ?? '';
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
    return new AppError('database_invalid', `${file} is damaged or not a SQLite database; nothing was changed. Restore it from a backup (mechamental backup makes one).`);
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new AppError('database_busy', `${file} stayed locked by another process for over ${BUSY_TIMEOUT_MS / 1000} s; try again.`);
  }
  if (code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_PERM')) {
    return new AppError('io_error', `cannot open ${file} for writing (${code}); check its owner and permissions.`);
  }
  return new AppError('internal', `database error on ${file}: ${(error as Error).message}`);
}
