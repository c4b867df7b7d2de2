// Deployable anywhere (issue 13): dist/ served under a sub-path, as project pages
// serve it (https://example.org/gicx/), works: the app, its links and the embed
// demo; and the release build leaves gzip and brotli copies next to each asset for
// static hosts that serve precompressed files. This test serves ../../dist itself
// (node:http, 127.0.0.1, a free port), so scripts/test's GICX_URL is not used.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { keepLocal, launchProfile } from './chromium.mjs';

const DIST = fileURLToPath(new URL('../../dist/', import.meta.url));
const PREFIX = '/docs/gicx/';
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.wasm': 'application/wasm',
};

let server;
let base;
let profile;
let context;
let page;
const pageErrors = [];
const outside = [];

before(async () => {
  server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    if (!path.startsWith(PREFIX)) {
      outside.push(path);
      res.writeHead(404).end();
      return;
    }
    const rel = normalize(path.slice(PREFIX.length) || 'index.html');
    if (rel.startsWith('..')) return res.writeHead(403).end();
    try {
      const body = await readFile(join(DIST, rel.endsWith('/') ? `${rel}index.html` : rel));
      res.writeHead(200, { 'content-type': TYPES[extname(rel)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${server.address().port}${PREFIX}`;
  profile = await mkdtemp(join(tmpdir(), 'gicx-e2e-deploy-'));
  context = await launchProfile(profile, { viewport: { width: 1280, height: 860 } });
  await keepLocal(context);
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (error) => pageErrors.push(error));
});

after(async () => {
  await context?.close();
  server?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
  assert.deepEqual(pageErrors, []);
});

test('under a sub-path the app runs, its links open and the embed demo shows its frames', async () => {
  await page.goto(base);
  await page.getByRole('listbox', { name: 'Registers' }).waitFor();
  await page.getByRole('searchbox').fill('TYPER2');
  await page.getByRole('option', { name: /GICD_TYPER2/ }).click();
  await page.waitForFunction(() => location.hash.startsWith('#v1.'));
  const link = await page.evaluate(() => location.href);
  assert.ok(link.startsWith(base), link);
  const other = await context.newPage();
  await other.goto(link);
  await other.getByRole('heading', { level: 2, name: 'GICD_TYPER2' }).waitFor();
  await other.goto(`${base}embed-demo.html`);
  await other.frameLocator('#register-embed').getByRole('heading', { level: 2, name: 'GICD_TYPER2' }).waitFor();
  const open = await other.frameLocator('#register-embed').getByRole('link', { name: 'Open in gicx' }).getAttribute('href');
  assert.ok(open.startsWith(base), open);
  await other.close();
  assert.deepEqual(outside, [], 'nothing was asked for outside the sub-path');
});

test('every asset has gzip and brotli copies with the same bytes', async () => {
  const files = await readdir(DIST);
  const assets = files.filter((f) => /\.(wasm|js|css|html)$/.test(f));
  assert.ok(assets.some((f) => f.endsWith('.wasm')));
  for (const f of assets) {
    const plain = await readFile(join(DIST, f));
    assert.ok(files.includes(`${f}.gz`) && files.includes(`${f}.br`), f);
    assert.ok(gunzipSync(await readFile(join(DIST, `${f}.gz`))).equals(plain), `${f}.gz`);
    assert.ok(brotliDecompressSync(await readFile(join(DIST, `${f}.br`))).equals(plain), `${f}.br`);
  }
});
