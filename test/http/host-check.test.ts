import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AllowedHosts, HOST_DUPLICATE, HOST_EMPTY, HOST_MISDIRECTED, HOST_MISSING, HOST_OK, hostForHeader, isLoopbackHost } from '../../src/http/host-check';

describe('isLoopbackHost', () => {
  test('loopback names and addresses; wildcards and other names are not', async () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) assert.equal(isLoopbackHost(host), true, host);
    for (const host of ['0.0.0.0', '::', '[::]', '192.0.2.2', 'fd00::2', 'example.com', 'localhost.example.com', '128.0.0.1', '']) assert.equal(isLoopbackHost(host), false, host);
  });
  test('hostForHeader puts IPv6 literals in brackets', async () => {
    assert.equal(hostForHeader('fd00::2'), '[fd00::2]');
    assert.equal(hostForHeader('[fd00::2]'), '[fd00::2]');
    assert.equal(hostForHeader('Example.COM'), 'example.com');
  });
});

describe('AllowedHosts', () => {
  const headers = (...hosts: string[]) => hosts.flatMap((h) => ['Host', h]);

  test('on loopback: loopback names on any port, any IP literal; nothing else', async () => {
    const hosts = new AllowedHosts({ listenHosts: ['127.0.0.1'], ports: [8080], extra: [], hostname: 'box' });
    for (const host of ['127.0.0.1:8080', 'localhost', 'localhost:1', 'Localhost:65535', 'localhost.', '[::1]:8080', '10.0.0.1', '[fd00::2]:443']) {
      assert.equal(hosts.check(headers(host), true), HOST_OK, host);
    }
    for (const host of ['box', 'box:8080', 'evil.example', 'localhost:', 'localhost:123456', 'localhost:8o', '[::1', '::1', '1.2.3', '999.1.1.1', '.', 'localhost..']) {
      assert.equal(hosts.check(headers(host), true), HOST_MISDIRECTED, host);
    }
  });

  test('beyond loopback: the listen host and the machine name too; MM_ALLOWED_HOSTS adds names; * allows any', async () => {
    const wildcard = new AllowedHosts({ listenHosts: ['0.0.0.0', '127.0.0.1'], ports: [8080, 8081], extra: ['mm.example.com'], hostname: 'Box' });
    for (const host of ['box', 'BOX:8080', 'mm.example.com', 'mm.example.com:443', '192.0.2.2:8080']) assert.equal(wildcard.check(headers(host), true), HOST_OK, host);
    assert.equal(wildcard.check(headers('0.0.0.0'), true), HOST_OK, 'an IP literal');
    assert.equal(wildcard.check(headers('other.example.com'), true), HOST_MISDIRECTED);
    const named = new AllowedHosts({ listenHosts: ['mm.lan'], ports: [80], extra: [], hostname: 'box' });
    assert.equal(named.check(headers('mm.lan'), true), HOST_OK);
    assert.equal(named.check(headers('box:80'), true), HOST_OK);
    const any = new AllowedHosts({ listenHosts: ['127.0.0.1'], ports: [80], extra: ['*'] });
    assert.equal(any.check(headers('whatever.example'), true), HOST_OK);
    assert.equal(any.check(headers('a', 'b'), true), HOST_DUPLICATE);
    assert.equal(any.check([], true), HOST_MISSING);
  });

  test('missing (HTTP/1.1 only), duplicated (any case, any values) and empty Host', async () => {
    const hosts = new AllowedHosts({ listenHosts: ['127.0.0.1'], ports: [8080], extra: [] });
    assert.equal(hosts.check(['Accept', '*/*'], true), HOST_MISSING);
    assert.equal(hosts.check(['Accept', '*/*'], false), HOST_OK);
    assert.equal(hosts.check(['Host', 'localhost', 'HOST', 'localhost'], true), HOST_DUPLICATE);
    assert.equal(hosts.check(['hOsT', 'localhost', 'X', 'y', 'host', 'evil'], false), HOST_DUPLICATE);
    assert.equal(hosts.check(['Host', ''], true), HOST_EMPTY);
    assert.equal(hosts.check(['Hosts', 'x', 'Host', 'localhost'], true), HOST_OK);
  });

  test('an allowed value seen on the slow path is remembered, up to a bound; a refused one never', async () => {
    const hosts = new AllowedHosts({ listenHosts: ['127.0.0.1'], ports: [8080], extra: [] });
    const exact = (hosts as unknown as { exact: Set<string> }).exact;
    const before = exact.size;
    assert.equal(hosts.check(headers('localhost:9000'), true), HOST_OK);
    assert.ok(exact.has('localhost:9000'));
    for (let port = 1; port <= 1000; port++) hosts.check(headers(`localhost:${port}`), true);
    for (let i = 0; i < 100; i++) hosts.check(headers(`evil${i}.example`), true);
    assert.ok(exact.size <= before + 256, `remembered ${exact.size - before}`);
    assert.ok(![...exact].some((h) => h.startsWith('evil')));
  });
});
