import type { Config } from '../config';
import { SqliteStore } from './sqlite/store';
import type { Store } from './store';

/**
 * Opens the configured store: PostgreSQL when `config.databaseUrl` is set (every instance, the CLI
 * and the TUI on one shared database), otherwise the SQLite file in `config.dataDir`. Either way the
 * schema is migrated before this resolves, and a database written by a newer mechamental is refused
 * unchanged. `pageCacheKiB` (SQLite): the connection's page cache, when not the 16 MB better-sqlite3
 * builds SQLite with (the CLI's one-shot commands take SQLite's own default, 2,000 KiB: a listing
 * of a million rows then holds 2 MB of pages, not 16).
 */
export async function openStore(config: Config, options: { clock: () => number; pageCacheKiB?: number }): Promise<Store> {
  if (config.databaseUrl !== undefined) {
    // Loaded only when used: the embedded default does not pay for the PostgreSQL driver at start.
    const { PostgresStore } = await import('./postgres/store');
    return PostgresStore.open(config.databaseUrl, { poolSize: config.databasePoolSize, clock: options.clock });
  }
  return SqliteStore.open(config.dataDir, { minFreeBytes: config.readyMinFreeBytes, pageCacheKiB: options.pageCacheKiB });
}
