// Helpers for the console's browser tests: Debian's chromium driven by puppeteer-core.
import fs from 'node:fs';
import path from 'node:path';
import { after, type TestContext } from 'node:test';
import type { Browser, ElementHandle, Page } from 'puppeteer-core';
import { aria, CHROMIUM, CHROMIUM_HINT, startChromium } from '../helpers/chromium';
import { REPO_ROOT } from '../helpers/cli';

export { aria };
export const SCREENSHOTS = path.join(REPO_ROOT, '.tmp/screenshots');

/** Skips the test (saying how to install it) when chromium is missing; answers whether it is there. */
export function requireChromium(t: TestContext): boolean {
  if (fs.existsSync(CHROMIUM)) return true;
  t.skip(CHROMIUM_HINT);
  return false;
}

/** A headless chromium with a fresh profile, closed (and its profile removed) when the test ends. */
export async function launchBrowser(): Promise<Browser> {
  const chromium = await startChromium();
  after(() => chromium.close());
  return chromium.browser;
}


/** Waits for the element with this role and name (in `within`, or the page) and answers it. */
export async function byRole(within: Page | ElementHandle, role: string, name: string, timeout = 10_000): Promise<ElementHandle<Element>> {
  const handle = await within.waitForSelector(aria(role, name), { timeout });
  if (!handle) throw new Error(`no ${role} named ${name}`);
  return handle as ElementHandle<Element>;
}

/** The open modal dialog. */
export async function openDialog(page: Page): Promise<ElementHandle<Element>> {
  return (await page.waitForSelector('dialog[open]', { timeout: 10_000 }))!;
}

/** The table row whose header cell is `name` (its `.row-name` part, when the cell says more, e.g. a token's restrictions). */
export async function rowOf(page: Page, name: string, timeout = 10_000): Promise<ElementHandle<Element>> {
  await page.waitForFunction((n) => [...document.querySelectorAll('tbody tr th')].some((th) => (th.querySelector('.row-name') ?? th).textContent === n), { timeout }, name);
  const rows = await page.$$('tbody tr');
  for (const row of rows) {
    if ((await row.$eval('th', (th) => (th.querySelector('.row-name') ?? th).textContent)) === name) return row;
  }
  throw new Error(`no row ${name}`);
}

/** Text of the row's cell labelled `label` (data-label). */
export function cellText(row: ElementHandle<Element>, label: string): Promise<string> {
  return row.$eval(`[data-label="${label}"]`, (cell) => (cell as HTMLElement).innerText.trim());
}

/** Everything a value could hide in after a dialog closed: the DOM, form fields, storage, the URL and history. */
export function pageState(page: Page): Promise<string> {
  // A string, not a function: the test runner's TypeScript loader names inner functions with a
  // helper (__name) that does not exist in the page.
  return page.evaluate(`JSON.stringify({
    html: document.documentElement.outerHTML,
    fields: [...document.querySelectorAll('input, textarea, select')].map((el) => el.value),
    local: Object.keys(localStorage).map((key) => key + '=' + localStorage.getItem(key)),
    session: Object.keys(sessionStorage).map((key) => key + '=' + sessionStorage.getItem(key)),
    url: location.href,
    title: document.title,
    cookie: document.cookie,
    resources: performance.getEntries().map((e) => e.name),
  })`) as Promise<string>;
}

/**
 * axe-core on the page as it is now: answers the serious and critical violations (empty when
 * none), as one line each. axe is evaluated through the DevTools protocol, which the page's CSP
 * does not govern (the page itself cannot run inline code).
 */
export async function seriousViolations(page: Page, what: string): Promise<string[]> {
  const source = fs.readFileSync(path.join(REPO_ROOT, 'node_modules/axe-core/axe.min.js'), 'utf8');
  await page.evaluate(source);
  const results = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(context: Document, options: object): Promise<{ violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: unknown[] }> }> }> } }).axe;
    const run = await axe.run(document, { resultTypes: ['violations'] });
    return run.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => JSON.stringify(n.target)).slice(0, 5) }));
  });
  return results.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${what}: ${v.impact} ${v.id} (${v.help}) at ${v.targets.join(', ')}`);
}

/** A screenshot under .tmp/screenshots/ (for people to look at). */
export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
