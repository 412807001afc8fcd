import type { Config } from '../config';
import { PostgresStore } from './postgres/store';
import { SqliteStore } from './sqlite/store';
import type { Store } from './store';

/**
 * Opens the configured store: PostgreSQL when `config.databaseUrl` is set (every instance, the CLI
 * and the TUI on one shared database), otherwise the SQLite file in `config.dataDir`. Either way the
 * schema is migrated before this resolves, and a database written by a newer mechamental is refused
 * unchanged.
 */
export async function openStore(config: Config, options: { clock: () => number }): Promise<Store> {
  if (config.databaseUrl !== undefined) {
    return PostgresStore.open(config.databaseUrl, { poolSize: config.databasePoolSize, clock: options.clock });
  }
  return SqliteStore.open(config.dataDir, { minFreeBytes: config.readyMinFreeBytes });
}
