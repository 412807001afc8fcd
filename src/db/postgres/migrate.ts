import type { MigrationMeta } from 'drizzle-orm/migrator';
import type postgres from 'postgres';
import { AppError } from '../../errors';

/** drizzle's own table for PostgreSQL, so that drizzle-kit and this program agree on what is applied. */
const MIGRATIONS_SCHEMA = 'drizzle';
const MIGRATIONS_TABLE = '__drizzle_migrations';
/**
 * The advisory lock that makes concurrent starts migrate once: whoever takes it first applies what is
 * pending; the others wait, then find nothing to do. ("mmmigrat" as a 64-bit integer.)
 */
const MIGRATION_LOCK = 7_886_833_719_432_652_148n;

interface AppliedRow {
  hash: string;
  created_at: string | number;
}

/**
 * Applies pending migrations in one transaction under an advisory lock (instances starting together
 * on an empty database migrate once), recording rows exactly as drizzle's PostgreSQL migrator does.
 * Refuses, changing nothing, a database whose newest recorded migration this program does not know
 * (it was written by a newer mechamental). Answers how many migrations were applied.
 */
export async function applyPostgresMigrations(sql: postgres.Sql, migrations: MigrationMeta[], location: string): Promise<number> {
  return sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK.toString()}::bigint)`;
    await tx.unsafe(`CREATE SCHEMA IF NOT EXISTS "${MIGRATIONS_SCHEMA}"`);
    await tx.unsafe(`CREATE TABLE IF NOT EXISTS "${MIGRATIONS_SCHEMA}"."${MIGRATIONS_TABLE}" (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)`);
    const [last] = (await tx.unsafe(`SELECT hash, created_at FROM "${MIGRATIONS_SCHEMA}"."${MIGRATIONS_TABLE}" ORDER BY created_at DESC LIMIT 1`)) as unknown as AppliedRow[];
    const known = migrations.at(-1)?.folderMillis ?? 0;
    if (last && (Number(last.created_at) > known || !migrations.some((m) => m.hash === last.hash))) {
      throw new AppError(
        'database_too_new',
        `${location} was written by a newer version of mechamental (schema ${last.created_at}, this program knows up to ${known}); nothing was changed. Run the newer mechamental, or restore a backup made by this version.`,
      );
    }
    if (!last) {
      const [clash] = (await tx.unsafe(`SELECT to_regclass('apps') IS NOT NULL OR to_regclass('tokens') IS NOT NULL AS taken`)) as unknown as Array<{ taken: boolean }>;
      if (clash?.taken) {
        throw new AppError(
          'database_invalid',
          `${location} already has tables named apps or tokens that mechamental did not create; nothing was changed. Give mechamental a database of its own (CREATE DATABASE mechamental).`,
        );
      }
    }
    const since = last ? Number(last.created_at) : -Infinity;
    let applied = 0;
    for (const migration of migrations) {
      if (migration.folderMillis <= since) continue;
      for (const statement of migration.sql) {
        if (statement.trim()) await tx.unsafe(statement);
      }
      await tx.unsafe(`INSERT INTO "${MIGRATIONS_SCHEMA}"."${MIGRATIONS_TABLE}" ("hash", "created_at") VALUES ($1, $2)`, [migration.hash, migration.folderMillis]);
      applied++;
    }
    return applied;
  });
}
