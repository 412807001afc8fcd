import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SESSION_IDLE_MS, SESSION_MAX_MS, SESSION_TOUCH_INTERVAL_MS, SIGN_IN_CODE_TTL_MS, SIGN_IN_TOKEN_NAME } from '../../src/console/sessions';
import { AppError } from '../../src/errors';
import { expireToken, rowsOf, storedBytes } from '../helpers/rows';
import { testServices, type TestServices } from '../helpers/services';

const HOUR = 3_600_000;

async function rejects(work: Promise<unknown>, code: string, message?: RegExp): Promise<AppError> {
  let thrown: unknown;
  try {
    await work;
  } catch (error) {
    thrown = error;
  }
  assert.ok(thrown instanceof AppError, `expected an AppError ${code}, got ${String(thrown)}`);
  assert.equal(thrown.code, code, thrown.message);
  if (message) assert.match(thrown.message, message);
  return thrown;
}

async function adminSession(services: TestServices) {
  const admin = await services.tokens.createAdmin({ name: 'ops', expires: '30d' }, 'cli');
  const signedIn = await services.console.signInWithToken(admin.value);
  return { admin, ...signedIn };
}

describe('console sessions and sign-in codes (services, on the test database)', () => {
  test('a sign-in code works once: it opens a session for its own admin token, which then lasts the session; only hashes are stored', async () => {
    const services = await testServices();
    const { code, expiresAt, adminTokenId } = await services.console.createSignInCode('cli');
    assert.match(code, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(expiresAt, services.clock.now() + SIGN_IN_CODE_TTL_MS);
    const token = await services.tokens.get(adminTokenId, { kind: 'admin' });
    assert.equal(token.name, SIGN_IN_TOKEN_NAME);
    assert.equal(Date.parse(token.expires_at), expiresAt, 'an unused link leaves only a token that expires with it');

    const { sessionId, session } = await services.console.signInWithCode(code);
    assert.equal(session.admin_token_id, adminTokenId);
    assert.equal(Date.parse(session.expires_at), services.clock.now() + SESSION_MAX_MS);
    assert.equal(Date.parse((await services.tokens.get(adminTokenId, { kind: 'admin' })).expires_at), services.clock.now() + SESSION_MAX_MS, 'the admin token now lasts as long as the session');
    assert.equal(session.csrf_token, services.console.csrfToken(sessionId));
    assert.equal((await services.console.check(sessionId)).ok, true);

    await rejects(services.console.signInWithCode(code), 'unauthorized', /used already or is older than 10 minutes/);

    const events = (await services.audit.list({ limit: 10 })).filter((e) => e.action.startsWith('console.') || e.action === 'admin_token.created');
    assert.deepEqual(
      events.map((e) => [e.action, e.actor]),
      [
        ['console.signed_in', `console:${adminTokenId}`],
        ['admin_token.created', 'cli'],
      ],
    );
    const bytes = (await storedBytes(services)).toString('latin1');
    assert.ok(!bytes.includes(code), 'the code is not stored');
    assert.ok(!bytes.includes(sessionId), 'the session id is not stored');
    assert.ok(!bytes.includes(session.csrf_token), 'the CSRF token is not stored');
  });

  test('a sign-in code expires after 10 minutes; a code whose admin token was revoked does not sign in', async () => {
    const services = await testServices();
    const late = await services.console.createSignInCode('cli');
    const timely = await services.console.createSignInCode('cli');
    services.clock.advance(SIGN_IN_CODE_TTL_MS - 1);
    assert.ok((await services.console.signInWithCode(timely.code)).sessionId);
    services.clock.advance(1);
    await rejects(services.console.signInWithCode(late.code), 'unauthorized', /run `mechamental console`/);

    const revoked = await services.console.createSignInCode('cli');
    await services.tokens.revoke(revoked.adminTokenId, 'cli', { kind: 'admin' });
    await rejects(services.console.signInWithCode(revoked.code), 'unauthorized', /revoked/);
  });

  test('bad sign-in codes and tokens are refused with errors that never quote what was given', async () => {
    const services = await testServices();
    const trigger = await services.tokens.create({ app: 'default', name: 'svc', expires: '30d' }, 'cli');
    const admin = await services.tokens.createAdmin({ name: 'ops', expires: '30d' }, 'cli');
    for (const code of ['', 'x', 'a'.repeat(42), 'a'.repeat(44), `${'a'.repeat(42)}!`, trigger.value, admin.value]) {
      const error = await rejects(services.console.signInWithCode(code), 'validation_failed', /^code: /);
      assert.ok(!error.message.includes(trigger.value) && !error.message.includes(admin.value));
    }
    await rejects(services.console.signInWithCode('A'.repeat(43)), 'unauthorized');

    await rejects(services.console.signInWithToken(''), 'validation_failed', /^token: /);
    await rejects(services.console.signInWithToken('   '), 'validation_failed');
    const malformed = await rejects(services.console.signInWithToken(`${admin.value}x`), 'invalid_token');
    assert.ok(!malformed.message.includes(admin.value));
    await rejects(services.console.signInWithToken('mm_adm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'), 'invalid_token');
    const scope = await rejects(services.console.signInWithToken(trigger.value), 'insufficient_scope', /trigger token/);
    assert.ok(!scope.message.includes(trigger.value));

    const revoked = await services.tokens.createAdmin({ name: 'gone', expires: '30d' }, 'cli');
    await services.tokens.revoke(revoked.token.id, 'cli', { kind: 'admin' });
    await rejects(services.console.signInWithToken(revoked.value), 'token_revoked');
    const expired = await services.tokens.createAdmin({ name: 'old', expires: '30d' }, 'cli');
    await expireToken(services, expired.token.id);
    await rejects(services.console.signInWithToken(expired.value), 'token_expired');

    for (const id of ['', 'nope', 'x'.repeat(43), admin.value]) assert.equal((await services.console.check(id)).ok, false);
    assert.equal(await services.console.signOut('nope'), false);
    assert.deepEqual(await rowsOf(services, 'console_sessions'), []);
  });

  test('idle timeout: 12 hours without a request ends a session; requests move it (at most one write a minute); background requests do not', async () => {
    const services = await testServices();
    const { sessionId } = await adminSession(services);
    services.clock.advance(SESSION_IDLE_MS - 1);
    assert.equal((await services.console.check(sessionId)).ok, true, 'just within the idle timeout');
    services.clock.advance(SESSION_IDLE_MS - 1);
    assert.equal((await services.console.check(sessionId)).ok, true, 'the last request moved the idle timeout');

    const [row] = await rowsOf(services, 'console_sessions');
    services.clock.advance(SESSION_TOUCH_INTERVAL_MS - 1);
    await services.console.check(sessionId);
    assert.deepEqual(await rowsOf(services, 'console_sessions'), [row], 'no write within a minute of the last');

    services.clock.advance(HOUR);
    assert.equal((await services.console.check(sessionId, { background: true })).ok, true);
    services.clock.advance(SESSION_IDLE_MS - HOUR);
    const idle = await services.console.check(sessionId);
    assert.equal(idle.ok, false);
    assert.equal(!idle.ok && idle.reason, 'idle', 'background requests did not count as use');
    assert.match(!idle.ok ? idle.message : '', /12 hours without use/);
    assert.deepEqual(await rowsOf(services, 'console_sessions'), [], 'an ended session is deleted');
  });

  test('absolute timeout: a session ends 7 days after sign-in, however busy', async () => {
    const services = await testServices();
    const start = services.clock.now();
    const { sessionId } = await adminSession(services);
    while (services.clock.now() + 11 * HOUR < start + SESSION_MAX_MS) {
      services.clock.advance(11 * HOUR);
      assert.equal((await services.console.check(sessionId)).ok, true);
    }
    services.clock.set(start + SESSION_MAX_MS - 1);
    assert.equal((await services.console.check(sessionId)).ok, true);
    services.clock.set(start + SESSION_MAX_MS);
    const ended = await services.console.check(sessionId);
    assert.equal(!ended.ok && ended.reason, 'expired');
  });

  test('revoking (or the expiry of) the admin token ends its sessions at the next check; sign-out ends one session and is audited', async () => {
    const services = await testServices();
    const { admin, sessionId } = await adminSession(services);
    const second = await services.console.signInWithToken(admin.value);
    const other = await adminSession(services);
    await services.tokens.revoke(admin.token.id, 'cli', { kind: 'admin' });
    for (const id of [sessionId, second.sessionId]) {
      const check = await services.console.check(id);
      assert.equal(!check.ok && check.reason, 'token_revoked');
    }
    assert.equal((await services.console.check(other.sessionId)).ok, true, 'another admin token is unaffected');

    await expireToken(services, other.admin.token.id);
    const expired = await services.console.check(other.sessionId);
    assert.equal(!expired.ok && expired.reason, 'token_expired');

    const third = await adminSession(services);
    assert.equal(await services.console.signOut(third.sessionId), true);
    const out = await services.console.check(third.sessionId);
    assert.equal(!out.ok && out.reason, 'unknown');
    assert.equal(await services.console.signOut(third.sessionId), false, 'signing out twice changes nothing');
    const [event] = await services.audit.list({ limit: 1 });
    assert.equal(event!.action, 'console.signed_out');
    assert.equal(event!.actor, `console:${third.admin.token.id}`);
  });

  test('the CSRF token belongs to its session and is compared in full', async () => {
    const services = await testServices();
    const a = await adminSession(services);
    const b = await services.console.signInWithToken(a.admin.value);
    assert.equal(services.console.csrfMatches(a.sessionId, a.session.csrf_token), true);
    assert.equal(services.console.csrfMatches(b.sessionId, a.session.csrf_token), false);
    assert.equal(services.console.csrfMatches(a.sessionId, undefined), false);
    assert.equal(services.console.csrfMatches(a.sessionId, ''), false);
    assert.equal(services.console.csrfMatches(a.sessionId, a.session.csrf_token.slice(1)), false);
    assert.equal(services.console.csrfMatches(a.sessionId, `${a.session.csrf_token}x`), false);
  });

  test('pruning deletes expired codes and sessions that can no longer be used, and nothing else', async () => {
    const services = await testServices();
    const live = await adminSession(services);
    const idle = await adminSession(services);
    const revoked = await adminSession(services);
    await services.console.createSignInCode('cli');
    await services.tokens.revoke(revoked.admin.token.id, 'cli', { kind: 'admin' });
    services.clock.advance(SIGN_IN_CODE_TTL_MS);
    assert.equal((await rowsOf(services, 'console_sign_in_codes')).length, 1);
    assert.equal(await services.console.prune(), 2, 'the expired code and the revoked token\'s session');
    services.clock.advance(SESSION_IDLE_MS - SIGN_IN_CODE_TTL_MS - 1);
    await services.console.check(live.sessionId);
    services.clock.advance(1);
    assert.equal(await services.console.prune(), 1, 'the idle session');
    assert.deepEqual(
      (await rowsOf(services, 'console_sessions')).map((row) => row.admin_token_id),
      [live.admin.token.id],
    );
    assert.equal((await services.console.check(idle.sessionId)).ok, false);
  });
});
