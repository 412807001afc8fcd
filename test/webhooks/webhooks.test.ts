import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { BackgroundJobs } from '../../src/background';
import { backoffMs, FIRST_BACKOFF_MS, MAX_BACKOFF_MS } from '../../src/webhooks/service';
import { execSql, rowsOf, storedBytes } from '../helpers/rows';
import { freshDatabase, requirePostgres } from '../helpers/postgres';
import { DAY, testServices, type TestServices } from '../helpers/services';
import { eventually } from '../helpers/server';
import { WebhookReceiver } from '../helpers/webhook-receiver';

const HOUR = 3_600_000;
const ANY = { MM_WEBHOOK_ADDRESSES: 'any' };

/** Services (SQLite, or PostgreSQL in the second pass) whose webhooks may reach 127.0.0.1, a receiver, and a worker to poke. */
async function setUp(env: NodeJS.ProcessEnv = {}) {
  const services = await testServices({ env: { ...ANY, ...env } });
  const receiver = await WebhookReceiver.start();
  const observed: Array<{ outcome: string; gaveUp: boolean }> = [];
  const worker = new BackgroundJobs(services, { observe: (outcome, _s, gaveUp) => observed.push({ outcome, gaveUp }) });
  after(() => worker.stop());
  const created = await services.webhooks.set('default', receiver.url, 'cli');
  receiver.secret = created.secret;
  return { services, receiver, worker, created, observed };
}

async function deliveries(services: TestServices) {
  return (await services.webhooks.deliveries('default', { limit: 1000 })).items;
}

describe('webhooks: set, list, remove', () => {
  test('set answers the secret once; listings and lookups never hold it; it is a Standard Webhooks secret', async () => {
    const { services, created } = await setUp();
    assert.match(created.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.match(created.webhook.id, /^wh_[a-z2-7]{20}$/);
    const listed = await services.webhooks.list('default');
    assert.deepEqual(listed, [created.webhook]);
    assert.ok(!JSON.stringify(listed).includes(created.secret));
    assert.ok(!JSON.stringify(await services.webhooks.get('default', created.webhook.id)).includes(created.secret));
    // The secret is stored (the server signs with it), and the audit trail records the webhook, not the secret.
    assert.ok((await storedBytes(services)).includes(created.secret));
    const audit = await services.audit.list({ app: 'default' });
    assert.equal(audit[0]?.action, 'webhook.created');
    assert.ok(!JSON.stringify(audit).includes(created.secret));
  });

  test('the same URL twice is a conflict; another app, another URL are fine; remove takes its deliveries', async () => {
    const { services, receiver, created } = await setUp();
    await assert.rejects(services.webhooks.set('default', receiver.url, 'cli'), { code: 'conflict', message: /already has a webhook for .*remove it and set it again/ });
    await services.apps.create({ slug: 'billing' }, 'cli');
    await services.webhooks.set('billing', receiver.url, 'cli');
    const second = await services.webhooks.set('default', `${receiver.url}?second=1`, 'cli');
    await assert.rejects(services.webhooks.pick('default', {}), { code: 'usage', message: /has 2 webhooks/ });
    assert.equal((await services.webhooks.pick('default', { url: receiver.url })).id, created.webhook.id);
    await services.tokens.create({ app: 'default', name: 'CI', expires: '30d' }, 'cli');
    assert.equal((await deliveries(services)).length, 2, 'one delivery per webhook of the app');
    await services.webhooks.remove('default', second.webhook.id, 'cli');
    assert.deepEqual((await deliveries(services)).map((d) => d.webhook_id), [created.webhook.id]);
    await assert.rejects(services.webhooks.remove('default', second.webhook.id, 'cli'), { code: 'not_found' });
    await assert.rejects(services.webhooks.get('billing', created.webhook.id), { code: 'not_found' }, 'a webhook of another app is not found');
    await assert.rejects(services.webhooks.list('nope'), { code: 'not_found' });
    assert.deepEqual((await services.audit.list({ app: 'default', limit: 1 })).map((e) => e.action), ['webhook.removed']);
  });

  test('bad URLs are refused, naming the field and what to do', async () => {
    const services = await testServices();
    const cases: Array<[string, RegExp]> = [
      ['', /url: is required/],
      ['not a url', /is not a URL/],
      ['ftp://example.com/x', /must use http or https/],
      ['file:///etc/passwd', /must use http or https/],
      ['https://user:pw@example.com/x', /must not contain a user name or password/],
      ['https://example.com/x#frag', /#fragment/],
      [`https://example.com/${'x'.repeat(2100)}`, /longer than 2048/],
      ['http://127.0.0.1:8080/x', /loopback address .*MM_WEBHOOK_ADDRESSES=any/],
      ['http://localhost/x', /loopback/],
      ['http://[::1]/x', /loopback/],
      ['http://169.254.169.254/latest/meta-data', /link-local address/],
      ['http://0.0.0.0/x', /no setting allows it/],
      ['http://224.0.0.1/x', /no setting allows it/],
    ];
    for (const [url, message] of cases) {
      await assert.rejects(services.webhooks.set('default', url, 'cli'), { code: 'validation_failed', message }, url);
    }
    // Private networks are allowed by default (an on-prem appliance's receivers live there).
    await services.webhooks.set('default', 'http://10.1.2.3/hook', 'cli');
    await services.webhooks.set('default', 'http://192.168.1.20:9000/hook', 'cli');
    assert.equal((await services.webhooks.list('default')).length, 2);
    assert.equal((await rowsOf(services, 'audit_events')).filter((e) => e.action === 'webhook.created').length, 2);
  });

  test('public only: MM_WEBHOOK_ADDRESSES=public refuses private networks too', async () => {
    const services = await testServices({ env: { MM_WEBHOOK_ADDRESSES: 'public' } });
    await assert.rejects(services.webhooks.set('default', 'http://10.1.2.3/hook', 'cli'), { code: 'validation_failed', message: /private-network address.*MM_WEBHOOK_ADDRESSES=private/ });
    await services.webhooks.set('default', 'https://hooks.example.com/hook', 'cli');
  });
});

describe('webhooks: events, signatures and payloads', () => {
  test('create, refresh, rotate, revoke: one signed event each, verified by the Standard Webhooks package; no value anywhere', async () => {
    const { services, receiver, worker } = await setUp();
    const issued = await services.tokens.create({ app: 'default', name: 'CI/CD Pipeline', expires: '30d' }, 'cli');
    await services.tokens.refresh(issued.token.id, '60d', 'cli');
    const rotated = await services.tokens.rotate(issued.token.id, { grace: '1h' }, 'cli');
    await services.tokens.revoke(rotated.token.id, 'cli');
    // Admin tokens belong to no app: no webhook event.
    const admin = await services.tokens.createAdmin({ name: 'ops', expires: '1d' }, 'cli');
    await worker.poke();

    assert.equal(receiver.received.length, 4);
    for (const r of receiver.received) assert.equal(r.verifyError, undefined, `signature of ${r.body}`);
    assert.deepEqual(
      receiver.events.map((e) => e.type),
      ['token.created', 'token.refreshed', 'token.rotated', 'token.revoked'],
    );
    const [created, refreshed, rotatedEvent, revoked] = receiver.events;
    assert.deepEqual(created!.data.token, {
      id: issued.token.id,
      name: 'CI/CD Pipeline',
      app: 'default',
      status: 'active',
      created_at: issued.token.created_at,
      expires_at: issued.token.expires_at,
      revoked_at: null,
      replaced_by: null,
    });
    assert.equal(created!.data.app, 'default');
    assert.equal(created!.data.actor, 'cli');
    assert.equal(refreshed!.data.previous_expires_at, issued.token.expires_at);
    assert.equal((rotatedEvent!.data.new_token as { id: string }).id, rotated.token.id);
    assert.equal((rotatedEvent!.data.token as { replaced_by: string }).replaced_by, rotated.token.id);
    assert.equal((revoked!.data.token as { status: string }).status, 'revoked');
    // Every event has its own webhook-id; the payload's timestamp is the event's time.
    assert.equal(new Set(receiver.received.map((r) => r.id)).size, 4);
    assert.match(created!.timestamp, /^\d{4}-\d{2}-\d{2}T/);

    // Never a value, never a hint of one, never the secret: in what was sent, nor in what is stored for it.
    const secrets = [issued.value, rotated.value, admin.value, issued.token.hint, rotated.token.hint];
    const stored = JSON.stringify(await rowsOf(services, 'webhook_deliveries'));
    for (const secret of secrets) {
      for (const r of receiver.received) assert.ok(!r.body.includes(secret), 'no token value or hint in a payload');
      assert.ok(!stored.includes(secret), 'no token value or hint in the outbox');
    }
    const all = await deliveries(services);
    assert.ok(all.every((d) => d.status === 'delivered' && d.attempts === 1));
    // The outbox is written in the change's transaction: a refused change writes no event.
    await assert.rejects(services.tokens.refresh(rotated.token.id, '90d', 'cli'), { code: 'token_not_active' });
    assert.equal((await deliveries(services)).length, 4);
  });

  test('a receiver failing the first attempts still gets the event: backoff, the same webhook-id, every attempt visible', async () => {
    const { services, receiver, worker, observed } = await setUp();
    receiver.answer = (_r, index) => (index < 2 ? 503 : 200);
    await services.tokens.create({ app: 'default', name: 'flaky', expires: '30d' }, 'cli');
    await worker.poke();
    let [delivery] = await deliveries(services);
    assert.equal(delivery!.status, 'pending');
    assert.equal(delivery!.attempts, 1);
    assert.match(delivery!.last_error ?? '', /the receiver answered 503/);
    const wait = Date.parse(delivery!.next_attempt_at!) - services.clock.now();
    assert.ok(wait >= FIRST_BACKOFF_MS * 0.9 && wait <= FIRST_BACKOFF_MS * 1.1, `first retry after about 5 s (${wait} ms)`);
    // Not due yet: nothing is sent.
    await worker.poke();
    assert.equal(receiver.received.length, 1);
    services.clock.advance(wait);
    await worker.poke();
    [delivery] = await deliveries(services);
    assert.equal(delivery!.attempts, 2);
    const secondWait = Date.parse(delivery!.next_attempt_at!) - services.clock.now();
    assert.ok(secondWait >= 2 * FIRST_BACKOFF_MS * 0.9 && secondWait <= 2 * FIRST_BACKOFF_MS * 1.1, `then about 10 s (${secondWait} ms)`);
    services.clock.advance(secondWait);
    await worker.poke();
    [delivery] = await deliveries(services);
    assert.equal(delivery!.status, 'delivered');
    assert.equal(delivery!.attempts, 3);
    assert.deepEqual(
      delivery!.attempt_log.map((a) => a.response_status),
      [503, 503, 200],
    );
    assert.equal(new Set(receiver.received.map((r) => r.id)).size, 1, 'every attempt carries the same webhook-id');
    assert.ok(receiver.received.every((r) => r.verifyError === undefined));
    assert.deepEqual(
      observed.map((o) => o.outcome),
      ['http_status', 'http_status', 'delivered'],
    );
  });

  test('retries stop 24 h after the event (MM_WEBHOOK_RETRY_FOR): the delivery fails, and says so', async () => {
    const { services, receiver, worker, observed } = await setUp();
    receiver.answer = () => 500;
    await services.tokens.create({ app: 'default', name: 'doomed', expires: '30d' }, 'cli');
    const start = services.clock.now();
    await worker.poke();
    for (let i = 0; i < 100; i++) {
      const [delivery] = await deliveries(services);
      if (delivery!.status !== 'pending') break;
      services.clock.set(Date.parse(delivery!.next_attempt_at!));
      await worker.poke();
    }
    const [delivery] = await deliveries(services);
    assert.equal(delivery!.status, 'failed');
    assert.equal(Date.parse(delivery!.finished_at!), start + DAY, 'the last attempt is made at the end of the 24 h');
    assert.ok(delivery!.attempts > 10 && delivery!.attempts < 60, `${delivery!.attempts} attempts over 24 h`);
    assert.equal(delivery!.attempt_log.length, delivery!.attempts);
    const gaps = delivery!.attempt_log.slice(1).map((a, i) => Date.parse(a.at) - Date.parse(delivery!.attempt_log[i]!.at));
    assert.ok(Math.max(...gaps) <= MAX_BACKOFF_MS * 1.1, 'waits grow to an hour at most');
    assert.equal(observed.filter((o) => o.gaveUp).length, 1);
    // A failed delivery is never attempted again.
    services.clock.advance(DAY);
    const before = receiver.received.length;
    await worker.poke();
    assert.equal(receiver.received.length, before);
  });

  test('backoff: 5 s doubling, capped at an hour, with a little jitter', () => {
    assert.equal(backoffMs(1, () => 0.5), 5_000);
    assert.equal(backoffMs(2, () => 0.5), 10_000);
    assert.equal(backoffMs(5, () => 0.5), 80_000);
    assert.equal(backoffMs(30, () => 0.5), HOUR);
    assert.equal(backoffMs(1, () => 0), 4_500);
    assert.equal(backoffMs(1, () => 1), 5_500);
  });

  test('webhooks test: one signed webhook.test attempt now, recorded with the deliveries, no retries', async () => {
    const { services, receiver, created } = await setUp();
    const delivered = await services.webhooks.test('default', created.webhook.id);
    assert.equal(delivered.status, 'delivered');
    assert.equal(delivered.type, 'webhook.test');
    assert.equal(receiver.events[0]?.type, 'webhook.test');
    assert.equal(receiver.received[0]?.verifyError, undefined);
    receiver.answer = () => 401;
    const failed = await services.webhooks.test('default', created.webhook.id);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.attempt_log[0]?.response_status, 401);
    assert.equal((await deliveries(services)).length, 2);
    await assert.rejects(services.webhooks.test('default', 'wh_aaaaaaaaaaaaaaaaaaaa'), { code: 'not_found' });
  });

  test('deliveries page newest first, filter by webhook and status; bad filters are refused', async () => {
    const { services, worker, created } = await setUp();
    for (let i = 0; i < 5; i++) await services.tokens.create({ app: 'default', name: `t${i}`, expires: '30d' }, 'cli');
    await worker.poke();
    const first = await services.webhooks.deliveries('default', { limit: 2 });
    assert.equal(first.items.length, 2);
    assert.ok(first.items[0]!.id > first.items[1]!.id, 'newest first');
    const second = await services.webhooks.deliveries('default', { limit: 2, cursor: first.nextCursor! });
    const third = await services.webhooks.deliveries('default', { limit: 2, cursor: second.nextCursor! });
    assert.equal(third.nextCursor, null);
    assert.equal(new Set([...first.items, ...second.items, ...third.items].map((d) => d.id)).size, 5);
    assert.equal((await services.webhooks.deliveries('default', { webhookId: created.webhook.id, status: 'delivered' })).items.length, 5);
    assert.equal((await services.webhooks.deliveries('default', { status: 'pending' })).items.length, 0);
    await assert.rejects(services.webhooks.deliveries('default', { status: 'bogus' }), { code: 'validation_failed', message: /status/ });
    await assert.rejects(services.webhooks.deliveries('default', { webhookId: 'wh_nope' }), { code: 'not_found' });
    await assert.rejects(services.webhooks.deliveries('default', { cursor: 'garbage!' }), { code: 'validation_failed', message: /cursor/ });
  });
});

describe('webhooks: delivery rules', () => {
  test('addresses are checked again at delivery, on what the name resolves to then: a loopback receiver is refused under the default policy', async () => {
    // A webhook that passed the check when it was set (here: written directly) and now points at this machine.
    const services = await testServices();
    const receiver = await WebhookReceiver.start();
    await services.webhooks.set('default', 'http://10.9.9.9/hook', 'cli');
    await execSql(services, 'UPDATE webhooks SET url = ?', [receiver.url.replace('127.0.0.1', 'localhost')]);
    const worker = new BackgroundJobs(services);
    after(() => worker.stop());
    await services.tokens.create({ app: 'default', name: 'x', expires: '30d' }, 'cli');
    await worker.poke();
    const [delivery] = await deliveries(services);
    assert.equal(receiver.received.length, 0, 'no connection was made');
    assert.equal(delivery!.status, 'pending');
    assert.match(delivery!.last_error ?? '', /localhost \((127\.0\.0\.1|::1)\) is a loopback address .*MM_WEBHOOK_ADDRESSES=any/);
  });

  test('redirects are not followed; an answer larger than the cap is cut short', async () => {
    const { services, receiver, worker } = await setUp();
    const target = await WebhookReceiver.start();
    const answers: Array<ReturnType<WebhookReceiver['answer']>> = [
      { status: 302, headers: { Location: target.url } },
      { status: 500, body: 'x'.repeat(5 * 1024 * 1024) },
    ];
    receiver.answer = (_r, index) => answers[index] ?? 204;
    await services.tokens.create({ app: 'default', name: 'a', expires: '30d' }, 'cli');
    await services.tokens.create({ app: 'default', name: 'b', expires: '30d' }, 'cli');
    await worker.poke();
    assert.equal(target.received.length, 0, 'the redirect target was never asked');
    const errors = (await deliveries(services)).map((d) => d.last_error ?? '');
    assert.equal(errors.length, 2);
    assert.ok(errors.some((e) => /answered 302 \(redirects are not followed/.test(e)), errors.join('\n'));
    const big = errors.find((e) => e.startsWith('the receiver answered 500'));
    assert.ok(big, errors.join('\n'));
    assert.ok(big.length < 300, 'only the start of a large answer is kept');
  });

  test('a receiver that does not answer within MM_WEBHOOK_TIMEOUT: a failed attempt, retried', async () => {
    const { services, receiver, worker } = await setUp({ MM_WEBHOOK_TIMEOUT: '1s' });
    receiver.answer = (_r, index) => (index === 0 ? 'hang' : 204);
    await services.tokens.create({ app: 'default', name: 'c', expires: '30d' }, 'cli');
    await worker.poke();
    const [delivery] = await deliveries(services);
    assert.equal(delivery!.status, 'pending');
    assert.match(delivery!.last_error ?? '', /no answer within 1000 ms \(MM_WEBHOOK_TIMEOUT\)/);
    services.clock.advance(10_000);
    await worker.poke();
    assert.equal((await deliveries(services))[0]!.status, 'delivered');
  });

  test('a worker that dies holding a lease: the delivery waits for the lease to run out, then another worker delivers it once', async () => {
    const { services, receiver, worker } = await setUp();
    await services.tokens.create({ app: 'default', name: 'orphan', expires: '30d' }, 'cli');
    const now = services.clock.now();
    // A worker claims the delivery and dies before attempting it.
    const claimed = await services.store.transaction(async (tx) => {
      const due = await tx.webhooks.due(now, 10);
      await tx.webhooks.lease(
        due.map((d) => d.id),
        'dead-worker',
        now + 40_000,
      );
      return due;
    });
    assert.equal(claimed.length, 1);
    await worker.poke();
    assert.equal(receiver.received.length, 0, 'leased: nobody else attempts it');
    services.clock.advance(40_001);
    await worker.poke();
    assert.equal(receiver.deliveredIds().length, 1);
    // The dead worker's late report changes nothing: it no longer holds the lease.
    const late = await services.store.transaction((tx) =>
      tx.webhooks.finishAttempt(claimed[0]!.id, 'dead-worker', { status: 'pending', attempts: 1, nextAttemptAt: now, lastAttemptAt: now, lastStatus: 500, lastError: 'x', finishedAt: null }, { at: now, responseStatus: 500, error: 'x', durationMs: 1 }),
    );
    assert.equal(late, false);
    assert.equal((await deliveries(services))[0]!.status, 'delivered');
  });

  test('two workers (two leases) deliver each event once', async () => {
    const { services, receiver, worker } = await setUp();
    const other = new BackgroundJobs(services);
    after(() => other.stop());
    for (let i = 0; i < 25; i++) await services.tokens.create({ app: 'default', name: `t${i}`, expires: '30d' }, 'cli');
    await Promise.all([worker.poke(), other.poke(), worker.poke(), other.poke()]);
    const ids = receiver.deliveredIds();
    assert.equal(ids.length, 25);
    assert.equal(new Set(ids).size, 25);
  });
});

describe('webhooks: expiry notices', () => {
  test('token.expiring 7 days and 1 day before, token.expired at expiry: each once, at the right time', async () => {
    const { services, receiver, worker } = await setUp();
    const start = services.clock.now();
    const long = await services.tokens.create({ app: 'default', name: 'ten days', expires: '10d' }, 'cli');
    const short = await services.tokens.create({ app: 'default', name: 'three days', expires: '3d' }, 'cli');
    const revoked = await services.tokens.create({ app: 'default', name: 'revoked', expires: '8d' }, 'cli');
    await services.tokens.revoke(revoked.token.id, 'cli');
    await worker.poke();
    const lifecycle = receiver.events.length;
    const notices = () => receiver.events.slice(lifecycle).map((e) => `${e.type}${e.data.notice ? ` ${String(e.data.notice)}` : ''} ${(e.data.token as { name: string }).name}`);

    services.clock.set(start + 2 * DAY - 60_000); // three days: 1 d + 1 min left; ten days: 8 d + 1 min
    await worker.poke();
    assert.deepEqual(notices(), []);

    services.clock.set(start + 2 * DAY); // three days crosses 1 d (it never had 7 d ahead of it: no 7-day notice)
    await worker.poke();
    assert.deepEqual(notices(), ['token.expiring 1d three days']);
    await worker.poke();
    assert.equal(notices().length, 1, 'a notice is written once');

    services.clock.set(start + 3 * DAY); // ten days crosses 7 d; three days expires
    await worker.poke();
    assert.deepEqual(notices().slice(1).sort(), ['token.expired three days', 'token.expiring 7d ten days']);

    services.clock.set(start + 9 * DAY);
    await worker.poke();
    assert.deepEqual(notices().slice(3), ['token.expiring 1d ten days']);
    const oneDay = receiver.events.at(-1)!;
    assert.equal((oneDay.data.token as { id: string }).id, long.token.id);
    assert.equal((oneDay.data.token as { status: string }).status, 'expiring');
    assert.equal((oneDay.data.token as { expires_at: string }).expires_at, long.token.expires_at);

    services.clock.set(start + 10 * DAY);
    await worker.poke();
    assert.deepEqual(notices().slice(4), ['token.expired ten days']);
    assert.equal((receiver.events.at(-1)!.data.token as { status: string }).status, 'expired');
    assert.ok(!notices().some((n) => n.endsWith('revoked')), 'a revoked token gets no notices');
    assert.ok(receiver.received.every((r) => r.verifyError === undefined));
    assert.equal(short.token.app, 'default');
  });

  test('a refreshed token is warned again when it nears its new expiry; a server that was down catches up without stale warnings', async () => {
    const { services, receiver, worker } = await setUp();
    const start = services.clock.now();
    const token = await services.tokens.create({ app: 'default', name: 'refreshed', expires: '10d' }, 'cli');
    await worker.poke();
    const before = receiver.events.length;
    services.clock.set(start + 4 * DAY);
    await worker.poke();
    assert.deepEqual(receiver.events.slice(before).map((e) => e.data.notice), ['7d']);
    await services.tokens.refresh(token.token.id, '20d', 'cli'); // now expires at start + 24 d
    services.clock.set(start + 17 * DAY + 1);
    await worker.poke();
    const types = receiver.events.slice(before).map((e) => `${e.type} ${String(e.data.notice ?? '')}`.trim());
    assert.deepEqual(types, ['token.expiring 7d', 'token.refreshed', 'token.expiring 7d']);
    // Down from 1 day before until after the expiry: on its return only token.expired is sent, not a stale 1-day warning.
    services.clock.set(start + 30 * DAY);
    await worker.poke();
    assert.deepEqual(receiver.events.slice(before + 3).map((e) => e.type), ['token.expired']);
  });

  test('the scan reads a range of expiries, not every token: notices start when the first webhook is set', async () => {
    const services = await testServices({ env: ANY });
    const worker = new BackgroundJobs(services);
    after(() => worker.stop());
    const start = services.clock.now();
    // Tokens that expire before any webhook exists: no notices for them, ever.
    await services.tokens.create({ app: 'default', name: 'early', expires: '1d' }, 'cli');
    services.clock.set(start + 2 * DAY);
    assert.equal(await services.webhooks.scanExpiries(), 0, 'no webhook: the scan does nothing');
    const receiver = await WebhookReceiver.start();
    receiver.secret = (await services.webhooks.set('default', receiver.url, 'cli')).secret;
    await worker.poke();
    assert.equal(receiver.events.length, 0);
    const marks = await rowsOf(services, 'webhook_scan_marks');
    assert.deepEqual(
      marks.map((m) => m.kind),
      ['expired', 'expiring_1d', 'expiring_7d'],
    );
  });
});

describe('webhooks: several instances on PostgreSQL', () => {
  test('two instances (two connection pools, two workers) deliver each event exactly once (FOR UPDATE SKIP LOCKED)', async (t) => {
    const url = requirePostgres(t);
    if (!url) return;
    const databaseUrl = await freshDatabase('mm_webhooks');
    const one = await testServices({ databaseUrl, env: ANY });
    const two = await testServices({ databaseUrl, env: ANY });
    const receiver = await WebhookReceiver.start();
    receiver.secret = (await one.webhooks.set('default', receiver.url, 'cli')).secret;
    const workers = [new BackgroundJobs(one), new BackgroundJobs(two)];
    after(() => Promise.all(workers.map((w) => w.stop())));
    const tokens = [];
    for (let i = 0; i < 40; i++) tokens.push(await (i % 2 ? one : two).tokens.create({ app: 'default', name: `t${i}`, expires: '30d' }, 'cli'));
    await Promise.all([workers[0]!.poke(), workers[1]!.poke(), workers[0]!.poke(), workers[1]!.poke()]);
    const ids = receiver.deliveredIds();
    assert.equal(ids.length, 40, 'every event delivered');
    assert.equal(new Set(ids).size, 40, 'none twice');
    assert.ok(receiver.received.every((r) => r.verifyError === undefined));
    const rows = await rowsOf(one, 'webhook_attempts');
    assert.equal(rows.length, 40, 'one attempt each');
    assert.ok((await rowsOf(one, 'webhook_deliveries')).every((d) => d.status === 'delivered'));
    assert.equal(tokens.length, 40);

    // The claim itself: while one instance's claim transaction holds its rows, the other's skips them (no waiting, no overlap).
    for (let i = 0; i < 4; i++) await one.tokens.create({ app: 'default', name: `late${i}`, expires: '30d' }, 'cli');
    const now = one.clock.now();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let firstClaim: number[] = [];
    const claiming = one.store.transaction(async (tx) => {
      firstClaim = (await tx.webhooks.due(now, 2)).map((d) => d.id);
      await held;
    });
    await eventually(() => firstClaim.length === 2, 5_000, 'the first claim');
    const secondClaim = await two.store.transaction(async (tx) => (await tx.webhooks.due(now, 10)).map((d) => d.id));
    release();
    await claiming;
    assert.equal(secondClaim.length, 2, 'the other instance gets the two rows not locked');
    assert.deepEqual(
      secondClaim.filter((id) => firstClaim.includes(id)),
      [],
    );
  });
});
