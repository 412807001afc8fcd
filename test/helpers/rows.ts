import { PostgresStore } from '../../src/db/postgres/store';
import { SqliteStore } from '../../src/db/sqlite/store';
import type { Services } from '../../src/services';
import { readAllBytes } from './data-dir';

/** Every row of `table`, ordered by its first column, from whichever store the services use. */
export async function rowsOf(services: Services, table: string): Promise<Array<Record<string, unknown>>> {
  const store = services.store;
  if (store instanceof SqliteStore) return store.db.sqlite.prepare(`SELECT * FROM ${table} ORDER BY 1`).all() as Array<Record<string, unknown>>;
  if (store instanceof PostgresStore) return [...(await store.sql.unsafe(`SELECT * FROM ${table} ORDER BY 1`))] as Array<Record<string, unknown>>;
  throw new Error('unknown store');
}

/** Everything a user could see change: all token rows and all audit events. */
export async function snapshot(services: Services): Promise<string> {
  return JSON.stringify([await rowsOf(services, 'tokens'), await rowsOf(services, 'audit_events')]);
}

/**
 * Everything the store keeps, as bytes, for "this secret is stored nowhere" checks: the SQLite
 * files (after a checkpoint, so the WAL is in the main file too) or every PostgreSQL table's rows.
 */
export async function storedBytes(services: Services): Promise<Buffer> {
  const store = services.store;
  if (store instanceof SqliteStore) {
    store.db.sqlite.pragma('wal_checkpoint(TRUNCATE)');
    return readAllBytes(store.db.dataDir);
  }
  if (store instanceof PostgresStore) {
    const tables = await store.sql<Array<{ schema: string; name: string }>>`SELECT schemaname AS schema, tablename AS name FROM pg_tables WHERE schemaname IN ('public', 'drizzle')`;
    const parts: string[] = [];
    for (const { schema, name } of tables) parts.push(JSON.stringify([...(await store.sql.unsafe(`SELECT * FROM "${schema}"."${name}"`))]));
    return Buffer.from(parts.join('\n'));
  }
  throw new Error('unknown store');
}

/**
 * Runs one statement with `?` placeholders on whichever store the services use (test set-up that
 * no service offers, such as moving a token's expiry into the past "as time passing would").
 */
export async function execSql(services: Services, text: string, params: Array<string | number | null> = []): Promise<void> {
  const store = services.store;
  if (store instanceof SqliteStore) {
    store.db.sqlite.prepare(text).run(...params);
    return;
  }
  if (store instanceof PostgresStore) {
    let n = 0;
    await store.sql.unsafe(text.replace(/\?/g, () => `$${++n}`), params as never[]);
    return;
  }
  throw new Error('unknown store');
}

/** Makes a token expired now, in the store itself. */
export function expireToken(services: Services, id: string): Promise<void> {
  return execSql(services, 'UPDATE tokens SET expires_at = ? WHERE id = ?', [services.clock.now() - 1000, id]);
}
