import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import postgres from 'postgres';
import { requirePostgres } from '../helpers/postgres';

/**
 * What reaches `process.on(event)` during the test (what would stop the server), collected by a
 * listener registered first, so that the test runner's own handler does not end the file before
 * the assertion; removed after the test.
 */
function collect(t: TestContext, event: 'uncaughtException' | 'unhandledRejection'): unknown[] {
  const seen: unknown[] = [];
  const listener = (reason: unknown): void => {
    seen.push(reason);
  };
  // One listener fits both events (it takes the error or the reason and ignores the rest).
  process.prependListener(event as 'unhandledRejection', listener);
  t.after(() => process.removeListener(event, listener));
  return seen;
}

/** A client of one connection, ended after the test. */
function client(t: TestContext, url: string, options: postgres.Options<Record<string, postgres.PostgresType>> = {}): postgres.Sql {
  const sql = postgres(url, { max: 1, onnotice: () => undefined, ...options });
  t.after(() => sql.end({ timeout: 1 }));
  return sql;
}

// The installed postgres.js carries POSTGRES_NEXT_WRITE (build/patches.mjs, applied by
// build/postinstall.mjs): without it, a query written on a connection whose socket has closed
// throws from a setImmediate, an uncaught exception that stops the server (the PostgreSQL outage
// test once failed in CI this way). A reserved connection shows it every time: it keeps its
// closed connection instead of the pool reconnecting it.
test('a query on a connection whose backend was terminated is refused with CONNECTION_CLOSED, never an uncaught exception', async (t: TestContext) => {
  const url = requirePostgres(t);
  if (!url) return;
  const uncaught = collect(t, 'uncaughtException');
  const admin = client(t, url);
  const sql = client(t, url);
  const reserved = await sql.reserve();
  const [row] = await reserved<Array<{ pid: number }>>`SELECT pg_backend_pid() AS pid`;
  await admin`SELECT pg_terminate_backend(${row!.pid})`;
  // The client notices the close (its socket is gone) before the next query is written.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const outcome = await Promise.race([
    reserved`SELECT 1 AS one`.then(
      () => 'answered',
      (error: { code?: string }) => `refused ${error.code}`,
    ),
    new Promise<string>((resolve) => setTimeout(() => resolve('no answer within 5 s'), 5_000).unref()),
  ]);
  assert.deepEqual(uncaught.map((e) => (e as Error).message), []);
  assert.equal(outcome, 'refused CONNECTION_CLOSED');
  reserved.release();
});

// The installed postgres.js carries POSTGRES_FETCH_TYPES too: it fetches the array types on each
// new connection and dropped that promise, so a failure of that query was an unhandled rejection,
// which stops the server (the PostgreSQL outage test failed in CI this way). A statement timeout of
// 1 ms from the connection's start cancels that catalog query every time (porsager/postgres#1192).
test('a new connection whose fetch of the array types fails is no unhandled rejection; its query settles', async (t: TestContext) => {
  const url = requirePostgres(t);
  if (!url) return;
  const unhandled = collect(t, 'unhandledRejection');
  const sql = client(t, url, { connection: { statement_timeout: 1 } });
  const outcome = await sql`SELECT 1 AS one`.then(
    ([row]) => `answered ${row!.one}`,
    (error: { code?: string }) => `refused ${error.code}`,
  );
  // Node reports a rejection without a handler once the microtasks of the turn that rejected it ran.
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(unhandled.map((reason) => (reason as { code?: string }).code ?? String(reason)), []);
  // The query itself is answered, or refused with the cancellation (the driver hands it the
  // connection's error, porsager/postgres#1223): either way to its caller, who handles it.
  assert.match(outcome, /^(answered 1|refused 57014)$/);
});
