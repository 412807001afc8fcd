import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULTS, loadConfig } from '../src/config';
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
