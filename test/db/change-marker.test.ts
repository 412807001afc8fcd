import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ACCEPTED } from '../../src/tokens/usage';
import { testServices } from '../helpers/services';

// The console and the TUI refresh when the store's change marker moves. The console's own requests
// are uses of its admin token: if the batched last-use write moved the marker, an idle console would
// reload itself every few seconds, for ever.
test('the change marker moves with every audited change, not with the last-use writes of admin requests', async () => {
  const s = await testServices();
  const issued = await s.tokens.create({ app: 'default', name: 'marker', expires: '30d' }, 'cli');
  const before = await s.store.changeMarker();
  // What an admin API request (the console's own) records: a use of its token, no usage count.
  s.usage.touch(issued.token.id, '127.0.0.1');
  assert.ok((await s.usage.flush()) >= 1, 'the use was written');
  assert.notEqual((await s.tokens.get(issued.token.id)).last_used_at, null);
  assert.equal(await s.store.changeMarker(), before, 'a last-use write is not a change screens must reload for');
  // Trigger traffic is counted per day: the usage charts follow it live.
  s.usage.touch(issued.token.id, '127.0.0.1');
  s.usage.count(issued.token.id, ACCEPTED);
  await s.usage.flush();
  assert.notEqual(await s.store.changeMarker(), before, 'a batch of usage counts moves it');
  const counted = await s.store.changeMarker();
  await s.tokens.revoke(issued.token.id, 'cli');
  const revoked = await s.store.changeMarker();
  assert.notEqual(revoked, counted, 'a revoke moves it');
  await s.apps.create({ slug: 'other', name: 'Other' }, 'cli');
  assert.notEqual(await s.store.changeMarker(), revoked, 'so does any other audited change');
});
