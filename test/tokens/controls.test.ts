import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AppError } from '../../src/errors';
import { ClientAddresses } from '../../src/http/client-address';
import { formatIpRange, IpRanges, parseIpRange, requireIpRanges, unmapAddress } from '../../src/ip-ranges';
import { ControlsCache, requireDescription, requirePipelineScope } from '../../src/tokens/controls';
import { rowsOf } from '../helpers/rows';
import { testServices } from '../helpers/services';

function refuses(fn: () => unknown, field: string, message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof AppError, String(error));
    assert.equal(error.code, 'validation_failed');
    assert.equal(error.details?.field, field);
    assert.match(error.message, message);
    return true;
  });
}

async function rejects(fn: () => Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(fn, (error: unknown) => {
    assert.ok(error instanceof AppError, String(error));
    assert.equal(error.code, code, error.message);
    assert.match(error.message, message);
    return true;
  });
}

describe('IP ranges', () => {
  test('parses addresses and CIDR ranges into a canonical form', () => {
    const cases: Array<[string, string]> = [
      ['203.0.113.7', '203.0.113.7'],
      ['203.0.113.7/32', '203.0.113.7'],
      [' 10.0.0.0/8 ', '10.0.0.0/8'],
      ['0.0.0.0/0', '0.0.0.0/0'],
      ['2001:DB8::/32', '2001:db8::/32'],
      ['::1', '::1'],
      ['::1/128', '::1'],
      ['::/0', '::/0'],
      ['::ffff:10.1.2.3', '10.1.2.3'], // IPv4-mapped: the IPv4 address it carries
      ['::ffff:10.0.0.0/104', '10.0.0.0/8'],
    ];
    for (const [text, canonical] of cases) assert.equal(formatIpRange(parseIpRange(text)!), canonical, text);
  });

  test('refuses what is not an address or range', () => {
    for (const text of ['', 'localhost', '10.0.0.0/33', '::/129', '10.0.0.0/-1', '10.0.0.0/', '10.0.0.0/8/8', '010.0.0.1', '10.0.0', '1.2.3.4:80', '[::1]', 'fe80::1%eth0', '10.0.0.0/08x', 'x'.repeat(100)]) {
      assert.equal(parseIpRange(text), undefined, JSON.stringify(text));
    }
  });

  test('requireIpRanges: canonical, de-duplicated; errors name the entry and the field', () => {
    assert.deepEqual(requireIpRanges(['10.0.0.1', '10.0.0.1/32', '::ffff:10.0.0.1', '2001:db8::/32'], 'allowed_ips'), ['10.0.0.1', '2001:db8::/32']);
    refuses(() => requireIpRanges([], 'allowed_ips'), 'allowed_ips', /at least one address/);
    refuses(() => requireIpRanges(['10.0.0.0/8', 'office'], 'allowed_ips'), 'allowed_ips', /"office" is not an IPv4 or IPv6 address or CIDR range/);
    refuses(() => requireIpRanges(Array.from({ length: 101 }, (_, i) => `10.0.0.${i}`), 'allowed_ips'), 'allowed_ips', /101 entries; the limit is 100/);
  });

  test('matching at the edges: /0, /32, /128, first and last address of a range, IPv4-mapped clients', () => {
    const v4 = new IpRanges(['192.168.4.0/22']);
    assert.equal(v4.has('192.168.4.0'), true);
    assert.equal(v4.has('192.168.7.255'), true);
    assert.equal(v4.has('192.168.3.255'), false);
    assert.equal(v4.has('192.168.8.0'), false);
    assert.equal(v4.has('::ffff:192.168.5.1'), true, 'an IPv4-mapped client matches an IPv4 rule');
    assert.equal(v4.has('::ffff:192.168.8.1'), false);

    const one = new IpRanges(['203.0.113.7/32']);
    assert.equal(one.has('203.0.113.7'), true);
    assert.equal(one.has('203.0.113.8'), false);
    assert.equal(one.has('203.0.113.6'), false);

    const all4 = new IpRanges(['0.0.0.0/0']);
    assert.equal(all4.has('255.255.255.255'), true);
    assert.equal(all4.has('0.0.0.0'), true);
    assert.equal(all4.has('::1'), false, 'IPv4 /0 is every IPv4 address, not IPv6 ones');

    const all6 = new IpRanges(['::/0']);
    assert.equal(all6.has('2001:db8::1'), true);
    assert.equal(all6.has('10.0.0.1'), false, 'IPv6 /0 is every IPv6 address, not IPv4 ones');

    const host6 = new IpRanges(['2001:db8::42/128']);
    assert.equal(host6.has('2001:db8::42'), true);
    assert.equal(host6.has('2001:DB8:0:0:0:0:0:42'), true, 'any spelling of the address');
    assert.equal(host6.has('2001:db8::43'), false);

    const net6 = new IpRanges(['2001:db8:abcd::/48']);
    assert.equal(net6.has('2001:db8:abcd:ffff:ffff:ffff:ffff:ffff'), true);
    assert.equal(net6.has('2001:db8:abce::'), false);

    const mappedRule = new IpRanges(['::ffff:127.0.0.1']);
    assert.equal(mappedRule.has('127.0.0.1'), true, 'a mapped rule is its IPv4 address');
    assert.equal(mappedRule.has('::ffff:127.0.0.1'), true);

    const none = new IpRanges(['10.0.0.0/8']);
    for (const junk of ['', 'unknown', '10.0.0.1, 10.0.0.2', '10.0.0.1:80']) assert.equal(none.has(junk), false, junk);
    // The memo answers the same verdicts the second time.
    assert.equal(v4.has('192.168.4.0'), true);
    assert.equal(v4.has('192.168.8.0'), false);
  });

  test('unmapAddress', () => {
    assert.equal(unmapAddress('::ffff:127.0.0.1'), '127.0.0.1');
    assert.equal(unmapAddress('::FFFF:10.0.0.1'), '10.0.0.1');
    assert.equal(unmapAddress('127.0.0.1'), '127.0.0.1');
    assert.equal(unmapAddress('::1'), '::1');
    assert.equal(unmapAddress('::ffff:abcd'), '::ffff:abcd');
  });
});

describe('the client address (MM_TRUSTED_PROXIES)', () => {
  const untrusting = new ClientAddresses([]);
  const behindProxies = new ClientAddresses(['10.0.0.0/8', '::1']);

  test('without trusted proxies: always the socket, whatever X-Forwarded-For says', () => {
    assert.equal(untrusting.of('127.0.0.1', '203.0.113.7'), '127.0.0.1');
    assert.equal(untrusting.of('::ffff:127.0.0.1', undefined), '127.0.0.1');
    assert.equal(untrusting.of('::1', '203.0.113.7'), '::1');
    assert.equal(untrusting.of(undefined, '203.0.113.7'), '');
  });

  test('from an untrusted peer, X-Forwarded-For is ignored', () => {
    assert.equal(behindProxies.of('198.51.100.9', '203.0.113.7'), '198.51.100.9');
  });

  test('from a trusted proxy: the right-most entry that is not a trusted proxy', () => {
    assert.equal(behindProxies.of('10.0.0.2', '203.0.113.7'), '203.0.113.7');
    // The client put a forged entry first; the proxy appended the real one.
    assert.equal(behindProxies.of('10.0.0.2', '192.0.2.66, 203.0.113.7'), '203.0.113.7');
    // Two proxies in a row: skip the trusted hop.
    assert.equal(behindProxies.of('10.0.0.2', '203.0.113.7, 10.9.9.9'), '203.0.113.7');
    // Repeated header lines are joined.
    assert.equal(behindProxies.of('::1', '192.0.2.66,203.0.113.7,10.1.1.1'), '203.0.113.7');
    // Ports and brackets as some proxies write them; IPv6 and mapped addresses.
    assert.equal(behindProxies.of('10.0.0.2', '203.0.113.7:5050'), '203.0.113.7');
    assert.equal(behindProxies.of('10.0.0.2', '[2001:db8::7]:443'), '2001:db8::7');
    assert.equal(behindProxies.of('10.0.0.2', '2001:db8::7'), '2001:db8::7');
    assert.equal(behindProxies.of('::ffff:10.0.0.2', '::ffff:203.0.113.7'), '203.0.113.7');
    // Every entry a trusted proxy: the left-most.
    assert.equal(behindProxies.of('10.0.0.2', '10.0.0.9, 10.0.0.3'), '10.0.0.9');
    // No header, or an empty one: the proxy itself.
    assert.equal(behindProxies.of('10.0.0.2', undefined), '10.0.0.2');
    assert.equal(behindProxies.of('10.0.0.2', ' , '), '10.0.0.2');
    // Not an address: an unknown client.
    assert.equal(behindProxies.of('10.0.0.2', 'unknown'), '');
    assert.equal(behindProxies.of('10.0.0.2', '203.0.113.7, _hidden'), '');
  });
});

describe('token controls: validation', () => {
  test('description: trimmed, up to 500 characters, one line; empty is none', () => {
    assert.equal(requireDescription('  Deploys from CI  '), 'Deploys from CI');
    assert.equal(requireDescription('   '), null);
    assert.equal(requireDescription(undefined), null);
    assert.equal(requireDescription('é'.repeat(500)), 'é'.repeat(500));
    refuses(() => requireDescription('x'.repeat(501)), 'description', /501 characters long; the limit is 500/);
    refuses(() => requireDescription('two\nlines'), 'description', /control characters/);
  });

  test('pipelines: slugs, sorted and de-duplicated; empty refused; absent is all', () => {
    assert.deepEqual(requirePipelineScope(['summarise', 'chat', 'chat']), ['chat', 'summarise']);
    assert.equal(requirePipelineScope(undefined), null);
    assert.equal(requirePipelineScope(null), null);
    refuses(() => requirePipelineScope([]), 'pipelines', /at least one pipeline slug, or leave pipelines out/);
    refuses(() => requirePipelineScope(['Chat']), 'pipelines', /"Chat" is not a pipeline slug/);
    refuses(() => requirePipelineScope(Array.from({ length: 101 }, (_, i) => `p${i}`)), 'pipelines', /limit is 100/);
  });

  test('the compiled-controls cache: none for a token without controls; recompiled when the stored text changes', () => {
    const cache = new ControlsCache();
    assert.equal(cache.forToken('tok_a', null, null), null);
    const first = cache.forToken('tok_a', '["chat"]', null)!;
    assert.equal(cache.forToken('tok_a', '["chat"]', null), first, 'compiled once');
    assert.equal(first.allowsPipeline('chat'), true);
    assert.equal(first.allowsPipeline('other'), false);
    assert.equal(first.allowsAddress('203.0.113.7'), true, 'no allow-list: any address');
    const edited = cache.forToken('tok_a', '["chat"]', '["10.0.0.0/8"]')!;
    assert.notEqual(edited, first);
    assert.equal(edited.allowsAddress('10.2.3.4'), true);
    assert.equal(edited.allowsAddress('203.0.113.7'), false);
    assert.equal(edited.allowsPipeline('anything') , false);
    const ipsOnly = cache.forToken('tok_b', null, '["::1"]')!;
    assert.equal(ipsOnly.allowsPipeline('anything'), true, 'no scope: every pipeline');
  });
});

describe('token controls: the service', () => {
  test('create stores them, every view shows them, the audit event names scope and IPs; rotate keeps them', async () => {
    const s = await testServices();
    await s.pipelines.create('default', { slug: 'summarise', kind: 'echo' }, 'cli');
    const { token } = await s.tokens.create(
      { app: 'default', name: 'edge', expires: '30d', description: ' Relays from the edge ', pipelines: ['summarise', 'chat'], allowedIps: ['10.0.0.0/8', '::ffff:192.0.2.1', '2001:DB8::/32'] },
      'cli',
    );
    const expected = { description: 'Relays from the edge', pipelines: ['chat', 'summarise'], allowed_ips: ['10.0.0.0/8', '192.0.2.1', '2001:db8::/32'], last_used_ip: null };
    const pick = (t: typeof token) => ({ description: t.description, pipelines: t.pipelines, allowed_ips: t.allowed_ips, last_used_ip: t.last_used_ip });
    assert.deepEqual(pick(token), expected);
    assert.deepEqual(pick(await s.tokens.get(token.id)), expected);
    assert.deepEqual(pick((await s.tokens.list('default'))[0]!), expected);
    const [event] = await s.audit.list({ limit: 1 });
    assert.deepEqual(event?.detail, { name: 'edge', expires_at: token.expires_at, pipelines: ['chat', 'summarise'], allowed_ips: ['10.0.0.0/8', '192.0.2.1', '2001:db8::/32'] });
    const [row] = await rowsOf(s, 'tokens');
    assert.equal(row?.pipelines, '["chat","summarise"]');
    assert.equal(row?.allowed_ips, '["10.0.0.0/8","192.0.2.1","2001:db8::/32"]');

    const rotated = await s.tokens.rotate(token.id, { grace: '1h' }, 'cli');
    assert.deepEqual(pick(rotated.token), expected);
    const verified = await s.tokens.verify(rotated.value);
    assert.ok(verified.ok);
    assert.equal(verified.token.pipelines, '["chat","summarise"]');
    assert.equal(verified.token.allowedIps, '["10.0.0.0/8","192.0.2.1","2001:db8::/32"]');
  });

  test('a token without controls verifies with null texts (the hot path does no work for it)', async () => {
    const s = await testServices();
    const { value, token } = await s.tokens.create({ app: 'default', name: 'plain', expires: '1d' }, 'cli');
    const verified = await s.tokens.verify(value, 'chat');
    assert.ok(verified.ok);
    assert.equal(verified.token.pipelines, null);
    assert.equal(verified.token.allowedIps, null);
    assert.deepEqual([token.description, token.pipelines, token.allowed_ips], [null, null, null]);
  });

  test('a scope may only name pipelines the app has; bad controls create nothing', async () => {
    const s = await testServices();
    await s.apps.create({ slug: 'other', name: 'Other' }, 'cli');
    await s.pipelines.create('other', { slug: 'secret', kind: 'echo' }, 'cli');
    await rejects(() => s.tokens.create({ app: 'default', name: 'x', expires: '1d', pipelines: ['chat', 'nope'] }, 'cli'), 'validation_failed', /app "default" has no pipeline "nope"/);
    await rejects(() => s.tokens.create({ app: 'default', name: 'x', expires: '1d', pipelines: ['secret'] }, 'cli'), 'validation_failed', /has no pipeline "secret"/);
    await rejects(() => s.tokens.create({ app: 'default', name: 'x', expires: '1d', allowedIps: ['10.0.0.0/40'] }, 'cli'), 'validation_failed', /allowed_ips: "10\.0\.0\.0\/40"/);
    await rejects(() => s.tokens.create({ app: 'default', name: 'x', expires: '1d', description: 'd'.repeat(501) }, 'cli'), 'validation_failed', /^description:/);
    assert.equal((await s.tokens.list('default')).length, 0);
  });

  test('last_used_ip is written with last_used_at, and follows only the latest use', async () => {
    const s = await testServices();
    const { token } = await s.tokens.create({ app: 'default', name: 'used', expires: '1d' }, 'cli');
    s.usage.touch(token.id, '203.0.113.7');
    await s.usage.flush();
    let view = await s.tokens.get(token.id);
    assert.equal(view.last_used_ip, '203.0.113.7');
    assert.equal(view.last_used_at, new Date(s.clock.now()).toISOString());
    // An older use written late (another instance's batch) moves neither.
    await s.store.tokens.recordUses([{ id: token.id, at: s.clock.now() - 60_000, ip: '198.51.100.1' }]);
    view = await s.tokens.get(token.id);
    assert.equal(view.last_used_ip, '203.0.113.7');
    // A newer use without an address keeps the address.
    s.clock.advance(1000);
    s.usage.touch(token.id);
    await s.usage.flush();
    view = await s.tokens.get(token.id);
    assert.equal(view.last_used_ip, '203.0.113.7');
    assert.equal(view.last_used_at, new Date(s.clock.now()).toISOString());
    s.clock.advance(1000);
    s.usage.touch(token.id, '2001:db8::9');
    await s.usage.flush();
    assert.equal((await s.tokens.get(token.id)).last_used_ip, '2001:db8::9');
  });

  test('rotateSelf: once per token, grace never extends the old expiry, actor self:<id>', async () => {
    const s = await testServices();
    const { token } = await s.tokens.create({ app: 'default', name: 'self', expires: '2h', pipelines: ['chat'] }, 'cli');
    const rotated = await s.tokens.rotateSelf(token.id, '7d');
    assert.equal(rotated.previous.expires_at, token.expires_at, 'a 7d grace does not move a 2h expiry later');
    assert.deepEqual(rotated.token.pipelines, ['chat']);
    const [event] = await s.audit.list({ limit: 1 });
    assert.deepEqual([event?.action, event?.actor], ['token.rotated', `self:${token.id}`]);
    await rejects(() => s.tokens.rotateSelf(token.id, undefined), 'conflict', new RegExp(`already rotated \\(replaced by ${rotated.token.id}\\)`));
    const again = await s.tokens.rotateSelf(rotated.token.id, '1h');
    assert.equal(Date.parse(again.previous.expires_at), s.clock.now() + 3_600_000);
  });

  test('revokeLeaked: revokes every working token among the values (trigger and admin), skips the rest', async () => {
    const s = await testServices();
    const a = await s.tokens.create({ app: 'default', name: 'a', expires: '1d' }, 'cli');
    const b = await s.tokens.create({ app: 'default', name: 'b', expires: '1d' }, 'cli');
    const gone = await s.tokens.create({ app: 'default', name: 'gone', expires: '1d' }, 'cli');
    await s.tokens.revoke(gone.token.id, 'cli');
    const admin = await s.tokens.createAdmin({ name: 'ops', expires: '1d' }, 'cli');
    const { generateValue } = await import('../../src/tokens/value');
    const result = await s.tokens.revokeLeaked([a.value, a.value, 'garbage', generateValue('trigger'), gone.value, admin.value, `${a.value.slice(0, -1)}x`], 'leak-report');
    assert.deepEqual(result, { revoked: 2 });
    assert.equal((await s.tokens.get(a.token.id)).status, 'revoked');
    assert.equal((await s.tokens.get(admin.token.id)).status, 'revoked');
    assert.equal((await s.tokens.get(b.token.id)).status, 'active');
    const events = await s.audit.list({ limit: 2 });
    assert.deepEqual(events.map((e) => e.actor), ['leak-report', 'leak-report']);
    assert.deepEqual(new Set(events.map((e) => e.action)), new Set(['token.revoked', 'admin_token.revoked']));
    const audit = JSON.stringify(await s.audit.list({ limit: 100 }));
    for (const value of [a.value, b.value, gone.value, admin.value]) assert.ok(!audit.includes(value));
  });
});
