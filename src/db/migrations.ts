import { fileURLToPath } from 'node:url';
import { readMigrationFiles, type MigrationMeta } from 'drizzle-orm/migrator';
import type { Dialect } from './store';

/**
 * Migrations as drizzle-kit wrote them to `migrations/sqlite/` and `migrations/postgres/`. The built
 * executable has both sets embedded by build.mjs (the define `__MM_MIGRATIONS__`, produced by
 * drizzle's own reader, so hashes agree with drizzle-kit's); the development build reads the folders.
 */
declare const __MM_MIGRATIONS__: Record<Dialect, MigrationMeta[]> | undefined;

export function embeddedMigrations(dialect: Dialect): MigrationMeta[] {
  if (typeof __MM_MIGRATIONS__ !== 'undefined') return __MM_MIGRATIONS__[dialect];
  return readMigrationFiles({ migrationsFolder: fileURLToPath(new URL(`../../migrations/${dialect}`, import.meta.url)) });
}
