import { after } from 'node:test';
import { ManualClock } from '../../src/clock';
import { loadConfig, type Config } from '../../src/config';
import { openServices, type Services } from '../../src/services';
import { tempDataDir } from './data-dir';
import { freshDatabase, usingPostgres } from './postgres';

export const DAY = 86_400_000;

export type TestServices = Services & { clock: ManualClock; config: Config };

/**
 * Real services on a real store with a settable clock (starting at the real now, so rows written
 * here also make sense to other processes): a SQLite file in a fresh temp dir, or — in the
 * PostgreSQL pass (MM_TEST_DATABASE=postgres) — a fresh database on the test cluster. Given
 * `databaseUrl` or `dataDir`, exactly that store. Closed after the test file.
 */
export async function testServices(options: { dataDir?: string; databaseUrl?: string; env?: NodeJS.ProcessEnv; clock?: ManualClock } = {}): Promise<TestServices> {
  const clock = options.clock ?? new ManualClock(Date.now());
  const databaseUrl = options.databaseUrl ?? (options.dataDir === undefined && usingPostgres() ? await freshDatabase() : undefined);
  const config = loadConfig({ ...options.env, MM_DATA_DIR: options.dataDir ?? tempDataDir(), ...(databaseUrl ? { MM_DATABASE_URL: databaseUrl } : {}) });
  const services = await openServices(config, { clock, actor: 'cli' });
  after(() => services.close().catch(() => {}));
  return services as TestServices;
}

/** The environment that points a child process (CLI, serve) at the same store as `services`. */
export function storeEnv(services: Services): NodeJS.ProcessEnv {
  return services.config.databaseUrl ? { MM_DATABASE_URL: services.config.databaseUrl } : { MM_DATA_DIR: services.config.dataDir };
}
