// The ITS in the app (issue 17), on the built page (dist/) in Debian's Chromium
// driven by playwright-core, as a user walks it: open the ITS view of a VM
// without one, give it one, program it as Linux does, map a device with
// commands, send an MSI from the Delivery path, acknowledge it and follow the
// hops; the link of that state reopens it; bad input gets a clear message and
// the app stays usable. Values are compared with the CLI (`gicx run --json` on
// the scenario the page exports), not hard-coded. scripts/e2e serves dist/ and
// sets GICX_URL.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { keepLocal, launchProfile, freshStart } from './chromium.mjs';
import { gicx } from './cli.mjs';

const BASE_URL = process.env.GICX_URL ?? 'http://127.0.0.1:8080/';
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const SCREENSHOTS = process.env.GICX_SCREENSHOTS ?? join(REPO, 'target', 'screenshots');

let profile;
let work;
let context;
let page;
const pageErrors = [];

before(async () => {
  profile = await mkdtemp(join(tmpdir(), 'gicx-e2e-its-'));
  work = await mkdtemp(join(tmpdir(), 'gicx-e2e-its-files-'));
  await mkdir(SCREENSHOTS, { recursive: true });
  context = await launchProfile(profile, { viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  await keepLocal(context);
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (error) => pageErrors.push(error));
});

after(async () => {
  assert.deepEqual(pageErrors, []);
  await context?.close();
  for (const dir of [profile, work]) if (dir) await rm(dir, { recursive: true, force: true });
});

const show = (name, p = page) => p.getByRole('tab', { name, exact: true }).click();
const alert = (p = page) => p.locator('section.its p.error[role=alert], section.delivery p.error[role=alert]');

/** Queue one ITS command with the form's fields. */
async function queue(cmd, fields) {
  await page.locator('#its-cmd').selectOption({ label: cmd });
  for (const [name, value] of Object.entries(fields)) await page.locator(`#its-${name}`).fill(value);
  await page.getByRole('button', { name: 'Queue command' }).click();
}

/** The session as the page exports it (Log → Export scenario). */
async function exported(name) {
  await show('Log');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Export scenario' }).click(),
  ]);
  const file = join(work, name);
  await download.saveAs(file);
  return { file, scenario: JSON.parse(await readFile(file, 'utf8')) };
}

/** `gicx run --json` on a scenario: its step reports. */
async function cliReports(scenario, name) {
  const file = join(work, name);
  await writeFile(file, JSON.stringify(scenario));
  // 64-bit values (GITS_BASER<n>) exceed a double's 53 bits: read them as
  // strings and compare as BigInt.
  const text = gicx(['run', file, '--json']).replace(/("value": ?)(\d{16,})/g, '$1"$2"');
  const [run] = JSON.parse(text);
  return run.report.steps;
}

let linked;

test('a VM without an ITS says so and gets one; programmed as Linux does, its registers match the CLI', async () => {
  await freshStart(page, BASE_URL);
  await show('ITS');
  const empty = page.locator('section.its .empty');
  await empty.getByText('This VM has no ITS').waitFor();
  assert.match(await empty.textContent(), /KVM_SIGNAL_MSI: -ENODEV/);
  await page.getByRole('button', { name: 'Give the VM an ITS' }).click();
  await page.getByRole('heading', { level: 3, name: 'Registers (as the guest reads them)' }).waitFor();
  await page.getByText('The ITS is disabled (GITS_CTLR.Enabled = 0)').waitFor();
  await page.getByRole('button', { name: 'Program as Linux does' }).click();
  await page.getByText('The ITS is disabled (GITS_CTLR.Enabled = 0)').waitFor({ state: 'detached' });

  // Every register the page decodes, read back by the CLI after the same steps.
  const { scenario } = await exported('programmed.json');
  assert.equal(scenario.vm.its, true);
  const names = [];
  const values = [];
  await show('ITS');
  for (const row of await page.locator('table.its-regs tbody tr').all()) {
    names.push(await row.locator('th').textContent());
    values.push(await row.locator('td').first().textContent());
  }
  assert.ok(names.length >= 9, `${names.length} registers`);
  const reads = names.map((reg) => ({ op: 'guest_read', reg, width: reg === 'GITS_CTLR' || reg === 'GITS_IIDR' ? 32 : 64 }));
  const reports = await cliReports({ ...scenario, steps: [...scenario.steps, ...reads] }, 'registers.json');
  const cli = reports.slice(-reads.length).map((r) => '0x' + BigInt(r.outcome.value).toString(16));
  assert.deepEqual(values, cli);
  assert.equal(Number(values[0]) & 1, 1, 'GITS_CTLR.Enabled');
});

test('commands map a device; an MSI from the Delivery path reaches vCPU 1, is acknowledged, hops as the CLI traces them', async () => {
  await show('ITS');
  // The LPI's property byte (the form's defaults: 0x50800008 = 0xa1, priority 0xa0, enabled).
  await page.getByRole('button', { name: 'Write guest memory' }).click();
  await queue('MAPD', { device: '3', eventid_bits: '4', itt_addr: '0x50300000' });
  await queue('MAPC', { collection: '0', target: '1' });
  await queue('MAPTI', { device: '3', event: '2', intid: '8200', collection: '0' });
  assert.equal(await alert().count(), 0);
  const route = page.locator('table.its-routes-table tbody tr');
  await route.first().waitFor();
  const cells = await route.first().locator('td').allTextContents();
  assert.match(cells[0], /^0x3 \(4 event bits, ITT 0x50300000\)/);
  assert.deepEqual(cells.slice(1, 4), ['2', '8200', '0']);
  assert.equal(cells[4], 'vCPU 1, LPIs enabled');
  assert.match(cells[6], /^0xa1: priority 0xa0, enabled/);
  const log = await page.locator('ol.its-commands > li > strong').allTextContents();
  assert.equal(log.length, 3);
  assert.match(log[2], /MAPTI device 0x3 event 2 → LPI 8200, collection 0$/);
  await page.screenshot({ path: join(SCREENSHOTS, 'its-view.png'), fullPage: true });

  await show('Delivery path');
  await page.locator('#msi-device').fill('3');
  await page.locator('#msi-event').fill('2');
  await page.getByRole('button', { name: 'Send MSI' }).click();
  const path = page.locator('section.delivery p.path');
  await path.getByText("Software path (KVM's emulated ITS)").waitFor();
  const outcome = await page.locator('section.outcome').textContent();
  assert.match(outcome, /Translated: device 0x3 event 2 → LPI 8200 \(ITT entry\) → collection 0 → vCPU 1's redistributor/);
  // In the order they happen: the VMM's ioctl, the ITS's translation, the
  // redistributor, KVM's ap_list and list register, the CPU interface.
  const layers = await page.locator('ol.hops > li.layer > strong').allTextContents();
  assert.deepEqual(layers, ['KVM', 'ITS', 'redistributor', 'KVM', 'CPU interface']);
  const pageHops = await page.locator('section.delivery details ol li').allTextContents();
  await page.screenshot({ path: join(SCREENSHOTS, 'delivery-msi.png'), fullPage: true });

  await page.locator('#ack-vcpu').selectOption('1');
  await page.getByRole('button', { name: 'Acknowledge' }).click();
  await path.getByText('CPU interface').waitFor();
  const acked = await path.textContent();

  // The CLI, on the scenario the page exports, agrees step by step.
  const { scenario } = await exported('msi.json');
  const reports = await cliReports(scenario, 'msi-run.json');
  const msi = reports.findLast((r) => r.op === 'msi');
  assert.equal(msi.outcome.value, 1, 'delivered');
  assert.equal(pageHops.length, msi.trace.length);
  msi.trace.forEach((h, i) => assert.ok(pageHops[i].includes(h.what), `${pageHops[i]} / ${h.what}`));
  const ack = reports.at(-1);
  assert.equal(ack.op, 'ack');
  assert.ok(acked.includes(`= ${ack.outcome.value}`), `${acked} / ${ack.outcome.value}`);
  assert.equal(ack.outcome.value, scenario.steps.find((s) => s.op === 'its_command' && s.cmd === 'mapti').intid);
  await show('Delivery path');
  linked = page.url();
});

test('the link of that state reopens it: the same hops, the same mappings', async () => {
  const fragment = new URL(linked).hash;
  assert.match(fragment, /^#v1\.[A-Za-z0-9_-]+$/);
  const other = await context.newPage();
  other.on('pageerror', (error) => pageErrors.push(error));
  await other.goto(linked);
  await other.getByRole('heading', { level: 2, name: 'Delivery path' }).waitFor();
  assert.equal(new URL(other.url()).hash, fragment, 'the reopened state links to itself');
  assert.equal(
    await other.locator('section.delivery p.path').textContent(),
    await page.locator('section.delivery p.path').textContent(),
  );
  await show('ITS', other);
  await show('ITS');
  assert.deepEqual(
    await other.locator('table.its-routes-table tbody tr td').allTextContents(),
    await page.locator('table.its-routes-table tbody tr td').allTextContents(),
  );
  await other.close();
});

test('bad input gets a clear message and the app stays usable', async () => {
  await show('Delivery path');
  const send = async (device, event) => {
    await page.locator('#msi-device').fill(device);
    await page.locator('#msi-event').fill(event);
    await page.getByRole('button', { name: 'Send MSI' }).click();
  };
  const outcome = page.locator('section.outcome');
  await send('9', '2');
  await outcome.getByText(/device 0x9 is not mapped: no MAPD gave it an ITT/).waitFor();
  await send('3', '40');
  await outcome.getByText(/event 40 is beyond device 0x3's 4 event ID bits \(events 0–15\)/).waitFor();
  // The CLI says the same of both: KVM_SIGNAL_MSI returned 0.
  const { scenario } = await exported('bad.json');
  const reports = await cliReports(scenario, 'bad-run.json');
  const msis = reports.filter((r) => r.op === 'msi').slice(-2);
  assert.deepEqual(msis.map((r) => r.outcome.value), [0, 0]);
  await show('Delivery path');

  const steps = scenario.steps.length;
  await send('x', '0x100000000');
  await alert().getByText('device ID: "x" is not a number; event ID 0x100000000: KVM_SIGNAL_MSI carries 32 bits').waitFor();
  await show('ITS');
  await queue('MAPTI', { device: '3', event: 'two', intid: '8201', collection: '0' });
  await alert().getByText('Event ID: "two" is not a number').waitFor();
  await page.locator('#its-reg').selectOption('GITS_CBASER');
  await page.locator('#its-reg-value').fill('zz');
  await page.getByRole('button', { name: 'Write register' }).click();
  await alert().getByText('value: "zz" is not a number').waitFor();
  const { scenario: after } = await exported('after-bad.json');
  assert.equal(after.steps.length, steps, 'nothing was logged');

  // Still usable: a good MSI goes through.
  await show('Delivery path');
  await send('3', '2');
  await page.locator('section.outcome').getByText(/Translated: device 0x3 event 2 → LPI 8200/).waitFor();
  assert.equal(await alert().count(), 0);
});

test('saving the tables shows them decoded from guest memory, the bytes the CLI reads there', async () => {
  await show('ITS');
  await page.getByRole('button', { name: 'Save the tables (KVM_DEV_ARM_ITS_SAVE_TABLES)' }).click();
  const dte = page.locator('ul.its-dtes > li').first();
  await dte.waitFor();
  const text = await dte.textContent();
  const [, gpa, raw] = text.match(/^device 0x3 @ (0x[0-9a-f]+) = (0x[0-9a-f]+): ITT 0x50300000, 4 event bits/);
  const ite = await dte.locator('ul li').first().textContent();
  const [, iteGpa, iteRaw] = ite.match(/^event 2 @ (0x[0-9a-f]+) = (0x[0-9a-f]+): LPI 8200, collection 0/);
  await page.screenshot({ path: join(SCREENSHOTS, 'its-tables.png'), fullPage: true });
  const { scenario } = await exported('saved.json');
  const reads = [gpa, iteGpa].map((addr) => ({ op: 'mem_read', addr, width: 64 }));
  const reports = await cliReports({ ...scenario, steps: [...scenario.steps, ...reads] }, 'saved-run.json');
  const cli = reports.slice(-2).map((r) => BigInt(r.outcome.value));
  assert.deepEqual(cli, [BigInt(raw), BigInt(iteRaw)]);
});
