import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AppError } from '../../src/errors';
import { snapshot, storedBytes } from '../helpers/rows';
import { DAY, testServices } from '../helpers/services';

/** Asserts that `fn` throws an AppError with `code` whose message matches `message`. */
async function assertAppError(fn: () => Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(fn, (error: unknown) => {
    assert.ok(error instanceof AppError, `expected an AppError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (message) assert.match(error.message, message);
    return true;
  });
}


describe('creating tokens', () => {
  test('answers the value once, stores only its hash and hint, and audits the creation', async () => {
    const s = await testServices();
    const { token, value } = await s.tokens.create({ app: 'default', name: 'CI/CD Pipeline', expires: '30d' }, 'cli');
    assert.match(token.id, /^tok_[a-z2-7]{20}$/);
    assert.equal(token.app, 'default');
    assert.equal(token.name, 'CI/CD Pipeline');
    assert.equal(token.status, 'active');
    assert.equal(token.expires_at, new Date(s.clock.now() + 30 * DAY).toISOString());
    assert.equal(token.last_used_at, null);
    assert.equal(token.hint, `${value.slice(0, 11)}…${value.slice(-4)}`);
    assert.ok(!JSON.stringify(token).includes(value));
    assert.ok(!JSON.stringify(await s.tokens.list('default')).includes(value));
    assert.ok(!JSON.stringify(await s.tokens.get(token.id)).includes(value));
    const [event] = await s.audit.list({ limit: 1 });
    assert.deepEqual([event?.action, event?.actor, event?.token_id, event?.app], ['token.created', 'cli', token.id, 'default']);
    assert.ok(!JSON.stringify(await s.audit.list()).includes(value));
  });

  test('no token value is stored anywhere (the data directory, or every PostgreSQL table)', async () => {
    const s = await testServices();
    const values: string[] = [];
    for (let i = 0; i < 5; i++) values.push((await s.tokens.create({ app: 'default', name: `svc ${i}`, expires: '7d' }, 'cli')).value);
    const rotated = (await s.tokens.rotate((await s.tokens.list('default'))[0]!.id, {}, 'cli')).value;
    values.push(rotated, (await s.tokens.createAdmin({ name: 'ops', expires: '1d' }, 'cli')).value);
    const bytes = await storedBytes(s);
    assert.ok(bytes.length > 0);
    for (const value of values) {
      assert.equal(bytes.indexOf(value), -1, 'the value must not be on disk');
      assert.equal(bytes.indexOf(value.slice(7, 37)), -1, 'not even its random part');
    }
  });

  const badInputs: Array<[string, { app: string; name: string; expires: string }, string, RegExp]> = [
    ['an empty name', { app: 'default', name: '', expires: '30d' }, 'validation_failed', /^name: is required/],
    ['a blank name', { app: 'default', name: '   ', expires: '30d' }, 'validation_failed', /^name: is required/],
    ['a 101-character name', { app: 'default', name: 'x'.repeat(101), expires: '30d' }, 'validation_failed', /^name: is 101 characters long; the limit is 100/],
    ['a name with control characters', { app: 'default', name: 'bad\u0007name', expires: '30d' }, 'validation_failed', /control characters/],
    ['a past expiry', { app: 'default', name: 'x', expires: '2020-01-01T00:00:00Z' }, 'invalid_expiry', /not in the future/],
    ['an expiry past the max lifetime', { app: 'default', name: 'x', expires: '366d' }, 'invalid_expiry', /maximum token lifetime/],
    ['an expiry that is not a time', { app: 'default', name: 'x', expires: 'soon' }, 'validation_failed', /"soon" is neither/],
    ['an unknown app', { app: 'nope', name: 'x', expires: '30d' }, 'not_found', /app "nope" does not exist/],
  ];
  for (const [name, input, code, message] of badInputs) {
    test(`refuses ${name} with a clear error and changes nothing`, async () => {
      const s = await testServices();
      await s.tokens.create({ app: 'default', name: 'existing', expires: '30d' }, 'cli');
      const before = await snapshot(s);
      await assertAppError(() => s.tokens.create(input, 'cli'), code, message);
      assert.equal(await snapshot(s), before);
    });
  }

  test('accepts exactly 100 characters and exactly the max lifetime; trims the name', async () => {
    const s = await testServices();
    assert.equal((await s.tokens.create({ app: 'default', name: 'é'.repeat(100), expires: '365d' }, 'cli')).token.name.length, 100);
    assert.equal((await s.tokens.create({ app: 'default', name: '  Mobile App Backend ', expires: '1y' }, 'cli')).token.name, 'Mobile App Backend');
  });

  test('MM_MAX_TOKEN_TTL sets the max lifetime', async () => {
    const s = await testServices({ env: { MM_MAX_TOKEN_TTL: '30d' } });
    await s.tokens.create({ app: 'default', name: 'ok', expires: '30d' }, 'cli');
    await assertAppError(() => s.tokens.create({ app: 'default', name: 'too long', expires: '31d' }, 'cli'), 'invalid_expiry', /30 days from now/);
  });
});

describe('token states', () => {
  test('active → expiring (within 7 days and past 75 % of its lifetime) → expired; listing filters by status', async () => {
    const s = await testServices();
    const long = (await s.tokens.create({ app: 'default', name: 'long', expires: '90d' }, 'cli')).token;
    const short = (await s.tokens.create({ app: 'default', name: 'short', expires: '10d' }, 'cli')).token;
    const revoked = (await s.tokens.create({ app: 'default', name: 'gone', expires: '90d' }, 'cli')).token;
    await s.tokens.revoke(revoked.id, 'cli');
    assert.equal((await s.tokens.get(short.id)).status, 'active');
    s.clock.advance(3 * DAY + 1);
    assert.equal((await s.tokens.get(short.id)).status, 'active', 'within 7 days of its end, but only 30 % into its life');
    s.clock.advance(4.5 * DAY);
    assert.equal((await s.tokens.get(short.id)).status, 'expiring');
    const ids = async (status: 'active' | 'expiring' | 'expired' | 'revoked') => (await s.tokens.list('default', { status })).map((t) => t.id).sort();
    assert.deepEqual(await ids('active'), [long.id, short.id].sort(), 'active includes expiring tokens, which still work');
    assert.deepEqual(await ids('expiring'), [short.id]);
    assert.deepEqual(await ids('revoked'), [revoked.id]);
    s.clock.advance(3 * DAY);
    assert.equal((await s.tokens.get(short.id)).status, 'expired');
    assert.deepEqual(await ids('expired'), [short.id]);
    assert.equal((await s.tokens.list('default')).length, 3);
  });

  test('a 7-day token is not expiring from birth: it becomes expiring after 5¼ days, in the view and the filter alike', async () => {
    const s = await testServices();
    const week = (await s.tokens.create({ app: 'default', name: 'week', expires: '7d' }, 'cli')).token;
    assert.equal(week.status, 'active');
    const expiring = async () => (await s.tokens.list('default', { status: 'expiring' })).map((t) => t.id);
    assert.deepEqual(await expiring(), []);
    s.clock.advance(5.25 * DAY - 1_000);
    assert.equal((await s.tokens.get(week.id)).status, 'active');
    assert.deepEqual(await expiring(), []);
    s.clock.advance(1_000);
    assert.equal((await s.tokens.get(week.id)).status, 'expiring');
    assert.deepEqual(await expiring(), [week.id]);
  });

  test('verify: valid, malformed (no lookup), unknown, revoked, expired, with reasons that never quote the value', async () => {
    const s = await testServices();
    const { token, value } = await s.tokens.create({ app: 'default', name: 'svc', expires: '1d' }, 'cli');
    const ok = await s.tokens.verify(value);
    assert.ok(ok.ok);
    assert.deepEqual(ok.ok && { id: ok.token.id, app: ok.token.app, kind: ok.token.kind }, { id: token.id, app: 'default', kind: 'trigger' });

    const garbage = await s.tokens.verify('mm_tok_short');
    assert.deepEqual(garbage.ok ? null : garbage.reason, 'malformed');
    const unknown = await s.tokens.verify((await s.tokens.create({ app: 'default', name: 'other', expires: '1d' }, 'cli')).value.replace(/^mm_tok_/, 'mm_adm_'));
    assert.equal(unknown.ok ? null : unknown.reason, 'malformed', 'prefix swap breaks the checksum');

    s.clock.advance(DAY);
    const expired = await s.tokens.verify(value);
    assert.equal(expired.ok ? null : expired.reason, 'expired');
    const fresh = await s.tokens.create({ app: 'default', name: 'fresh', expires: '1d' }, 'cli');
    await s.tokens.revoke(fresh.token.id, 'cli');
    const revoked = await s.tokens.verify(fresh.value);
    assert.equal(revoked.ok ? null : revoked.reason, 'revoked');
    for (const result of [garbage, unknown, expired, revoked]) {
      if (!result.ok) assert.ok(!result.message.includes(value.slice(7, 30)) && !result.message.includes(fresh.value.slice(7, 30)));
    }
  });

  test('verify does not find a well-formed value that was never issued', async () => {
    const s = await testServices();
    const other = (await (await testServices()).tokens.create({ app: 'default', name: 'elsewhere', expires: '1d' }, 'cli')).value;
    const result = await s.tokens.verify(other);
    assert.equal(result.ok ? null : result.reason, 'unknown');
  });
});

describe('revoke', () => {
  test('takes effect at once, is idempotent, and is audited once', async () => {
    const s = await testServices();
    const { token, value } = await s.tokens.create({ app: 'default', name: 'svc', expires: '30d' }, 'cli');
    const first = await s.tokens.revoke(token.id, 'tui');
    assert.equal(first.status, 'revoked');
    assert.ok(first.revoked_at);
    assert.equal((await s.tokens.verify(value)).ok, false);
    s.clock.advance(1000);
    assert.deepEqual(await s.tokens.revoke(token.id, 'cli'), first);
    assert.equal((await s.audit.list()).filter((e) => e.action === 'token.revoked').length, 1);
    assert.equal((await s.audit.list())[0]?.actor, 'tui');
  });

  test('an unknown id, or a token of another app, is not found and changes nothing', async () => {
    const s = await testServices();
    await s.apps.create({ slug: 'billing' }, 'cli');
    const { token } = await s.tokens.create({ app: 'billing', name: 'svc', expires: '30d' }, 'cli');
    const before = await snapshot(s);
    await assertAppError(() => s.tokens.revoke('tok_aaaaaaaaaaaaaaaaaaaa', 'cli'), 'not_found', /token tok_a+ does not exist/);
    await assertAppError(() => s.tokens.revoke(token.id, 'cli', { app: 'default' }), 'not_found', /in app "default"/);
    await assertAppError(() => s.tokens.revoke(token.id, 'cli', { kind: 'admin' }), 'not_found');
    assert.equal(await snapshot(s), before);
  });
});

describe('refresh', () => {
  test('extends an active token without changing its value', async () => {
    const s = await testServices();
    const { token, value } = await s.tokens.create({ app: 'default', name: 'svc', expires: '5d' }, 'cli');
    const refreshed = await s.tokens.refresh(token.id, '90d', 'cli');
    assert.equal(refreshed.expires_at, new Date(s.clock.now() + 90 * DAY).toISOString());
    assert.equal(refreshed.hint, token.hint);
    const verified = await s.tokens.verify(value);
    assert.ok(verified.ok);
    assert.equal((await s.audit.list({ limit: 1 }))[0]?.action, 'token.refreshed');
  });

  test('refuses revoked and expired tokens (token_not_active) and shorter or too-late expiries (invalid_expiry)', async () => {
    const s = await testServices();
    const active = (await s.tokens.create({ app: 'default', name: 'active', expires: '30d' }, 'cli')).token;
    const revoked = (await s.tokens.create({ app: 'default', name: 'revoked', expires: '30d' }, 'cli')).token;
    const expiring = (await s.tokens.create({ app: 'default', name: 'expiring', expires: '1h' }, 'cli')).token;
    await s.tokens.revoke(revoked.id, 'cli');
    s.clock.advance(2 * 3_600_000);
    const before = await snapshot(s);
    await assertAppError(() => s.tokens.refresh(revoked.id, '60d', 'cli'), 'token_not_active', /is revoked and cannot be refreshed; create a new one/);
    await assertAppError(() => s.tokens.refresh(expiring.id, '60d', 'cli'), 'token_not_active', /expired at .* cannot be refreshed/);
    await assertAppError(() => s.tokens.refresh(active.id, '10d', 'cli'), 'invalid_expiry', /not later than the current one/);
    await assertAppError(() => s.tokens.refresh(active.id, '400d', 'cli'), 'invalid_expiry', /maximum token lifetime/);
    await assertAppError(() => s.tokens.refresh(active.id, '2020-01-01', 'cli'), 'invalid_expiry', /not in the future/);
    await assertAppError(() => s.tokens.refresh(active.id, 'later', 'cli'), 'validation_failed');
    await assertAppError(() => s.tokens.refresh('tok_nope', '60d', 'cli'), 'not_found');
    assert.equal(await snapshot(s), before);
  });
});

describe('rotate', () => {
  test('issues a new value with the same name and app; the old one works for the grace period, then expires', async () => {
    const s = await testServices();
    const old = await s.tokens.create({ app: 'default', name: 'CI/CD Pipeline', expires: '30d' }, 'cli');
    s.clock.advance(DAY);
    const rotated = await s.tokens.rotate(old.token.id, { grace: '2h' }, 'cli');
    assert.notEqual(rotated.value, old.value);
    assert.equal(rotated.token.name, 'CI/CD Pipeline');
    assert.equal(rotated.token.app, 'default');
    assert.equal(rotated.token.expires_at, new Date(s.clock.now() + 30 * DAY).toISOString(), 'same lifetime as the original');
    assert.equal(rotated.previous.id, old.token.id);
    assert.equal(rotated.previous.replaced_by, rotated.token.id);
    assert.equal(rotated.previous.expires_at, new Date(s.clock.now() + 2 * 3_600_000).toISOString());
    assert.ok((await s.tokens.verify(old.value)).ok && (await s.tokens.verify(rotated.value)).ok, 'both work during the grace period');
    s.clock.advance(2 * 3_600_000);
    assert.equal((await s.tokens.get(old.token.id)).status, 'expired');
    assert.ok(!(await s.tokens.verify(old.value)).ok);
    assert.ok((await s.tokens.verify(rotated.value)).ok);
    assert.ok(!JSON.stringify(await s.audit.list()).includes(rotated.value));
  });

  test('defaults to a 24 h grace and never lengthens the old token', async () => {
    const s = await testServices();
    const a = await s.tokens.create({ app: 'default', name: 'a', expires: '30d' }, 'cli');
    assert.equal((await s.tokens.rotate(a.token.id, {}, 'cli')).previous.expires_at, new Date(s.clock.now() + DAY).toISOString());
    const b = await s.tokens.create({ app: 'default', name: 'b', expires: '1h' }, 'cli');
    assert.equal((await s.tokens.rotate(b.token.id, { grace: '24h' }, 'cli')).previous.expires_at, b.token.expires_at);
  });

  test('refuses revoked tokens, bad and too-long grace periods, and changes nothing', async () => {
    const s = await testServices();
    const revoked = (await s.tokens.create({ app: 'default', name: 'r', expires: '30d' }, 'cli')).token;
    await s.tokens.revoke(revoked.id, 'cli');
    const active = (await s.tokens.create({ app: 'default', name: 'a', expires: '30d' }, 'cli')).token;
    const before = await snapshot(s);
    await assertAppError(() => s.tokens.rotate(revoked.id, {}, 'cli'), 'token_not_active', /revoked and cannot be rotated/);
    await assertAppError(() => s.tokens.rotate(active.id, { grace: 'a while' }, 'cli'), 'validation_failed', /^grace:/);
    await assertAppError(() => s.tokens.rotate(active.id, { grace: '31d' }, 'cli'), 'validation_failed', /longer than the limit/);
    assert.equal(await snapshot(s), before);
  });
});

describe('admin tokens', () => {
  test('are separate from app tokens and verify as kind admin', async () => {
    const s = await testServices();
    const admin = await s.tokens.createAdmin({ name: 'ops', expires: '7d' }, 'cli');
    assert.match(admin.value, /^mm_adm_/);
    assert.match(admin.token.id, /^adm_/);
    assert.equal(admin.token.app, null);
    assert.deepEqual((await s.tokens.listAdmin()).map((t) => t.id), [admin.token.id]);
    assert.equal((await s.tokens.list('default')).length, 0);
    const verified = await s.tokens.verify(admin.value);
    assert.ok(verified.ok && verified.token.kind === 'admin');
    await assertAppError(() => s.tokens.revoke(admin.token.id, 'cli', { app: 'default' }), 'not_found');
    assert.equal((await s.tokens.revoke(admin.token.id, 'cli', { kind: 'admin' })).status, 'revoked');
    assert.equal((await s.audit.list({ limit: 1 }))[0]?.action, 'admin_token.revoked');
  });
});

describe('last use', () => {
  test('is batched in memory and written by flush, never backwards', async () => {
    const s = await testServices();
    const { token } = await s.tokens.create({ app: 'default', name: 'svc', expires: '30d' }, 'cli');
    s.usage.touch(token.id);
    assert.equal((await s.tokens.get(token.id)).last_used_at, null, 'no write per use');
    const at = s.clock.now();
    assert.equal(await s.usage.flush(), 1);
    assert.equal((await s.tokens.get(token.id)).last_used_at, new Date(at).toISOString());
    assert.equal(await s.usage.flush(), 0);
  });
});

describe('livenessAmong (ending streams of revoked and expired tokens)', () => {
  test('reports revoked, expired and vanished tokens among many, in batches', async () => {
    const s = await testServices();
    const ids: string[] = [];
    for (let i = 0; i < 1_200; i++) ids.push((await s.tokens.create({ app: 'default', name: `t${i}`, expires: i % 3 === 0 ? '1h' : '30d' }, 'cli')).token.id);
    await s.tokens.revoke(ids[1]!, 'cli');
    await s.tokens.revoke(ids[1_100]!, 'cli');
    s.clock.advance(2 * 3_600_000);
    const states = await s.tokens.livenessAmong([...ids, 'tok_gone']);
    const state = (id: string) => states.get(id)?.state;
    assert.equal(state(ids[1]!), 'revoked');
    assert.equal(state(ids[1_100]!), 'revoked');
    assert.equal(state(ids[0]!), 'expired');
    assert.equal(state(ids[999]!), 'expired');
    assert.equal(state(ids[2]!), 'active');
    assert.equal(state('tok_gone'), 'revoked', 'a token that no longer exists counts as revoked');
    assert.equal([...states.values()].filter((v) => v.state !== 'active').length, 400 + 2 + 1);
    assert.equal((await s.tokens.livenessAmong([])).size, 0);
  });
});
