// The Registers view of the built page (dist/), in Debian's Chromium driven by
// playwright-core. scripts/e2e serves dist/ and sets GICX_URL.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { keepLocal, launchProfile } from './chromium.mjs';
import { gicxJson, pattern } from './cli.mjs';

const BASE_URL = process.env.GICX_URL ?? 'http://127.0.0.1:8080/';
const REPO = fileURLToPath(new URL('../../', import.meta.url));
// Under target/ (scripts/screenshots copies them to docs/screenshots/).
const SCREENSHOTS = process.env.GICX_SCREENSHOTS ?? join(REPO, 'target', 'screenshots');

let profile;
let context;
let page;
/** Every URL the browser asked for, to prove the page stays on its own origin. */
const requested = [];
const pageErrors = [];

before(async () => {
  profile = await mkdtemp(join(tmpdir(), 'gicx-e2e-'));
  context = await launchProfile(profile, {
    viewport: { width: 1280, height: 800 },
  });
  context.on('request', (request) => requested.push(request.url()));
  // Anything off this machine is refused as well as reported below.
  await keepLocal(context);
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (error) => pageErrors.push(error));
  await page.goto(BASE_URL);
  await page.getByRole('listbox', { name: 'Registers' }).waitFor();
});

after(async () => {
  await context?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
});

/** The Value cell of the fields table row whose header is `field`. */
function decoded(field) {
  return page
    .getByRole('row')
    .filter({ has: page.getByRole('rowheader', { name: field, exact: true }) })
    .locator('td.value');
}

test('the page has its title and lists the catalogue', async () => {
  assert.equal(await page.title(), 'gicx — the GIC explorer');
  await page.getByRole('heading', { level: 1, name: 'gicx — the GIC explorer' }).waitFor();
  // The whole catalogue, in its order, as `gicx regs` lists it: name, frame, offset.
  const regs = gicxJson(['regs']);
  assert.ok(regs.length > 0);
  const where = (r) => `${r.frame} 0x${r.offset.toString(16).padStart(4, '0')}`;
  assert.deepEqual(await page.locator('[role=option] .name').allTextContents(), regs.map(pattern));
  assert.deepEqual(await page.locator('[role=option] .where').allTextContents(), regs.map(where));
  // Registers KVM does not emulate are greyed, and only those.
  const greyed = await page.locator('[role=option].not-emulated .name').allTextContents();
  assert.deepEqual(greyed, regs.filter((r) => r.handler === 'Unimplemented').map(pattern));
});

test('searching TYPER2 and testing 0x100 decodes nASSGIcap = 1', async () => {
  await page.getByLabel('Search registers').fill('TYPER2');
  const option = page.getByRole('option', { name: /GICD_TYPER2/ });
  await option.click();
  assert.equal(await option.getAttribute('aria-selected'), 'true');
  await page.getByRole('heading', { level: 2, name: 'GICD_TYPER2' }).waitFor();

  await page.getByLabel('Value', { exact: true }).fill('0x100');
  const cap = decoded('nASSGIcap');
  await cap.filter({ hasText: /^1$/ }).waitFor();
  assert.equal(await cap.textContent(), '1');
  assert.equal(await decoded('VID').textContent(), '0');

  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, 'registers.png') });
});

test('the keyboard moves through the list', async () => {
  await page.getByLabel('Search registers').fill('GICD_TYPER');
  const list = page.getByRole('listbox', { name: 'Registers' });
  await list.focus();
  await list.press('Home');
  await page.getByRole('heading', { level: 2, name: 'GICD_TYPER', exact: true }).waitFor();
  await list.press('ArrowDown');
  await page.getByRole('heading', { level: 2, name: 'GICD_TYPER2' }).waitFor();
});

test('no request left 127.0.0.1 and the page raised no error', () => {
  assert.ok(requested.length > 0);
  const foreign = requested.filter((url) => {
    const { protocol, hostname } = new URL(url);
    return protocol !== 'data:' && hostname !== '127.0.0.1';
  });
  assert.deepEqual(foreign, []);
  assert.deepEqual(pageErrors, []);
});
