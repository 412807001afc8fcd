import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkWebhookUrl, classifyAddress, policyAllows, resolveAllowed } from '../../src/webhooks/url-policy';

describe('webhook address policy', () => {
  test('addresses are classified, IPv4-mapped IPv6 as IPv4', () => {
    const cases: Array<[string, string]> = [
      ['8.8.8.8', 'public'],
      ['2606:4700::1111', 'public'],
      ['10.0.0.1', 'private'],
      ['172.16.5.4', 'private'],
      ['172.32.0.1', 'public'],
      ['192.168.1.1', 'private'],
      ['100.64.0.1', 'private'],
      ['fd12:3456::1', 'private'],
      ['64:ff9b::a00:1', 'private'],
      ['127.0.0.1', 'loopback'],
      ['127.255.0.9', 'loopback'],
      ['::1', 'loopback'],
      ['::ffff:127.0.0.1', 'loopback'],
      ['::ffff:7f00:1', 'loopback'],
      ['::ffff:10.0.0.1', 'private'],
      ['169.254.169.254', 'link-local'],
      ['fe80::1', 'link-local'],
      ['fe80::1%eth0', 'link-local'],
      ['[::1]', 'loopback'],
      ['0.0.0.0', 'never'],
      ['::', 'never'],
      ['224.0.0.251', 'never'],
      ['ff02::1', 'never'],
      ['255.255.255.255', 'never'],
      ['192.0.2.10', 'never'],
      ['2001:db8::1', 'never'],
      ['not an ip', 'never'],
    ];
    for (const [address, kind] of cases) assert.equal(classifyAddress(address), kind, address);
  });

  test('the three policies', () => {
    const table: Record<string, Record<string, boolean>> = {
      public: { public: true, private: false, loopback: false, 'link-local': false, never: false },
      private: { public: true, private: true, loopback: false, 'link-local': false, never: false },
      any: { public: true, private: true, loopback: true, 'link-local': true, never: false },
    };
    for (const [policy, kinds] of Object.entries(table)) {
      for (const [kind, allowed] of Object.entries(kinds)) assert.equal(policyAllows(policy as 'any', kind as 'public'), allowed, `${policy} ${kind}`);
    }
  });

  test('URLs are normalised; IP literals and localhost names are judged when set', () => {
    assert.equal(checkWebhookUrl('  https://Hooks.Example.com/a?b=1 ', 'private'), 'https://hooks.example.com/a?b=1');
    assert.equal(checkWebhookUrl('http://[::1]:9000/x', 'any'), 'http://[::1]:9000/x');
    assert.throws(() => checkWebhookUrl('http://app.localhost/x', 'private'), /loopback/);
    assert.throws(() => checkWebhookUrl('http://LOCALHOST./x', 'private'), /loopback/);
    assert.throws(() => checkWebhookUrl('http://[fe80::1]/x', 'private'), /link-local/);
    assert.throws(() => checkWebhookUrl('javascript:alert(1)', 'any'), /http or https/);
    assert.throws(() => checkWebhookUrl('http://:pw@example.com/', 'any'), /user name or password/);
  });

  test('at delivery time every resolved address must be allowed', async () => {
    await assert.rejects(resolveAllowed('localhost', 'private'), { code: 'validation_failed', message: /loopback/ });
    assert.equal((await resolveAllowed('localhost', 'any')).address.includes('1'), true);
    assert.deepEqual(await resolveAllowed('[::1]', 'any'), { address: '::1', family: 6 });
    await assert.rejects(resolveAllowed('no-such-host.invalid', 'any'), { code: 'unavailable', message: /cannot resolve no-such-host\.invalid/ });
  });
});
