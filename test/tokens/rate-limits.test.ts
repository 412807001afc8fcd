import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { testServices } from '../helpers/services';

describe('per-token rate limits (GCRA), on the store in use', () => {
  test('an idle token may send its whole minute at once, then one per interval; Retry-After says when', async () => {
    const s = await testServices();
    const limits = s.store.rateLimits;
    let now = 1_800_000_000_000;
    const take = async () => limits.take('tok_aaaaaaaaaaaaaaaaaaaa', 30, now);
    for (let i = 0; i < 30; i++) assert.equal(await take(), 0, `request ${i + 1} of the burst`);
    assert.equal(await take(), 2, 'the 31st waits one interval (60 s / 30 = 2 s)');
    now += 1_999;
    assert.equal(await take(), 1);
    now += 1;
    assert.equal(await take(), 0, 'one interval later, one more');
    assert.equal(await take(), 2);
    now += 60_000;
    for (let i = 0; i < 30; i++) assert.equal(await take(), 0, 'a minute idle refills the burst');
    assert.ok((await take()) > 0);
  });

  test('tokens are limited separately, and a limit of 1 per minute allows one at a time', async () => {
    const s = await testServices();
    const now = 1_800_000_000_000;
    assert.equal(await s.store.rateLimits.take('tok_bbbbbbbbbbbbbbbbbbbb', 1, now), 0);
    assert.equal(await s.store.rateLimits.take('tok_bbbbbbbbbbbbbbbbbbbb', 1, now), 60);
    assert.equal(await s.store.rateLimits.take('tok_cccccccccccccccccccc', 1, now), 0);
  });
});
