import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import packageJson from '../../package.json';
import { runCli, type CliResult } from '../helpers/cli';
import { readAllBytes, tempDataDir, tempDir } from '../helpers/data-dir';

function ok(result: CliResult): CliResult {
  assert.equal(result.code, 0, `exit ${result.code}; stderr: ${result.stderr}`);
  return result;
}

/** A failure: the exit code, and one line on stderr that matches. */
function fails(result: CliResult, code: number, message: RegExp): void {
  assert.equal(result.code, code, `stdout: ${result.stdout}\nstderr: ${result.stderr}`);
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${result.stderr}`);
  assert.match(lines[0]!, message);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
}

function createToken(dataDir: string, name = 'CI/CD Pipeline', expires = '30d') {
  const out = ok(runCli(['tokens', 'create', '--app', 'default', '--name', name, '--expires', expires, '--json'], { dataDir }));
  return JSON.parse(out.stdout) as { token: { id: string; status: string; hint: string; expires_at: string }; value: string };
}

describe('mechamental CLI (as a child process)', () => {
  test('--version and --help', () => {
    assert.equal(ok(runCli(['--version'])).stdout.trim(), packageJson.version);
    const help = ok(runCli(['--help'])).stdout;
    for (const command of ['serve', 'tui', 'apps list', 'tokens create', 'tokens revoke', 'tokens refresh', 'tokens rotate', 'admin-tokens create', 'audit', 'backup', 'migrate']) {
      assert.ok(help.includes(command), `--help lists ${command}`);
    }
    assert.match(ok(runCli(['tokens', 'create', '--help'])).stdout, /Usage: mechamental tokens create --app APP --name NAME --expires/);
    assert.match(ok(runCli(['tokens', '--help'])).stdout, /tokens rotate/);
  });

  test('the seed page flow: create "CI/CD Pipeline" with an expiry, value once, list, refresh, rotate, revoke', () => {
    const dataDir = tempDataDir();
    const human = ok(runCli(['tokens', 'create', '--app', 'default', '--name', 'CI/CD Pipeline', '--expires', '30d'], { dataDir }));
    const value = human.stdout.trim();
    assert.match(value, /^mm_tok_[0-9A-Za-z]{36}$/, 'stdout is the value alone');
    assert.match(human.stderr, /Copy it now: it will not be shown again/);
    assert.ok(!human.stderr.includes(value));

    const list = ok(runCli(['tokens', 'list', '--app', 'default'], { dataDir })).stdout;
    assert.match(list, /CI\/CD Pipeline/);
    assert.match(list, /active/);
    assert.ok(!list.includes(value), 'listing never shows the value');
    const [token] = (JSON.parse(ok(runCli(['tokens', 'list', '--app', 'default', '--json'], { dataDir })).stdout) as { tokens: Array<{ id: string; expires_at: string; hint: string }> }).tokens;
    assert.ok(token);
    assert.equal(token.hint, `${value.slice(0, 11)}…${value.slice(-4)}`);

    const refreshed = JSON.parse(ok(runCli(['tokens', 'refresh', token.id, '--expires', '90d', '--json'], { dataDir })).stdout) as { token: { expires_at: string; hint: string } };
    assert.ok(Date.parse(refreshed.token.expires_at) > Date.parse(token.expires_at));
    assert.equal(refreshed.token.hint, token.hint, 'same value after refresh');

    const rotated = JSON.parse(ok(runCli(['tokens', 'rotate', token.id, '--grace', '1h', '--json'], { dataDir })).stdout) as {
      token: { id: string; name: string };
      value: string;
      previous: { id: string; replaced_by: string };
    };
    assert.equal(rotated.token.name, 'CI/CD Pipeline');
    assert.notEqual(rotated.value, value);
    assert.equal(rotated.previous.replaced_by, rotated.token.id);

    const revoked = JSON.parse(ok(runCli(['tokens', 'revoke', token.id, '--json'], { dataDir })).stdout) as { token: { status: string } };
    assert.equal(revoked.token.status, 'revoked');
    assert.match(ok(runCli(['tokens', 'revoke', token.id], { dataDir })).stdout, /was already revoked at .*; nothing changed/, 'revoking again is fine, and says nothing changed');
    fails(runCli(['tokens', 'refresh', token.id, '--expires', '90d'], { dataDir }), 1, /is revoked and cannot be refreshed; create a new one/);

    const audit = ok(runCli(['audit', '--app', 'default', '--json'], { dataDir })).stdout;
    const actions = (JSON.parse(audit) as { events: Array<{ action: string; actor: string }> }).events.map((e) => e.action);
    assert.deepEqual(actions.slice(0, 4), ['token.revoked', 'token.rotated', 'token.refreshed', 'token.created']);
    assert.ok(!audit.includes(value) && !audit.includes(rotated.value));

    const disk = readAllBytes(dataDir);
    assert.equal(disk.indexOf(value), -1);
    assert.equal(disk.indexOf(rotated.value), -1);
  });

  test('bad input: clear one-line errors, exit codes 1 and 2, and nothing changes', () => {
    const dataDir = tempDataDir();
    const { token } = createToken(dataDir);
    const before = ok(runCli(['tokens', 'list', '--app', 'default', '--json'], { dataDir })).stdout;
    const auditBefore = ok(runCli(['audit', '--json'], { dataDir })).stdout;

    fails(runCli(['tokens', 'create', '--app', 'default', '--expires', '30d'], { dataDir }), 2, /--name is required/);
    fails(runCli(['tokens', 'create', '--app', 'default', '--name', '', '--expires', '30d'], { dataDir }), 2, /--name is required/);
    fails(runCli(['tokens', 'create', '--app', 'default', '--name', ' ', '--expires', '30d'], { dataDir }), 1, /name: is required/);
    fails(runCli(['tokens', 'create', '--app', 'default', '--name', 'x'.repeat(101), '--expires', '30d'], { dataDir }), 1, /name: is 101 characters long; the limit is 100/);
    fails(runCli(['tokens', 'create', '--app', 'default', '--name', 'x', '--expires', '2020-01-01T00:00:00Z'], { dataDir }), 1, /not in the future/);
    fails(runCli(['tokens', 'create', '--app', 'default', '--name', 'x', '--expires', '2y'], { dataDir }), 1, /maximum token lifetime/);
    fails(runCli(['tokens', 'create', '--app', 'default', '--name', 'x', '--expires', 'whenever'], { dataDir }), 2, /--expires "whenever" is neither a duration/);
    fails(runCli(['tokens', 'create', '--app', 'default', '--name', 'x', '--expires', '30'], { dataDir }), 2, /--expires "30" is neither .* \(with a unit: 30d\? 30h\?\)/);
    fails(runCli(['tokens', 'create', '--app', 'default', '--name', 'x', '--expires', '-5d'], { dataDir }), 2, /--expires "-5d" is neither .*\(it must be in the future\)/);
    fails(runCli(['tokens', 'create', '--app', 'ghost', '--name', 'x', '--expires', '30d'], { dataDir }), 1, /app "ghost" does not exist/);
    fails(runCli(['tokens', 'create', '--app', 'default', '--name', 'x', '--expires', '30d', '--rate-limit', 'lots'], { dataDir }), 2, /--rate-limit must be a whole number/);
    fails(runCli(['tokens', 'revoke', 'tok_doesnotexist'], { dataDir }), 1, /token "tok_doesnotexist" does not exist/);
    fails(runCli(['tokens', 'revoke'], { dataDir }), 2, /<token-id> is missing/);
    fails(runCli(['tokens', 'revoke', 'mm_tok_notanid'], { dataDir }), 2, /looks like a token value, not a token id/);
    fails(runCli(['tokens', 'refresh', token.id, '--expires', '1d'], { dataDir }), 1, /not later than the current one/);
    fails(runCli(['tokens', 'rotate', token.id, '--grace', '90d'], { dataDir }), 1, /grace: .* longer than the limit/);
    fails(runCli(['tokens', 'list', '--app', 'default', '--status', 'sleepy'], { dataDir }), 2, /--status "sleepy" is not a token status; use one of active, expiring, expired, revoked/);
    fails(runCli(['tokens', 'list', '--app', 'default', '--colour'], { dataDir }), 2, /Unknown option '--colour'/);
    fails(runCli(['tokens', 'frobnicate'], { dataDir }), 2, /unknown command "tokens frobnicate"/);
    fails(runCli(['tokens'], { dataDir }), 2, /needs a subcommand/);
    fails(runCli(['apps', 'create', 'Bad Slug'], { dataDir }), 1, /slug: "Bad Slug" is not a valid slug/);
    fails(runCli(['apps', 'create', 'default'], { dataDir }), 1, /app "default" already exists/);
    fails(runCli(['pipelines', 'add', 'x', '--app', 'default', '--kind', 'teleport'], { dataDir }), 1, /kind: "teleport" is not a pipeline kind; use one of echo, command, http, openai/);
    fails(runCli(['pipelines', 'add', 'x', '--app', 'default', '--kind', 'command', '--config', '{"argv":[]}'], { dataDir }), 1, /config.argv: needs at least the program/);
    fails(runCli(['pipelines', 'add', 'x', '--app', 'default', '--kind', 'http', '--config', '{"url":"ftp://x"}'], { dataDir }), 1, /config.url: must be an http/);
    fails(runCli(['pipelines', 'add', 'x', '--app', 'default', '--kind', 'echo', '--config', '{oops'], { dataDir }), 2, /--config is not valid JSON/);
    fails(runCli(['pipelines', 'add', 'x', '--app', 'default', '--kind', 'echo', '--config', '{"dely_ms":5}'], { dataDir }), 1, /config: Unrecognized key/i);
    fails(runCli(['pipelines', 'remove', 'nope', '--app', 'default'], { dataDir }), 1, /pipeline "nope" does not exist in app "default"/);
    fails(runCli(['audit', '--limit', '0'], { dataDir }), 2, /audit: --limit must be a whole number from 1 to 1000/);
    fails(runCli(['apps', 'list'], { dataDir, env: { MM_PORT: 'eighty' } }), 2, /port must be a whole number/);
    fails(runCli(['apps', 'list'], { dataDir, env: { MM_MAX_TOKEN_TTL: 'forever' } }), 2, /MM_MAX_TOKEN_TTL must be a duration/);

    assert.equal(ok(runCli(['tokens', 'list', '--app', 'default', '--json'], { dataDir })).stdout, before);
    assert.equal(ok(runCli(['tokens', 'list', '--app', 'default', '--status', 'revoked'], { dataDir })).stdout.trim(), 'App "default" has no revoked tokens.', 'an empty filter does not suggest creating a token');
    assert.equal(ok(runCli(['audit', '--json'], { dataDir })).stdout, auditBefore);
  });

  test('a data directory that is a file, or that cannot be opened, is one clear line', () => {
    const file = path.join(tempDir(), 'not-a-dir');
    fs.writeFileSync(file, 'x');
    fails(runCli(['apps', 'list'], { dataDir: file }), 1, /is a file, not a directory; choose a data directory with --data-dir/);
    if (process.getuid?.() !== 0) {
      const dataDir = tempDataDir();
      ok(runCli(['apps', 'list'], { dataDir }));
      fs.chmodSync(path.join(dataDir, 'mechamental.db'), 0o000);
      fails(runCli(['apps', 'list'], { dataDir }), 1, /cannot open .*mechamental\.db: permission denied; check its owner and permissions/);
    }
  });

  test('--data-dir is accepted before or after the command and its arguments', () => {
    const dataDir = tempDataDir();
    const { token } = createToken(dataDir);
    const a = ok(runCli(['--data-dir', dataDir, 'tokens', 'show', token.id, '--json'])).stdout;
    const b = ok(runCli(['tokens', 'show', token.id, '--json', '--data-dir', dataDir])).stdout;
    const c = ok(runCli(['tokens', '--data-dir', dataDir, 'show', token.id, '--json'])).stdout;
    const d = ok(runCli([`--data-dir=${dataDir}`, 'tokens', 'show', token.id, '--json'])).stdout;
    assert.equal(a, b);
    assert.equal(a, c);
    assert.equal(a, d);
    assert.equal((JSON.parse(a) as { token: { id: string } }).token.id, token.id);
  });

  test('apps, pipelines and admin tokens', () => {
    const dataDir = tempDataDir();
    assert.deepEqual((JSON.parse(ok(runCli(['apps', 'list', '--json'], { dataDir })).stdout) as { apps: Array<{ slug: string }> }).apps.map((a) => a.slug), ['default']);
    ok(runCli(['apps', 'create', 'billing', '--name', 'Billing'], { dataDir }));
    ok(runCli(['pipelines', 'add', 'wc', '--app', 'billing', '--kind', 'command', '--config', '{"argv":["wc","-c"],"timeout_ms":5000}'], { dataDir }));
    const pipelines = JSON.parse(ok(runCli(['pipelines', 'list', '--app', 'billing', '--json'], { dataDir })).stdout) as { pipelines: Array<{ slug: string; kind: string; config: unknown }> };
    assert.deepEqual(pipelines.pipelines, [{ ...pipelines.pipelines[0], slug: 'wc', kind: 'command', config: { argv: ['wc', '-c'], timeout_ms: 5000 } }]);
    assert.match(ok(runCli(['pipelines', 'list', '--app', 'billing'], { dataDir })).stdout, /runs wc -c/);
    ok(runCli(['pipelines', 'remove', 'wc', '--app', 'billing'], { dataDir }));
    assert.deepEqual((JSON.parse(ok(runCli(['pipelines', 'list', '--app', 'billing', '--json'], { dataDir })).stdout) as { pipelines: unknown[] }).pipelines, []);

    const admin = JSON.parse(ok(runCli(['admin-tokens', 'create', '--name', 'ops laptop', '--expires', '7d', '--json'], { dataDir })).stdout) as { token: { id: string }; value: string };
    assert.match(admin.value, /^mm_adm_/);
    const adminList = ok(runCli(['admin-tokens', 'list'], { dataDir })).stdout;
    assert.match(adminList, /ops laptop/);
    assert.ok(!adminList.includes(admin.value));
    fails(runCli(['tokens', 'revoke', 'adm_x'], { dataDir }), 1, /does not exist/);
    ok(runCli(['admin-tokens', 'revoke', admin.token.id], { dataDir }));
    assert.match(ok(runCli(['admin-tokens', 'list'], { dataDir })).stdout, /revoked/);
  });

  test('a garbage database file is refused with a clear message and left as it was', () => {
    const dataDir = tempDataDir();
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const file = path.join(dataDir, 'mechamental.db');
    fs.writeFileSync(file, 'not a database at all');
    fails(runCli(['tokens', 'list', '--app', 'default'], { dataDir }), 1, /is not a SQLite database.*nothing was changed/);
    assert.equal(fs.readFileSync(file, 'utf8'), 'not a database at all');
  });

  test('backup writes a consistent, private copy and never overwrites', () => {
    const dataDir = tempDataDir();
    const { token } = createToken(dataDir);
    const target = path.join(tempDir(), 'backup.db');
    assert.match(ok(runCli(['backup', target], { dataDir })).stdout, /Backed up/);
    assert.equal(fs.statSync(target).mode & 0o777, 0o600);
    const copy = new Database(target, { readonly: true });
    assert.deepEqual(copy.prepare('SELECT id FROM tokens').all(), [{ id: token.id }]);
    copy.close();
    fails(runCli(['backup', target], { dataDir }), 1, /already exists/);
    fails(runCli(['backup', path.join(tempDir(), 'missing', 'b.db')], { dataDir }), 1, /does not exist/);
  });

  test('migrate brings a new data directory up to date', () => {
    const dataDir = tempDataDir();
    assert.match(ok(runCli(['migrate'], { dataDir })).stdout, /up to date/);
    assert.ok(fs.existsSync(path.join(dataDir, 'mechamental.db')));
  });
});
