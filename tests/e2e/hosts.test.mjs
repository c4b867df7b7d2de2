// Hosts of 2026 (issue 16) as a reviewer meets them on the built page (dist/),
// in Debian's Chromium driven by playwright-core: a stable kernel says which
// backports it carries (checked change by change against `gicx kernels`), the
// GICv5 presets say which vGIC devices KVM offers there, a migration to a GICv5
// host gives the CLI's verdict, and the 2026 lesson chapter walks to its verdict
// while the 2020 chapters offer the new hosts. scripts/e2e serves dist/ and sets
// GICX_URL.
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
const SCREENSHOTS = process.env.GICX_SCREENSHOTS ?? join(REPO, 'target', 'screenshots');

let profile;
let context;
let page;
const pageErrors = [];

before(async () => {
  profile = await mkdtemp(join(tmpdir(), 'gicx-e2e-hosts-'));
  await mkdir(SCREENSHOTS, { recursive: true });
  context = await launchProfile(profile, { viewport: { width: 1280, height: 860 } });
  await keepLocal(context);
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (error) => pageErrors.push(error));
});

after(async () => {
  await context?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
  assert.deepEqual(pageErrors, []);
});

/** A fresh start: no saved work, no link. */
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

/** The host in force, as the Host view's summary gives it in compact form. */
const compact = () => page.locator('#host-compact').textContent();

/** Type a kernel version into the Host view and wait until it is the one in force. */
async function kernel(version) {
  await page.getByLabel('Kernel version').fill(version);
  await page.waitForFunction(
    (v) => document.querySelector('#host-compact')?.textContent?.endsWith(`@${v}`),
    version,
  );
}

/** The Host view's change list: change id → [has, sentence]. */
async function changes() {
  return page.locator('#kernel-changes li[data-change]').evaluateAll((els) =>
    Object.fromEntries(
      els
        .filter((e) => e.dataset.change !== 'gicv5')
        .map((e) => [e.dataset.change, [e.classList.contains('has'), e.textContent.trim()]]),
    ),
  );
}

test('a stable kernel says which backports it carries, change by change as gicx kernels does', async () => {
  await fresh();
  await show('Host and VM');
  for (const version of ['6.12.87', '6.12.88', '6.1.192', '7.0.9', '7.3.4']) {
    await kernel(version);
    const cli = gicxJson(['kernels', '--kernel', version]);
    const expected = Object.fromEntries(
      cli.changes.map((c) => [c.id, [c.has, `${version}: ${c.has ? 'has' : 'lacks'} ${c.title} (${c.how})`]]),
    );
    assert.deepEqual(await changes(), expected, `the change list of ${version}`);
    const v5 = await page.locator('#kernel-changes li[data-change=gicv5]').textContent();
    assert.equal(
      v5.trim(),
      cli.gicv5 ?? 'no GICv5 hosts (KVM runs GICv3 guests on GICv5 hardware from 6.17)',
    );
  }
  // The IIDR revision fix reached 6.12.y at 6.12.88: the version before it lacks it.
  await kernel('6.12.87');
  let list = await changes();
  assert.equal(list['iidr-revision-restore'][0], false);
  assert.match(list['iidr-revision-restore'][1], /6\.12\.y has it from 6\.12\.88/);
  await kernel('6.12.88');
  list = await changes();
  assert.equal(list['iidr-revision-restore'][0], true);
  assert.match(list['iidr-revision-restore'][1], /backport in 6\.12\.y from 6\.12\.88/);
  await page.screenshot({ path: join(SCREENSHOTS, 'host-stable-kernel.png'), fullPage: true });
});

/** The Host view's device list: KVM device name → its line. */
async function devices() {
  return page.locator('#host-devices dt').evaluateAll((dts) =>
    Object.fromEntries(dts.map((dt) => [dt.textContent, dt.nextElementSibling.textContent])),
  );
}

test('GICv5 presets: GICv3 guests from 6.17, a native vGICv5 device from 7.1, never a GICv2', async () => {
  await fresh();
  await show('Host and VM');
  const presets = page.getByRole('group', { name: 'Presets' });
  const legacy = presets.getByRole('button', { name: 'GICv5 host (GICv3 guests) @ 6.17' });
  await legacy.click();
  await page.waitForFunction(() => document.querySelector('#host-compact')?.textContent === 'v5@6.17');
  assert.equal(await legacy.getAttribute('aria-pressed'), 'true');
  let d = await devices();
  assert.match(d.KVM_DEV_TYPE_ARM_VGIC_V3, /^yes/);
  assert.match(d.KVM_DEV_TYPE_ARM_VGIC_V2, /^no/);
  assert.match(d.KVM_DEV_TYPE_ARM_VGIC_V5, /^no/);
  // No vSGIs in hardware on a GICv5 host: the capabilities say so.
  const caps = await page.locator('dl.capabilities').textContent();
  assert.match(caps, /direct vSGIsno/);

  const native = presets.getByRole('button', { name: 'GICv5 host @ 7.1 (native vGICv5 device too)' });
  await native.click();
  await page.waitForFunction(() => document.querySelector('#host-compact')?.textContent === 'v5@7.1');
  assert.equal(await native.getAttribute('aria-pressed'), 'true');
  assert.equal(await legacy.getAttribute('aria-pressed'), 'false');
  d = await devices();
  assert.match(d.KVM_DEV_TYPE_ARM_VGIC_V3, /^yes/);
  assert.match(d.KVM_DEV_TYPE_ARM_VGIC_V5, /^yes/);
  assert.match(d.KVM_DEV_TYPE_ARM_VGIC_V2, /^no/);

  // A GICv5 host before 6.17 is not a host KVM can be: the form says why and keeps 7.1.
  await page.getByLabel('Kernel version').fill('6.16');
  await page.locator('#kernel-era.error').waitFor();
  assert.match(await page.locator('#kernel-era').textContent(), /6\.17/);
  assert.equal(await compact(), 'v5@7.1');
});

test('migrate a Linux guest from a GICv4.1 host to a GICv5 host: the verdict the CLI gives', async () => {
  await fresh();
  await show('Host and VM');
  await page.getByRole('group', { name: 'Presets' }).getByRole('button', { name: 'GICv4.1 host @ 6.17' }).click();
  await page.waitForFunction(() => document.querySelector('#host-compact')?.textContent === 'v4.1@6.17');
  const vcpus = Number(await page.getByLabel('vCPUs').inputValue());
  await show('Migrate');
  await page.getByLabel('Destination host').fill('v5@7.1');
  await page.getByLabel('VMM', { exact: true }).selectOption({ label: 'Firecracker (firecracker)' });
  await page.getByRole('button', { name: 'Migrate', exact: true }).click();
  await page.getByRole('button', { name: /^Prepare the VM as Firecracker/ }).click();
  const verdict = page.locator('.migrate .verdict');
  await verdict.waitFor();
  const cli = gicxJson([
    'migrate', '--from', 'v4.1@6.17', '--to', 'v5@7.1', '--vmm', 'firecracker',
    '--guest', 'linux', '--vcpus', String(vcpus),
  ]);
  const text = await verdict.textContent();
  assert.match(text, new RegExp(`^${cli.verdict}: v4\\.1@6\\.17 → v5@7\\.1`));
  // The GICv5 host offers no vSGIs: the reasons name GICD_TYPER2.
  assert.match(await page.locator('.verdict-detail').textContent(), /GICD_TYPER2/);
  await page.screenshot({ path: join(SCREENSHOTS, 'migrate-to-gicv5.png'), fullPage: true });
});

test('the 2026 lesson chapter walks to its verdict; the 2020 chapters offer GICv5 and stable hosts', async () => {
  await fresh();
  await show('Lessons');
  const nav = page.getByRole('navigation', { name: 'Lessons' });
  await nav.getByRole('button', { name: '2026: GICv5 hosts and stable kernels', exact: true }).click();
  let verdict = null;
  for (let i = 0; i < 40 && !verdict; i++) {
    await page.getByRole('button', { name: 'Forward' }).click();
    const v = page.locator('.lesson-step .verdict');
    if (await v.count()) verdict = await v.textContent();
  }
  assert.ok(verdict, 'the chapter reaches its migration');
  assert.match(verdict, /v4\.1@7\.0\.9 → v5@7\.1/);
  await page.screenshot({ path: join(SCREENSHOTS, 'lesson-2026.png'), fullPage: true });

  await nav.getByRole('button', { name: '2020 GICD_TYPER2 debate 2/4: rejected', exact: true }).click();
  const kernels = await page.getByLabel('Destination kernel').locator('option').allTextContents();
  for (const k of ['6.12.86', '6.12.88', '7.0.9', 'v5@6.17', 'v5@7.1']) {
    assert.ok(kernels.includes(k), `the 2020 chapter offers ${k} (offers ${kernels.join(', ')})`);
  }
  verdict = null;
  for (let i = 0; i < 40 && !verdict; i++) {
    await page.getByRole('button', { name: 'Forward' }).click();
    const v = page.locator('.lesson-step .verdict');
    if (await v.count()) verdict = await v.textContent();
  }
  await page.getByLabel('Destination kernel').selectOption({ label: 'v5@7.1' });
  await page.waitForFunction(() =>
    document.querySelector('.lesson-step .verdict')?.textContent?.includes('v5@7.1'),
  );
});
