// The console's Usage tab, unused filter, restricted Create Token and Webhooks tab in chromium
// (puppeteer-core), by accessible names, checked against the real API.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import type { Browser, Page } from 'puppeteer-core';
import { eventually, request, startTestServer, type TestServer } from '../helpers/server';
import { aria, byRole, cellText, launchBrowser, openDialog, pageState, requireChromium, rowOf, screenshot, SCREENSHOTS, seriousViolations } from './browser';

const DAY = 86_400_000;
const VIEWPORTS = [
  { width: 360, height: 740 },
  { width: 1440, height: 900 },
] as const;

/** Counts answers for token `id` on the UTC day `daysAgo` days back (the recorder's own path), then writes them. */
async function seedUsage(t: TestServer, id: string, daysAgo: number, accepted: number, refused: Record<string, number> = {}, ip?: string): Promise<void> {
  const now = t.services.clock.now();
  t.services.clock.set(now - daysAgo * DAY);
  if (ip !== undefined && accepted > 0) t.services.usage.touch(id, ip);
  for (let i = 0; i < accepted; i++) t.services.usage.count(id, 'accepted');
  for (const [code, n] of Object.entries(refused)) for (let i = 0; i < n; i++) t.services.usage.count(id, code as 'rate_limited');
  t.services.clock.set(now);
  await t.services.usage.flush();
}

/** A signed-in page (a one-time code, as `mechamental console` makes) that records requests and problems. */
async function signedIn(browser: Browser, t: TestServer, viewport: { width: number; height: number } = VIEWPORTS[1]): Promise<{ page: Page; requests: string[]; problems: string[] }> {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport(viewport);
  const requests: string[] = [];
  const problems: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (error) => problems.push(`page error: ${(error as Error).message}`));
  page.on('console', (message) => {
    // A 422 the form shows is the browser's console error too; a 401/403 likewise.
    if (message.type() === 'error' && !/status of 4(01|03|04|22)/.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  const { code } = await t.services.console.createSignInCode('cli');
  await page.goto(`${t.url}/console/#/sign-in?code=${code}`);
  await byRole(page, 'heading', 'Apps');
  return { page, requests, problems };
}

async function trigger(t: TestServer, value: string, pipeline = 'chat'): Promise<{ status: number; body: string }> {
  const reply = await request(`${t.url}/v1/trigger/${pipeline}`, { method: 'POST', headers: { Authorization: `Bearer ${value}`, 'Content-Type': 'application/json' }, body: { message: 'hi' } });
  return { status: reply.status, body: reply.body };
}

const text = (page: Page, selector: string) => page.$eval(selector, (el) => (el as HTMLElement).innerText);

describe('the web console: usage, the unused filter, token controls, webhooks (chromium; issues 13, 14, 16)', () => {
  test("the Usage tab: every token's requests per day as a chart with a text alternative; a token's detail with a table; the Usage link of a token's row", async (t) => {
    if (!requireChromium(t)) return;
    const server = await startTestServer();
    const ci = await server.services.tokens.create({ app: 'default', name: 'CI/CD Pipeline', expires: '90d' }, 'cli');
    const mobile = await server.services.tokens.create({ app: 'default', name: 'Mobile App Backend', expires: '30d' }, 'cli');
    await server.services.tokens.create({ app: 'default', name: 'Idle', expires: '30d' }, 'cli');
    await seedUsage(server, ci.token.id, 1, 12, { rate_limited: 3 });
    await seedUsage(server, ci.token.id, 3, 5);
    await seedUsage(server, ci.token.id, 20, 2, { ip_not_allowed: 1 });
    // A real request: today's count and the last use's address.
    assert.equal((await trigger(server, ci.value)).status, 200);
    await server.services.usage.flush();
    await seedUsage(server, mobile.token.id, 0, 1);

    const browser = await launchBrowser();
    const { page, requests, problems } = await signedIn(browser, server);
    await (await byRole(page, 'link', 'Default')).click();
    // The Usage link of a row opens that token's detail.
    const row = await rowOf(page, 'CI/CD Pipeline');
    assert.match(await cellText(row, 'Last used'), /from 127\.0\.0\.1/);
    await (await byRole(row, 'link', 'Usage')).click();
    await byRole(page, 'heading', 'Usage of “CI/CD Pipeline” ' + ci.token.id);
    assert.equal(await page.evaluate(() => document.activeElement?.tagName), 'H2', 'focus moves to the detail’s heading');
    assert.equal(await page.$eval(aria('tab', 'Usage'), (el) => el.getAttribute('aria-selected')), 'true');
    const chart = await page.waitForSelector('svg.usage-chart.large[role=img]');
    const label = await chart!.evaluate((el) => el.getAttribute('aria-label'));
    assert.equal(label, `Requests per day of “CI/CD Pipeline”, 30 days: 20 accepted, 4 refused (rate_limited 3, ip_not_allowed 1); busiest ${new Date(server.services.clock.now() - DAY).toISOString().slice(0, 10)} with 15`);
    assert.equal(await chart!.$$eval('rect.bar-accepted', (bars) => bars.length), 4, 'one accepted bar per day with accepted requests');
    assert.equal(await chart!.$$eval('rect.bar-refused', (bars) => bars.length), 2);
    // The numbers as a table (the chart's text alternative), days with requests only, newest first.
    const days = await page.$$eval('table.usage-days tbody tr', (rows) => rows.map((r) => (r as HTMLElement).innerText.replace(/\s+/g, ' ').trim()));
    assert.equal(days.length, 4);
    assert.match(days[0]!, /^\d{4}-\d{2}-\d{2} 1 0 –$/);
    assert.match(days[1]!, /^\d{4}-\d{2}-\d{2} 12 3 rate_limited 3$/);
    assert.match(await text(page, '.usage-figure figcaption'), /20 accepted, 4 refused from .* refused by reason: rate_limited 3, ip_not_allowed 1/);
    assert.match(await text(page, '.facts'), /Pipelines\s+all pipelines of the app/);
    assert.match(await text(page, '.facts'), /Last used[\s\S]*from 127\.0\.0\.1/);

    // A shorter window: the 20-day-old day leaves.
    await (await byRole(page, 'combobox', 'Window')).select('7');
    await page.waitForFunction(() => document.querySelectorAll('table.usage-days tbody tr').length === 3, { timeout: 10_000 });
    assert.ok(requests.some((url) => url.includes(`/tokens/${ci.token.id}/usage?days=7&limit=7`)));

    // Back to every token: a small chart per token, totals, the window kept.
    await (await byRole(page, 'link', 'All tokens’ usage')).click();
    const listRow = await rowOf(page, 'CI/CD Pipeline');
    await page.waitForFunction(() => [...document.querySelectorAll('tbody tr')].every((tr) => tr.querySelector('svg.usage-chart.small')), { timeout: 10_000 });
    assert.equal(await cellText(listRow, 'Accepted'), '18');
    assert.equal(await cellText(listRow, 'Refused'), '3');
    assert.match(await listRow.$eval('svg', (el) => el.getAttribute('aria-label') ?? ''), /^Requests per day of “CI\/CD Pipeline”, 7 days: 18 accepted, 3 refused/);
    assert.match(await (await rowOf(page, 'Idle')).$eval('svg', (el) => el.getAttribute('aria-label') ?? ''), /7 days: no requests$/);

    // New traffic shows up without a reload (the recorder's batch reaches the database, the change feed tells the console).
    for (let i = 0; i < 4; i++) assert.equal((await trigger(server, mobile.value)).status, 200);
    await server.services.usage.flush();
    await eventually(async () => (await cellText(await rowOf(page, 'Mobile App Backend'), 'Accepted')) === '5', 10_000, 'the new requests counted');

    // The detail of a token of another app, or none, says so.
    await page.goto(`${server.url}/console/#/apps/default/usage/tok_missing`);
    await page.waitForSelector('.error');
    assert.deepEqual(problems, []);
    assert.deepEqual(
      requests.filter((url) => !url.startsWith(`${server.url}/`) && !url.startsWith('data:')),
      [],
      'no request went elsewhere',
    );
  });

  test('Create Token with restrictions behind "Restrictions (optional)": the fast path unchanged, the 422 next to its field, the token scoped and allowed only from its addresses', async (t) => {
    if (!requireChromium(t)) return;
    const server = await startTestServer();
    await server.services.pipelines.create('default', { slug: 'summarize', kind: 'echo' }, 'cli');
    const browser = await launchBrowser();
    const { page, problems } = await signedIn(browser, server);
    await (await byRole(page, 'link', 'Default')).click();
    await (await byRole(page, 'button', 'Create Token')).click();
    const dialog = await openDialog(page);
    // The seed's fast path: Name, Expiration, Create; the restrictions are closed and out of the way.
    const disclosure = await dialog.waitForSelector('details.restrictions-section');
    assert.equal(await disclosure!.evaluate((el) => (el as HTMLDetailsElement).open), false);
    assert.equal(await dialog.$eval('summary', (el) => (el as HTMLElement).innerText), 'Restrictions (optional)');
    await (await byRole(dialog, 'textbox', 'Name')).type('Nightly build');
    // Keyboard: Tab to the summary, Enter opens it.
    await dialog.$eval('summary', (el) => (el as HTMLElement).focus());
    await page.keyboard.press('Enter');
    await (await byRole(dialog, 'textbox', 'Description')).type('Builds main every night; owned by the CI team');
    await (await byRole(dialog, 'checkbox', 'chat')).click();
    const ips = await byRole(dialog, 'textbox', 'Allowed IPs');
    await ips.type('127.0.0.1, 10.0.0.0/33');
    await (await byRole(dialog, 'button', 'Create')).click();
    // The server's 422, next to the field it names, the field marked invalid and focused.
    const error = await dialog.waitForSelector('::-p-text(is not an IPv4 or IPv6 address or CIDR range)');
    assert.match(await error!.evaluate((el) => (el as HTMLElement).innerText), /^allowed_ips: "10\.0\.0\.0\/33" is not an IPv4 or IPv6 address or CIDR range/);
    assert.equal(await ips.evaluate((el) => el.getAttribute('aria-invalid')), 'true');
    assert.equal(await ips.evaluate((el) => el === document.activeElement), true, 'focus on the field the server named');
    assert.equal(await ips.evaluate((el) => document.getElementById((el.getAttribute('aria-describedby') ?? '').split(' ').at(-1)!)?.innerText ?? ''), await error!.evaluate((el) => (el as HTMLElement).innerText), 'the message describes the field');
    await screenshot(page, 'create-restricted-error-1440-light');
    assert.deepEqual(await seriousViolations(page, 'create with an error'), []);
    await ips.click({ count: 3 });
    await page.keyboard.press('Backspace');
    await ips.type('127.0.0.1 10.0.0.0/8');
    await (await byRole(dialog, 'button', 'Create')).click();
    const value = await (await byRole(dialog, 'textbox', 'Token value of “Nightly build”')).evaluate((el) => (el as HTMLInputElement).value);
    // Its curl example offers only the pipelines it may trigger (one here: no choice of pipeline).
    assert.match(await dialog.$eval('textarea', (el) => (el as HTMLTextAreaElement).value), /\/v1\/trigger\/chat /);
    assert.equal(await dialog.$(aria('combobox', 'Pipeline in the example')), null, 'summarize is out of its scope');
    await (await byRole(dialog, 'button', 'I have copied it')).click();
    await page.waitForSelector('dialog[open]', { hidden: true });

    const made = (await server.services.tokens.list('default')).find((token) => token.name === 'Nightly build')!;
    assert.equal(made.description, 'Builds main every night; owned by the CI team');
    assert.deepEqual(made.pipelines, ['chat']);
    assert.deepEqual(made.allowed_ips, ['127.0.0.1', '10.0.0.0/8']);
    // The controls hold on the trigger: its pipeline from an allowed address; another pipeline is 403.
    assert.equal((await trigger(server, value)).status, 200);
    const other = await trigger(server, value, 'summarize');
    assert.equal(other.status, 403);
    assert.match(other.body, /insufficient_scope/);
    await server.services.usage.flush();

    // The row says what the token may do, and where it was last used from.
    await eventually(async () => /from 127\.0\.0\.1/.test(await cellText(await rowOf(page, 'Nightly build'), 'Last used')), 10_000, 'the last use and its address');
    const name = await (await rowOf(page, 'Nightly build')).$eval('th', (el) => (el as HTMLElement).innerText);
    assert.match(name, /Builds main every night; owned by the CI team/);
    assert.match(name, /Pipelines: chat/);
    assert.match(name, /Allowed IPs: 127\.0\.0\.1, 10\.0\.0\.0\/8/);

    // The fast path is still three steps: Name, Create (the default expiry), no restriction.
    await (await byRole(page, 'button', 'Create Token')).click();
    const again = await openDialog(page);
    await (await byRole(again, 'textbox', 'Name')).type('Plain');
    await page.keyboard.press('Enter');
    await (await byRole(again, 'button', 'I have copied it')).click();
    const plain = (await server.services.tokens.list('default')).find((token) => token.name === 'Plain')!;
    assert.deepEqual([plain.description, plain.pipelines, plain.allowed_ips], [null, null, null]);
    assert.ok(!(await pageState(page)).includes(value), 'the value is gone');
    assert.deepEqual(problems, []);
  });

  test('the unused filter of the Tokens tab asks the server for ?unused= and shows only the active tokens not used for that long', async (t) => {
    if (!requireChromium(t)) return;
    const server = await startTestServer();
    const now = server.services.clock.now();
    server.services.clock.set(now - 45 * DAY);
    await server.services.tokens.create({ app: 'default', name: 'Forgotten', expires: '1y' }, 'cli');
    const quiet = await server.services.tokens.create({ app: 'default', name: 'Quiet since August', expires: '1y' }, 'cli');
    server.services.usage.touch(quiet.token.id, '192.0.2.1');
    await server.services.usage.flush();
    server.services.clock.set(now);
    const busy = await server.services.tokens.create({ app: 'default', name: 'Busy', expires: '30d' }, 'cli');
    server.services.usage.touch(busy.token.id, '192.0.2.2');
    await server.services.usage.flush();

    const browser = await launchBrowser();
    const { page, requests } = await signedIn(browser, server);
    await (await byRole(page, 'link', 'Default')).click();
    await rowOf(page, 'Busy');
    await (await byRole(page, 'combobox', 'Not used for')).select('30d');
    await page.waitForFunction(() => [...document.querySelectorAll('tbody tr th .token-name')].map((el) => el.textContent).sort().join() === 'Forgotten,Quiet since August', { timeout: 10_000 });
    assert.ok(requests.some((url) => new URL(url).searchParams.get('unused') === '30d'));
    assert.match(await page.$eval('table.tokens caption', (el) => el.textContent ?? ''), /active, not used for 30 days/);
    await (await byRole(page, 'combobox', 'Not used for')).select('90d');
    await page.waitForSelector('::-p-text(No token of app default matches)');
    await (await byRole(page, 'combobox', 'Not used for')).select('');
    await page.waitForFunction(() => document.querySelectorAll('tbody tr').length === 3, { timeout: 10_000 });
  });

  test("the Webhooks tab lists the app's webhooks and their recent deliveries with their status", async (t) => {
    if (!requireChromium(t)) return;
    let received = 0;
    const receiver = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        received++;
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    t.after(() => receiver.close());
    const server = await startTestServer({ env: { MM_WEBHOOK_ADDRESSES: 'any' } });
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
    const set = await server.services.webhooks.set('default', url, 'cli');
    await server.services.tokens.create({ app: 'default', name: 'Announced', expires: '30d' }, 'cli');
    const browser = await launchBrowser();
    const { page, problems } = await signedIn(browser, server);
    await page.goto(`${server.url}/console/#/apps/default/webhooks`);
    await byRole(page, 'heading', 'Webhooks');
    await page.waitForSelector(`::-p-text(${url})`);
    const delivery = await rowOf(page, 'token.created');
    assert.match(await cellText(delivery, 'Status'), /^(pending|delivered)/);
    await eventually(async () => received > 0, 15_000, 'the receiver got the event');
    await eventually(async () => /^delivered/.test(await cellText(await rowOf(page, 'token.created'), 'Status')), 15_000, 'the row to say delivered');
    assert.equal(await cellText(await rowOf(page, 'token.created'), 'Last answer'), 'HTTP 204');
    assert.ok(!(await pageState(page)).includes(set.secret), 'the signing secret is never shown');
    await screenshot(page, 'webhooks-1440-light');
    assert.deepEqual(await seriousViolations(page, 'webhooks'), []);
    assert.deepEqual(problems, []);
  });

  test('screenshots of the Usage tab and a token’s detail at 360 and 1440 px, light and dark; axe finds nothing serious; nothing scrolls sideways', async (t) => {
    if (!requireChromium(t)) return;
    const server = await startTestServer();
    const names = ['CI/CD Pipeline', 'Mobile App Backend', 'Nightly reports with a rather long name', 'Idle'];
    const made = [];
    for (const name of names) made.push(await server.services.tokens.create({ app: 'default', name, expires: '90d', ...(name === 'CI/CD Pipeline' ? { description: 'Deploys main', pipelines: ['chat'], allowedIps: ['127.0.0.1', '10.0.0.0/8'] } : {}) }, 'cli'));
    // A month of traffic, deterministic: weekdays busier, a few refusals.
    for (let day = 29; day >= 0; day--) {
      await seedUsage(server, made[0]!.token.id, day, day % 7 >= 5 ? 2 : 20 + ((day * 7) % 13), day % 6 === 0 ? { rate_limited: 3 + (day % 4) } : {});
      if (day % 2 === 0) await seedUsage(server, made[1]!.token.id, day, 3 + (day % 5), day === 4 ? { token_expired: 2 } : {}, '2001:db8::17');
      if (day >= 2 && day < 10) await seedUsage(server, made[2]!.token.id, day, 1, {}, '198.51.100.23');
    }
    assert.equal((await trigger(server, made[0]!.value)).status, 200);
    await server.services.usage.flush();
    const browser = await launchBrowser();
    const violations: string[] = [];
    for (const scheme of ['light', 'dark'] as const) {
      for (const viewport of VIEWPORTS) {
        const { page, problems } = await signedIn(browser, server, viewport);
        await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: scheme }]);
        const name = (what: string) => `${what}-${viewport.width}-${scheme}`;
        await page.goto(`${server.url}/console/#/apps/default/usage`);
        await page.waitForFunction((n) => document.querySelectorAll('tbody tr svg.usage-chart').length === n, { timeout: 10_000 }, names.length);
        await screenshot(page, name('usage'));
        violations.push(...(await seriousViolations(page, name('usage'))));
        const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        assert.ok((await overflow()) <= 0, `${name('usage')}: the page scrolls sideways`);
        await (await byRole(page, 'link', 'CI/CD Pipeline')).click();
        await page.waitForSelector('table.usage-days');
        await screenshot(page, name('usage-detail'));
        await page.screenshot({ path: `${SCREENSHOTS}/${name('usage-detail-top')}.png` });
        await (await page.$('.usage-figure'))!.screenshot({ path: `${SCREENSHOTS}/${name('usage-chart')}.png` });
        violations.push(...(await seriousViolations(page, name('usage-detail'))));
        assert.ok((await overflow()) <= 0, `${name('usage-detail')}: the page scrolls sideways`);
        await (await byRole(page, 'tab', 'Tokens')).click();
        await rowOf(page, 'CI/CD Pipeline');
        await screenshot(page, name('tokens-restricted'));
        assert.ok((await overflow()) <= 0, `${name('tokens-restricted')}: the page scrolls sideways`);
        await (await byRole(page, 'button', 'Create Token')).click();
        const dialog = await openDialog(page);
        await dialog.$eval('summary', (el) => (el as HTMLElement).click());
        await byRole(dialog, 'textbox', 'Allowed IPs');
        await screenshot(page, name('create-restrictions'));
        violations.push(...(await seriousViolations(page, name('create-restrictions'))));
        await page.keyboard.press('Escape');
        assert.deepEqual(problems, [], name('console'));
        await page.close();
      }
    }
    assert.deepEqual(violations, []);
  });
});
