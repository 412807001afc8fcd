import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import postgres from 'postgres';
import { requirePostgres } from '../helpers/postgres';

// The installed postgres.js carries POSTGRES_NEXT_WRITE (build/patches.mjs, applied by
// build/postinstall.mjs): without it, a query written on a connection whose socket has closed
// throws from a setImmediate, an uncaught exception that stops the server (the PostgreSQL outage
// test once failed in CI this way). A reserved connection shows it every time: it keeps its
// closed connection instead of the pool reconnecting it.
test('a query on a connection whose backend was terminated is refused with CONNECTION_CLOSED, never an uncaught exception', async (t: TestContext) => {
  const url = requirePostgres(t);
  if (!url) return;
  const uncaught: Error[] = [];
  const onUncaught = (error: Error) => uncaught.push(error);
  // Registered first, so that the test runner's own handler does not end the file before the assertion.
  process.prependListener('uncaughtException', onUncaught);
  const admin = postgres(url, { max: 1, onnotice: () => undefined });
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
  t.after(async () => {
    process.removeListener('uncaughtException', onUncaught);
    await Promise.all([admin.end({ timeout: 1 }), sql.end({ timeout: 1 })]);
  });
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
  assert.deepEqual(uncaught.map((e) => e.message), []);
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
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.prependListener('unhandledRejection', onUnhandled);
  const sql = postgres(url, { max: 1, onnotice: () => undefined, connection: { statement_timeout: 1 } });
  t.after(async () => {
    process.removeListener('unhandledRejection', onUnhandled);
    await sql.end({ timeout: 1 });
  });
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
