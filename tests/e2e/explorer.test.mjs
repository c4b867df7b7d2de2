// The explorer's views end to end on the built page (dist/), in Debian's
// Chromium driven by playwright-core: poke as guest and VMM, undo/redo, export
// and import, hosts and eras, permalinks, embeds, banners for damaged links and
// saved state, the bug banner, a poke's re-render with the whole list shown.
// scripts/e2e serves dist/ and sets GICX_URL. Timings are measured by
// scripts/bench (bench-app.mjs), never asserted here.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { keepLocal, launchProfile, freshStart } from './chromium.mjs';
import { gicx, gicxJson, pattern } from './cli.mjs';

const BASE_URL = process.env.GICX_URL ?? 'http://127.0.0.1:8080/';
const REPO = fileURLToPath(new URL('../../', import.meta.url));
// Under target/ (scripts/screenshots copies them to docs/screenshots/).
const SCREENSHOTS = process.env.GICX_SCREENSHOTS ?? join(REPO, 'target', 'screenshots');

let profile;
let work;
let context;
let page;
const pageErrors = [];

before(async () => {
  profile = await mkdtemp(join(tmpdir(), 'gicx-e2e-explorer-'));
  work = await mkdtemp(join(tmpdir(), 'gicx-e2e-files-'));
  await mkdir(SCREENSHOTS, { recursive: true });
  context = await launchProfile(profile, {
    viewport: { width: 1280, height: 860 },
    acceptDownloads: true,
  });
  await keepLocal(context, { blob: true });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (error) => pageErrors.push(error));
  await fresh();
});

after(async () => {
  await context?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
  if (work) await rm(work, { recursive: true, force: true });
});

/** A fresh start: no saved work, no link. */
async function fresh(p = page) {
  await freshStart(p, BASE_URL);
}

async function selectRegister(name, p = page) {
  await p.getByLabel('Search registers').fill(name);
  await p.getByRole('option', { name: new RegExp(`^${name}`) }).first().click();
  await p.getByRole('heading', { level: 2, name: new RegExp(`(Poke )?${name}$`) }).waitFor();
}

async function show(view, p = page) {
  await p.getByRole('tab', { name: view, exact: true }).click();
  assert.equal(
    await p.getByRole('tab', { name: view, exact: true }).getAttribute('aria-selected'),
    'true',
  );
}

const result = () => page.locator('.poke-result');
const ruleIds = async () => page.locator('.poke-result .rule-id').allTextContents();

/** The Log's entries: [applied, undone]. */
async function logCounts(p = page) {
  const all = await p.locator('ol.steps > li').count();
  const undone = await p.locator('ol.steps > li.undone').count();
  return [all - undone, undone];
}

test('poke a register as the guest and as the VMM, with its rules and changes', async () => {
  await selectRegister('GICD_TYPER2');
  await show('Poke');
  await page.getByRole('heading', { name: 'Poke GICD_TYPER2' }).waitFor();

  // The guest runs only inside KVM_RUN: a guest read before Init is the VM's
  // first KVM_RUN, which fails with -EBUSY and, on 6.17, kills the VM (as on
  // real KVM). The result says so and how to recover; Undo brings it back.
  await page.getByRole('button', { name: 'Read', exact: true }).click();
  await result().locator('.errno').filter({ hasText: '-EBUSY' }).waitFor();
  assert.deepEqual(await ruleIds(), ['lifecycle.run_before_init', 'lifecycle.vm_dead']);
  const why = await result().locator('.explain').textContent();
  assert.match(why, /first KVM_RUN, and that failed with -EBUSY/);
  assert.match(why, /kills the VM \(kvm_vm_dead\): every later step returns -EIO/);
  await page.getByRole('group', { name: /^VM: dead since step 1/ }).waitFor();
  // Every later step is -EIO, and says since when.
  await page.getByRole('button', { name: 'Init (KVM_DEV_ARM_VGIC_CTRL_INIT)' }).click();
  await result().locator('.errno').filter({ hasText: '-EIO' }).waitFor();
  assert.match(await result().locator('.explain').textContent(), /dead since step 1/);
  await result().getByRole('button', { name: 'Undo it (back to a fresh VM)' }).click();
  await page.getByRole('group', { name: 'VM: created (not initialised)' }).waitFor();
  // The Log keeps both steps, undone, in words (not raw JSON).
  await show('Log');
  assert.deepEqual(await logCounts(), [0, 2]);
  const undone = await page.locator('ol.steps > li.undone code.summary').allTextContents();
  assert.match(undone[0], /^The guest reads GICD_TYPER2/);
  assert.equal(undone[1], 'Initialise the vGIC (KVM_DEV_ARM_VGIC_CTRL_INIT)');
  await show('Poke');

  await page.getByRole('button', { name: 'Init (KVM_DEV_ARM_VGIC_CTRL_INIT)' }).click();
  await result().getByText('KVM_DEV_ARM_VGIC_CTRL_INIT: ok').waitFor();
  await page.getByRole('button', { name: 'Run (KVM_RUN)' }).click();
  await result().getByText('KVM_RUN: ok').waitFor();

  await page.getByRole('button', { name: 'Read', exact: true }).click();
  await page.locator('#poke-output').filter({ hasText: /^0x100$/ }).waitFor();
  assert.ok((await ruleIds()).some((id) => id.startsWith('gicd.typer2')), await ruleIds());

  // As the VMM, after init, 6.17 refuses to change TYPER2.
  await page.getByLabel('VMM (KVM device attributes)').check();
  await page.getByLabel('Value to write').fill('0x0');
  await page.getByRole('button', { name: 'Write', exact: true }).click();
  await result().locator('.errno').filter({ hasText: '-EBUSY' }).waitFor();
  const ids = await ruleIds();
  assert.ok(ids.some((id) => id.includes('busy')), ids);
  assert.match(await result().locator('.rule-source').first().textContent(), /vgic/);
  await result().getByText('No register value changed.').waitFor();

  // A guest write that changes GICD_CTLR is listed and marked in the list.
  await selectRegister('GICD_CTLR');
  await page.getByLabel('Guest (MMIO)').check();
  await page.getByLabel('Width').selectOption('32');
  await page.getByLabel('Value to write').fill('0x12');
  await page.getByRole('button', { name: 'Write', exact: true }).click();
  const changed = page.getByRole('table', { name: /Registers changed/ });
  await changed.getByRole('rowheader', { name: 'GICD_CTLR' }).waitFor();
  await page.getByLabel('Search registers').fill('');
  assert.match(
    await page.getByRole('option', { name: /^GICD_CTLR/ }).getAttribute('class'),
    /\bchanged\b/,
  );
  await page.screenshot({ path: join(SCREENSHOTS, 'poke.png') });
});

test('the Registers view shows the current value as guest and VMM read it', async () => {
  await show('Registers');
  await selectRegister('GICD_CTLR');
  await page.locator('#guest-value').filter({ hasText: /^0x/ }).waitFor();
  const guest = await page.locator('#guest-value').textContent();
  assert.ok(Number(guest) & 0x2, `EnableGrp1A set by the poke: ${guest}`);
  // Bits toggle in the tester.
  await page.getByRole('button', { name: 'Test the guest\'s value' }).click();
  assert.equal(await page.getByLabel('Value', { exact: true }).inputValue(), guest);
  await page.getByRole('button', { name: 'Bit 4' }).click();
  assert.equal(
    await page.getByRole('button', { name: 'Bit 4' }).getAttribute('aria-pressed'),
    String(((Number(guest) >> 4) & 1) === 0),
  );
});

test('undo and redo with the buttons and with Ctrl+Z / Ctrl+Shift+Z', async () => {
  await show('Log');
  const [applied] = await logCounts();
  assert.ok(applied >= 5, `init, run, two reads, two writes: ${applied}`);
  await page.getByRole('button', { name: 'Undo' }).click();
  assert.deepEqual(await logCounts(), [applied - 1, 1]);
  await page.locator('body').focus();
  await page.keyboard.press('Control+z');
  assert.deepEqual(await logCounts(), [applied - 2, 2]);
  await page.keyboard.press('Control+Shift+z');
  assert.deepEqual(await logCounts(), [applied - 1, 1]);
  await page.getByRole('button', { name: 'Redo' }).click();
  assert.deepEqual(await logCounts(), [applied, 0]);
  assert.equal(await page.getByRole('button', { name: 'Redo' }).isDisabled(), true);
  // Each entry names its deciding rule.
  assert.ok((await page.locator('ol.steps .rule-id').count()) >= applied - 1);
  await page.screenshot({ path: join(SCREENSHOTS, 'log.png') });
});

test('export a scenario and import it back; bad files name the place', async () => {
  await show('Log');
  const [applied] = await logCounts();
  await page.getByLabel('Record each result as an expectation (a regression test)').check();
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Export scenario' }).click(),
  ]);
  assert.equal(download.suggestedFilename(), 'gicx-scenario.json');
  const file = join(work, 'gicx-scenario.json');
  await download.saveAs(file);
  const scenario = JSON.parse(await readFile(file, 'utf8'));
  assert.deepEqual(scenario.host, { gic: 'v4.1', cpuif_vsgi: true, vgic_v4_enable: true, kernel: '6.17' });
  assert.equal(scenario.steps.length, applied);
  assert.ok(scenario.steps.some((s) => s.expect_error === 'EBUSY'), JSON.stringify(scenario.steps));
  // The CLI agrees with what the browser recorded: every expectation holds
  // (`gicx run` exits 1 otherwise, which throws here).
  assert.match(gicx(['run', file]), new RegExp(`^1 passed, 0 failed$`, 'm'));

  // Start over, then import the file: the same log comes back.
  await page.getByRole('button', { name: 'Go to after step 1' }).click();
  await show('Poke');
  await page.getByRole('button', { name: 'Run (KVM_RUN)' }).click();
  await show('Log');
  assert.deepEqual(await logCounts(), [2, 0]);
  await page.getByLabel('Import a scenario file').setInputFiles(file);
  await page.getByText(`Imported gicx-scenario.json: ${applied} steps`).waitFor();
  assert.deepEqual(await logCounts(), [applied, 0]);
  assert.equal(await page.locator('ol.steps li.failed').count(), 0, 'the expectations hold');

  const syntax = join(work, 'syntax.json');
  await writeFile(syntax, '{\n  "host": {"gic": "v3", "kernel": "6.8"},\n  "steps": [,]\n}\n');
  await page.getByLabel('Import a scenario file').setInputFiles(syntax);
  await page.getByRole('alert').filter({ hasText: 'Import failed: syntax.json' }).waitFor();
  assert.match(await page.locator('.import-error').textContent(), /line 3, column/);

  const typo = join(work, 'typo.json');
  await writeFile(typo, JSON.stringify({
    host: { gic: 'v3', kernel: '6.8' },
    steps: [{ op: 'user_read', reg: 'GICD_TYPR2' }],
  }));
  await page.getByLabel('Import a scenario file').setInputFiles(typo);
  await page.locator('.import-error').filter({ hasText: 'steps[0].reg' }).waitFor();
  assert.match(await page.locator('.import-error').textContent(), /did you mean GICD_TYPER2/);
  assert.deepEqual(await logCounts(), [applied, 0], 'a failed import keeps the work');

  const big = join(work, 'big.json');
  await writeFile(big, Buffer.alloc(4 * 1024 * 1024 + 1, 0x20));
  await page.getByLabel('Import a scenario file').setInputFiles(big);
  await page.locator('.import-error').filter({ hasText: 'limited to 4194304 bytes' }).waitFor();
});

test('the host and VM: kernel versions resolve to eras live, presets replay the log', async () => {
  await show('Host and VM');
  const kernel = page.getByLabel('Kernel version');
  await kernel.fill('5.15');
  await page.locator('#kernel-era').filter({ hasText: /^5\.15 → rules of 5\.13/ }).waitFor();
  assert.equal(await page.locator('#host-compact').textContent(), 'v4.1@5.15');
  await kernel.fill('4.14');
  await page.locator('#kernel-era').filter({ hasText: 'older than 4.19' }).waitFor();
  assert.equal(await kernel.getAttribute('aria-invalid'), 'true');
  await kernel.fill('six');
  await page.locator('#kernel-era').filter({ hasText: 'not of the form X.Y' }).waitFor();
  assert.equal(await page.locator('#host-compact').textContent(), 'v4.1@5.15', 'last good kernel');

  await page.getByRole('button', { name: 'GICv4.0 @ 5.10' }).click();
  assert.equal(await page.locator('#host-compact').textContent(), 'v4.0@5.10');
  assert.equal(await kernel.inputValue(), '5.10');
  await page.getByLabel('vCPUs').fill('0');
  await page.locator('#vcpus-status').filter({ hasText: '1..=512' }).waitFor();
  await page.getByLabel('vCPUs').fill('8');
  await page.locator('#vcpus-status').filter({ hasText: '8 vCPUs' }).waitFor();
  await page.screenshot({ path: join(SCREENSHOTS, 'host.png') });

  // The log was replayed on GICv4.0: the guest now reads TYPER2 as 0.
  await show('Log');
  await page.locator('ol.steps code.summary', { hasText: /^guest read32 GICD_TYPER2 @0x000c = 0x0$/ }).waitFor();
  await show('Host and VM');
  await page.getByRole('button', { name: 'GICv4.1 host @ 6.17' }).click();
  assert.equal(await page.locator('#host-compact').textContent(), 'v4.1@6.17');
});

test('a permalink restores the state exactly, in a new tab and after a reload', async () => {
  await show('Registers');
  await selectRegister('GICD_IPRIORITYR<n>');
  await page.getByLabel('Instance n').fill('9');
  await page.getByLabel('Value', { exact: true }).fill('0xa0a0');
  await show('Log');
  await page.getByRole('button', { name: 'Undo' }).click();
  const url = page.url();
  const fragment = new URL(url).hash;
  assert.match(fragment, /^#v1\.[A-Za-z0-9_-]+$/);

  const other = await context.newPage();
  await other.goto(url);
  await other.getByRole('heading', { level: 2, name: 'Log' }).waitFor();
  assert.equal(new URL(other.url()).hash, fragment, 'the restored state encodes to the same link');
  assert.deepEqual(await logCounts(other), await logCounts());
  await show('Registers', other);
  assert.equal(await other.getByRole('heading', { level: 2, name: 'GICD_IPRIORITYR<n>' }).count(), 1);
  assert.equal(await other.getByLabel('Value', { exact: true }).inputValue(), '0xa0a0');
  assert.equal(await other.getByLabel('Instance n').inputValue(), '9');
  await other.close();

  // Reload: the work is still there (URL and localStorage).
  await page.reload();
  await page.getByRole('heading', { level: 2, name: 'Log' }).waitFor();
  assert.equal(new URL(page.url()).hash, fragment);
  await page.goto(BASE_URL); // no fragment: from localStorage
  await page.getByRole('heading', { level: 2, name: 'Log' }).waitFor();
  assert.equal(new URL(page.url()).hash, fragment);
});

test('a tampered or truncated link shows a banner naming the part; the app keeps working', async () => {
  const good = new URL(page.url()).hash;
  const [applied] = await logCounts();

  // Opened in a new tab: the last saved work is shown under the banner.
  const other = await context.newPage();
  let cut = good.slice(0, -12);
  if ((cut.length - '#v1.'.length) % 4 === 1) cut = cut.slice(0, -1); // not a base64 length
  await other.goto(BASE_URL + cut);
  const banner = other.getByRole('alert').filter({ hasText: 'This link could not be opened' });
  await banner.waitFor();
  assert.match(
    await banner.textContent(),
    /payload: (the compressed data ends early \(a truncated link\?\)|not base64url)/,
  );
  assert.deepEqual(await logCounts(other), [applied, 1], 'the last good state');
  await show('Registers', other);
  await selectRegister('GICD_TYPER', other);
  await other.close();

  // Edited in the address bar of a running app (hashchange).
  await page.goto(BASE_URL + '#v2.' + good.slice(4));
  const version = page.getByRole('alert').filter({ hasText: /version: "v2" is not a version/ });
  await version.waitFor();
  await page.getByRole('button', { name: 'Dismiss: This link could not be opened' }).click();
  assert.equal(await version.count(), 0);
  assert.deepEqual(await logCounts(), [applied, 1]);
});

test('a damaged localStorage entry shows a banner and a fresh start', async () => {
  const other = await context.newPage();
  await other.goto(BASE_URL + 'embed-demo.html');
  await other.evaluate(() => localStorage.setItem('gicx.state', 'v1.AAAA'));
  await other.goto(BASE_URL);
  const banner = other.getByRole('alert').filter({ hasText: 'could not be read' });
  await banner.waitFor();
  assert.match(await banner.textContent(), /payload: /);
  await selectRegister('GICD_TYPER2', other);
  await other.close();
});

test('the embed demo shows a register read-only, a lesson interactive and a verdict', async () => {
  const saved = await page.evaluate(() => localStorage.getItem('gicx.state'));
  await page.goto(BASE_URL + 'embed-demo.html');
  const register = page.frameLocator('#register-embed');
  await register.getByRole('heading', { level: 2, name: 'GICD_TYPER2' }).waitFor();
  assert.equal(await register.getByRole('tablist').count(), 0, 'no app chrome');
  const cap = register
    .getByRole('row')
    .filter({ has: register.getByRole('rowheader', { name: 'nASSGIcap', exact: true }) })
    .locator('td.value');
  assert.equal(await cap.textContent(), '1');
  assert.equal(await register.getByLabel('Value', { exact: true }).isEditable(), false);
  assert.equal(await register.getByRole('button', { name: 'Bit 8' }).isDisabled(), true);
  const open = register.getByRole('link', { name: 'Open in gicx' });
  const href = await open.getAttribute('href');
  assert.match(href, /#v1\.[A-Za-z0-9_-]+$/);
  assert.doesNotMatch(href, /embed/);

  const lesson = page.frameLocator('#lesson-embed');
  await lesson.getByRole('heading', { level: 2, name: 'Log' }).waitFor();
  assert.equal(await lesson.locator('ol.steps > li').count(), 11);
  await lesson.getByRole('button', { name: 'Undo' }).click();
  assert.equal(await lesson.locator('ol.steps > li.undone').count(), 1);

  // A Matrix link with a cell open: the verdict with its reasons, no chrome.
  const verdict = page.frameLocator('#verdict-embed');
  const detail = verdict.getByLabel('Cell detail');
  await detail.waitFor();
  assert.match(
    await detail.getByRole('status').textContent(),
    /^silently-broken: v4\.1@5\.7 → v4\.0@5\.7 with firecracker \(relaxed-2020 policy/,
  );
  assert.match(await detail.textContent(), /GICD_TYPER2/);
  assert.equal(await verdict.getByRole('tablist').count(), 0, 'no app chrome');
  await page.screenshot({ path: join(SCREENSHOTS, 'embed.png'), fullPage: true });

  // Following "Open in gicx" opens the full app at the same state.
  const full = await context.newPage();
  await full.goto(href);
  await full.getByRole('tablist', { name: 'Views' }).waitFor();
  await full.getByRole('heading', { level: 2, name: 'GICD_TYPER2' }).waitFor();
  assert.equal(await full.getByLabel('Value', { exact: true }).inputValue(), '0x100');
  await full.close();
  // Embeds keep nothing: the reader's own work is untouched... except by the
  // full app just opened, which saved its state; restore ours.
  await page.evaluate((s) => localStorage.setItem('gicx.state', s), saved);
});

test('the tab bar is keyboard navigable and the theme toggles', async () => {
  await fresh();
  await page.getByRole('tab', { name: 'Registers' }).focus();
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.getByRole('tab', { name: 'Poke' }).getAttribute('aria-selected'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'tab-poke');
  await page.keyboard.press('End');
  assert.equal(await page.getByRole('tab', { name: 'Rules' }).getAttribute('aria-selected'), 'true');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.getByRole('tab', { name: 'Registers' }).getAttribute('aria-selected'), 'true');

  const theme = page.getByRole('button', { name: /^Colour theme/ });
  await theme.click();
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'light');
  await theme.click();
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.equal(bg, 'rgb(21, 23, 26)');
  await page.reload();
  // Kept across the reload (waits for the app to apply it).
  await page.waitForFunction(() => document.documentElement.dataset.theme === 'dark');
  await theme.click();
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), undefined);
});

test('a bug shows a banner instead of a dead screen', async () => {
  const other = await context.newPage();
  const errors = [];
  other.on('pageerror', (e) => errors.push(e));
  await other.goto(BASE_URL + '#debug/panic');
  const banner = other.locator('#bug-banner');
  await banner.waitFor();
  assert.equal(await banner.getAttribute('role'), 'alert');
  assert.match(await banner.textContent(), /gicx hit a bug.*deliberate panic requested by #debug\/panic/s);
  assert.equal(await other.getByRole('button', { name: 'Reload' }).count(), 1);
  await other.close();
});

test('a poke re-renders its result with the whole register list shown', async () => {
  await fresh();
  await selectRegister('GICD_TYPER2');
  await page.getByLabel('Search registers').fill('');
  await show('Poke');
  await page.getByRole('button', { name: 'Init (KVM_DEV_ARM_VGIC_CTRL_INIT)' }).click();
  await page.getByLabel('VMM (KVM device attributes)').check();
  // The whole catalogue is listed, by name (the CLI's `gicx regs`).
  const names = gicxJson(['regs']).map(pattern);
  assert.deepEqual(await page.locator('[role=option] .name').allTextContents(), names);
  // Twenty reads as the VMM: each is a new step of the Log, each shows the value
  // KVM returns (TYPER2 = 0x100 on v4.1@6.17) and its deciding rule.
  const read = page.getByRole('button', { name: 'Read', exact: true });
  for (let i = 1; i <= 20; i++) {
    await read.click();
    await page.locator('.poke-result .summary').filter({ hasText: new RegExp(`^Step ${i + 1}: `) }).waitFor();
    assert.equal(await page.locator('#poke-output').textContent(), '0x100');
    assert.ok((await ruleIds()).some((id) => id.startsWith('gicd.typer2')), await ruleIds());
  }
  assert.equal(await page.getByRole('option').count(), names.length, 'the list is still whole');
  await show('Log');
  assert.deepEqual(await logCounts(), [21, 0]);
  assert.deepEqual(pageErrors, []);
});
