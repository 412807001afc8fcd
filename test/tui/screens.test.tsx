import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config';
import { openServices } from '../../src/services';
import { tempDataDir } from '../helpers/data-dir';
import { DAY, testServices } from '../helpers/services';
import { ARROW_DOWN, ARROW_LEFT, ENTER, ESC, TAB } from './keys';
import { renderTui } from './render-tui';

/** A second connection to the same file, as the server or another admin would have. */
function otherProcess(dataDir: string) {
  const services = openServices(loadConfig({ MM_DATA_DIR: dataDir }), { actor: 'cli' });
  return services;
}

function assertFits(frame: string, columns = 80, rows = 24): void {
  const lines = frame.split('\n');
  assert.ok(lines.length < rows, `${lines.length} lines do not fit ${rows} rows:\n${frame}`);
  for (const line of lines) assert.ok([...line].length <= columns, `a line is wider than ${columns}: "${line}"`);
}

describe('screens', () => {
  test('app list → app (Tokens, Pipelines, Audit) → back → quit', async () => {
    const services = await testServices();
    await services.apps.create({ slug: 'billing', name: 'Billing bot' }, 'cli');
    await services.pipelines.create('billing', { slug: 'summarize', kind: 'command', config: { argv: ['./summarize.sh', '--short'] } }, 'cli');
    await services.tokens.create({ app: 'billing', name: 'Billing CI', expires: '30d' }, 'cli');
    const ui = renderTui(services);
    let frame = await ui.waitFor('default');
    assert.match(frame, /› billing\s+Billing bot\s+1\s+1/);
    assert.match(frame, /default\s+Default\s+0\s+1/);
    assertFits(frame);

    ui.press(ENTER);
    // The header's name and the rows are two queries: wait for both (on PostgreSQL either may answer first).
    frame = await ui.waitFor((f) => f.includes('Billing CI') && f.includes('Billing bot (billing)'));
    assert.match(frame, /Billing bot \(billing\)/);
    assert.match(frame, /\[Tokens\]/);

    ui.press(TAB);
    frame = await ui.waitFor(/\[Pipelines\][\s\S]*summarize\s+command\s+runs \.\/summarize\.sh --short/);
    assertFits(frame);

    ui.press(TAB);
    frame = await ui.waitFor(/\[Audit\][\s\S]*app\.created/);
    const created = frame.indexOf('token.created');
    const pipeline = frame.indexOf('pipeline.created');
    const app = frame.indexOf('app.created');
    assert.ok(created >= 0 && created < pipeline && pipeline < app, `newest first:\n${frame}`);
    assert.match(frame, /token\.created\s+"Billing CI" tok_/);
    assertFits(frame);

    ui.press(ARROW_LEFT);
    await ui.waitFor('[Pipelines]');
    ui.press('q');
    frame = await ui.waitFor('mechamental › apps');
    assert.equal(ui.quits(), 0);
    ui.press(ESC);
    await waitUntil(() => ui.quits() === 1);
  });

  test('? shows the keys; any key closes it', async () => {
    const ui = renderTui(await testServices(), { initialApp: 'default' });
    await ui.waitFor('[Tokens]');
    ui.press('?');
    const frame = await ui.waitFor('Press any key to close this help.');
    for (const text of ['create: a name, then an expiry', 'revoke the selected token', 'refresh', 'rotate', 'filter by name or status', 'ctrl-c']) {
      assert.ok(frame.includes(text), `help mentions ${text}`);
    }
    assertFits(frame);
    ui.press('x');
    await ui.waitFor('No tokens yet');
  });

  test('live: changes by another process show within a second, last used included', async () => {
    const dataDir = tempDataDir();
    const services = await testServices({ dataDir });
    const ui = renderTui(services, { initialApp: 'default', pollIntervalMs: 500 });
    await ui.waitFor('No tokens yet');
    const other = await otherProcess(dataDir);
    try {
      const { token, value } = await other.tokens.create({ app: 'default', name: 'Created elsewhere', expires: '30d' }, 'cli');
      const started = Date.now();
      let frame = await ui.waitFor('Created elsewhere');
      assert.ok(Date.now() - started < 5_000);
      assert.match(frame, /Created elsewhere\s+\S+\s+active\s+in 30d\s+never/);
      assert.ok(!frame.includes(value));

      // The server records use.
      const verified = await other.tokens.verify(value);
      assert.ok(verified.ok);
      other.usage.touch(token.id);
      await other.usage.flush();
      frame = await ui.waitFor(/Created elsewhere\s+\S+\s+active\s+in 30d\s+just now/);

      await other.tokens.revoke(token.id, 'cli');
      await ui.waitFor(/Created elsewhere\s+\S+\s+revoked/);
    } finally {
      await other.close();
    }
  });

  test('statuses follow the clock: expiring (within 7 days and past 75 % of its life), then expired', async () => {
    const services = await testServices();
    await services.tokens.create({ app: 'default', name: 'Short lived', expires: '8d' }, 'cli');
    const ui = renderTui(services, { initialApp: 'default' });
    await ui.waitFor(/Short lived\s+\S+\s+active\s+in 8d/);
    services.clock.advance(2 * DAY);
    await ui.waitFor(/Short lived\s+\S+\s+active\s+in 6d/); // within 7 days, but only a quarter into its life
    services.clock.advance(4 * DAY);
    await ui.waitFor(/Short lived\s+\S+\s+expiring\s+in 2d/); // three quarters of its life gone
    services.clock.advance(3 * DAY);
    await ui.waitFor(/Short lived\s+\S+\s+expired\s+1d ago/);
  });

  test('everything fits 80×24 with many long-named tokens, and the selection scrolls', async () => {
    const services = await testServices();
    // Newest first: 01 created last.
    for (let i = 30; i >= 1; i--) {
      await services.tokens.create({ app: 'default', name: `${String(i).padStart(2, '0')} is a rather long token name for an integration`, expires: `${i}d` }, 'cli');
      services.clock.advance(1000);
    }
    const ui = renderTui(services, { initialApp: 'default' });
    let frame = await ui.waitFor('› 01 is a rather');
    assertFits(frame);
    for (let i = 0; i < 25; i++) ui.press(ARROW_DOWN);
    frame = await ui.waitFor('› 26 is a rather');
    assertFits(frame);
    assert.ok(!frame.includes('01 is a rather'), 'scrolled');
    ui.press('c');
    frame = await ui.waitFor('Create a token');
    assertFits(frame);
  });

  test('a terminal below 80×24 says what size it needs, fits, and takes no keys', async () => {
    const services = await testServices();
    await services.tokens.create({ app: 'default', name: 'CI/CD Pipeline', expires: '30d' }, 'cli');
    const ui = renderTui(services, { initialApp: 'default', size: { columns: 60, rows: 16 } });
    const frame = await ui.waitFor('needs at least 80×24');
    assert.match(frame, /The terminal is 60×16/);
    assert.match(frame, /ctrl-c to quit/);
    assert.ok(!frame.includes('CI/CD Pipeline'), 'the screens are hidden');
    assertFits(frame, 60, 16);
    ui.press('c', 'q');
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(ui.quits(), 0);
    assert.match(ui.frame(), /needs at least 80×24/);
  });

  test('79 columns or 23 rows are too small as well', async () => {
    for (const size of [{ columns: 79, rows: 24 }, { columns: 80, rows: 23 }]) {
      const ui = renderTui(await testServices(), { size });
      await ui.waitFor(`The terminal is ${size.columns}×${size.rows}`);
      ui.unmount();
    }
  });

  test('an unknown app shows the service error instead of crashing', async () => {
    const ui = renderTui(await testServices(), { initialApp: 'nope' });
    const frame = await ui.waitFor('Error: app "nope" does not exist');
    assert.ok(!frame.includes('    at '), 'no stack trace');
    ui.press('q');
    await ui.waitFor('mechamental › apps');
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
