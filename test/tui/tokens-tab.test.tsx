import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { storedBytes } from '../helpers/rows';
import { DAY, testServices, type TestServices } from '../helpers/services';
import { BACKSPACE, CTRL_U, ENTER, ESC, ARROW_DOWN, ARROW_UP } from './keys';
import { renderTui, VALUE_PATTERN } from './render-tui';

const WARNING = 'copy it now: it will not be shown again';


/**
 * Opens app `default` straight on the Tokens tab, after `seed` has written through the same
 * connection (whose own writes PRAGMA data_version does not report: the UI reloads after its own).
 */
async function tokensTab<T>(seed: (services: TestServices) => Promise<T> | T = () => undefined as T) {
  const services = await testServices();
  const seeded = await seed(services);
  const ui = renderTui(services, { initialApp: 'default' });
  return { services, ui, seeded };
}

describe('Tokens tab', () => {
  test('an app without tokens says so and offers c', async () => {
    const { ui } = await tokensTab();
    const frame = await ui.waitFor('No tokens yet. Press c to create the first one.');
    assert.match(frame, /\[Tokens\]/);
    assert.match(frame, /c create {2}r revoke {2}f refresh {2}o rotate {2}\/ filter/);
  });

  test('create: name, then a preset; the value is shown once, boxed, and gone after dismissal', async () => {
    const { services, ui } = await tokensTab();
    await ui.waitFor('No tokens yet');
    ui.press('c');
    await ui.waitFor('Create a token for app default');
    ui.press('CI/CD Pipeline');
    await ui.waitFor('CI/CD Pipeline');
    ui.press(ENTER);
    await ui.waitFor('expires in:');
    ui.press(ARROW_DOWN); // 90 days
    await ui.waitFor('› 3. 90 days');
    ui.press(ENTER);
    const shown = await ui.waitFor(WARNING);
    const value = VALUE_PATTERN.exec(shown)?.[0];
    assert.ok(value, `a value in the box:\n${shown}`);
    assert.match(shown, /╔/); // boxed
    assert.equal((await services.tokens.verify(value)).ok, true, 'the shown value is the real token');
    const [token] = await services.tokens.list('default');
    assert.equal(token?.name, 'CI/CD Pipeline');
    assert.equal(Math.round((Date.parse(token!.expires_at) - services.clock.now()) / DAY), 90);

    ui.press('q'); // a stray key does not dismiss the value
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(ui.frame().includes(value));
    ui.press(ENTER);
    const after = await ui.waitForGone(value);
    assert.ok(!after.includes(WARNING));
    assert.match(after, /CI\/CD Pipeline\s+mm_tok_\S+…\S+\s+active\s+in 90d\s+never/);
    assert.ok(!(await storedBytes(services)).includes(value), 'the value is not stored anywhere');
    // Other screens never bring it back.
    ui.press('2');
    await ui.waitFor('[Pipelines]');
    ui.press('1');
    assert.ok(!(await ui.waitFor('[Tokens]')).includes(value));
  });

  test('a name pasted together with its Enter moves on to the expiry', async () => {
    const { ui } = await tokensTab();
    await ui.waitFor('No tokens yet');
    ui.press('c');
    await ui.waitFor('Create a token for app default');
    ui.press(`Mobile App Backend${ENTER}`);
    const frame = await ui.waitFor('expires in:');
    assert.match(frame, /Create "Mobile App Backend"/);
  });

  test('create with a typed date', async () => {
    const { services, ui } = await tokensTab();
    const at = new Date(services.clock.now() + 40 * DAY).toISOString().slice(0, 10);
    await ui.waitFor('No tokens yet');
    ui.press('c');
    await ui.waitFor('Create a token');
    ui.press('Mobile App Backend');
    await ui.waitFor('Mobile App Backend');
    ui.press(ENTER);
    await ui.waitFor('expires in:');
    ui.press('5', ENTER);
    await ui.waitFor('expires at');
    ui.press(at);
    await ui.waitFor(at);
    ui.press(ENTER);
    await ui.waitFor(WARNING);
    assert.equal((await services.tokens.list('default'))[0]?.expires_at, `${at}T23:59:59.000Z`);
  });

  test('validation errors from the services are shown inline and the form stays', async () => {
    const { services, ui } = await tokensTab();
    await ui.waitFor('No tokens yet');
    ui.press('c');
    await ui.waitFor('Create a token');
    ui.press('   ', ENTER);
    let frame = await ui.waitFor('Error: name: is required');
    assert.match(frame, /Create a token for app default/);

    ui.press(BACKSPACE, BACKSPACE, BACKSPACE, 'Deploy bot');
    await ui.waitFor('Deploy bot');
    ui.press(ENTER);
    await ui.waitFor('expires in:');
    ui.press('5', ENTER);
    await ui.waitFor('expires at');
    ui.press('2026-02-30', ENTER);
    frame = await ui.waitFor('Error: expires: "2026-02-30" is neither');
    assert.match(frame, /expires at/);

    ui.press(ESC); // back to the presets, then a date in the past
    await ui.waitFor('expires in:');
    ui.press('5', ENTER);
    await ui.waitFor('expires at');
    ui.press('2001-01-01', ENTER);
    await ui.waitFor('is not in the future');

    ui.press(ESC);
    await ui.waitFor('expires in:');
    ui.press(ESC);
    await ui.waitFor('No tokens yet');
    assert.equal((await services.tokens.list('default')).length, 0, 'nothing was created');
  });

  test('revoke asks, names the token; n and esc cancel, y revokes', async () => {
    const { services, ui, seeded: { token } } = await tokensTab(async (s) => await s.tokens.create({ app: 'default', name: 'Old integration', expires: '30d' }, 'cli'));
    await ui.waitFor('Old integration');
    ui.press('r');
    let frame = await ui.waitFor('[y/N]');
    assert.match(frame, new RegExp(`Revoke "Old integration" \\(${token.id}\\)\\?`));
    ui.press('n');
    await ui.waitFor('nothing was revoked');
    assert.equal((await services.tokens.get(token.id)).status, 'active');

    ui.press('r');
    await ui.waitFor('[y/N]');
    ui.press(ESC);
    await ui.waitForGone('[y/N]');
    assert.equal((await services.tokens.get(token.id)).status, 'active');

    ui.press('r');
    await ui.waitFor('[y/N]');
    ui.press('y');
    frame = await ui.waitFor(`Revoked "Old integration" (${token.id})`);
    await ui.waitFor(/Old integration\s+\S+\s+revoked/);
    assert.equal((await services.tokens.get(token.id)).status, 'revoked');
    assert.equal((await services.audit.list({ app: 'default', limit: 1 }))[0]?.actor, 'tui');
  });

  test('refresh preselects the first later preset and greys the others; the service refuses a shorter date, shown inline', async () => {
    const { services, ui, seeded: { token } } = await tokensTab(async (s) => await s.tokens.create({ app: 'default', name: 'Nightly job', expires: '30d' }, 'cli'));
    await ui.waitFor('Nightly job');
    ui.press('f');
    const form = await ui.waitFor('Refresh "Nightly job"');
    assert.match(form, /› 3\. 90 days/, 'the first preset later than the current expiry is preselected');
    assert.match(form, /1\. 7 days\s+not later than it now expires/);
    assert.match(form, /2\. 30 days\s+not later than it now expires/);
    ui.press('1', ENTER); // 7 days: offered greyed, Enter does nothing
    await ui.waitFor('› 1. 7 days');
    await new Promise((r) => setTimeout(r, 150));
    assert.match(ui.frame(), /Refresh "Nightly job"/, 'still asking');
    ui.press('5', ENTER); // a date earlier than the current expiry: the service says why
    await ui.waitFor('new expiry');
    ui.press('10d', ENTER);
    await ui.waitFor('is not later than the current one');
    ui.press(ESC);
    await ui.waitFor('› 3. 90 days');
    ui.press(ENTER);
    await ui.waitFor('Refreshed "Nightly job"');
    await ui.waitFor(/Nightly job\s+\S+\s+active\s+in 90d/);
    assert.equal(Math.round((Date.parse((await services.tokens.get(token.id)).expires_at) - services.clock.now()) / DAY), 90);
  });

  test('rotate shows the new value once and keeps the old token for the grace period', async () => {
    const { services, ui, seeded: { token } } = await tokensTab(async (s) => await s.tokens.create({ app: 'default', name: 'Billing sync', expires: '90d' }, 'cli'));
    await ui.waitFor('Billing sync');
    ui.press('o');
    await ui.waitFor('Rotate "Billing sync"');
    ui.press(ARROW_UP); // 1 hour
    await ui.waitFor('› 1. 1 hour');
    ui.press(ENTER);
    const frame = await ui.waitFor(WARNING);
    const value = VALUE_PATTERN.exec(frame)?.[0];
    assert.ok(value);
    const verified = await services.tokens.verify(value);
    assert.ok(verified.ok && verified.token.id !== token.id);
    assert.match(frame, new RegExp(`the previous token ${token.id} keeps working until`));
    const previous = await services.tokens.get(token.id);
    assert.equal(Date.parse(previous.expires_at) - services.clock.now(), 3_600_000);
    ui.press(ESC); // Esc does not close the box that says "enter: done"
    await new Promise((r) => setTimeout(r, 150));
    assert.ok(ui.frame().includes(value), 'Esc keeps the value on screen');
    assert.match(ui.frame(), /enter done, forget the value/);
    ui.press(ENTER);
    await ui.waitForGone(value);
    const after = await ui.waitFor((f) => (f.match(/Billing sync\s+mm_tok_/g) ?? []).length === 2);
    assert.match(after, /Billing sync\s+\S+\s+expiring\s+in 1h/, 'a rotated token in its grace period is expiring');
  });

  test('rotate "now" ends the old token at once', async () => {
    const { services, ui, seeded: { token } } = await tokensTab(async (s) => await s.tokens.create({ app: 'default', name: 'Webhook relay', expires: '30d' }, 'cli'));
    await ui.waitFor('Webhook relay');
    ui.press('o');
    await ui.waitFor('Rotate');
    ui.press('4', ENTER);
    await ui.waitFor('has stopped working');
    assert.equal((await services.tokens.get(token.id)).status, 'expired');
  });

  test('filter by name or status; esc clears it', async () => {
    const { ui } = await tokensTab(async (services) => {
      await services.tokens.create({ app: 'default', name: 'CI/CD Pipeline', expires: '30d' }, 'cli');
      await services.tokens.create({ app: 'default', name: 'Mobile App Backend', expires: '30d' }, 'cli');
      const gone = await services.tokens.create({ app: 'default', name: 'Retired', expires: '30d' }, 'cli');
      await services.tokens.revoke(gone.token.id, 'cli');
    });
    await ui.waitFor('Retired');
    ui.press('/');
    await ui.waitFor('Filter (name or status):');
    ui.press('mobile');
    let frame = await ui.waitFor((f) => !f.includes('CI/CD Pipeline'));
    assert.match(frame, /Mobile App Backend/);
    assert.ok(!frame.includes('Retired'));
    ui.press(ENTER);
    frame = await ui.waitFor('Filter "mobile": 1 of 3 tokens');

    ui.press('/');
    await ui.waitFor('Filter (name or status):');
    ui.press(ESC);
    await ui.waitFor('CI/CD Pipeline');

    ui.press('/');
    await ui.waitFor('Filter (name or status):');
    ui.press('revoked', ENTER);
    // The count and the rows are two queries (on PostgreSQL either may answer first): wait for both.
    frame = await ui.waitFor((f) => f.includes('Filter "revoked": 1 of 3 tokens') && f.includes('Retired'));
    assert.match(frame, /Retired/);
    assert.ok(!frame.includes('Mobile App Backend'));
    ui.press(ESC);
    frame = await ui.waitFor('Mobile App Backend');
    assert.match(frame, /CI\/CD Pipeline/);
    assert.equal(ui.quits(), 0);
  });

  test('newest first, as the CLI, the API and the console list them (the status filter finds what needs attention)', async () => {
    const { ui } = await tokensTab(async (services) => {
      await services.tokens.create({ app: 'default', name: 'later', expires: '90d' }, 'cli');
      services.clock.advance(1000);
      const revoked = await services.tokens.create({ app: 'default', name: 'revoked one', expires: '30d' }, 'cli');
      await services.tokens.revoke(revoked.token.id, 'cli');
      services.clock.advance(1000);
      await services.tokens.create({ app: 'default', name: 'soon', expires: '3d' }, 'cli');
      services.clock.advance(1000);
      await services.tokens.create({ app: 'default', name: 'middle', expires: '30d' }, 'cli');
      services.clock.advance(2.5 * DAY); // "soon" is past 75 % of its life now
    });
    const frame = await ui.waitFor('revoked one');
    const order = ['middle', 'soon', 'revoked one', 'later'].map((name) => frame.indexOf(`${name} `));
    assert.deepEqual([...order].sort((a, b) => a - b), order, frame);
    assert.match(frame, /soon\s+\S+\s+expiring/);
  });

  test('arrows and j/k move the selection that r acts on', async () => {
    const { ui } = await tokensTab(async (services) => {
      await services.tokens.create({ app: 'default', name: 'second', expires: '20d' }, 'cli');
      services.clock.advance(1000);
      await services.tokens.create({ app: 'default', name: 'first', expires: '10d' }, 'cli');
    });
    await ui.waitFor('› first');
    ui.press('j');
    await ui.waitFor('› second');
    ui.press('k');
    await ui.waitFor('› first');
    ui.press(ARROW_DOWN);
    await ui.waitFor('› second');
    ui.press('r');
    await ui.waitFor('Revoke "second"');
    ui.press(ESC);
    await ui.waitForGone('[y/N]');
  });
});

describe('Tokens tab: restrictions at create', () => {
  test('the fast path is unchanged and says restrictions are optional; o adds description, pipelines and IPs; the detail line shows them', async () => {
    const { services, ui } = await tokensTab(async (s) => {
      await s.pipelines.create('default', { slug: 'summarise', kind: 'echo' }, 'cli');
    });
    await ui.waitFor('No tokens yet');
    ui.press('c');
    await ui.waitFor('Create a token for app default');
    ui.press(`Edge relay${ENTER}`);
    let frame = await ui.waitFor('expires in:');
    assert.match(frame, /No restrictions: any pipeline, any address\. Press o/);
    assert.match(frame, /o restrictions/);

    ui.press('o');
    await ui.waitFor('(1/3) — description');
    ui.press(`Relays webhooks from the edge${ENTER}`);
    frame = await ui.waitFor('(2/3) — pipelines');
    assert.match(frame, /App default has: chat, summarise/);
    ui.press(`nope${ENTER}`);
    await ui.waitFor('Error: pipelines: app default has no pipeline "nope"');
    ui.press(CTRL_U, `chat${ENTER}`);
    await ui.waitFor('(3/3) — addresses');
    ui.press(`10.0.0.0/33${ENTER}`);
    await ui.waitFor('Error: allowed_ips: "10.0.0.0/33" is not an IPv4 or IPv6 address or CIDR range');
    ui.press(CTRL_U, `10.0.0.0/8, 2001:db8::/32${ENTER}`);
    frame = await ui.waitFor('Restrictions: pipelines chat · IPs 10.0.0.0/8,2001:db8::/32');
    assert.match(frame, /expires in:/);
    ui.press('2'); // 30 days: a number moves the choice, Enter commits it
    await ui.waitFor('› 2. 30 days');
    ui.press(ENTER);
    frame = await ui.waitFor(WARNING);
    assert.match(frame, /pipelines chat · IPs 10\.0\.0\.0\/8,2001:db8::\/32/);
    const [token] = await services.tokens.list('default');
    assert.deepEqual(
      { description: token?.description, pipelines: token?.pipelines, allowed_ips: token?.allowed_ips },
      { description: 'Relays webhooks from the edge', pipelines: ['chat'], allowed_ips: ['10.0.0.0/8', '2001:db8::/32'] },
    );
    ui.press(ENTER);
    frame = await ui.waitFor(/Edge relay\s+mm_tok_/);
    assert.match(frame, new RegExp(`${token!.id} · pipelines chat · IPs 10\\.0\\.0\\.0/8,2001:db8::/32`));
  });

  test('without restrictions the token is created as before, and the detail line says all and any', async () => {
    const { services, ui } = await tokensTab();
    await ui.waitFor('No tokens yet');
    ui.press('c');
    await ui.waitFor('Create a token');
    ui.press(`Plain${ENTER}`);
    await ui.waitFor('expires in:');
    ui.press(ENTER);
    await ui.waitFor(WARNING);
    ui.press(ENTER);
    const frame = await ui.waitFor(/Plain\s+mm_tok_/);
    const [token] = await services.tokens.list('default');
    assert.equal(token?.pipelines, null);
    assert.equal(token?.allowed_ips, null);
    assert.match(frame, /pipelines all · IPs any/);
  });

  test('esc in a restriction step goes back a step, keeping what was typed', async () => {
    const { ui } = await tokensTab();
    await ui.waitFor('No tokens yet');
    ui.press('c');
    await ui.waitFor('Create a token');
    ui.press(`Backtrack${ENTER}`);
    await ui.waitFor('expires in:');
    ui.press('o');
    await ui.waitFor('(1/3)');
    ui.press(`first draft${ENTER}`);
    await ui.waitFor('(2/3)');
    ui.press(ESC);
    const frame = await ui.waitFor('(1/3)');
    assert.match(frame, /first draft/);
    ui.press(ESC);
    await ui.waitFor('expires in:');
  });
});
