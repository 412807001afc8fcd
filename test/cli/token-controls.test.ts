import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { generateValue } from '../../src/tokens/value';
import { runCli, type CliResult } from '../helpers/cli';
import { storeEnv, testServices } from '../helpers/services';

function ok(result: CliResult): CliResult {
  assert.equal(result.code, 0, `exit ${result.code}; stderr: ${result.stderr}`);
  return result;
}

/** Everything a run printed. */
function printed(result: CliResult): string {
  return result.stdout + result.stderr;
}

describe('CLI: token controls and leaked values (as a child process, on either database)', () => {
  test('tokens create with --description, --pipelines and --allowed-ips; show and list print them', async () => {
    const s = await testServices();
    await s.pipelines.create('default', { slug: 'summarise', kind: 'echo' }, 'cli');
    const env = storeEnv(s);
    const created = JSON.parse(
      ok(
        runCli(['tokens', 'create', '--app', 'default', '--name', 'edge', '--expires', '30d', '--description', 'Relays from the edge', '--pipelines', 'summarise,chat', '--allowed-ips', '203.0.113.0/24', '--allowed-ips', '2001:db8::/32', '--json'], { env }),
      ).stdout,
    ) as { token: { id: string; pipelines: string[]; allowed_ips: string[]; description: string } };
    assert.deepEqual(created.token.pipelines, ['chat', 'summarise']);
    assert.deepEqual(created.token.allowed_ips, ['203.0.113.0/24', '2001:db8::/32']);
    assert.equal(created.token.description, 'Relays from the edge');

    const show = ok(runCli(['tokens', 'show', created.token.id], { env })).stdout;
    assert.match(show, /description {2}Relays from the edge/);
    assert.match(show, /pipelines {4}chat, summarise/);
    assert.match(show, /allowed IPs {2}203\.0\.113\.0\/24, 2001:db8::\/32/);
    const list = ok(runCli(['tokens', 'list', '--app', 'default'], { env })).stdout;
    assert.match(list, /PIPELINES\s+ALLOWED IPS/);
    assert.match(list, /chat,summarise\s+203\.0\.113\.0\/24,2001:db8::\/32/);

    const plain = JSON.parse(ok(runCli(['tokens', 'create', '--app', 'default', '--name', 'plain', '--expires', '1d', '--json'], { env })).stdout) as { token: { id: string } };
    assert.match(ok(runCli(['tokens', 'show', plain.token.id], { env })).stdout, /pipelines {4}all of app default\n {2}allowed IPs {2}any/);

    const bad = runCli(['tokens', 'create', '--app', 'default', '--name', 'x', '--expires', '1d', '--pipelines', 'nope'], { env });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /pipelines: app "default" has no pipeline "nope"/);
    const badIp = runCli(['tokens', 'create', '--app', 'default', '--name', 'x', '--expires', '1d', '--allowed-ips', 'office'], { env });
    assert.equal(badIp.code, 1);
    assert.match(badIp.stderr, /allowed_ips: "office" is not an IPv4 or IPv6 address/);
  });

  test('tokens revoke --values -: revokes the working tokens among the values on stdin, says how many, never echoes one', async () => {
    const s = await testServices();
    const env = storeEnv(s);
    const leaked = await s.tokens.create({ app: 'default', name: 'leaked', expires: '1d' }, 'cli');
    const admin = await s.tokens.createAdmin({ name: 'leaked ops', expires: '1d' }, 'cli');
    const bystander = await s.tokens.create({ app: 'default', name: 'bystander', expires: '1d' }, 'cli');
    const unknown = generateValue('trigger');
    const input = `${leaked.value}\r\n\n  ${admin.value}  \nnot a token\n${unknown}\n${leaked.value}\n`;
    const result = ok(runCli(['tokens', 'revoke', '--values', '-'], { env, input }));
    assert.equal(result.stdout.trim(), 'Read 5 values; revoked 2 tokens. The other 3 were not a working token of this server (unknown, malformed, repeated or revoked already).');
    for (const value of [leaked.value, admin.value, bystander.value, unknown]) assert.ok(!printed(result).includes(value), 'no value echoed');
    assert.equal((await s.tokens.get(leaked.token.id)).status, 'revoked');
    assert.equal((await s.tokens.get(admin.token.id)).status, 'revoked');
    assert.equal((await s.tokens.get(bystander.token.id)).status, 'active');
    const events = await s.audit.list({ limit: 2 });
    assert.deepEqual(events.map((e) => e.actor), ['cli', 'cli']);

    // Again: nothing left to revoke. --json says the counts only.
    const json = JSON.parse(ok(runCli(['tokens', 'revoke', '--values', '-', '--json'], { env, input })).stdout) as unknown;
    assert.deepEqual(json, { received: 5, revoked: 0 });
  });

  test('bad uses of --values never echo a value', async () => {
    const s = await testServices();
    const env = storeEnv(s);
    const { value, token } = await s.tokens.create({ app: 'default', name: 'kept', expires: '1d' }, 'cli');
    const cases: Array<{ args: string[]; input?: string; code: number; message: RegExp }> = [
      { args: ['tokens', 'revoke', '--values', value], code: 2, message: /--values reads token values from standard input only/ },
      { args: ['tokens', 'revoke', token.id, '--values', '-'], input: `${value}\n`, code: 2, message: /either a token id or `--values -`, not both/ },
      { args: ['tokens', 'revoke', '--values', '-'], input: '\n  \n', code: 2, message: /no values on standard input/ },
      { args: ['tokens', 'revoke', '--values'], code: 2, message: /--values/ },
    ];
    for (const c of cases) {
      const result = runCli(c.args, { env, ...(c.input === undefined ? {} : { input: c.input }) });
      assert.equal(result.code, c.code, `${c.args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, c.message);
      assert.ok(!printed(result).includes(value), `${c.args.join(' ')} echoed the value`);
    }
    assert.equal((await s.tokens.get(token.id)).status, 'active');
  });

  test('a value given where an id or a command belongs is never printed', async () => {
    const s = await testServices();
    const env = storeEnv(s);
    const { value, token } = await s.tokens.create({ app: 'default', name: 'pasted', expires: '1d' }, 'cli');
    const admin = generateValue('admin');
    const runs: string[][] = [
      ['tokens', 'show', value],
      ['tokens', 'revoke', value],
      ['tokens', 'refresh', value, '--expires', '30d'],
      ['tokens', 'rotate', value],
      ['admin-tokens', 'revoke', admin],
      ['tokens', 'show', token.id, value],
      ['tokens', 'list', '--app', 'default', `--${value}`],
      [value],
      ['tokens', value],
    ];
    for (const args of runs) {
      const result = runCli(args, { env });
      assert.notEqual(result.code, 0, args.join(' '));
      for (const secret of [value, admin]) {
        assert.ok(!printed(result).includes(secret), `${args.map((a) => (a === secret ? '<value>' : a)).join(' ')} printed the value: ${printed(result).replace(secret, '<value>')}`);
        assert.ok(!printed(result).includes(secret.slice(7)), 'not even without its prefix');
      }
    }
    assert.match(runCli(['tokens', 'show', value], { env }).stderr, /looks like a token value, not a token id/);
    assert.equal((await s.tokens.get(token.id)).status, 'active');
  });
});
