import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import packageJson from '../../package.json';
import { BUILD_TIMEOUT_MS, ensureBinary, runBinary, sandbox, type BinaryResult } from './helpers/binary';

function ok(result: BinaryResult): BinaryResult {
  assert.equal(result.code, 0, `exit ${result.code}; stderr: ${result.stderr}`);
  return result;
}

describe('the single executable (dist/mechamental), from an empty directory', () => {
  before(() => ensureBinary(), { timeout: BUILD_TIMEOUT_MS });

  test('is a self-contained executable file', () => {
    const binary = ensureBinary();
    assert.ok((fs.statSync(binary).mode & 0o111) !== 0, 'executable');
    assert.ok(fs.statSync(binary).size < 150 * 1048576, 'not absurdly large');
  });

  test('--version prints the package version, without touching the disk', () => {
    const box = sandbox();
    assert.equal(ok(runBinary(box, ['--version'])).stdout, `${packageJson.version}\n`);
    assert.deepEqual(fs.readdirSync(box.dir), [], 'no data directory, no cache');
  });

  test('--help lists the commands; an unknown command is a usage error', () => {
    const box = sandbox();
    const help = ok(runBinary(box, ['--help'])).stdout;
    for (const command of ['serve', 'tui', 'tokens create', 'backup', 'migrate', 'healthcheck']) assert.ok(help.includes(command), command);
    const unknown = runBinary(box, ['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^mechamental: unknown command "frobnicate"/);
  });

  test('first run: migrate creates ./mechamental-data (0700) and the database (0600) with the embedded migrations', () => {
    const box = sandbox();
    const result = ok(runBinary(box, ['migrate']));
    assert.match(result.stdout, /mechamental\.db/);
    assert.equal(result.stderr, '', 'no warnings (no experimental-SEA notice, no optional-require noise)');
    assert.equal(fs.statSync(box.dataDir).mode & 0o777, 0o700);
    assert.equal(fs.statSync(path.join(box.dataDir, 'mechamental.db')).mode & 0o777, 0o600);
    ok(runBinary(box, ['migrate']));
  });

  test('tokens create --json prints the value once; list, revoke, audit and backup work', () => {
    const box = sandbox();
    const created = JSON.parse(ok(runBinary(box, ['tokens', 'create', '--app', 'default', '--name', 'CI/CD Pipeline', '--expires', '30d', '--json'])).stdout) as {
      token: { id: string; status: string; name: string };
      value: string;
    };
    assert.match(created.value, /^mm_tok_[0-9A-Za-z]{36}$/);
    assert.equal(created.token.status, 'active');
    assert.equal(created.token.name, 'CI/CD Pipeline');
    const list = ok(runBinary(box, ['tokens', 'list', '--app', 'default'])).stdout;
    assert.match(list, /CI\/CD Pipeline/);
    assert.ok(!list.includes(created.value));
    ok(runBinary(box, ['tokens', 'revoke', created.token.id]));
    assert.match(ok(runBinary(box, ['audit', '--app', 'default'])).stdout, /revoke/);
    ok(runBinary(box, ['backup', path.join(box.dir, 'backup.db')]));
    assert.ok(fs.statSync(path.join(box.dir, 'backup.db')).size > 0);
  });

  test('errors are one line with the right exit code', () => {
    const box = sandbox();
    const usage = runBinary(box, ['tokens', 'create', '--app', 'default']);
    assert.equal(usage.code, 2);
    assert.equal(usage.stderr.trimEnd().split('\n').length, 1, usage.stderr);
    const missing = runBinary(box, ['tokens', 'revoke', 'tok_aaaaaaaaaaaaaaaaaaaa']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr.trimEnd().split('\n').length, 1, missing.stderr);
  });
});
