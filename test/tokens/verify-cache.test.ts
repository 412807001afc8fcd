// Verification may be cached on SQLite (per token hash, checked on every call against data_version
// and the store's own writes: src/db/sqlite/store.ts); PostgreSQL reads every time. Either way a
// change that returned — made in this process, by another connection, or by another process — is
// what the next verification sees. Each test verifies the token a few times first (a warm cache).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runCliAsync } from '../helpers/cli';
import { DAY, storeEnv, testServices, type TestServices } from '../helpers/services';

async function warm(s: TestServices, value: string, pipeline?: string): Promise<void> {
  for (let i = 0; i < 3; i++) assert.equal((await s.tokens.verify(value, pipeline)).ok, true);
}

/** Another handle on the same database (SQLite: another connection to the file). */
function sameStore(s: TestServices): Promise<TestServices> {
  return s.config.databaseUrl ? testServices({ databaseUrl: s.config.databaseUrl }) : testServices({ dataDir: s.config.dataDir });
}

describe('verification sees every change that returned', () => {
  test('a revoke in this process', async () => {
    const s = await testServices();
    const { token, value } = await s.tokens.create({ app: 'default', name: 'here', expires: '1d' }, 'cli');
    await warm(s, value, 'chat');
    await s.tokens.revoke(token.id, 'cli');
    const after = await s.tokens.verify(value, 'chat');
    assert.equal(after.ok, false);
    assert.equal(!after.ok && after.reason, 'revoked');
    assert.equal((await s.tokens.verify(value)).ok, false);
  });

  test('a revoke through another connection, and from the CLI (another process)', async () => {
    const s = await testServices();
    const other = await sameStore(s);
    const first = await s.tokens.create({ app: 'default', name: 'other connection', expires: '1d' }, 'cli');
    const second = await s.tokens.create({ app: 'default', name: 'cli', expires: '1d' }, 'cli');
    await warm(s, first.value, 'chat');
    await warm(s, second.value, 'chat');
    await other.tokens.revoke(first.token.id, 'cli');
    const byOther = await s.tokens.verify(first.value, 'chat');
    assert.equal(!byOther.ok && byOther.reason, 'revoked');
    assert.equal((await s.tokens.verify(second.value, 'chat')).ok, true);
    const cli = await runCliAsync(['tokens', 'revoke', second.token.id], { env: storeEnv(s) });
    assert.equal(cli.code, 0, cli.stderr);
    const byCli = await s.tokens.verify(second.value, 'chat');
    assert.equal(!byCli.ok && byCli.reason, 'revoked');
  });

  test('expiry is judged on every call, cached or not', async () => {
    const s = await testServices();
    const { value } = await s.tokens.create({ app: 'default', name: 'expiring', expires: '1d' }, 'cli');
    await warm(s, value, 'chat');
    s.clock.advance(DAY + 1);
    const after = await s.tokens.verify(value, 'chat');
    assert.equal(!after.ok && after.reason, 'expired');
  });

  test("a pipeline's change and removal, here and through another connection", async () => {
    const s = await testServices();
    const other = await sameStore(s);
    await s.pipelines.create('default', { slug: 'cached', kind: 'echo', config: { delay_ms: 1 } }, 'cli');
    const { value } = await s.tokens.create({ app: 'default', name: 'pipelines', expires: '1d' }, 'cli');
    await warm(s, value, 'cached');
    await s.pipelines.update('default', 'cached', { kind: 'echo', config: { delay_ms: 2 } }, 'cli');
    const changed = await s.tokens.verify(value, 'cached');
    assert.ok(changed.ok && changed.pipeline);
    assert.deepEqual(JSON.parse(changed.pipeline.config), { delay_ms: 2 });
    await other.pipelines.update('default', 'cached', { kind: 'echo', config: { delay_ms: 3 } }, 'cli');
    const changedElsewhere = await s.tokens.verify(value, 'cached');
    assert.ok(changedElsewhere.ok && changedElsewhere.pipeline);
    assert.deepEqual(JSON.parse(changedElsewhere.pipeline.config), { delay_ms: 3 });
    await other.pipelines.remove('default', 'cached', 'cli');
    const removed = await s.tokens.verify(value, 'cached');
    assert.ok(removed.ok);
    assert.equal(removed.pipeline, null);
  });

  test('a token made elsewhere after an unknown one was tried', async () => {
    const s = await testServices();
    const other = await sameStore(s);
    const { value } = await s.tokens.create({ app: 'default', name: 'known', expires: '1d' }, 'cli');
    await warm(s, value, 'chat');
    const made = await other.tokens.create({ app: 'default', name: 'made elsewhere', expires: '1d' }, 'cli');
    assert.equal((await s.tokens.verify(made.value, 'chat')).ok, true);
  });
});
