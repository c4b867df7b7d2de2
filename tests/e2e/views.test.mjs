// The Migrate, Matrix, Delivery path and Lessons views end to end on the built
// page (dist/), in Debian's Chromium driven by playwright-core, like
// explorer.test.mjs. scripts/e2e serves dist/ and sets GICX_URL. The Matrix and
// the audit are checked cell by cell and count by count against the CLI.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { keepLocal, launchProfile, freshStart } from './chromium.mjs';
import { gicxJson } from './cli.mjs';

const BASE_URL = process.env.GICX_URL ?? 'http://127.0.0.1:8080/';
const REPO = fileURLToPath(new URL('../../', import.meta.url));
// Under target/ (scripts/screenshots copies them to docs/screenshots/).
const SCREENSHOTS = process.env.GICX_SCREENSHOTS ?? join(REPO, 'target', 'screenshots');

let profile;
let context;
let page;
const pageErrors = [];

before(async () => {
  profile = await mkdtemp(join(tmpdir(), 'gicx-e2e-views-'));
  await mkdir(SCREENSHOTS, { recursive: true });
  context = await launchProfile(profile, {
    viewport: { width: 1280, height: 860 },
  });
  await keepLocal(context, { blob: true });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (error) => pageErrors.push(error));
});

after(async () => {
  await context?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
  assert.deepEqual(pageErrors, []);
});

async function fresh() {
  await freshStart(page, BASE_URL);
}

async function show(view) {
  await page.getByRole('tab', { name: view, exact: true }).click();
  await page.waitForFunction(
    (v) => document.querySelector(`[role=tab][aria-selected=true]`)?.textContent === v,
    view,
  );
}

/** Open lesson `title` and take `steps` steps forward. */
async function lesson(title, steps) {
  await show('Lessons');
  await page.getByRole('navigation', { name: 'Lessons' }).getByRole('button', { name: title, exact: true }).click();
  for (let i = 0; i < steps; i++) await page.getByRole('button', { name: 'Forward' }).click();
  await page.getByText(`Step ${steps} of`).waitFor();
}

test('migrate a Linux guest v4.1@5.7 -> v4.0@5.7 with firecracker: silently broken', async () => {
  await fresh();
  // The 2020 lesson's source: a Linux-like guest that set nASSGIreq, before its migration.
  await lesson('2020 GICD_TYPER2 debate 1/4: silently broken', 12);
  await show('Migrate');
  const to = page.getByLabel('Destination host');
  await to.fill('v9@nope');
  assert.notEqual(await page.locator('#migrate-to-error').textContent(), '');
  assert.equal(await to.getAttribute('aria-invalid'), 'true');
  await to.fill('v4.0@5.7');
  assert.equal(await page.locator('#migrate-to-error').textContent(), '');
  await page.getByLabel('VMM', { exact: true }).selectOption({ label: 'Firecracker (firecracker)' });
  await page.getByLabel('Policy').selectOption({ label: 'kernel' });
  await page.getByRole('button', { name: 'Migrate', exact: true }).click();
  const verdict = page.locator('.migrate [role=status]');
  await verdict.waitFor();
  assert.match(await verdict.textContent(), /^silently-broken/);
  assert.match(await page.locator('.migrate').textContent(), /GICD_TYPER2|nASSGIreq/);
  await page.screenshot({ path: join(SCREENSHOTS, 'migrate.png') });
  await page.getByText(/^Restore log/).click();
  assert.ok((await page.locator('.restore-log li').count()) > 0);
  // It is a step of the log: undo removes it.
  await page.keyboard.press('Control+z');
  await page.getByText('No migration yet').waitFor();
});

test('the matrix shows both policies; a cell opens its verdict; the audit counts', async () => {
  await fresh();
  await show('Matrix');
  // The tab shows at once; its tables follow, computed in the next task.
  await page.getByLabel('VMM', { exact: true }).selectOption({ label: 'Firecracker (firecracker)' });
  const cell = page.getByRole('button', { name: 'v4.1@5.7 → v4.0@5.7: silently-broken' });
  await cell.first().waitFor();
  assert.equal(await cell.count(), 2, 'one cell per policy table');
  // Every cell of both tables says what `gicx matrix` says for the same VMM,
  // guest and policy, and each caption counts the same verdicts.
  const tables = await page.locator('.matrix-table table').evaluateAll((ts) =>
    ts.map((t) => ({
      caption: t.querySelector('caption').textContent,
      cells: [...t.querySelectorAll('button.cell')].map((b) => b.getAttribute('aria-label')),
    })),
  );
  assert.equal(tables.length, 2);
  const policies = [];
  for (const t of tables) {
    const policy = t.caption.match(/^policy ([a-z0-9-]+):/)?.[1];
    assert.ok(policy, t.caption);
    policies.push(policy);
    const m = gicxJson(['matrix', '--vmm', 'firecracker', '--guest', 'linux', '--policy', policy]);
    const want = m.cells.flat().map((c) => `${c.from} → ${c.to}: ${c.verdict}`);
    assert.ok(m.hosts.length >= 35, m.hosts.join(' '));
    assert.equal(want.length, m.hosts.length ** 2);
    assert.deepEqual(t.cells.map((l) => l.replace(/ \(the other policy differs\)$/, '')), want, policy);
    const c = m.counts;
    assert.match(
      t.caption,
      new RegExp(`\\(${c.compatible} compatible, ${c.rejected} rejected, ${c.needlessly_rejected} needlessly rejected, ${c.silently_broken} silently broken\\)$`),
    );
  }
  assert.notEqual(policies[0], policies[1], 'two policies side by side');
  await page.screenshot({ path: join(SCREENSHOTS, 'matrix.png') });
  await cell.first().click();
  const detail = page.getByLabel('Cell detail');
  await detail.waitFor();
  assert.match(await detail.getByRole('status').textContent(), /^silently-broken.*v4\.1@5\.7 → v4\.0@5\.7/);
  // The form and the open cell are part of the link: a reload shows them again,
  // and so does a read-only embed of it (one verdict, for a documentation page).
  await page.reload();
  await detail.waitFor();
  assert.match(await detail.getByRole('status').textContent(), /^silently-broken.*v4\.1@5\.7 → v4\.0@5\.7/);
  const state = (await page.evaluate(() => location.hash)).slice(1);
  const embed = await page.context().newPage();
  await embed.goto(`${BASE_URL}#embed/${state}`);
  await embed.getByLabel('Cell detail').waitFor();
  assert.match(await embed.getByLabel('Cell detail').getByRole('status').textContent(), /^silently-broken/);
  assert.equal(await embed.getByRole('tab').count(), 0, 'no app chrome in an embed');
  await embed.close();
  await page.getByRole('button', { name: 'Close detail' }).click();
  await page.getByRole('button', { name: 'Run audit' }).click();
  // It runs in slices with a progress bar, and the page stays usable meanwhile:
  // another tab opens while it runs, and the audit goes on.
  await page.getByRole('progressbar', { name: 'Audit progress' }).waitFor();
  assert.ok(await page.getByRole('button', { name: 'Run audit' }).isDisabled());
  await show('Registers');
  await show('Matrix');
  const counts = page.getByRole('table', { name: 'Audit counts' });
  await counts.waitFor({ timeout: 60000 });
  // The counts are the CLI's `gicx audit`, policy by policy, verdict by verdict.
  const shown = await counts.locator('tbody tr').evaluateAll((rows) =>
    rows.map((r) => [...r.querySelectorAll('th, td')].map((c) => c.textContent)),
  );
  const audit = gicxJson(['audit']);
  assert.ok(audit.migrations_per_policy > 0);
  assert.deepEqual(
    shown,
    audit.per_policy.map((p) => [
      p.policy,
      ...['compatible', 'rejected', 'needlessly_rejected', 'silently_broken'].map((v) => String(p.counts[v])),
    ]),
  );
  assert.equal(await page.getByRole('progressbar').count(), 0);
  // Stop drops a running audit.
  await page.getByRole('button', { name: 'Run audit' }).click();
  await page.getByRole('button', { name: 'Stop' }).click();
  await page.getByRole('progressbar').waitFor({ state: 'detached' });
  assert.ok(await page.getByRole('button', { name: 'Run audit' }).isEnabled());
});

test('send an SGI and follow its hops by layer', async () => {
  await fresh();
  await lesson('Your first SGI', 8);
  await show('Delivery path');
  await page.getByLabel('INTID (0-15)').fill('3');
  await page.getByLabel('Target vCPUs').fill('1');
  await page.getByRole('button', { name: 'Send SGI' }).click();
  const path = page.locator('.delivery [role=status]');
  await path.waitFor();
  assert.match(await path.textContent(), /^Software path/);
  const hops = page.getByRole('list', { name: 'Hops' });
  assert.match(await hops.textContent(), /guest/);
  assert.match(await hops.textContent(), /KVM/);
  assert.ok((await hops.locator('li.hop').count()) >= 2);
  await page.screenshot({ path: join(SCREENSHOTS, 'delivery.png'), fullPage: true });
});

test('step through the 2020 lesson to its verdict, then change policy and era', async () => {
  await fresh();
  await lesson('2020 GICD_TYPER2 debate 2/4: rejected', 0);
  // Keys step too.
  await page.locator('section.lessons').focus();
  await page.keyboard.press('ArrowRight');
  await page.getByText('Step 1 of').waitFor();
  await page.keyboard.press('ArrowLeft');
  await page.getByText('Step 0 of').waitFor();
  let verdict = null;
  for (let i = 0; i < 40 && !verdict; i++) {
    await page.getByRole('button', { name: 'Forward' }).click();
    const v = page.locator('.lesson-step .verdict');
    if (await v.count()) verdict = await v.textContent();
  }
  assert.match(verdict, /^rejected/);
  await page.getByLabel('Destination policy').selectOption({ label: 'accept-any' });
  const changed = await page.locator('.lesson-step .verdict').textContent();
  assert.doesNotMatch(changed, /^rejected/);
  await page.getByLabel('Destination kernel').selectOption({ label: '4.19' });
  await page.locator('.lesson-step .verdict').waitFor();
  await page.screenshot({ path: join(SCREENSHOTS, 'lessons.png'), fullPage: true });
});
