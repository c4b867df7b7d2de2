// Documentation embeds, as a documentation writer uses them (issue 13): the Embed
// button's code (a descriptive title, the height the view needs, the script that
// sizes the frame to the height the embed reports), frames that fit with the
// "Open in gicx" footer always in sight, read-only embeds with nothing live, and
// an `#embed/…` link typed into the address bar switching to embed mode. On the
// built page (dist/); scripts/test serves dist/ and sets GICX_URL.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keepLocal, launchProfile } from './chromium.mjs';

const BASE_URL = process.env.GICX_URL ?? 'http://127.0.0.1:8080/';

let profile;
let context;
let page;
const pageErrors = [];

before(async () => {
  profile = await mkdtemp(join(tmpdir(), 'gicx-e2e-embeds-'));
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

async function fresh() {
  // Cleared from a page of the same origin where the app is not running (its
  // frames are embeds, which keep nothing): the app cannot write its state back.
  await page.goto(`${BASE_URL}embed-demo.html`);
  await page.evaluate(() => localStorage.clear());
  await page.goto(BASE_URL);
  await page.getByRole('listbox', { name: 'Registers' }).waitFor();
}

/** The Embed button's code for the current state (read-only). */
async function embedCode() {
  await page.getByRole('button', { name: 'Embed', exact: true }).click();
  const code = page.getByLabel('Embed code');
  await code.waitFor();
  // The link follows the state a moment later (the browser compresses it).
  await page.waitForFunction(() => document.querySelector('#embed-snippet').value.includes('#embed/v1.'));
  return code.inputValue();
}

/** How the frame `selector` of `host` looks from inside: its size, the footer, scrolling. */
async function inside(host, selector) {
  const frame = await (await host.$(selector)).contentFrame();
  await frame.locator('.embed-footer').waitFor();
  return frame.evaluate(() => {
    const footer = document.querySelector('.embed-footer').getBoundingClientRect();
    const body = document.querySelector('.embed-body');
    return {
      height: innerHeight,
      width: innerWidth,
      scrollWidth: document.documentElement.scrollWidth,
      footerBottom: footer.bottom,
      footerTop: footer.top,
      scrolls: body.scrollHeight > body.clientHeight + 1,
    };
  });
}

test('the embed code of a register fits: title, height, and the script sizes the frame', async () => {
  await fresh();
  await page.getByRole('searchbox').fill('TYPER2');
  await page.getByRole('option', { name: /GICD_TYPER2/ }).click();
  const code = await embedCode();
  assert.match(code, /title="gicx: GICD_TYPER2 on a v4\.1@6\.17 host"/);
  const height = Number(code.match(/height="(\d+)"/)[1]);
  assert.match(code, /<script>addEventListener\("message"/);

  // Without the script: the frame is the suggested height and the whole view fits,
  // footer included, at a documentation column's 700 px.
  const doc = await context.newPage();
  await doc.setViewportSize({ width: 760, height: 900 });
  await doc.goto(`${BASE_URL}embed-demo.html`); // any page of this origin
  await doc.setContent(`<!doctype html><body style="margin:0;width:700px">${code.split('\n')[0]}</body>`);
  const plain = await inside(doc, 'iframe');
  assert.equal(plain.height, height);
  assert.equal(plain.scrolls, false, `the register view fits ${height} px`);
  assert.ok(plain.footerBottom <= plain.height, 'the footer is in sight');
  assert.equal(plain.scrollWidth, plain.width, 'nothing wider than the frame');

  // With the script: the frame takes the height the embed reports, which shows
  // everything without scrolling.
  await doc.setContent(`<!doctype html><body style="margin:0;width:700px">${code}</body>`);
  await doc.waitForFunction(() => document.querySelector('iframe').style.height !== '');
  const sized = await inside(doc, 'iframe');
  assert.equal(sized.scrolls, false);
  assert.ok(sized.footerBottom <= sized.height);
  await doc.close();
});

test('a long view scrolls inside a small frame with the footer in sight', async () => {
  const doc = await context.newPage();
  await doc.goto(`${BASE_URL}embed-demo.html`);
  const src = await doc.locator('#lesson-embed').getAttribute('src');
  await doc.setContent(
    `<!doctype html><body style="margin:0"><iframe src="${new URL(src, BASE_URL)}" width="700" height="480" style="border:0"></iframe></body>`,
  );
  const small = await inside(doc, 'iframe');
  assert.equal(small.height, 480);
  assert.equal(small.scrolls, true, 'the eleven steps do not fit 480 px');
  assert.ok(small.footerBottom <= small.height, 'the footer is in sight anyway');
  const frame = doc.frameLocator('iframe');
  assert.ok(await frame.getByRole('link', { name: 'Open in gicx' }).isVisible());
  await doc.close();
});

test('the embed demo: every frame sized by its report, nothing scrolls or overflows', async () => {
  const doc = await context.newPage();
  await doc.setViewportSize({ width: 800, height: 900 });
  await doc.goto(`${BASE_URL}embed-demo.html`);
  for (const id of ['#register-embed', '#lesson-embed', '#verdict-embed']) {
    // Each view reports again as its content arrives (the verdict is computed after
    // the first paint): wait until the frame shows everything without scrolling.
    const frame = await (await doc.$(id)).contentFrame();
    await frame.locator('.embed-footer').waitFor();
    await frame.waitForFunction(() => {
      const body = document.querySelector('.embed-body');
      return !document.querySelector('[aria-busy=true]') && body.scrollHeight <= body.clientHeight + 1;
    });
    const m = await inside(doc, id);
    assert.equal(m.scrolls, false, id);
    assert.ok(m.footerBottom <= m.height, id);
    assert.equal(m.scrollWidth, m.width, `${id} is not wider than its frame`);
  }
  await doc.close();
});

test('read-only embeds have nothing live', async () => {
  const doc = await context.newPage();
  await doc.goto(`${BASE_URL}embed-demo.html`);
  for (const id of ['#register-embed', '#verdict-embed']) {
    const frame = await (await doc.$(id)).contentFrame();
    await frame.locator('.embed-footer').waitFor();
    await frame.locator('.embed-content h2, .embed-content .verdict').first().waitFor();
    const live = await frame.evaluate(() =>
      [...document.querySelectorAll('.embed-content button, .embed-content select, .embed-content input, .embed-content textarea')]
        .filter((e) => !e.disabled && !e.readOnly)
        .map((e) => e.outerHTML.slice(0, 80)),
    );
    assert.deepEqual(live, [], id);
  }
  // A read-only Matrix link without a cell: the selects are there, but disabled.
  await fresh();
  await page.getByRole('tab', { name: 'Matrix', exact: true }).click();
  await page.locator('.matrix-table table').first().waitFor();
  const link = await page.evaluate(() => location.hash.slice(1));
  await doc.goto(`${BASE_URL}#embed/${link}`);
  await doc.locator('.matrix-table table').first().waitFor();
  assert.equal(await doc.getByLabel('VMM', { exact: true }).isDisabled(), true);
  assert.equal(await doc.getByLabel('Guest profile').isDisabled(), true);
  assert.equal(await doc.getByRole('button', { name: 'Run audit' }).count(), 0);
  await doc.close();
});

test('an #embed/ link typed into the address bar switches to embed mode', async () => {
  await fresh();
  await page.getByRole('searchbox').fill('TYPER2');
  await page.getByRole('option', { name: /GICD_TYPER2/ }).click();
  await page.waitForFunction(() => location.hash.startsWith('#v1.'));
  const link = await page.evaluate(() => location.hash.slice(1));
  await page.evaluate((l) => { location.hash = `embed/${l}`; }, link);
  await page.locator('.embed-footer').waitFor();
  assert.equal(await page.getByRole('tablist').count(), 0, 'no app chrome');
  assert.equal(await page.getByLabel('Value', { exact: true }).isEditable(), false, 'read-only');
  // And back: a plain link shows the whole app again.
  await page.evaluate((l) => { location.hash = l; }, link);
  await page.getByRole('tablist').waitFor();
});
