import type Database from 'better-sqlite3';
import type { MigrationMeta } from 'drizzle-orm/migrator';
import { AppError } from '../../errors';

const MIGRATIONS_TABLE = '__drizzle_migrations';

interface AppliedRow {
  hash: string;
  created_at: number | string;
}

/** The newest migration recorded in the file, or undefined for a file that has none yet. */
function lastApplied(db: Database.Database): AppliedRow | undefined {
  const table = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(MIGRATIONS_TABLE);
  if (!table) return undefined;
  return db.prepare(`SELECT hash, created_at FROM ${MIGRATIONS_TABLE} ORDER BY created_at DESC LIMIT 1`).get() as AppliedRow | undefined;
}

/**
 * Throws `database_too_new` when the file records a migration this program does not know: it
 * was written by a newer mechamental, and an older one must not touch it.
 */
export function assertNotNewer(db: Database.Database, migrations: MigrationMeta[], file: string): void {
  const last = lastApplied(db);
  if (!last) return;
  const known = migrations.at(-1)?.folderMillis ?? 0;
  if (Number(last.created_at) > known || !migrations.some((m) => m.hash === last.hash)) {
    throw new AppError(
      'database_too_new',
      `${file} was written by a newer version of mechamental (schema ${last.created_at}, this program knows up to ${known}); nothing was changed. Run the newer mechamental, or restore a backup made by this version.`,
    );
  }
}

/**
 * Applies pending migrations in one IMMEDIATE transaction, so that two processes starting at once
 * on a new file cannot both try. Records rows exactly as drizzle's migrator does (same table,
 * hash and created_at), so drizzle-kit and this program agree about what is applied.
 * Returns how many migrations were applied.
 */
export function applyMigrations(db: Database.Database, migrations: MigrationMeta[], file: string): number {
  db.exec(`CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)`);
  const run = db.transaction(() => {
    assertNotNewer(db, migrations, file);
    const last = lastApplied(db);
    const since = last ? Number(last.created_at) : -Infinity;
    const insert = db.prepare(`INSERT INTO ${MIGRATIONS_TABLE} ("hash", "created_at") VALUES (?, ?)`);
    let applied = 0;
    for (const migration of migrations) {
      if (migration.folderMillis <= since) continue;
      for (const statement of migration.sql) {
        if (statement.trim()) db.exec(statement);
      }
      insert.run(migration.hash, migration.folderMillis);
      applied++;
    }
    // The schema generation also goes into the file header (user_version), where an older
    // program can see it without opening the file with SQLite (see open.ts).
    if (Number(db.pragma('user_version', { simple: true })) < migrations.length) db.pragma(`user_version = ${migrations.length}`);
    return applied;
  });
  return run.immediate();
}
