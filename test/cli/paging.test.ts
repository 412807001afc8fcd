// The CLI's list commands page (issue 18): --limit (one page and a note on stderr how to get the
// next), --cursor, --all (every page, printed as it arrives), --all --json as JSON Lines; bad
// values are usage errors; paging while tokens are created and revoked never skips or repeats.
// As child processes, on either database (the store of testServices()).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runCli, runCliAsync } from '../helpers/cli';
import { storeEnv, testServices, type TestServices } from '../helpers/services';

/** `count` tokens for app default, one second apart (newest last), through the services. */
async function withTokens(count: number): Promise<{ services: TestServices; ids: string[] }> {
  const services = await testServices();
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    ids.push((await services.tokens.create({ app: 'default', name: `token ${String(i).padStart(3, '0')}`, expires: '30d' }, 'cli')).token.id);
    services.clock.advance(1000);
  }
  return { services, ids: ids.reverse() }; // newest first
}

function jsonLines(stdout: string): Array<{ id: string }> {
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as { id: string });
}

describe('CLI paging', () => {
  test('--limit prints one page and says on stderr how to get the next; following the notes lists every token once, newest first', async () => {
    const { services, ids } = await withTokens(7);
    const env = storeEnv(services);
    const seen: string[] = [];
    let args = ['tokens', 'list', '--app', 'default', '--limit', '3', '--json'];
    for (let pages = 0; pages < 5; pages++) {
      const result = runCli(args, { env });
      assert.equal(result.code, 0, result.stderr);
      const page = JSON.parse(result.stdout) as { tokens: Array<{ id: string }>; next_cursor: string | null };
      seen.push(...page.tokens.map((t) => t.id));
      if (page.next_cursor === null) {
        assert.equal(result.stderr, '');
        break;
      }
      const note = /the next page is {2}(.+?) {2}\(or --all/.exec(result.stderr);
      assert.ok(note, result.stderr);
      assert.match(note[1]!, new RegExp(`--cursor ${page.next_cursor}$`));
      args = [...note[1]!.replace(/^mechamental /, '').split(' '), '--json'];
    }
    assert.deepEqual(seen, ids);

    const text = runCli(['tokens', 'list', '--app', 'default', '--limit', '2'], { env });
    assert.equal(text.code, 0);
    assert.equal(text.stdout.trim().split('\n').length, 3, 'a header and two rows');
    assert.match(text.stderr, /More follow: the next page is {2}mechamental tokens list --app default --limit 2 --cursor \S+/);
  });

  test('--all --json prints JSON Lines: one token per line, every token once; --all as a table; audit too', async () => {
    const { services, ids } = await withTokens(5);
    const env = storeEnv(services);
    const all = runCli(['tokens', 'list', '--app', 'default', '--all', '--json', '--limit', '2'], { env });
    assert.equal(all.code, 0, all.stderr);
    assert.deepEqual(
      jsonLines(all.stdout).map((t) => t.id),
      ids,
    );
    assert.equal(all.stderr, '');
    const table = runCli(['tokens', 'list', '--app', 'default', '--all', '--limit', '2'], { env });
    assert.equal(table.stdout.trim().split('\n').length, 6);
    assert.match(table.stdout.split('\n')[0]!, /^ID\s+NAME/);

    const audit = runCli(['audit', '--all', '--json', '--limit', '2'], { env });
    assert.equal(audit.code, 0, audit.stderr);
    const events = jsonLines(audit.stdout) as Array<{ id: string; action?: string }>;
    assert.equal(events.filter((e) => e.action === 'token.created').length, 5);
    assert.equal(new Set(events.map((e) => e.id)).size, events.length);

    const filtered = runCli(['tokens', 'list', '--app', 'default', '--search', 'TOKEN 00', '--all', '--json'], { env });
    assert.equal(jsonLines(filtered.stdout).length, 5);
    const none = runCli(['tokens', 'list', '--app', 'default', '--search', 'nothing like it'], { env });
    assert.match(none.stdout, /App "default" has no tokens whose name contains "nothing like it"\./);
  });

  test('--help says how paging works and what --all --json prints', () => {
    const help = runCli(['tokens', 'list', '--help']);
    assert.match(help.stdout, /--all --json prints JSON Lines/);
    assert.match(help.stdout, /--limit N/);
    assert.match(runCli(['audit', '--help']).stdout, /--cursor C/);
  });

  test('bad --limit and --cursor values are usage errors (exit 2) that say what is allowed', async () => {
    const { services } = await withTokens(1);
    const env = storeEnv(services);
    for (const bad of ['0', '-1', '1001', 'abc', '1.5', '']) {
      for (const command of [['tokens', 'list', '--app', 'default'], ['admin-tokens', 'list'], ['audit']]) {
        const result = runCli([...command, `--limit=${bad}`], { env });
        assert.equal(result.code, 2, `${command.join(' ')} --limit=${bad}: ${result.stderr}`);
        assert.match(result.stderr, /--limit must be a whole number from 1 to 1000/);
        assert.equal(result.stdout, '');
      }
    }
    for (const bad of ['garbage', '']) {
      const result = runCli(['tokens', 'list', '--app', 'default', `--cursor=${bad}`], { env });
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /--cursor/);
    }
  });

  test('--all while tokens are created and revoked: every token that existed throughout appears once, none twice', async () => {
    const { services, ids } = await withTokens(60);
    const env = storeEnv(services);
    const listing = runCliAsync(['tokens', 'list', '--app', 'default', '--all', '--json', '--limit', '1'], { env });
    const created: string[] = [];
    let finished = false;
    void listing.then(() => (finished = true));
    for (let i = 0; !finished && i < 200; i++) {
      services.clock.advance(1000);
      created.push((await services.tokens.create({ app: 'default', name: `during ${i}`, expires: '30d' }, 'cli')).token.id);
      await services.tokens.revoke(ids[(i * 7) % ids.length]!, 'cli').catch(() => undefined);
    }
    const result = await listing;
    assert.equal(result.code, 0, result.stderr);
    const seen = jsonLines(result.stdout).map((t) => t.id);
    assert.equal(new Set(seen).size, seen.length, 'no token twice');
    for (const id of ids) assert.ok(seen.includes(id), `${id} existed throughout and was listed`);
    assert.ok(seen.every((id) => ids.includes(id) || created.includes(id)));
  });
});
