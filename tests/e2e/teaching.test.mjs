// Teaching (issue 13): the explorer as someone learning KVM's vGIC meets it,
// on the built page (dist/) in Debian's Chromium driven by playwright-core.
// A fresh start offers three ways in; words are explained on hover; greyed
// registers say why; rule sources link to the kernel at the host's release;
// a guest poke before Init explains the failed KVM_RUN and how to recover.
// scripts/test serves dist/ and sets GICX_URL.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { keepLocal, launchProfile, freshStart } from './chromium.mjs';

const BASE_URL = process.env.GICX_URL ?? 'http://127.0.0.1:8080/';
const REPO = fileURLToPath(new URL('../../', import.meta.url));
// Under target/ (scripts/screenshots copies them to docs/screenshots/).
const SCREENSHOTS = process.env.GICX_SCREENSHOTS ?? join(REPO, 'target', 'screenshots');

let profile;
let context;
let page;
const pageErrors = [];

before(async () => {
  profile = await mkdtemp(join(tmpdir(), 'gicx-e2e-teaching-'));
  await mkdir(SCREENSHOTS, { recursive: true });
  context = await launchProfile(profile, { viewport: { width: 1280, height: 860 } });
  await keepLocal(context);
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (error) => pageErrors.push(error));
});

after(async () => {
  assert.deepEqual(pageErrors, []);
  await context?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
});

/** A fresh start: no saved work, no link. */
async function fresh() {
  await freshStart(page, BASE_URL);
}

const landing = () => page.getByRole('region', { name: 'Start here' });

test('a fresh start offers three ways in; Learn opens Your first SGI', async () => {
  await fresh();
  await landing().waitFor();
  const buttons = await landing().getByRole('button').allTextContents();
  assert.deepEqual(buttons, [
    'Start the lesson: Your first SGI',
    'Look up GICD_TYPER2',
    'Migrate a Linux guest with firecracker',
  ]);
  await page.screenshot({ path: join(SCREENSHOTS, 'landing.png') });
  await landing().getByRole('button', { name: 'Start the lesson: Your first SGI' }).click();
  assert.equal(await page.getByRole('tab', { name: 'Lessons' }).getAttribute('aria-selected'), 'true');
  assert.equal(
    await page.getByRole('button', { name: 'Your first SGI' }).getAttribute('aria-pressed'),
    'true',
  );
  // Steps have human titles, their rules (linked to the kernel) and the register.
  const forward = page.getByRole('button', { name: 'Forward' });
  await forward.click();
  await forward.click();
  await forward.click();
  const step = page.locator('.lesson-step');
  await step.getByRole('heading', { name: 'Step 3: The guest reads GICD_CTLR' }).waitFor();
  assert.ok((await step.locator('.rule-id').allTextContents()).includes('gicd.ctlr.read'));
  assert.match(await step.locator('.rule-source a').first().getAttribute('href'), /^https:\/\/elixir\.bootlin\.com\/linux\/v6\.8\/source\/arch\/arm64\/kvm\/vgic\//);
  await step.locator('#poke-output').filter({ hasText: /^0x50$/ }).waitFor();
  // A guest write lists the registers it changed, as Poke does.
  await forward.click();
  await step.getByRole('heading', { name: 'Step 4: The guest writes 0x12 to GICD_CTLR' }).waitFor();
  await step.getByRole('table', { name: /Registers changed/ }).getByRole('rowheader', { name: 'GICD_CTLR' }).waitFor();
  // The SGI step: its outcome and a way to its hops.
  for (let i = 4; i < 9; i++) await forward.click();
  await step.getByRole('heading', { name: 'Step 9: vCPU 0 sends SGI 3 to vCPU 1' }).waitFor();
  const outcome = await step.getByRole('region', { name: 'Outcome' }).textContent();
  assert.match(outcome, /vCPU 1: delivered: SGI 3 is in list register 0/);
  assert.match(outcome, /Software path .*: the host \(v3@6\.8\) has no GICv4\.1/);
  await step.getByRole('button', { name: 'Follow its hops in the Delivery path' }).click();
  await page.getByRole('list', { name: 'Hops' }).waitFor();
  // Back in the lesson, step 3's register opens in Registers.
  await page.getByRole('tab', { name: 'Lessons' }).click();
  for (let i = 9; i > 3; i--) await page.getByRole('button', { name: 'Back' }).click();
  await step.getByRole('button', { name: 'See GICD_CTLR in Registers' }).click();
  await page.getByRole('heading', { level: 2, name: 'GICD_CTLR' }).waitFor();
});

test('the Delivery path ends with its outcome: where it stops, why, and what to change', async () => {
  await fresh();
  await page.getByRole('tab', { name: 'Poke', exact: true }).click();
  await page.getByRole('button', { name: 'Init (KVM_DEV_ARM_VGIC_CTRL_INIT)' }).click();
  await page.getByRole('tab', { name: 'Delivery path' }).click();
  await page.getByRole('button', { name: 'Send SGI' }).click();
  const outcome = page.getByRole('region', { name: 'Outcome' });
  await outcome.waitFor();
  const text = await outcome.textContent();
  assert.match(text, /vCPU 1: pending but not forwarded: the distributor is disabled \(GICD_CTLR\.EnableGrp1A = 0\)/);
  assert.match(text, /To change: the guest sets it \(writes 0x12 to GICD_CTLR\)/);
  assert.match(text, /not hardware: GICD_CTLR\.nASSGIreq = 0/);
  // An SPI's line too: where it stops.
  await page.getByRole('button', { name: 'Set SPI line' }).click();
  await outcome.getByText(/^INTID 32: pending but not forwarded: the distributor is disabled/).waitFor();
});

test('Look up a register: GICD_TYPER2 with its words explained on hover', async () => {
  await fresh();
  await landing().getByRole('button', { name: 'Look up GICD_TYPER2' }).click();
  await page.getByRole('heading', { level: 2, name: 'GICD_TYPER2' }).waitFor();
  assert.equal(await landing().count(), 0, 'the landing gives way to the register');
  // nASSGIcap in the field table is a term with its definition.
  const term = page.locator('table.fields abbr.term', { hasText: /^nASSGIcap$/ }).first();
  assert.match(await term.getAttribute('title'), /GICD_TYPER2 bit 8/);
  // An era written "5.7+" says what it means.
  const era = page.locator('abbr.term', { hasText: /^\d+\.\d+\+$/ }).first();
  assert.match(await era.getAttribute('title'), /^Kernels \d+\.\d+ and later/);
  await term.hover();
});

test('a #reg/ link opens a register; the tester starts at its value; the bits say their fields', async () => {
  await fresh();
  await page.goto(`${BASE_URL}#reg/GICD_TYPER2`);
  await page.getByRole('heading', { level: 2, name: 'GICD_TYPER2' }).waitFor();
  // v4.1@6.17 offers vSGIs: the tester starts at 0x100, nASSGIcap decoded.
  assert.equal(await page.locator('#register-value').inputValue(), '0x100');
  await page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'nASSGIcap' }) })
    .locator('td.value').filter({ hasText: /^1$/ }).waitFor();
  assert.match(await page.locator('.bit-row').nth(2).locator('.bit-fields').textContent(), /nASSGIcap/);
  assert.equal(await page.locator('.reg-link a').getAttribute('href'), '#reg/GICD_TYPER2');
  // An instance by name, followed from the address bar in the same tab.
  await page.evaluate(() => { location.hash = '#reg/GICD_IROUTER287'; });
  await page.getByText('Decoding as GICD_IROUTER287').waitFor();
  // A name that does not exist says so and suggests the closest.
  await page.evaluate(() => { location.hash = '#reg/GICD_CTRL'; });
  await page.getByRole('alert').filter({ hasText: 'did you mean GICD_CTLR?' }).waitFor();
});

test('a #rule/ link to an ITS rule opens the Rules view on that rule', async () => {
  await fresh();
  // rules::by_id accepts the ITS's rules, so the Rules view must list them too.
  await page.goto(`${BASE_URL}#rule/its.cmd.sync`);
  assert.equal(await page.getByRole('tab', { name: 'Rules' }).getAttribute('aria-selected'), 'true');
  const marked = page.locator('.rules-view li[aria-current=true]');
  await marked.waitFor();
  assert.match(await marked.locator('.rule-id').textContent(), /^its\.cmd\.sync$/);
  assert.match(await page.locator('.rules-view .where').textContent(), /vGIC and its emulated ITS/);
});

test('search: instance names, words in descriptions, several words, near misses', async () => {
  await fresh();
  const search = page.getByLabel('Search registers');
  const first = () => page.getByRole('option').first().locator('.name').textContent();
  await search.fill('IROUTER287');
  assert.equal(await first(), 'GICD_IROUTER<n>');
  await page.getByRole('option').first().click();
  await page.getByText('Decoding as GICD_IROUTER287').waitFor();
  await search.fill('vSGI');
  await page.getByRole('option', { name: /^GICD_CTLR/ }).waitFor();
  await search.fill('GICD_CTRL');
  await page.getByText('0 registers').waitFor();
  await page.getByRole('button', { name: 'GICD_CTLR' }).click();
  assert.equal(await search.inputValue(), 'GICD_CTLR');
  await page.getByRole('option', { name: /^GICD_CTLR/ }).waitFor();
});

test('greyed registers say why they are greyed', async () => {
  await fresh();
  await page.getByLabel('Search registers').fill('GICD_SETSPI_SR');
  const option = page.getByRole('option', { name: /^GICD_SETSPI_SR/ });
  assert.match(await option.getAttribute('class'), /not-emulated/);
  assert.match(await option.getAttribute('title'), /KVM does not emulate it/);
  await option.click();
  await page.locator('.not-emulated-why').getByText(/the guest reads 0/).waitFor();
  assert.match(await page.locator('.list-legend').textContent(), /^Greyed: /);
});

test('a guest poke before Init: the failed KVM_RUN, its rules linked to the kernel, and the way back', async () => {
  await fresh();
  await page.getByLabel('Search registers').fill('GICD_CTLR');
  await page.getByRole('option', { name: /^GICD_CTLR/ }).first().click();
  await page.getByRole('tab', { name: 'Poke', exact: true }).click();
  await page.getByRole('button', { name: 'Read', exact: true }).click();
  const result = page.locator('.poke-result');
  await result.locator('.errno').filter({ hasText: '-EBUSY' }).waitFor();
  assert.deepEqual(await result.locator('.rule-id').allTextContents(), [
    'lifecycle.run_before_init',
    'lifecycle.vm_dead',
  ]);
  // Each kernel file links to the kernel's source at this host's release, in a new tab.
  const link = result.locator('.rule-source a').first();
  assert.equal(
    await link.getAttribute('href'),
    'https://elixir.bootlin.com/linux/v6.17/source/arch/arm64/kvm/vgic/vgic-v3.c',
  );
  assert.equal(await link.getAttribute('target'), '_blank');
  assert.match(await link.getAttribute('rel'), /noopener/);
  // KVM_RUN in the explanation is a term.
  assert.match(
    await result.locator('.explain abbr.term', { hasText: /^KVM_RUN$/ }).first().getAttribute('title'),
    /the guest executes only inside it/,
  );
  // A rule id opens that rule among all the rules.
  await result.getByRole('link', { name: 'lifecycle.vm_dead' }).click();
  assert.equal(await page.getByRole('tab', { name: 'Rules' }).getAttribute('aria-selected'), 'true');
  const marked = page.locator('.rules-view li[aria-current=true]');
  assert.match(await marked.locator('.rule-id').textContent(), /^lifecycle\.vm_dead$/);
  assert.match(await marked.locator('.rule-text').textContent(), /marks the VM dead/);
  await page.getByRole('tab', { name: 'Poke', exact: true }).click();
  // Recover, Init, then a guest read is the first KVM_RUN and succeeds.
  await result.getByRole('button', { name: 'Undo it (back to a fresh VM)' }).click();
  await page.getByRole('button', { name: 'Init (KVM_DEV_ARM_VGIC_CTRL_INIT)' }).click();
  await page.getByRole('group', { name: /^VM: initialised, not yet run/ }).waitFor();
  await page.getByRole('button', { name: 'Read', exact: true }).click();
  await page.locator('#poke-output').waitFor();
  await page.getByRole('group', { name: 'VM: running' }).waitFor();
});

test('before 6.12 a guest poke before Init leaves the VM usable', async () => {
  await fresh();
  await page.getByRole('tab', { name: 'Host and VM' }).click();
  await page.getByLabel('Kernel version').fill('5.10');
  await page.getByText('5.10 → rules of').first().waitFor();
  await page.getByRole('tab', { name: 'Poke', exact: true }).click();
  await page.getByLabel('Search registers').fill('GICD_CTLR');
  await page.getByRole('option', { name: /^GICD_CTLR/ }).first().click();
  await page.getByRole('button', { name: 'Read', exact: true }).click();
  const explain = page.locator('.poke-result .explain');
  await explain.getByText(/leaves the VM usable/).waitFor();
  assert.equal(await page.locator('.poke-result .recover').count(), 0);
  await page.getByRole('group', { name: 'VM: created (not initialised)' }).waitFor();
});

test('the lesson Your first MSI: an MSI through the ITS reaches the guest as LPI 8200', async () => {
  await fresh();
  await page.getByRole('tab', { name: 'Lessons', exact: true }).click();
  await page
    .getByRole('navigation', { name: 'Lessons' })
    .getByRole('button', { name: 'Your first MSI', exact: true })
    .click();
  // Step forward to the acknowledge (step 25 of the lesson is ICC_IAR1_EL1 on vCPU 1).
  for (let i = 0; i < 25; i++) await page.getByRole('button', { name: 'Forward' }).click();
  await page.getByText('Step 25 of').waitFor();
  const step = await page.locator('.lesson-step').textContent();
  assert.match(step, /acknowledges: ICC_IAR1_EL1 reads LPI 8200/);
  assert.match(step, /8200/);
});
