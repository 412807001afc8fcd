// Debian's chromium, driven by puppeteer-core: for the console's browser tests and the bench's
// console section. No DOM types here (the bench is type-checked without them).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';

export const CHROMIUM = process.env.MM_TEST_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_HINT = 'install Debian\'s chromium to run the console\'s browser tests: apt-get install chromium';

/** A selector for the element with this role and accessible name (puppeteer's ARIA query handler). */
export function aria(role: string, name: string): string {
  return `::-p-aria([name=${JSON.stringify(name)}][role=${JSON.stringify(role)}])`;
}

/**
 * A headless chromium with a fresh profile; `close` ends it and removes the profile (closed first:
 * chromium writes to its profile until it exits).
 */
export async function startChromium(): Promise<{ browser: Browser; close(): Promise<void> }> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'mm-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${profile}`,
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
      fs.rmSync(profile, { recursive: true, force: true, maxRetries: 5 });
    },
  };
}
