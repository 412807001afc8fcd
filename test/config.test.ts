import assert from 'node:assert/strict';
import { test } from 'node:test';
import { adminPortFor, DEFAULTS, loadConfig } from '../src/config';
import { AppError } from '../src/errors';

test('defaults, then environment, then flags', () => {
  const defaults = loadConfig({});
  assert.deepEqual(
    [defaults.dataDir, defaults.host, defaults.port, defaults.maxTokenTtlMs, defaults.defaultGraceMs, defaults.maxBodyBytes],
    [DEFAULTS.dataDir, '127.0.0.1', 8080, 365 * 86_400_000, 86_400_000, 1_048_576],
  );
  const env = loadConfig({ MM_DATA_DIR: '/srv/mm', MM_HOST: '0.0.0.0', MM_PORT: '9000', MM_MAX_BODY: '64k', MM_MAX_TOKEN_TTL: '90d' });
  assert.deepEqual([env.dataDir, env.host, env.port, env.maxBodyBytes, env.maxTokenTtlMs], ['/srv/mm', '0.0.0.0', 9000, 65_536, 90 * 86_400_000]);
  const flags = loadConfig({ MM_PORT: '9000', MM_DATA_DIR: '/srv/mm' }, { port: '0', dataDir: '/tmp/x' });
  assert.deepEqual([flags.port, flags.dataDir], [0, '/tmp/x']);
});

for (const [env, message] of [
  [{ MM_PORT: '70000' }, /port must be a whole number from 0 to 65535 \(got "70000"\)/],
  [{ MM_PORT: '' }, /port must be a whole number/],
  [{ MM_MAX_TOKEN_TTL: '0d' }, /MM_MAX_TOKEN_TTL must be a duration/],
  [{ MM_ROTATE_GRACE: 'a day' }, /MM_ROTATE_GRACE must be a duration/],
  [{ MM_MAX_BODY: 'huge' }, /MM_MAX_BODY must be a size/],
  [{ MM_LOG_LEVEL: 'loud' }, /MM_LOG_LEVEL must be one of/],
  [{ MM_DATA_DIR: '' }, /data directory must not be empty/],
] as const) {
  test(`a bad setting is a usage error naming it: ${JSON.stringify(env)}`, () => {
    assert.throws(() => loadConfig(env), (error: unknown) => error instanceof AppError && error.code === 'usage' && message.test(error.message));
  });
}

test('listener settings: defaults, environment, flags', () => {
  const defaults = loadConfig({});
  assert.deepEqual(
    [defaults.maxConnections, defaults.headersTimeoutMs, defaults.requestTimeoutMs, defaults.keepAliveTimeoutMs, defaults.allowedHosts, defaults.adminHost, defaults.adminPort, defaults.allowRemoteCommands, defaults.tlsCertFile, defaults.tlsKeyFile],
    [null, 10_000, 30_000, 5_000, [], '127.0.0.1', null, false, null, null],
  );
  const env = loadConfig({
    MM_MAX_CONNECTIONS: '10050',
    MM_HEADERS_TIMEOUT: '5s',
    MM_REQUEST_TIMEOUT: '1m',
    MM_KEEP_ALIVE_TIMEOUT: '65s',
    MM_ALLOWED_HOSTS: ' MM.example.com , intranet,,[fd00::2] ',
    MM_ADMIN_HOST: '::1',
    MM_ADMIN_PORT: '9443',
    MM_ALLOW_REMOTE_COMMANDS: '1',
    MM_TLS_CERT: '/etc/mm/cert.pem',
    MM_TLS_KEY: '/etc/mm/key.pem',
  });
  assert.deepEqual(
    [env.maxConnections, env.headersTimeoutMs, env.requestTimeoutMs, env.keepAliveTimeoutMs, env.allowedHosts, env.adminHost, env.adminPort, env.allowRemoteCommands, env.tlsCertFile, env.tlsKeyFile],
    [10_050, 5_000, 60_000, 65_000, ['mm.example.com', 'intranet', '[fd00::2]'], '::1', 9443, true, '/etc/mm/cert.pem', '/etc/mm/key.pem'],
  );
  assert.deepEqual(loadConfig({ MM_ALLOWED_HOSTS: '*' }).allowedHosts, ['*']);
  for (const value of ['0', 'false', 'no', '']) assert.equal(loadConfig({ MM_ALLOW_REMOTE_COMMANDS: value }).allowRemoteCommands, false);
  for (const value of ['true', 'YES']) assert.equal(loadConfig({ MM_ALLOW_REMOTE_COMMANDS: value }).allowRemoteCommands, true);
  // Flags win over the environment; an empty variable is unset.
  const flags = loadConfig({ MM_TLS_CERT: '/a', MM_TLS_KEY: '/b' }, { tlsCert: '/c', tlsKey: '/d' });
  assert.deepEqual([flags.tlsCertFile, flags.tlsKeyFile], ['/c', '/d']);
  assert.equal(loadConfig({ MM_TLS_CERT: '', MM_TLS_KEY: ' ', MM_MAX_CONNECTIONS: '' }).tlsCertFile, null);
});

test('the admin port defaults to the main port + 1 (0 for 0), is a usage error past 65535, and MM_ADMIN_PORT wins', () => {
  assert.equal(adminPortFor(loadConfig({}), 8080), 8081);
  assert.equal(adminPortFor(loadConfig({}), 0), 0);
  assert.equal(adminPortFor(loadConfig({ MM_ADMIN_PORT: '9000' }), 65535), 9000);
  assert.throws(() => adminPortFor(loadConfig({}), 65535), (error: unknown) => error instanceof AppError && error.code === 'usage' && /set MM_ADMIN_PORT/.test(error.message));
  // A main port of 65535 on loopback needs no admin port.
  assert.equal(loadConfig({ MM_PORT: '65535' }).port, 65535);
});

for (const [env, message] of [
  [{ MM_MAX_CONNECTIONS: '0' }, /MM_MAX_CONNECTIONS must be a whole number of at least 1 \(got "0"\)/],
  [{ MM_MAX_CONNECTIONS: 'lots' }, /MM_MAX_CONNECTIONS must be a whole number/],
  [{ MM_MAX_CONNECTIONS: '-5' }, /MM_MAX_CONNECTIONS must be a whole number/],
  [{ MM_HEADERS_TIMEOUT: '0s' }, /MM_HEADERS_TIMEOUT must be a duration/],
  [{ MM_HEADERS_TIMEOUT: '500ms' }, /MM_HEADERS_TIMEOUT must be a duration/],
  [{ MM_REQUEST_TIMEOUT: 'soon' }, /MM_REQUEST_TIMEOUT must be a duration/],
  [{ MM_KEEP_ALIVE_TIMEOUT: '0s' }, /MM_KEEP_ALIVE_TIMEOUT must be a duration/],
  [{ MM_HEADERS_TIMEOUT: '1m', MM_REQUEST_TIMEOUT: '30s' }, /MM_HEADERS_TIMEOUT \(60 s\) must not be longer than MM_REQUEST_TIMEOUT \(30 s\)/],
  [{ MM_ALLOWED_HOSTS: 'mm.example.com:8443' }, /MM_ALLOWED_HOSTS must be comma-separated host names without ports.*"mm\.example\.com:8443" is not one/],
  [{ MM_ALLOWED_HOSTS: 'http://mm.example.com' }, /MM_ALLOWED_HOSTS must be/],
  [{ MM_ALLOWED_HOSTS: '*.example.com' }, /MM_ALLOWED_HOSTS must be/],
  [{ MM_ADMIN_HOST: ' ' }, /MM_ADMIN_HOST must not be empty/],
  [{ MM_ADMIN_PORT: '70000' }, /MM_ADMIN_PORT must be a whole number from 0 to 65535/],
  [{ MM_ALLOW_REMOTE_COMMANDS: 'maybe' }, /MM_ALLOW_REMOTE_COMMANDS must be 1 or 0 \(got "maybe"\)/],
  [{ MM_TLS_CERT: '/etc/mm/cert.pem' }, /--tls-cert and --tls-key \(MM_TLS_CERT, MM_TLS_KEY\) go together/],
  [{ MM_TLS_KEY: '/etc/mm/key.pem' }, /go together/],
] as const) {
  test(`a bad listener setting is a usage error naming it: ${JSON.stringify(env)}`, () => {
    assert.throws(() => loadConfig(env), (error: unknown) => error instanceof AppError && error.code === 'usage' && message.test(error.message));
  });
}

test('MM_TRUSTED_PROXIES: addresses and CIDR ranges, canonical; "loopback"; a bad entry is a usage error naming it', () => {
  assert.deepEqual(loadConfig({}).trustedProxies, []);
  assert.deepEqual(loadConfig({ MM_TRUSTED_PROXIES: '' }).trustedProxies, []);
  assert.deepEqual(loadConfig({ MM_TRUSTED_PROXIES: ' 10.0.0.0/8, 2001:DB8::1 ,::ffff:192.0.2.1,10.0.0.0/8' }).trustedProxies, ['10.0.0.0/8', '2001:db8::1', '192.0.2.1']);
  assert.deepEqual(loadConfig({ MM_TRUSTED_PROXIES: 'loopback' }).trustedProxies, ['127.0.0.0/8', '::1']);
  for (const bad of ['proxy.internal', '10.0.0.0/33', '10.0.0.1:8080']) {
    assert.throws(
      () => loadConfig({ MM_TRUSTED_PROXIES: `10.0.0.1,${bad}` }),
      (error: unknown) => error instanceof AppError && error.code === 'usage' && error.message.includes('MM_TRUSTED_PROXIES') && error.message.includes(`"${bad}" is not one`),
    );
  }
});
test('usage and webhook settings: defaults and environment', () => {
  const defaults = loadConfig({});
  assert.equal(defaults.usageRetentionMs, 90 * 86_400_000);
  assert.equal(defaults.webhookAddresses, 'private');
  assert.equal(defaults.webhookTimeoutMs, 10_000);
  assert.equal(defaults.webhookRetryForMs, 86_400_000);
  assert.equal(defaults.webhookRetentionMs, 30 * 86_400_000);
  const set = loadConfig({ MM_USAGE_RETENTION: '30d', MM_WEBHOOK_ADDRESSES: ' ANY ', MM_WEBHOOK_TIMEOUT: '3s', MM_WEBHOOK_RETRY_FOR: '2h', MM_WEBHOOK_RETENTION: '7d' });
  assert.deepEqual(
    [set.usageRetentionMs, set.webhookAddresses, set.webhookTimeoutMs, set.webhookRetryForMs, set.webhookRetentionMs],
    [30 * 86_400_000, 'any', 3_000, 7_200_000, 7 * 86_400_000],
  );
});

for (const [env, message] of [
  [{ MM_WEBHOOK_ADDRESSES: 'everything' }, /MM_WEBHOOK_ADDRESSES must be one of public, private, any/],
  [{ MM_USAGE_RETENTION: 'forever' }, /MM_USAGE_RETENTION must be a duration/],
  [{ MM_USAGE_RETENTION: '12h' }, /MM_USAGE_RETENTION must be at least 1d/],
  [{ MM_WEBHOOK_TIMEOUT: '5m' }, /MM_WEBHOOK_TIMEOUT must be at most 120s/],
  [{ MM_WEBHOOK_TIMEOUT: '0s' }, /MM_WEBHOOK_TIMEOUT must be a duration/],
  [{ MM_WEBHOOK_RETRY_FOR: 'a day' }, /MM_WEBHOOK_RETRY_FOR must be a duration/],
  [{ MM_WEBHOOK_RETENTION: '-1d' }, /MM_WEBHOOK_RETENTION must be a duration/],
] as const) {
  test(`a bad usage or webhook setting is a usage error naming it: ${JSON.stringify(env)}`, () => {
    assert.throws(() => loadConfig(env), (error: unknown) => error instanceof AppError && error.code === 'usage' && message.test(error.message));
  });
}
