import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config';
import { describeUrl } from '../../src/db/postgres/store';
import { runCli } from '../helpers/cli';
import { tempDataDir } from '../helpers/data-dir';

describe('MM_DATABASE_URL / --database-url', () => {
  test('PostgreSQL URLs are accepted, multi-host ones included; anything else is a usage error that does not quote it', () => {
    assert.equal(loadConfig({ MM_DATABASE_URL: 'postgres://mm:pw@db:5432/mechamental' }).databaseUrl, 'postgres://mm:pw@db:5432/mechamental');
    assert.equal(loadConfig({ MM_DATABASE_URL: 'postgresql://h1:5432,h2:5432/mm?target_session_attrs=read-write' }).databaseUrl?.startsWith('postgresql://h1'), true);
    assert.equal(loadConfig({ MM_DATABASE_URL: '' }).databaseUrl, undefined, 'empty means SQLite');
    for (const bad of ['mysql://u:hunter22@db/x', 'postgres://', 'hunter22']) {
      assert.throws(() => loadConfig({ MM_DATABASE_URL: bad }), (error: Error) => /must be a URL such as postgres:/.test(error.message) && !error.message.includes('hunter22'));
    }
  });

  test('a URL is shown without its password or parameters', () => {
    assert.equal(describeUrl('postgres://mm:s3cret@db:5432/mech?sslmode=require&password=x'), 'postgres://mm@db:5432/mech');
    assert.equal(describeUrl('postgres://mm:p@ss@db/mech'), 'postgres://mm@db/mech', 'a password holding "@"');
    assert.equal(describeUrl('postgresql://h1:5432,h2:5433/db'), 'postgresql://h1:5432,h2:5433/db');
  });

  test('an unreachable database is one clear line naming it without the password, exit 1', () => {
    const result = runCli(['apps', 'list', '--database-url', 'postgres://mm:hunter22@127.0.0.1:1/mechamental'], { dataDir: tempDataDir() });
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /^mechamental: cannot reach PostgreSQL at postgres:\/\/mm@127\.0\.0\.1:1\/mechamental \(ECONNREFUSED\)/);
    assert.equal(result.stderr.trim().split('\n').length, 1);
    assert.ok(!`${result.stdout}${result.stderr}`.includes('hunter22'));
  });
});
