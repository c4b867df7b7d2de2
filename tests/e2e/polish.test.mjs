// Polish (issue 13) on the built page (dist/), in Debian's Chromium driven by
// playwright-core: forms show every error at once; messages carry no Markdown
// backticks or Rust type names; "Link copied" does not move the page; a 390 px
// phone gets one row of tabs and the register it picks scrolled into view.
// scripts/test serves dist/ and sets GICX_URL.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keepLocal, launchProfile, freshStart } from './chromium.mjs';

const BASE_URL = process.env.GICX_URL ?? 'http://127.0.0.1:8080/';

let profile;
let work;
let context;
let page;
const pageErrors = [];

before(async () => {
  profile = await mkdtemp(join(tmpdir(), 'gicx-e2e-polish-'));
  work = await mkdtemp(join(tmpdir(), 'gicx-e2e-polish-files-'));
  context = await launchProfile(profile, { viewport: { width: 1280, height: 860 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(BASE_URL).origin });
  await keepLocal(context);
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (error) => pageErrors.push(error));
});

after(async () => {
  assert.deepEqual(pageErrors, []);
  await context?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
  if (work) await rm(work, { recursive: true, force: true });
});

async function fresh(p = page) {
  await freshStart(p, BASE_URL);
}

test('the SGI form shows all its errors at once, and the SPI form speaks plainly', async () => {
  await fresh();
  await page.getByRole('tab', { name: 'Delivery path' }).click();
  await page.getByLabel('INTID (0-15)').fill('16');
  await page.getByLabel('Target vCPUs').fill('x, 9');
  await page.getByRole('button', { name: 'Send SGI' }).click();
  const alert = page.locator('.delivery [role=alert]');
  assert.equal(
    await alert.textContent(),
    'INTID 16: SGIs are INTIDs 0–15; target: "x" is not a number; target vCPU 9: the VM has 4 vCPUs (0–3)',
  );
  // KVM_IRQ_LINE cannot raise an SGI: said without Markdown.
  await page.locator('#spi-intid').fill('3');
  await page.getByRole('button', { name: 'Set SPI line' }).click();
  await alert.filter({ hasText: 'INTID 3 is an SGI: KVM_IRQ_LINE cannot raise SGIs' }).waitFor();
  assert.doesNotMatch(await alert.textContent(), /`/);
});

test('an import error names the place without Rust type names or backticks', async () => {
  await fresh();
  await page.getByRole('tab', { name: 'Log' }).click();
  const file = join(work, 'bad-vcpus.json');
  await writeFile(file, '{"host": {"gic": "v3", "kernel": "6.8"}, "vm": {"vcpus": "two"}, "steps": []}');
  await page.getByLabel('Import a scenario file').setInputFiles(file);
  const error = await page.locator('.import-error').textContent();
  assert.match(error, /vm\.vcpus/);
  assert.doesNotMatch(error, /\bu32\b|`|struct /, error);
});

test('"Link copied" does not move the page', async () => {
  await fresh();
  const tabs = page.getByRole('tablist');
  const before = (await tabs.boundingBox()).y;
  await page.getByRole('button', { name: 'Copy link' }).click();
  await page.getByText(/^Link copied/).waitFor();
  assert.equal((await tabs.boundingBox()).y, before);
});

test('a 390 px phone: one row of tabs, and the register picked is scrolled into view', async () => {
  const phone = await context.newPage();
  phone.on('pageerror', (error) => pageErrors.push(error));
  await phone.setViewportSize({ width: 390, height: 844 });
  await fresh(phone);
  const tops = await phone.getByRole('tab').evaluateAll((tabs) => tabs.map((t) => t.getBoundingClientRect().top));
  assert.equal(new Set(tops).size, 1, `tab rows: ${tops}`);
  // Nothing wider than the screen but the scrolling tab row.
  assert.ok(await phone.evaluate(() => document.documentElement.scrollWidth <= 390));
  await phone.getByLabel('Search registers').fill('GICR_');
  await phone.getByRole('option', { name: /^GICR_CTLR/ }).click();
  const heading = phone.getByRole('heading', { level: 2, name: 'GICR_CTLR' });
  await heading.waitFor();
  await phone.waitForFunction(() => {
    const r = document.getElementById('register-name').getBoundingClientRect();
    return r.top >= 0 && r.bottom <= window.innerHeight;
  });
  await phone.close();
});
