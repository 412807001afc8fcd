import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BackgroundJobs } from '../../src/background';
import { loadConfig } from '../../src/config';
import { DAY, testServices } from '../helpers/services';

test('audit events older than the retention are pruned in small batches, oldest first; newer ones stay', async () => {
  const s = await testServices();
  for (let i = 0; i < 30; i++) await s.apps.create({ slug: `old-${i}`, name: `Old ${i}` }, 'cli');
  s.clock.advance(400 * DAY);
  await s.apps.create({ slug: 'recent', name: 'Recent' }, 'cli');
  const before = (await s.audit.list({ limit: 1000 })).length;
  assert.equal(await s.audit.prune(365 * DAY, 7), 32, 'the seed events and the 30 old apps, in batches of 7');
  const left = await s.audit.list({ limit: 1000 });
  assert.equal(left.length, before - 32);
  assert.deepEqual(left.map((e) => e.app), ['recent']);
  assert.equal(await s.audit.prune(365 * DAY), 0, 'nothing more to do');
});

test("the server's background pruning applies MM_AUDIT_RETENTION, and keeps everything with forever", async () => {
  for (const [retention, kept] of [['30d', ['recent']], ['forever', null]] as const) {
    const s = await testServices({ env: { MM_AUDIT_RETENTION: retention } });
    await s.apps.create({ slug: 'old', name: 'Old' }, 'cli');
    s.clock.advance(31 * DAY);
    await s.apps.create({ slug: 'recent', name: 'Recent' }, 'cli');
    const before = await s.audit.list({ limit: 1000 });
    const jobs = new BackgroundJobs(s);
    await jobs.pruneNow();
    await jobs.stop();
    const left = await s.audit.list({ limit: 1000 });
    if (kept === null) assert.equal(left.length, before.length, 'forever: nothing pruned');
    else assert.deepEqual(left.map((e) => e.app), kept);
  }
});

test('MM_AUDIT_RETENTION: a duration of at least a day, or forever', () => {
  assert.equal(loadConfig({}).auditRetentionMs, 365 * DAY);
  assert.equal(loadConfig({ MM_AUDIT_RETENTION: 'forever' }).auditRetentionMs, null);
  assert.equal(loadConfig({ MM_AUDIT_RETENTION: '90d' }).auditRetentionMs, 90 * DAY);
  for (const bad of ['1h', 'soon', '0d']) assert.throws(() => loadConfig({ MM_AUDIT_RETENTION: bad }), /MM_AUDIT_RETENTION must be a duration of at least a day/);
});
