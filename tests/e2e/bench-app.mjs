// The app's speed in real headless Chromium (playwright-core, Debian's /usr/bin/chromium),
// for scripts/bench: time from navigation to the first interactive render, and the
// latency of interactions (a poke, ...), as medians of repeated runs. Not a test (its
// name does not match node --test's patterns): timings are printed, never asserted.
//
//   GICX_URL=http://127.0.0.1:PORT/ node bench-app.mjs [--smoke] [--runs N]
//
// Prints one JSON object per line: {"metric", "unit", "median", "min", "max", "samples", ...}.
//
// Each interaction is { name, setup(page), act(page, i) }: setup brings the page to where
// the interaction starts (untimed); act returns, for run i, the element to click and
// the element whose subtree changes when the app has re-rendered. The click happens inside the page;
// the time is performance.now() from just before the click to the MutationObserver
// callback that sees the re-rendered subtree ("dom"), and to the end of the frame that
// shows it ("frame": a requestAnimationFrame callback runs just before that frame's
// style, layout and paint, and a message posted from it is delivered once they are
// done; two nested requestAnimationFrame callbacks would land a whole frame later). To time
// another view (a matrix cell, a lesson step), add an entry to INTERACTIONS.
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH, keepLocal } from './chromium.mjs';

const BASE_URL = process.env.GICX_URL ?? 'http://127.0.0.1:8080/';
const args = process.argv.slice(2);
const SMOKE = args.includes('--smoke');
const runsAt = args.indexOf('--runs');
const RUNS = SMOKE ? 1 : runsAt >= 0 ? Number(args[runsAt + 1]) : 15;
const LOADS = SMOKE ? 1 : Math.max(5, Math.round(RUNS / 2));

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const n = s.length;
  const median = n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  const round = (x) => Math.round(x * 100) / 100;
  return { median: round(median), min: round(s[0]), max: round(s[n - 1]), samples: samples.map(round) };
}

function emit(metric, unit, samples, extra = {}) {
  const ok = samples.filter(Number.isFinite);
  const failed = samples.length - ok.length;
  if (!ok.length) throw new Error(`${metric}: no run re-rendered anything`);
  console.log(JSON.stringify({ metric, unit, ...stats(ok), ...(failed ? { no_render: failed } : {}), ...extra }));
}

async function newContext(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
  // The page loads only its own files: anything off this machine is refused.
  await keepLocal(context);
  return context;
}

// Installed before the page's own scripts: records when the register list first has
// options (the app has rendered and its handlers are attached), and the frame after.
function watchFirstRender() {
  const done = () => {
    const list = document.querySelector('[role="listbox"][aria-label="Registers"]');
    return list && list.querySelector('[role="option"]');
  };
  // The end of the frame that paints the current DOM (see the header comment).
  const afterNextPaint = (then) =>
    requestAnimationFrame(() => {
      const channel = new MessageChannel();
      channel.port1.onmessage = then;
      channel.port2.postMessage(null);
    });
  const seen = () => {
    window.__gicxFirstRender = performance.now();
    afterNextPaint(() => {
      window.__gicxFirstFrame = performance.now();
    });
  };
  const observer = new MutationObserver(() => {
    if (done()) {
      observer.disconnect();
      seen();
    }
  });
  observer.observe(document, { childList: true, subtree: true });
}

async function firstRender(browser) {
  const render = [];
  const frame = [];
  const wasm = [];
  for (let i = 0; i < LOADS; i++) {
    const context = await newContext(browser);
    const page = await context.newPage();
    await page.addInitScript(watchFirstRender);
    await page.goto(BASE_URL);
    await page.waitForFunction(() => window.__gicxFirstFrame !== undefined, null, { timeout: 30_000 });
    const t = await page.evaluate(() => ({
      render: window.__gicxFirstRender,
      frame: window.__gicxFirstFrame,
      wasm: performance
        .getEntriesByType('resource')
        .filter((e) => e.name.endsWith('.wasm'))
        .map((e) => e.responseEnd)[0],
    }));
    render.push(t.render);
    frame.push(t.frame);
    if (t.wasm !== undefined) wasm.push(t.wasm);
    await context.close();
  }
  emit('first_render', 'ms', render, {
    what: 'navigation start to the register list rendered with its options (fresh context, empty cache)',
  });
  emit('first_render_frame', 'ms', frame, { what: 'navigation start to the end of the frame that paints the first render' });
  if (wasm.length) emit('wasm_loaded', 'ms', wasm, { what: 'navigation start to the end of the .wasm response' });
}

/** Click `target` inside the page and time the re-render of `watched`. */
async function timeClick(page, target, watched, until) {
  const clickHandle = await target.elementHandle();
  const watchHandle = await watched.elementHandle();
  return page.evaluate(
    ([button, root, until]) =>
      new Promise((resolve) => {
        let dom;
        let first;
        const observer = new MutationObserver(() => {
          if (dom !== undefined) return;
          if (first === undefined) first = performance.now() - t0;
          // With `until`: the time the selector first matches (a result that takes a while).
          if (until && !root.querySelector(until)) return;
          dom = performance.now() - t0;
          observer.disconnect();
          // The end of the frame that paints it (see the header comment).
          requestAnimationFrame(() => {
            const channel = new MessageChannel();
            channel.port1.onmessage = () => resolve({ dom, first, frame: performance.now() - t0 });
            channel.port2.postMessage(null);
          });
        });
        observer.observe(root, { childList: true, subtree: true, characterData: true, attributes: true });
        const t0 = performance.now();
        // A click that changes nothing would never resolve: give up after 10 s.
        setTimeout(() => {
          if (dom === undefined) {
            observer.disconnect();
            resolve({ dom: NaN, first: NaN, frame: NaN });
          }
        }, until ? 60_000 : 10_000);
        button.click();
      }),
    [clickHandle, watchHandle, until ?? null],
  );
}

async function selectRegister(page, name) {
  await page.getByLabel('Search registers').fill(name);
  await page.getByRole('option', { name: new RegExp(`^${name}`) }).first().click();
  // Show the whole list again: the poke is timed with every register listed.
  await page.getByLabel('Search registers').fill('');
}

async function show(page, view) {
  await page.getByRole('tab', { name: view, exact: true }).click();
}

async function initAndRun(page) {
  await page.getByRole('button', { name: 'Init (KVM_DEV_ARM_VGIC_CTRL_INIT)' }).click();
  await page.getByRole('button', { name: 'Run (KVM_RUN)' }).click();
  await page.locator('.poke-result').getByText('KVM_RUN: ok').waitFor();
}

const INTERACTIONS = [
  {
    name: 'poke_read',
    what: 'a guest read of GICD_CTLR (Poke view), click to re-rendered result',
    async setup(page) {
      await selectRegister(page, 'GICD_CTLR');
      await show(page, 'Poke');
      await initAndRun(page);
    },
    act: (page) => ({
      click: page.getByRole('button', { name: 'Read', exact: true }),
      watch: page.locator('.poke-result'),
    }),
  },
  {
    name: 'poke_write',
    what: 'a guest write of 0x2 (EnableGrp1) to GICD_CTLR (Poke view), click to re-rendered result',
    async setup(page) {
      await page.getByLabel('Value to write').fill('0x2');
    },
    act: (page) => ({
      click: page.getByRole('button', { name: 'Write', exact: true }),
      watch: page.locator('.poke-result'),
    }),
  },
  {
    name: 'log_step',
    what: 'stepping through the Log (as a lesson does): "Go here" on step 2, then on the last step, alternately; every move replays the VM',
    async setup(page) {
      await show(page, 'Log');
    },
    act: (page, i) => {
      const seek = page.getByRole('button', { name: /^Go to after step \d+$/ });
      return { click: i % 2 ? seek.last() : seek.nth(1), watch: page.locator('main') };
    },
  },
  {
    name: 'lesson_step',
    what: 'a lesson step (Lessons view, first lesson): Forward, then Back, alternately',
    async setup(page) {
      await show(page, 'Lessons');
      await page.getByRole('navigation', { name: 'Lessons' }).getByRole('button').first().click();
      await page.getByRole('button', { name: 'Forward', exact: true }).waitFor();
    },
    act: (page, i) => ({
      click: page.getByRole('button', { name: i % 2 ? 'Back' : 'Forward', exact: true }),
      watch: page.locator('section.lessons'),
    }),
  },
  {
    name: 'matrix_tab',
    what: 'the Matrix tab (first visit): click to both 35 × 35 matrices on screen, computed in a task after the tab is painted',
    runs: 1,
    warmup: false,
    async setup() {},
    act: (page) => ({
      click: page.getByRole('tab', { name: 'Matrix', exact: true }),
      watch: page.locator('main'),
      until: '.matrix-table table',
    }),
  },
  {
    name: 'matrix_cell',
    what: 'opening a matrix cell (Matrix view): its verdict with reasons, two cells alternately',
    async setup(page) {
      await show(page, 'Matrix');
      await page.getByRole('button', { name: / → .*: / }).first().waitFor({ timeout: 60_000 });
    },
    act: (page, i) => ({
      click: page.getByRole('button', { name: / → .*: / }).nth(i % 2 ? 1 : 2),
      watch: page.locator('section.matrix'),
    }),
  },
  {
    name: 'audit_in_app',
    what: '"Run audit" (Matrix view): click to the audit counts on screen, one thread in 50 ms slices with a progress bar between them, as the app ships',
    runs: 1,
    warmup: false,
    async setup(page) {
      await page.getByRole('button', { name: 'Run audit', exact: true }).waitFor();
    },
    act: (page) => ({
      click: page.getByRole('button', { name: 'Run audit', exact: true }),
      watch: page.locator('section.matrix'),
      until: 'table.audit',
    }),
  },
  // Another view: { name, what, setup(page) { ...go to it... },
  //   act: (page, i) => ({ click: page.getByRole('button', { name: ... }), watch: page.locator(...) }) },
];

async function interactions(browser) {
  const context = await newContext(browser);
  const page = await context.newPage();
  await page.goto(BASE_URL);
  await page.getByRole('listbox', { name: 'Registers' }).waitFor();
  for (const it of INTERACTIONS) {
    // A view that is not (or no longer) there is reported as skipped, not as a failure.
    try {
      await it.setup(page);
      await it.act(page, 0).click.waitFor({ timeout: 10_000 });
    } catch (e) {
      console.log(JSON.stringify({ metric: it.name, skipped: String(e.message ?? e).split('\n')[0] }));
      continue;
    }
    const list = page.getByRole('listbox', { name: 'Registers' });
    const listed = (await list.isVisible()) ? await list.getByRole('option').count() : 0;
    const dom = [];
    const frame = [];
    const firsts = [];
    // One untimed warm-up (unless the interaction says not), then the runs.
    const first = it.warmup === false ? 1 : 0;
    const runs = SMOKE ? 1 : (it.runs ?? RUNS);
    for (let i = first; i <= runs; i++) {
      const { click, watch, until } = it.act(page, i);
      const t = await timeClick(page, click, watch, until);
      if (i > 0) {
        dom.push(t.dom);
        frame.push(t.frame);
        firsts.push(t.first);
      }
    }
    emit(it.name, 'ms', dom, { what: it.what, registers_listed: listed });
    // An interaction that waits for a result (`until`) also says when the page first answered.
    if (it.act(page, 0).until) {
      emit(`${it.name}_first`, 'ms', firsts, { what: `${it.name}: click to the first change on screen (the page answering before the result)` });
    }
    emit(`${it.name}_frame`, 'ms', frame, { what: `${it.name}: click to the end of the frame that paints it` });
  }
  await context.close();
}

const browser = await chromium.launch({
  executablePath: CHROMIUM_PATH,
  headless: true,
  args: CHROMIUM_ARGS,
});
try {
  await firstRender(browser);
  await interactions(browser);
} finally {
  await browser.close();
}
