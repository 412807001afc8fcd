import { randomBytes } from 'node:crypto';
import { after, type TestContext } from 'node:test';
import postgres from 'postgres';
import { INSTALL_HINT } from './postgres-cluster.mjs';

/**
 * The test cluster's URL (a superuser on a throwaway cluster that test/run.mjs started, or one given
 * in MM_TEST_POSTGRES_URL), or undefined when there is none.
 */
export function testPostgresUrl(): string | undefined {
  return process.env.MM_TEST_POSTGRES_URL || undefined;
}

/** Whether this run's service and HTTP tests use PostgreSQL instead of SQLite (the second CI pass). */
export function usingPostgres(): boolean {
  return process.env.MM_TEST_DATABASE === 'postgres';
}

/** Skips the test (saying how to get PostgreSQL) when there is no test cluster; answers its URL otherwise. */
export function requirePostgres(t: TestContext): string | undefined {
  const url = testPostgresUrl();
  if (!url) t.skip(`needs PostgreSQL: ${INSTALL_HINT}`);
  return url;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/**
 * A new, empty database on the test cluster (dropped after the test file), and its URL. Every test
 * file gets its own, so files run in parallel without seeing each other's rows.
 */
export async function freshDatabase(prefix = 'mm_test'): Promise<string> {
  const url = testPostgresUrl();
  if (!url) throw new Error(`MM_TEST_DATABASE=postgres needs a test cluster: ${INSTALL_HINT}`);
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end({ timeout: 1 });
  }
  // A throwaway cluster (test/run.mjs) goes away whole at the end of the run. On a cluster of the
  // user's, the database is dropped after the test, but never forcibly: a server or services still
  // closing hold connections, and killing them would fail the test in their shutdown.
  if (process.env.MM_TEST_POSTGRES_THROWAWAY !== '1') {
    after(async () => {
      const dropper = postgres(url, { max: 1, onnotice: () => {} });
      try {
        await dropper.unsafe(`DROP DATABASE IF EXISTS ${name}`);
      } catch {
        // still in use, or the cluster is gone: leave it
      } finally {
        await dropper.end({ timeout: 1 });
      }
    });
  }
  return withDatabase(url, name);
}
