// How every browser test here starts Debian's Chromium (playwright-core never
// downloads a browser): the flags, and the guard that keeps the page on this
// machine. Used by the *.test.mjs files and bench-app.mjs.
import { chromium } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM ?? '/usr/bin/chromium';

// As root Chromium needs --no-sandbox; the networking flags stop it calling home,
// which this machine's closed network would refuse.
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Refuse every request off this machine (data: and, if asked, blob: URLs pass). */
export async function keepLocal(context, { blob = false } = {}) {
  await context.route('**/*', (route) => {
    const { protocol, hostname } = new URL(route.request().url());
    const local = protocol === 'data:' || (blob && protocol === 'blob:') || hostname === '127.0.0.1';
    return local ? route.continue() : route.abort();
  });
}

/** A persistent context on a fresh profile folder; `options` extend the defaults. */
export function launchProfile(profile, options = {}) {
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    colorScheme: 'light',
    ...options,
  });
}

/**
 * A fresh start of the app at `baseUrl` in `page`: no saved work, no link.
 * localStorage is cleared from a page of the same origin that is not the app:
 * an app page still replaying the previous test's session would keep its state
 * again after the clear (seen with a 185-step session).
 */
export async function freshStart(page, baseUrl) {
  await page.goto(new URL('e2e-not-the-app', baseUrl).href);
  await page.evaluate(() => localStorage.clear());
  await page.goto(baseUrl);
  await page.getByRole('listbox', { name: 'Registers' }).waitFor();
}
