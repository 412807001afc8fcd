import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli, runCliAsync, runTsAsync } from '../helpers/cli';
import { tempDataDir } from '../helpers/data-dir';
import { rowsOf } from '../helpers/rows';
import { testServices } from '../helpers/services';

function churn(dataDir: string, rounds: number, label: string) {
  return runTsAsync('test/fixtures/token-churn.ts', [dataDir, String(rounds), label]);
}

test('processes creating, refreshing and revoking on one file at once never surface SQLITE_BUSY, and lose nothing', async () => {
  const dataDir = tempDataDir();
  assert.equal(runCli(['migrate'], { dataDir }).code, 0);
  const rounds = 150;
  const results = await Promise.all([
    churn(dataDir, rounds, 'alpha'),
    churn(dataDir, rounds, 'beta'),
    ...Array.from({ length: 4 }, (_, i) => runCliAsync(['tokens', 'create', '--app', 'default', '--name', `cli ${i}`, '--expires', '7d', '--json'], { dataDir })),
  ]);
  for (const result of results) {
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stderr, /BUSY|locked/i);
  }
  const acknowledged = results.slice(0, 2).map((r) => JSON.parse(r.stdout) as { created: string[]; revoked: string[] });
  const s = await testServices({ dataDir });
  const tokens = new Map((await s.tokens.list('default')).map((t) => [t.id, t]));
  assert.equal(tokens.size, 2 * rounds + 4);
  for (const { created, revoked } of acknowledged) {
    assert.equal(created.length, rounds);
    for (const id of created) assert.ok(tokens.has(id), `${id} was acknowledged, so it exists`);
    for (const id of revoked) assert.equal(tokens.get(id)?.status, 'revoked');
    for (const id of created.filter((id) => !revoked.includes(id))) assert.equal(tokens.get(id)?.status, 'active');
  }
  // Every change is in the audit trail exactly once.
  const events = (await rowsOf(s, 'audit_events')).filter((e) => String(e.action).startsWith('token.'));
  const counts: Record<string, number> = {};
  for (const e of events) counts[String(e.action)] = (counts[String(e.action)] ?? 0) + 1;
  assert.deepEqual(counts, {
    'token.created': 2 * rounds + 4,
    'token.refreshed': 2 * rounds,
    'token.revoked': 2 * Math.ceil(rounds / 2),
  });
});
