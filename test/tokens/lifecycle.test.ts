import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AppError } from '../../src/errors';
import type { Services } from '../../src/services';
import { readAllBytes } from '../helpers/data-dir';
import { DAY, testServices } from '../helpers/services';

/** Asserts that `fn` throws an AppError with `code` whose message matches `message`. */
function assertAppError(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof AppError, `expected an AppError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (message) assert.match(error.message, message);
    return true;
  });
}

/** Everything a user could see change: all token rows and all audit events. */
function snapshot(s: Services): string {
  return JSON.stringify([s.db.sqlite.prepare('SELECT * FROM tokens ORDER BY id').all(), s.db.sqlite.prepare('SELECT * FROM audit_events ORDER BY id').all()]);
}

describe('creating tokens', () => {
  test('answers the value once, stores only its hash and hint, and audits the creation', () => {
    const s = testServices();
    const { token, value } = s.tokens.create({ app: 'default', name: 'CI/CD Pipeline', expires: '30d' }, 'cli');
    assert.match(token.id, /^tok_[a-z2-7]{20}$/);
    assert.equal(token.app, 'default');
    assert.equal(token.name, 'CI/CD Pipeline');
    assert.equal(token.status, 'active');
    assert.equal(token.expires_at, new Date(s.clock.now() + 30 * DAY).toISOString());
    assert.equal(token.last_used_at, null);
    assert.equal(token.hint, `${value.slice(0, 11)}…${value.slice(-4)}`);
    assert.ok(!JSON.stringify(token).includes(value));
    assert.ok(!JSON.stringify(s.tokens.list('default')).includes(value));
    assert.ok(!JSON.stringify(s.tokens.get(token.id)).includes(value));
    const [event] = s.audit.list({ limit: 1 });
    assert.deepEqual([event?.action, event?.actor, event?.token_id, event?.app], ['token.created', 'cli', token.id, 'default']);
    assert.ok(!JSON.stringify(s.audit.list()).includes(value));
  });

  test('no token value is written anywhere under the data directory', () => {
    const s = testServices();
    const values = Array.from({ length: 5 }, (_, i) => s.tokens.create({ app: 'default', name: `svc ${i}`, expires: '7d' }, 'cli').value);
    const rotated = s.tokens.rotate(s.tokens.list('default')[0]!.id, {}, 'cli').value;
    values.push(rotated, s.tokens.createAdmin({ name: 'ops', expires: '1d' }, 'cli').value);
    s.db.sqlite.pragma('wal_checkpoint(TRUNCATE)');
    const bytes = readAllBytes(s.db.dataDir);
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
    test(`refuses ${name} with a clear error and changes nothing`, () => {
      const s = testServices();
      s.tokens.create({ app: 'default', name: 'existing', expires: '30d' }, 'cli');
      const before = snapshot(s);
      assertAppError(() => s.tokens.create(input, 'cli'), code, message);
      assert.equal(snapshot(s), before);
    });
  }

  test('accepts exactly 100 characters and exactly the max lifetime; trims the name', () => {
    const s = testServices();
    assert.equal(s.tokens.create({ app: 'default', name: 'é'.repeat(100), expires: '365d' }, 'cli').token.name.length, 100);
    assert.equal(s.tokens.create({ app: 'default', name: '  Mobile App Backend ', expires: '1y' }, 'cli').token.name, 'Mobile App Backend');
  });

  test('MM_MAX_TOKEN_TTL sets the max lifetime', () => {
    const s = testServices({ env: { MM_MAX_TOKEN_TTL: '30d' } });
    s.tokens.create({ app: 'default', name: 'ok', expires: '30d' }, 'cli');
    assertAppError(() => s.tokens.create({ app: 'default', name: 'too long', expires: '31d' }, 'cli'), 'invalid_expiry', /30 days from now/);
  });
});

describe('token states', () => {
  test('active → expiring within 7 days → expired; listing filters by status', () => {
    const s = testServices();
    const long = s.tokens.create({ app: 'default', name: 'long', expires: '90d' }, 'cli').token;
    const short = s.tokens.create({ app: 'default', name: 'short', expires: '10d' }, 'cli').token;
    const revoked = s.tokens.create({ app: 'default', name: 'gone', expires: '90d' }, 'cli').token;
    s.tokens.revoke(revoked.id, 'cli');
    assert.equal(s.tokens.get(short.id).status, 'active');
    s.clock.advance(3 * DAY + 1);
    assert.equal(s.tokens.get(short.id).status, 'expiring');
    const ids = (status: 'active' | 'expiring' | 'expired' | 'revoked') => s.tokens.list('default', { status }).map((t) => t.id).sort();
    assert.deepEqual(ids('active'), [long.id, short.id].sort(), 'active includes expiring tokens, which still work');
    assert.deepEqual(ids('expiring'), [short.id]);
    assert.deepEqual(ids('revoked'), [revoked.id]);
    s.clock.advance(7 * DAY);
    assert.equal(s.tokens.get(short.id).status, 'expired');
    assert.deepEqual(ids('expired'), [short.id]);
    assert.equal(s.tokens.list('default').length, 3);
  });

  test('verify: valid, malformed (no lookup), unknown, revoked, expired, with reasons that never quote the value', () => {
    const s = testServices();
    const { token, value } = s.tokens.create({ app: 'default', name: 'svc', expires: '1d' }, 'cli');
    const ok = s.tokens.verify(value);
    assert.ok(ok.ok);
    assert.deepEqual(ok.ok && { id: ok.token.id, app: ok.token.app, kind: ok.token.kind }, { id: token.id, app: 'default', kind: 'trigger' });

    const garbage = s.tokens.verify('mm_tok_short');
    assert.deepEqual(garbage.ok ? null : garbage.reason, 'malformed');
    const unknown = s.tokens.verify(s.tokens.create({ app: 'default', name: 'other', expires: '1d' }, 'cli').value.replace(/^mm_tok_/, 'mm_adm_'));
    assert.equal(unknown.ok ? null : unknown.reason, 'malformed', 'prefix swap breaks the checksum');

    s.clock.advance(DAY);
    const expired = s.tokens.verify(value);
    assert.equal(expired.ok ? null : expired.reason, 'expired');
    const fresh = s.tokens.create({ app: 'default', name: 'fresh', expires: '1d' }, 'cli');
    s.tokens.revoke(fresh.token.id, 'cli');
    const revoked = s.tokens.verify(fresh.value);
    assert.equal(revoked.ok ? null : revoked.reason, 'revoked');
    for (const result of [garbage, unknown, expired, revoked]) {
      if (!result.ok) assert.ok(!result.message.includes(value.slice(7, 30)) && !result.message.includes(fresh.value.slice(7, 30)));
    }
  });

  test('verify does not find a well-formed value that was never issued', () => {
    const s = testServices();
    const other = testServices().tokens.create({ app: 'default', name: 'elsewhere', expires: '1d' }, 'cli').value;
    const result = s.tokens.verify(other);
    assert.equal(result.ok ? null : result.reason, 'unknown');
  });
});

describe('revoke', () => {
  test('takes effect at once, is idempotent, and is audited once', () => {
    const s = testServices();
    const { token, value } = s.tokens.create({ app: 'default', name: 'svc', expires: '30d' }, 'cli');
    const first = s.tokens.revoke(token.id, 'tui');
    assert.equal(first.status, 'revoked');
    assert.ok(first.revoked_at);
    assert.equal(s.tokens.verify(value).ok, false);
    s.clock.advance(1000);
    assert.deepEqual(s.tokens.revoke(token.id, 'cli'), first);
    assert.equal(s.audit.list().filter((e) => e.action === 'token.revoked').length, 1);
    assert.equal(s.audit.list()[0]?.actor, 'tui');
  });

  test('an unknown id, or a token of another app, is not found and changes nothing', () => {
    const s = testServices();
    s.apps.create({ slug: 'billing' }, 'cli');
    const { token } = s.tokens.create({ app: 'billing', name: 'svc', expires: '30d' }, 'cli');
    const before = snapshot(s);
    assertAppError(() => s.tokens.revoke('tok_aaaaaaaaaaaaaaaaaaaa', 'cli'), 'not_found', /token tok_a+ does not exist/);
    assertAppError(() => s.tokens.revoke(token.id, 'cli', { app: 'default' }), 'not_found', /in app "default"/);
    assertAppError(() => s.tokens.revoke(token.id, 'cli', { kind: 'admin' }), 'not_found');
    assert.equal(snapshot(s), before);
  });
});

describe('refresh', () => {
  test('extends an active token without changing its value', () => {
    const s = testServices();
    const { token, value } = s.tokens.create({ app: 'default', name: 'svc', expires: '5d' }, 'cli');
    const refreshed = s.tokens.refresh(token.id, '90d', 'cli');
    assert.equal(refreshed.expires_at, new Date(s.clock.now() + 90 * DAY).toISOString());
    assert.equal(refreshed.hint, token.hint);
    const verified = s.tokens.verify(value);
    assert.ok(verified.ok);
    assert.equal(s.audit.list({ limit: 1 })[0]?.action, 'token.refreshed');
  });

  test('refuses revoked and expired tokens (token_not_active) and shorter or too-late expiries (invalid_expiry)', () => {
    const s = testServices();
    const active = s.tokens.create({ app: 'default', name: 'active', expires: '30d' }, 'cli').token;
    const revoked = s.tokens.create({ app: 'default', name: 'revoked', expires: '30d' }, 'cli').token;
    const expiring = s.tokens.create({ app: 'default', name: 'expiring', expires: '1h' }, 'cli').token;
    s.tokens.revoke(revoked.id, 'cli');
    s.clock.advance(2 * 3_600_000);
    const before = snapshot(s);
    assertAppError(() => s.tokens.refresh(revoked.id, '60d', 'cli'), 'token_not_active', /is revoked and cannot be refreshed; create a new one/);
    assertAppError(() => s.tokens.refresh(expiring.id, '60d', 'cli'), 'token_not_active', /expired at .* cannot be refreshed/);
    assertAppError(() => s.tokens.refresh(active.id, '10d', 'cli'), 'invalid_expiry', /not later than the current one/);
    assertAppError(() => s.tokens.refresh(active.id, '400d', 'cli'), 'invalid_expiry', /maximum token lifetime/);
    assertAppError(() => s.tokens.refresh(active.id, '2020-01-01', 'cli'), 'invalid_expiry', /not in the future/);
    assertAppError(() => s.tokens.refresh(active.id, 'later', 'cli'), 'validation_failed');
    assertAppError(() => s.tokens.refresh('tok_nope', '60d', 'cli'), 'not_found');
    assert.equal(snapshot(s), before);
  });
});

describe('rotate', () => {
  test('issues a new value with the same name and app; the old one works for the grace period, then expires', () => {
    const s = testServices();
    const old = s.tokens.create({ app: 'default', name: 'CI/CD Pipeline', expires: '30d' }, 'cli');
    s.clock.advance(DAY);
    const rotated = s.tokens.rotate(old.token.id, { grace: '2h' }, 'cli');
    assert.notEqual(rotated.value, old.value);
    assert.equal(rotated.token.name, 'CI/CD Pipeline');
    assert.equal(rotated.token.app, 'default');
    assert.equal(rotated.token.expires_at, new Date(s.clock.now() + 30 * DAY).toISOString(), 'same lifetime as the original');
    assert.equal(rotated.previous.id, old.token.id);
    assert.equal(rotated.previous.replaced_by, rotated.token.id);
    assert.equal(rotated.previous.expires_at, new Date(s.clock.now() + 2 * 3_600_000).toISOString());
    assert.ok(s.tokens.verify(old.value).ok && s.tokens.verify(rotated.value).ok, 'both work during the grace period');
    s.clock.advance(2 * 3_600_000);
    assert.equal(s.tokens.get(old.token.id).status, 'expired');
    assert.ok(!s.tokens.verify(old.value).ok);
    assert.ok(s.tokens.verify(rotated.value).ok);
    assert.ok(!JSON.stringify(s.audit.list()).includes(rotated.value));
  });

  test('defaults to a 24 h grace and never lengthens the old token', () => {
    const s = testServices();
    const a = s.tokens.create({ app: 'default', name: 'a', expires: '30d' }, 'cli');
    assert.equal(s.tokens.rotate(a.token.id, {}, 'cli').previous.expires_at, new Date(s.clock.now() + DAY).toISOString());
    const b = s.tokens.create({ app: 'default', name: 'b', expires: '1h' }, 'cli');
    assert.equal(s.tokens.rotate(b.token.id, { grace: '24h' }, 'cli').previous.expires_at, b.token.expires_at);
  });

  test('refuses revoked tokens, bad and too-long grace periods, and changes nothing', () => {
    const s = testServices();
    const revoked = s.tokens.create({ app: 'default', name: 'r', expires: '30d' }, 'cli').token;
    s.tokens.revoke(revoked.id, 'cli');
    const active = s.tokens.create({ app: 'default', name: 'a', expires: '30d' }, 'cli').token;
    const before = snapshot(s);
    assertAppError(() => s.tokens.rotate(revoked.id, {}, 'cli'), 'token_not_active', /revoked and cannot be rotated/);
    assertAppError(() => s.tokens.rotate(active.id, { grace: 'a while' }, 'cli'), 'validation_failed', /^grace:/);
    assertAppError(() => s.tokens.rotate(active.id, { grace: '31d' }, 'cli'), 'validation_failed', /longer than the limit/);
    assert.equal(snapshot(s), before);
  });
});

describe('admin tokens', () => {
  test('are separate from app tokens and verify as kind admin', () => {
    const s = testServices();
    const admin = s.tokens.createAdmin({ name: 'ops', expires: '7d' }, 'cli');
    assert.match(admin.value, /^mm_adm_/);
    assert.match(admin.token.id, /^adm_/);
    assert.equal(admin.token.app, null);
    assert.deepEqual(s.tokens.listAdmin().map((t) => t.id), [admin.token.id]);
    assert.equal(s.tokens.list('default').length, 0);
    const verified = s.tokens.verify(admin.value);
    assert.ok(verified.ok && verified.token.kind === 'admin');
    assertAppError(() => s.tokens.revoke(admin.token.id, 'cli', { app: 'default' }), 'not_found');
    assert.equal(s.tokens.revoke(admin.token.id, 'cli', { kind: 'admin' }).status, 'revoked');
    assert.equal(s.audit.list({ limit: 1 })[0]?.action, 'admin_token.revoked');
  });
});

describe('last use', () => {
  test('is batched in memory and written by flush, never backwards', () => {
    const s = testServices();
    const { token } = s.tokens.create({ app: 'default', name: 'svc', expires: '30d' }, 'cli');
    s.usage.touch(token.id);
    assert.equal(s.tokens.get(token.id).last_used_at, null, 'no write per use');
    const at = s.clock.now();
    assert.equal(s.usage.flush(), 1);
    assert.equal(s.tokens.get(token.id).last_used_at, new Date(at).toISOString());
    assert.equal(s.usage.flush(), 0);
  });
});

describe('inactiveAmong (ending streams of revoked and expired tokens)', () => {
  test('reports revoked, expired and vanished tokens among many, in batches', () => {
    const s = testServices();
    const ids = Array.from({ length: 1_200 }, (_, i) => s.tokens.create({ app: 'default', name: `t${i}`, expires: i % 3 === 0 ? '1h' : '30d' }, 'cli').token.id);
    s.tokens.revoke(ids[1]!, 'cli');
    s.tokens.revoke(ids[1_100]!, 'cli');
    s.clock.advance(2 * 3_600_000);
    const inactive = s.tokens.inactiveAmong([...ids, 'tok_gone']);
    assert.equal(inactive.get(ids[1]!), 'revoked');
    assert.equal(inactive.get(ids[1_100]!), 'revoked');
    assert.equal(inactive.get(ids[0]!), 'expired');
    assert.equal(inactive.get(ids[999]!), 'expired');
    assert.equal(inactive.get(ids[2]!), undefined);
    assert.equal(inactive.get('tok_gone'), 'revoked');
    assert.equal(inactive.size, 400 + 2 + 1);
    assert.equal(s.tokens.inactiveAmong([]).size, 0);
  });
});
