// A design review, as its people use the explorer (issue 13): a migration the VMM
// cannot attempt is explained in the Migrate view with one-click fixes and never
// leaves a link the app refuses; changing the policy or destination migrates the same
// source again, with the three policies side by side; a Matrix cell opens in Migrate
// with the same source VM and the same verdict. On the built page (dist/), like
// views.test.mjs; scripts/test serves dist/ and sets GICX_URL.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { keepLocal, launchProfile } from './chromium.mjs';

const BASE_URL = process.env.GICX_URL ?? 'http://127.0.0.1:8080/';
const REPO = fileURLToPath(new URL('../../', import.meta.url));
// Under target/ (scripts/screenshots copies them to docs/screenshots/).
const SCREENSHOTS = process.env.GICX_SCREENSHOTS ?? join(REPO, 'target', 'screenshots');
const QEMU = 'QEMU (before the July 2025 fixes) (qemu)';

let profile;
let context;
let page;
const pageErrors = [];
const consoleLines = [];

before(async () => {
  profile = await mkdtemp(join(tmpdir(), 'gicx-e2e-review-'));
  await mkdir(SCREENSHOTS, { recursive: true });
  context = await launchProfile(profile, { viewport: { width: 1280, height: 860 } });
  await keepLocal(context);
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (error) => pageErrors.push(error));
  page.on('console', (m) => consoleLines.push(m.text()));
});

after(async () => {
  await context?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
  assert.deepEqual(pageErrors, []);
});

async function fresh() {
  // Cleared from a page of the same origin where the app is not running (its
  // frames are embeds, which keep nothing): the app cannot write its state back.
  await page.goto(`${BASE_URL}embed-demo.html`);
  await page.evaluate(() => localStorage.clear());
  await page.goto(BASE_URL);
  await page.getByRole('listbox', { name: 'Registers' }).waitFor();
}

async function show(view) {
  await page.getByRole('tab', { name: view, exact: true }).click();
  await page.waitForFunction(
    (v) => document.querySelector(`[role=tab][aria-selected=true]`)?.textContent === v,
    view,
  );
}

/** The link the address bar holds now, once it has caught up with the state. */
async function currentLink(previous = '') {
  await page.waitForFunction((p) => location.hash.length > 1 && location.hash !== p, previous);
  return page.evaluate(() => location.hash);
}

/** Open `hash` in a new tab of the same profile; no banner may say it cannot be opened. */
async function opens(hash) {
  const other = await context.newPage();
  await other.goto(`${BASE_URL}${hash}`);
  await other.getByRole('tab', { name: 'Migrate', exact: true }).waitFor();
  const alerts = await other.locator('.banner').allTextContents();
  await other.close();
  return alerts;
}

test('a migration qemu cannot attempt is explained with fixes, and every link opens', async () => {
  await fresh();
  await show('Host and VM');
  await page.getByLabel('Kernel version').fill('6.8');
  await page.getByText('→ rules of 6.8').waitFor();
  await show('Migrate');
  await page.getByLabel('Destination host').fill('v4.0@6.17');
  await page.getByLabel('VMM', { exact: true }).selectOption({ label: QEMU });
  const before = await currentLink();
  await page.getByRole('button', { name: 'Migrate', exact: true }).click();
  const block = page.getByRole('alert', { name: 'Migration not attempted' });
  await block.waitFor();
  assert.match(await block.textContent(), /NR_IRQS 288/);
  assert.equal(await page.getByText('No migration yet').count(), 0, 'the view says what happened');
  const fixes = await block.getByRole('button').allTextContents();
  assert.deepEqual(
    fixes.map((f) => f.split(' ').slice(0, 3).join(' ')),
    ['Set nr_irqs to', 'Init and run', 'Prepare the VM'],
  );
  await page.screenshot({ path: join(SCREENSHOTS, 'migrate-refusal.png') });
  // Nothing was logged, and the link opens (it used to name scenario.steps[0].vmm).
  await show('Log');
  assert.equal(await page.locator('.log li.step').count(), 0);
  await show('Migrate');
  assert.deepEqual(await opens(before), []);

  // One fix at a time: nr_irqs, then the VMM needs a VM that was initialised.
  await block.getByRole('button', { name: /^Set nr_irqs to 288/ }).click();
  await page.getByText(/EBUSY/).waitFor();
  await block.getByRole('button', { name: /^Init and run/ }).click();
  const verdict = page.locator('.migrate .verdict');
  await verdict.waitFor();
  assert.match(await verdict.textContent(), /v4\.1@6\.8 → v4\.0@6\.17 with qemu \(kernel policy\)/);
  assert.equal(await block.count(), 0);
  const link = await currentLink(before);
  assert.deepEqual(await opens(link), []);
});

test('prepare the VM as qemu and a Linux guest would; policies side by side; re-runs from the same source', async () => {
  await fresh();
  await show('Host and VM');
  await page.getByLabel('Kernel version').fill('6.8');
  await page.getByText('→ rules of 6.8').waitFor();
  await show('Migrate');
  await page.getByLabel('Destination host').fill('v4.0@6.17');
  await page.getByLabel('VMM', { exact: true }).selectOption({ label: QEMU });
  await page.getByRole('button', { name: 'Migrate', exact: true }).click();
  await page.getByRole('button', { name: /^Prepare the VM as QEMU/ }).click();
  const verdict = page.locator('.migrate .verdict');
  await verdict.waitFor();
  assert.match(await verdict.textContent(), /^silently-broken: v4\.1@6\.8 → v4\.0@6\.17/);
  // What the guest will experience and the suggestion come first.
  const order = await page.locator('.verdict-detail > *').evaluateAll((els) => els.map((e) => e.className));
  assert.deepEqual(order.slice(0, 3).map((c) => c.split(' ')[0]), ['verdict', 'experience', 'suggestion']);
  // Identical per-vCPU rows are one row.
  assert.ok((await page.locator('.differences td', { hasText: /@vcpu0…1$/ }).count()) >= 1);
  // The replaced session can come back.
  await page.getByRole('button', { name: 'Bring it back' }).waitFor();
  // The three policies, from the same source.
  const policies = page.getByRole('table', { name: 'The three policies' });
  assert.equal(await policies.locator('tbody tr').count(), 3);
  const steps = async () => {
    await show('Log');
    const n = await page.locator('.log li.step').count();
    await show('Migrate');
    return n;
  };
  const n = await steps();
  await policies.getByRole('row', { name: /relaxed-2020/ }).getByRole('button', { name: 'Show' }).click();
  await page.getByText(/\(relaxed-2020 policy\)/).waitFor();
  assert.match(await verdict.textContent(), /v4\.1@6\.8 → v4\.0@6\.17/);
  assert.match(await page.locator('.migrate .where').textContent(), /on v4\.1@6\.8/);
  // A new destination: the same source again, not a second migration from the first's result.
  await page.getByLabel('Destination host').fill('v4.1@6.17');
  await page.getByText(/v4\.1@6\.8 → v4\.1@6\.17/).waitFor();
  await page.getByRole('button', { name: 'Migrate again' }).click();
  await page.getByText(/v4\.1@6\.8 → v4\.1@6\.17/).waitFor();
  assert.equal(await steps(), n, 'replaced, not chained');
  // Ctrl+Z undoes it (and the key listener may prevent the browser's own undo:
  // it is not passive), Ctrl+Shift+Z redoes it.
  await page.locator('body').click({ position: { x: 5, y: 5 } });
  await page.keyboard.press('Control+z');
  await page.getByText('No migration yet').waitFor();
  await page.keyboard.press('Control+Shift+z');
  await page.getByText(/v4\.1@6\.8 → v4\.1@6\.17/).waitFor();
  assert.deepEqual(consoleLines.filter((l) => /passive/i.test(l)), []);
  // The link carries the form and the migration.
  await page.reload();
  await page.getByText(/v4\.1@6\.8 → v4\.1@6\.17 with qemu \(relaxed-2020 policy\)/).waitFor();
  assert.equal(await page.getByLabel('Destination host').inputValue(), 'v4.1@6.17');
});

test('a Matrix cell opens in Migrate with its guest profile and the same verdict', async () => {
  await fresh();
  await show('Matrix');
  await page.getByLabel('VMM', { exact: true }).selectOption({ label: QEMU });
  assert.match(
    await page.locator('.guest-history').textContent(),
    /linux profile .* NR_IRQS 288/,
  );
  await page.getByRole('list', { name: 'Legend' }).waitFor();
  // Where the two policies disagree, the cell says so (the kernel documentation's
  // order restores GICD_TYPER2, so the policy decides there).
  await page.getByLabel('VMM', { exact: true }).selectOption({ label: "the kernel documentation's order (kernel-doc)" });
  const differs = page.getByRole('button', { name: /\(the other policy differs\)$/ });
  await differs.first().waitFor();
  assert.equal(await differs.count(), await page.locator('button.cell.differs').count());
  await page.getByLabel('VMM', { exact: true }).selectOption({ label: QEMU });
  const cell = page.getByRole('button', { name: /^v4\.1@5\.7 → v4\.0@5\.7: / });
  await cell.first().waitFor();
  // Both tables fit the 1280 px window: nothing is cut off to the right.
  const overflow = await page.evaluate(() => {
    const pair = document.querySelector('.matrix-pair');
    return pair.scrollWidth - pair.clientWidth;
  });
  assert.equal(overflow, 0);
  // QEMU's IROUTER stride breaks every cell; set aside, the TYPER2 story shows:
  // v3 -> v3 is fine again, the GICv4.1 -> v4.0 cell is still broken.
  const same = page.getByRole('button', { name: /^v3@6\.8 → v3@6\.8: / }).first();
  assert.match(await same.getAttribute('aria-label'), /silently-broken/);
  await page.getByLabel(/^Set aside vmm\.qemu\.irouter_stride/).check();
  await page.waitForFunction(() =>
    [...document.querySelectorAll('button.cell')].some((b) => /^v3@6\.8 → v3@6\.8: compatible/.test(b.getAttribute('aria-label'))),
  );
  assert.match(await cell.first().getAttribute('aria-label'), /silently-broken/);
  await page.getByLabel(/^Set aside vmm\.qemu\.irouter_stride/).uncheck();
  const label = await cell.first().getAttribute('aria-label');
  const cellVerdict = label.split(': ')[1].split(' ')[0];
  await cell.first().click();
  await page.getByLabel('Cell detail').waitFor();
  await page.getByRole('button', { name: 'Open in Migrate' }).click();
  await page.waitForFunction(
    () => document.querySelector('[role=tab][aria-selected=true]')?.textContent === 'Migrate',
  );
  const verdict = page.locator('.migrate .verdict');
  await verdict.waitFor();
  assert.match(await verdict.textContent(), new RegExp(`^${cellVerdict}: v4\\.1@5\\.7 → v4\\.0@5\\.7 with qemu \\(kernel policy\\)`));
  assert.match(await page.locator('.migrate .where').textContent(), /linux guest on v4\.1@5\.7/);
});
