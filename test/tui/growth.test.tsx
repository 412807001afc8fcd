// The TUI with long lists (a window of pages, queries for the filter and the counts) and the
// first-day friction of issue 10: keys that arrive in one read, number keys that only move, the
// value box that only Enter closes, refresh and the confirm's footer. Both databases.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import type { TokenFilter } from '../../src/tokens/service';
import { fillStore, integrationName } from '../bench/lib/growth-fill';
import { eventually } from '../helpers/server';
import { DAY, testServices, type TestServices } from '../helpers/services';
import { BACKSPACE, ENTER, ESC } from './keys';
import { renderTui } from './render-tui';

const MANY = 3_000;

/** React's own Scheduler (the one Ink's renderer queues its renders on; it ships no types). */
const scheduler = createRequire(import.meta.url)('scheduler') as {
  unstable_scheduleCallback: (priority: number, callback: () => void) => unknown;
  unstable_NormalPriority: number;
};

/** Services with `tokens` tokens and `events` audit events for app default, filled through the store. */
async function grown(tokens: number, events: number): Promise<TestServices> {
  const services = await testServices();
  const app = await services.store.apps.bySlug('default');
  await fillStore(services.store, { appId: app!.id, tokens, auditEvents: events, now: services.clock.now() - DAY, batch: 1_000 });
  return services;
}

/** Records every page the Tokens tab reads (the real service answers). */
function recordPages(services: TestServices): Array<TokenFilter> {
  const reads: TokenFilter[] = [];
  const page = services.tokens.page.bind(services.tokens);
  services.tokens.page = (app, filter = {}) => {
    reads.push(filter);
    return page(app, filter);
  };
  return reads;
}

/** The position line under the table: "1 of 3,000 tokens, newest first". */
function position(frame: string): string | undefined {
  return /(\d[\d,]*) of ([\d,]+\+?) tokens, newest first/.exec(frame)?.slice(1, 3).join('/');
}

describe('TUI windowing', () => {
  test('the Tokens tab of a large app reads one page, fetches more as the cursor moves, and jumps to the end with one read', async () => {
    const services = await grown(MANY, 0);
    const reads = recordPages(services);
    const ui = renderTui(services, { initialApp: 'default' });
    await ui.waitFor('1 of 3,000 tokens, newest first');
    assert.ok(reads.length <= 2, `opening reads a page or two, not the list (${reads.length} reads)`);
    assert.ok(reads.every((r) => (r.limit ?? 0) <= 100));

    // 150 j's in one read: each is a key; the window fetches the pages below as it nears its edge.
    ui.press('j'.repeat(150));
    // Each key waits for the screen of the one before: slow on a busy machine, hence the deadline.
    await ui.waitFor((f) => position(f) === '151/3,000', 60_000);
    const afterMoving = reads.length;
    assert.ok(afterMoving >= 2 && afterMoving <= 6, `${afterMoving} reads`);

    ui.press('G');
    await ui.waitFor((f) => position(f) === '3,000/3,000');
    assert.ok(reads.at(-1)?.last, 'G reads the last page');
    assert.ok(reads.length - afterMoving <= 2, 'not every page in between');
    ui.press('k');
    await ui.waitFor((f) => position(f) === '2,999/3,000');
    ui.press('g');
    await ui.waitFor((f) => position(f) === '1/3,000');
  });

  test('the filter runs in the database, and says how many match of how many', async () => {
    const services = await grown(MANY, 0);
    const reads = recordPages(services);
    const expected = (await services.tokens.count('default', { search: 'svc-0003' })).count;
    assert.ok(expected > 0 && expected < MANY);
    const ui = renderTui(services, { initialApp: 'default' });
    await ui.waitFor('of 3,000 tokens');
    ui.press('/');
    await ui.waitFor('Filter (name or status):');
    ui.press('svc-0003', ENTER);
    // The count and the rows are two queries: wait for both (on PostgreSQL either may answer first).
    const frame = await ui.waitFor(
      (f) => f.includes(`Filter "svc-0003": ${expected.toLocaleString('en-US')} of 3,000 tokens`) && /› svc-0003 /.test(f),
      60_000,
    );
    assert.match(frame, new RegExp(integrationName(3)));
    assert.ok(reads.some((r) => r.search === 'svc-0003'), 'the search went to the service');

    ui.press('/', '\u0015', 'revoked', ENTER);
    const revoked = (await services.tokens.count('default', { status: 'revoked' })).count;
    // Each keystroke is a query on 3,000 rows: generous on a busy machine.
    await ui.waitFor(`Filter "revoked": ${revoked.toLocaleString('en-US')} of 3,000 tokens`, 60_000);
    assert.ok(reads.some((r) => r.status === 'revoked'));
    ui.press(ESC);
    await ui.waitFor('1 of 3,000 tokens');
  });

  test('typed while a read is slow, only the latest filter is read: none of the letters in between', async () => {
    const services = await grown(MANY, 0);
    const searched: string[] = [];
    let release!: () => void;
    const slow = new Promise<void>((resolve) => (release = resolve));
    const page = services.tokens.page.bind(services.tokens);
    services.tokens.page = async (app, filter = {}) => {
      if (filter.search) searched.push(`page ${filter.search}`);
      if (filter.search === 's') await slow;
      return page(app, filter);
    };
    const count = services.tokens.count.bind(services.tokens);
    services.tokens.count = async (app, filter = {}, atMost) => {
      if (filter.search) searched.push(`count ${filter.search}`);
      if (filter.search === 's') await slow;
      return count(app, filter, atMost);
    };
    const expected = (await count('default', { search: 'svc-0003' })).count;
    const ui = renderTui(services, { initialApp: 'default' });
    await ui.waitFor('of 3,000 tokens');
    ui.press('/');
    await ui.waitFor('Filter (name or status):');
    // Each letter is drawn before the next is typed: each is a filter the tab could read.
    const typed = 'svc-0003';
    for (let i = 0; i < typed.length; i++) {
      ui.press(typed[i]!);
      await ui.waitFor(`Filter (name or status): ${typed.slice(0, i + 1)}`);
    }
    release();
    await ui.waitFor((f) => f.includes(`Filter (name or status): svc-0003`) && /svc-0003/.test(f.split('NAME')[1] ?? ''), 60_000);
    ui.press(ENTER);
    await ui.waitFor(`Filter "svc-0003": ${expected.toLocaleString('en-US')} of 3,000 tokens`, 60_000);
    const read = new Set(searched);
    for (const wanted of ['page s', 'page svc-0003', 'count svc-0003']) assert.ok(read.has(wanted), `${wanted} was read: ${[...read].join(', ')}`);
    // A filter's count is read with its first page (both reach the screen in one frame).
    assert.ok(read.has('count s'), `count s was read with page s: ${[...read].join(', ')}`);
    // The letters typed while the first read was slow are not read. (The one before the last may be:
    // its read was the latest asked for if the slow read ended before the last letter's effect ran.)
    const between = ['sv', 'svc', 'svc-', 'svc-0', 'svc-00'].flatMap((text) => [`page ${text}`, `count ${text}`]);
    assert.deepEqual(between.filter((r) => read.has(r)), [], `reads: ${[...read].join(', ')}`);
  });

  test('the data changing while a new filter is first read does not leave the filter loading', async () => {
    const services = await grown(MANY, 0);
    let release!: () => void;
    const slow = new Promise<void>((resolve) => (release = resolve));
    let asked = false;
    const page = services.tokens.page.bind(services.tokens);
    services.tokens.page = async (app, filter = {}) => {
      if (filter.search === 'svc-0003') {
        asked = true;
        await slow;
      }
      return page(app, filter);
    };
    const expected = (await services.tokens.count('default', { search: 'svc-0003' })).count;
    const ui = renderTui(services, { initialApp: 'default' });
    await ui.waitFor('of 3,000 tokens');
    // Move the window off the top, so a reload of the old window would start elsewhere.
    ui.press('j'.repeat(150));
    await ui.waitFor((f) => position(f) === '151/3,000', 60_000);
    ui.press('/');
    await ui.waitFor('Filter (name or status):');
    ui.press('svc-0003', ENTER);
    await eventually(() => asked, 10_000, "the filter's first page asked for");
    // The data version moves (the clock steps on, as statuses and relative times do) while the
    // filter's first page is being read: the screen reads again (the total's count shows it has).
    let recounted = false;
    const count = services.tokens.count.bind(services.tokens);
    services.tokens.count = (app, filter = {}, atMost) => {
      if (!filter.search) recounted = true;
      return count(app, filter, atMost);
    };
    services.clock.advance(20_000);
    await eventually(() => recounted, 10_000, 'a read after the data version moved');
    release();
    // The filter's count, and its rows from the top: the first one selected.
    const shown = await ui.waitFor((f) => f.includes(`Filter "svc-0003": ${expected.toLocaleString('en-US')} of 3,000 tokens`), 60_000);
    assert.match(shown.split('\n').find((line) => line.includes('svc-0003')) ?? '', /^› svc-0003 /, shown);
  });

  test('counts stop at 10,000+', async () => {
    const services = await grown(10_050, 0);
    const ui = renderTui(services, { initialApp: 'default' });
    await ui.waitFor('1 of 10,000+ tokens, newest first');
  });

  test('a new token is selected at the top however far down the window was', async () => {
    const services = await grown(MANY, 0);
    const ui = renderTui(services, { initialApp: 'default' });
    await ui.waitFor('1 of 3,000 tokens');
    ui.press('G');
    await ui.waitFor('3,000 of 3,000');
    ui.press('c');
    await ui.waitFor('Create a token');
    ui.press(`Brand new${ENTER}`);
    await ui.waitFor('expires in:');
    ui.press(ENTER);
    await ui.waitFor('copy it now');
    ui.press(ENTER);
    await ui.waitFor(/› Brand new/);
    ui.press('j', 'k'); // any key clears the message line, which then says where the selection is
    const frame = await ui.waitFor('1 of 3,001 tokens');
    assert.match(frame, /› Brand new/);
  });

  test('the Audit tab pages too: G shows the oldest event, g the newest', async () => {
    const services = await grown(10, MANY);
    const oldest = (await services.audit.page({ app: 'default', last: true, limit: 1 })).items[0]!;
    const newest = (await services.audit.page({ app: 'default', limit: 1 })).items[0]!;
    const ui = renderTui(services, { initialApp: 'default' });
    await ui.waitFor('[Tokens]');
    ui.press('3');
    await ui.waitFor('TIME (UTC)');
    await ui.waitFor(newest.at);
    ui.press('G');
    await ui.waitFor(oldest.at);
    ui.press('g');
    await ui.waitFor(newest.at);
  });

  test('the app list counts working tokens with a query', async () => {
    const services = await grown(MANY, 0);
    const working = await services.tokens.countActive('default');
    const ui = renderTui(services);
    await ui.waitFor(new RegExp(`default\\s+.*\\s${working}\\s+1`));
  });
});

describe('TUI friction (issue 10)', () => {
  async function withToken(name = 'Nightly job', expires = '30d') {
    const services = await testServices();
    const { token } = await services.tokens.create({ app: 'default', name, expires }, 'cli');
    const ui = renderTui(services, { initialApp: 'default' });
    await ui.waitFor(name);
    return { services, ui, token };
  }

  test('keys that arrive in one read are each handled: jj, c + name + Enter, ten Backspaces', async () => {
    const services = await testServices();
    for (const name of ['third', 'second', 'first']) {
      await services.tokens.create({ app: 'default', name, expires: '30d' }, 'cli');
      services.clock.advance(1000);
    }
    const ui = renderTui(services, { initialApp: 'default' });
    await ui.waitFor('› first');
    ui.press('jj');
    await ui.waitFor('› third');
    ui.press('kk');
    await ui.waitFor('› first');
    ui.press(`cDeploy bot 0123456789${ENTER}`);
    await ui.waitFor('Create "Deploy bot 0123456789"');
    ui.press(ESC);
    await ui.waitFor('› first');
    ui.press('cDeploy bot 0123456789');
    await ui.waitFor('Deploy bot 0123456789');
    ui.press(BACKSPACE.repeat(10));
    await ui.waitFor((f) => f.includes('Deploy bot') && !f.includes('Deploy bot 0'));
    ui.press(`x${ENTER}`);
    await ui.waitFor('Create "Deploy bot x"');
  });

  test('the key after one that opens a form reaches the form even when React renders that form late', async () => {
    const services = await testServices();
    const ui = renderTui(services, { initialApp: 'default' });
    await ui.waitFor('No tokens yet');
    // React renders Ink's updates in Scheduler tasks; a long one ahead of them (a big render,
    // answers of the database) makes the Scheduler yield, and the form that `c` opens is drawn
    // only after the next macrotasks. The keys typed after `c` must wait for it.
    scheduler.unstable_scheduleCallback(scheduler.unstable_NormalPriority, () => {
      const until = performance.now() + 30;
      while (performance.now() < until);
    });
    ui.press('cDeploy bot');
    await ui.waitFor('Deploy bot');
    ui.press(`2${ENTER}`);
    await ui.waitFor('Create "Deploy bot2"');
  });

  test('a number key moves the choice and never creates a token; Enter does', async () => {
    const services = await testServices();
    const ui = renderTui(services, { initialApp: 'default' });
    await ui.waitFor('No tokens yet');
    ui.press(`cStray${ENTER}`);
    await ui.waitFor('expires in:');
    ui.press('1');
    await ui.waitFor('› 1. 7 days');
    ui.press('4');
    await ui.waitFor('› 4. 1 year');
    await new Promise((r) => setTimeout(r, 150));
    assert.equal((await services.tokens.list('default')).length, 0, 'no token from a number key');
    ui.press(`1${ENTER}`);
    await ui.waitFor('copy it now');
    const [token] = await services.tokens.list('default');
    assert.equal(Math.round((Date.parse(token!.expires_at) - services.clock.now()) / DAY), 7);
  });

  test('only Enter closes the value box, as it says', async () => {
    const services = await testServices();
    const ui = renderTui(services, { initialApp: 'default' });
    await ui.waitFor('No tokens yet');
    ui.press(`cBoxed${ENTER}`);
    await ui.waitFor('expires in:');
    ui.press(ENTER);
    const shown = await ui.waitFor('copy it now');
    assert.match(shown, /Press Enter when you have copied it/);
    assert.match(shown, /enter done, forget the value/);
    assert.ok(!/esc/i.test(shown.split('\n').at(-1)!), 'the footer offers no Esc');
    ui.press(ESC, 'q', ' ');
    await new Promise((r) => setTimeout(r, 150));
    assert.match(ui.frame(), /copy it now/);
    ui.press(ENTER);
    await ui.waitForGone('copy it now');
  });

  test('f on a revoked or an expired token says at once that it cannot be refreshed', async () => {
    const services = await testServices();
    const { token } = await services.tokens.create({ app: 'default', name: 'Old one', expires: '30d' }, 'cli');
    await services.tokens.revoke(token.id, 'cli');
    services.clock.advance(1000);
    await services.tokens.create({ app: 'default', name: 'Short', expires: '1d' }, 'cli');
    services.clock.advance(2 * DAY);
    const ui = renderTui(services, { initialApp: 'default' });
    await ui.waitFor(/› Short\s+\S+\s+expired/);
    ui.press('f');
    let frame = await ui.waitFor('"Short" has expired and cannot be refreshed; create a new token with c.');
    assert.ok(!frame.includes('New expiry'), 'no form');
    ui.press('j');
    await ui.waitFor(/› Old one\s+\S+\s+revoked/);
    ui.press('f');
    frame = await ui.waitFor('"Old one" is revoked and cannot be refreshed; create a new token with c.');
    assert.ok(!frame.includes('New expiry'));
  });

  test('the footer shows the confirm keys while [y/N] asks', async () => {
    const { ui } = await withToken();
    ui.press('r');
    const frame = await ui.waitFor('[y/N]');
    const footer = frame.split('\n').at(-1)!;
    assert.match(footer, /y revoke {2}n esc enter keep it/);
    assert.ok(!footer.includes('c create'));
    ui.press('n');
    await ui.waitFor(/c create {2}r revoke/);
  });
});
