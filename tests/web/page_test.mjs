// The web page in a real browser: Debian's chromium, driven by playwright-core,
// against web_test_server (the real API over a real index of COCO photos).
// What a user does: type a query, scroll for more, open a result, step
// through results with the keyboard, find similar pictures, go back, drop
// and choose images, read an error, watch the status bar follow indexing,
// and the same on a phone-sized screen. Screenshots go to
// $WEB_TEST_WORK/screenshots. Every wait is for a condition, with a deadline.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { chromium } from 'playwright-core';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this test through ctest (tests/web/CMakeLists.txt)`);
  return value;
};
const SERVER = env('WEB_TEST_SERVER');
const WORK = env('WEB_TEST_WORK');
const PHOTOS = env('WEB_TEST_PHOTOS');
const CHROMIUM = env('WEB_TEST_CHROMIUM');
const SHOTS = path.join(WORK, 'screenshots');
const WAIT_MS = 30_000;     // for anything the page does
const START_MS = 240_000;   // for the server to index its first photos
const QUERY = 'a dog on a beach';
const PAGE_SIZE = 30;  // what the page asks for at a time (app.js)

// ---- the server ------------------------------------------------------------

// web_test_server as a child: its stdout lines are its answers.
class Server {
  constructor(folder, token) {
    const args = [path.join(WORK, folder)].concat(token ? [token] : []);
    this.child = spawn(SERVER, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    this.lines = [];
    this.waiters = [];
    this.exited = false;
    readline.createInterface({ input: this.child.stdout }).on('line', (line) => {
      this.lines.push(line);
      this.waiters = this.waiters.filter((waiter) => !waiter());
    });
    this.child.on('exit', (code, signal) => {
      this.exited = true;
      this.exitStatus = signal || code;
      this.waiters = this.waiters.filter((waiter) => !waiter());
    });
  }

  // The first line starting with `prefix` (after `from`), within `ms`.
  line(prefix, { from = 0, ms = WAIT_MS } = {}) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`web_test_server said no "${prefix}" within ${ms} ms`)), ms);
      const check = () => {
        const found = this.lines.slice(from).find((line) => line.startsWith(prefix));
        if (found !== undefined) { clearTimeout(timer); resolve(found.slice(prefix.length).trim()); return true; }
        if (this.exited) {
          clearTimeout(timer);
          reject(new Error(`web_test_server exited (${this.exitStatus}) before saying "${prefix}"`));
          return true;
        }
        return false;
      };
      if (!check()) this.waiters.push(check);
    });
  }

  async command(text, answer) {
    const from = this.lines.length;
    this.child.stdin.write(text + '\n');
    return this.line(answer, { from });
  }

  async stop() {
    if (this.exited) return;
    this.child.stdin.end();  // it serves until its standard input closes
    const exited = once(this.child, 'exit');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), WAIT_MS);
    await exited;
    clearTimeout(timer);
  }
}

// ---- helpers ---------------------------------------------------------------

const photo = (name) => fs.readFileSync(path.join(PHOTOS, name));
const cocoPhotos = () => fs.readdirSync(PHOTOS).filter((name) => name.endsWith('.jpg')).sort();

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, name), fullPage: false });
}

const cards = (page) => page.locator('#results .card');

// Exactly `count` results: for the whole of a search, once its last page came.
async function waitForCards(page, count) {
  await page.waitForFunction((n) => document.querySelectorAll('#results .card').length === n, count,
    { timeout: WAIT_MS });
}
// The first page (or more, should the page already have asked for the next).
async function waitForFirstPage(page) {
  await page.waitForFunction((n) => document.querySelectorAll('#results .card').length >= n, PAGE_SIZE,
    { timeout: WAIT_MS });
}

// The ids and scores the grid shows, in order.
const gridResults = (page) => page.$$eval('#results .card', (links) => links.map((link) => ({
  id: link.dataset.id,
  score: Number(link.querySelector('.score').textContent),
  name: link.querySelector('.name').textContent,
  folder: link.querySelector('.folder').textContent,
})));

// Every thumbnail in view has loaded as a real picture.
async function waitForVisibleThumbnails(page) {
  await page.waitForFunction(() => {
    const images = [...document.querySelectorAll('#results .card img')].filter((img) => {
      const box = img.getBoundingClientRect();
      return box.bottom > 0 && box.top < innerHeight;
    });
    return images.length > 0 && images.every((img) => img.complete && img.naturalWidth > 0);
  }, null, { timeout: WAIT_MS });
}

const params = (page) => new URL(page.url()).searchParams;

// A drop of `file` onto the page, as the browser dispatches it.
async function dropFile(page, name, bytes, type, { keepOverlay = false } = {}) {
  await page.evaluate(({ name, base64, type, keepOverlay }) => {
    const data = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([data], name, { type }));
    const fire = (kind) => document.body.dispatchEvent(
      new DragEvent(kind, { bubbles: true, cancelable: true, dataTransfer: transfer }));
    fire('dragenter');
    fire('dragover');
    if (!keepOverlay) fire('drop');
  }, { name, base64: bytes.toString('base64'), type, keepOverlay });
}

// ---- the test ---------------------------------------------------------------

let server;
let browser;
let origin;
const foreignRequests = [];
const searchRequests = [];
const pageErrors = [];

function watch(page, own = origin) {
  page.on('request', (request) => {
    const url = request.url();
    if (url.includes('/api/search')) searchRequests.push(url);
    if (!url.startsWith(own) && !url.startsWith('data:') && !url.startsWith('blob:')) foreignRequests.push(url);
  });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) pageErrors.push(message.text());
  });
  page.setDefaultTimeout(WAIT_MS);
  return page;
}

before(async () => {
  fs.rmSync(WORK, { recursive: true, force: true });
  fs.mkdirSync(SHOTS, { recursive: true });
  server = new Server('server');
  origin = new URL(await server.line('URL', { ms: START_MS })).origin;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu'],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

test('the web page, as a user on a desktop uses it', async (t) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = watch(await context.newPage());
  await page.goto(origin + '/');

  await t.test('the status bar shows what is indexed', async () => {
    await page.locator('#status-text').filter({ hasText: '40 images indexed' }).waitFor();
    await page.locator('#status-text').filter({ hasText: '1 file failed' }).waitFor();
    assert.equal(await page.locator('#status').getAttribute('data-state'), 'idle');
    // The details name the folder and the file that failed, with its reason.
    await page.locator('#status-text').filter({ hasText: /^Up to date · 40 images indexed · 1 file failed · model open_clip_model\.safetensors on cpu$/ }).waitFor();
    // The details name the folder and the file that failed, with its reason.
    await page.locator('#status-details summary').click();
    await page.locator('#status-more').filter({ hasText: /notes-not-a-photo\.jpg: .+/ }).waitFor();
    await page.locator('#status-more').filter({ hasText: /\/photos — watched/ }).waitFor();
    await shot(page, 'desktop-start.png');
    await page.locator('#status-details summary').click();
  });

  await t.test('typing a query and Enter shows a grid of thumbnails with scores and paths', async () => {
    await page.keyboard.press('/');  // the search box's shortcut
    assert.equal(await page.evaluate(() => document.activeElement.id), 'q');
    await page.keyboard.type(QUERY);
    await page.keyboard.press('Enter');
    await waitForFirstPage(page);
    assert.equal(params(page).get('q'), QUERY);
    await waitForVisibleThumbnails(page);
    const results = (await gridResults(page)).slice(0, PAGE_SIZE);
    assert.equal(new Set(results.map((r) => r.id)).size, PAGE_SIZE);
    for (const r of results) {
      assert.match(r.id, /^\d+$/);
      assert.match(r.name, /^photo-\d\d\.jpg$/);
      assert.ok(r.folder.endsWith('/photos/'), r.folder);
      assert.ok(Number.isFinite(r.score));
    }
    for (let i = 1; i < results.length; ++i) assert.ok(results[i - 1].score >= results[i].score, 'best first');
    await page.locator('#summary-title').filter({ hasText: QUERY }).waitFor();
    await shot(page, 'desktop-results.png');
  });

  let firstPageIds;
  await t.test('scrolling down loads the next page until the end', async () => {
    firstPageIds = (await gridResults(page)).map((r) => r.id).slice(0, PAGE_SIZE);
    await page.locator('#more').scrollIntoViewIfNeeded();
    await waitForCards(page, 40);
    assert.ok(searchRequests.some((url) => url.includes('q=') && url.includes('offset=30')), 'a second page was asked for');
    await page.locator('#end').waitFor();
    const all = (await gridResults(page)).map((r) => r.id);
    assert.equal(new Set(all).size, 40, 'every indexed photo once');
    assert.deepEqual(all.slice(0, 30), firstPageIds);
    assert.ok(await page.locator('#load-more').isHidden());
  });

  let viewedId;
  await t.test('a click opens the picture large; arrows step through results; Escape closes', async () => {
    await page.evaluate(() => scrollTo(0, 0));
    const third = cards(page).nth(2);
    viewedId = await third.getAttribute('data-id');
    await third.click();
    const viewer = page.locator('#viewer');
    await viewer.waitFor();
    assert.equal(params(page).get('view'), viewedId);
    // The original file, larger than the 256-pixel thumbnail.
    await page.waitForFunction(() => {
      const img = document.getElementById('viewer-image');
      return img.complete && img.naturalWidth > 256 && img.src.endsWith('/file');
    });
    await page.locator('#viewer-position').filter({ hasText: '3 of 40' }).waitFor();
    await page.locator('#viewer-facts').filter({ hasText: 'Score' }).waitFor();
    await page.locator('#viewer-facts').filter({ hasText: '/photos/photo-' }).waitFor();
    await page.locator('#viewer-facts').filter({ hasText: 'JPEG' }).waitFor();
    await shot(page, 'desktop-viewer.png');

    await page.keyboard.press('ArrowRight');
    const fourth = await cards(page).nth(3).getAttribute('data-id');
    await page.locator('#viewer-position').filter({ hasText: '4 of 40' }).waitFor();
    assert.equal(params(page).get('view'), fourth);
    await page.keyboard.press('ArrowLeft');
    await page.locator('#viewer-position').filter({ hasText: '3 of 40' }).waitFor();
    assert.equal(params(page).get('view'), viewedId);

    await page.keyboard.press('Escape');
    await viewer.waitFor({ state: 'hidden' });
    await page.waitForFunction(() => !new URL(location.href).searchParams.has('view'));
    assert.equal(params(page).get('q'), QUERY);
    // The focus is back on the result that was opened.
    assert.equal(await page.evaluate(() => document.activeElement.dataset.id), viewedId);
  });

  await t.test('Enter on a focused result opens it; "Find similar" searches by it', async () => {
    await page.keyboard.press('Enter');
    await page.locator('#viewer').waitFor();
    assert.equal(params(page).get('view'), viewedId);
    await page.getByRole('button', { name: 'Find similar', exact: true }).click();
    await page.locator('#viewer').waitFor({ state: 'hidden' });
    await page.waitForFunction((id) => new URL(location.href).searchParams.get('similar') === id, viewedId);
    await waitForFirstPage(page);
    await page.locator('#summary-title').filter({ hasText: /Pictures like photo-\d\d\.jpg/ }).waitFor();
    const similar = (await gridResults(page)).map((r) => r.id);
    assert.ok(!similar.includes(viewedId), 'the picture itself is left out');
    await page.locator('#more').scrollIntoViewIfNeeded();
    await waitForCards(page, 39);
    await page.locator('#end').waitFor();
    await page.evaluate(() => scrollTo(0, 0));
    await waitForVisibleThumbnails(page);
    await shot(page, 'desktop-similar.png');
  });

  await t.test('the back button walks back through the viewer and the searches', async () => {
    await page.goBack();
    await page.locator('#viewer').waitFor();
    assert.equal(params(page).get('view'), viewedId);
    assert.equal(params(page).get('q'), QUERY);
    await page.goBack();
    await page.locator('#viewer').waitFor({ state: 'hidden' });
    await page.locator('#summary-title').filter({ hasText: QUERY }).waitFor();
    await waitForFirstPage(page);
    assert.equal(await page.locator('#q').inputValue(), QUERY);
    assert.deepEqual((await gridResults(page)).map((r) => r.id).slice(0, PAGE_SIZE), firstPageIds);
    await page.goForward();
    await page.locator('#viewer').waitFor();
    await page.keyboard.press('Escape');
    await page.locator('#viewer').waitFor({ state: 'hidden' });
  });

  await t.test('dropping an image file searches by it', async () => {
    const name = cocoPhotos()[70];  // not among the 40 indexed: new content, embedded now
    await dropFile(page, 'holiday.jpg', photo(name), 'image/jpeg', { keepOverlay: true });
    await page.locator('#drop-overlay').waitFor();
    await shot(page, 'desktop-drop.png');
    await dropFile(page, 'holiday.jpg', photo(name), 'image/jpeg');
    await page.locator('#drop-overlay').waitFor({ state: 'hidden' });
    await page.locator('#summary-title').filter({ hasText: 'Pictures like holiday.jpg' }).waitFor();
    await waitForFirstPage(page);
    assert.match(params(page).get('image'), /^u\d+-/);
    await page.waitForFunction(() => document.getElementById('summary-image').naturalWidth > 0);
    // The next page is the same image searched again at offset 30.
    await page.locator('#more').scrollIntoViewIfNeeded();
    await waitForCards(page, 40);
  });

  await t.test('pasting an image searches by it', async () => {
    const bytes = photo(cocoPhotos()[72]);
    await page.evaluate((base64) => {
      const data = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([data], 'pasted.jpg', { type: 'image/jpeg' }));
      document.body.dispatchEvent(new ClipboardEvent('paste', { bubbles: true, cancelable: true, clipboardData: transfer }));
    }, bytes.toString('base64'));
    await page.locator('#summary-title').filter({ hasText: 'Pictures like pasted.jpg' }).waitFor();
    await waitForFirstPage(page);
  });

  await t.test('the file chooser searches by an image; a file that is not one gives a readable error', async () => {
    const name = cocoPhotos()[71];
    await page.locator('#image-file').setInputFiles({ name: 'chosen.jpg', mimeType: 'image/jpeg', buffer: photo(name) });
    await page.locator('#summary-title').filter({ hasText: 'Pictures like chosen.jpg' }).waitFor();
    await waitForFirstPage(page);

    await page.locator('#image-file').setInputFiles({
      name: 'not-an-image.txt', mimeType: 'text/plain', buffer: Buffer.from('this is a shopping list\n'),
    });
    const error = page.locator('#error');
    await error.waitFor();
    const text = await error.locator('#error-text').textContent();
    assert.match(text, /image search failed/i);
    assert.match(text, /not-an-image\.txt/, 'names the file');
    assert.ok(!text.includes('{'), 'the message, not the JSON: ' + text);
    assert.equal(await cards(page).count(), 0);
    assert.ok(await page.locator('#load-more').isHidden(), 'no "more" after a search that failed');
    assert.ok(await page.locator('#summary-image').isHidden(), 'no broken picture for the query');
    await shot(page, 'desktop-error.png');
    await page.getByRole('button', { name: 'Dismiss this message' }).click();
    await error.waitFor({ state: 'hidden' });

    // Over api.max_body_bytes (2 MiB in web_test_server): the 413's message, and the image's size.
    await page.locator('#image-file').setInputFiles({
      name: 'huge.jpg', mimeType: 'image/jpeg', buffer: Buffer.alloc(3 * 1024 * 1024, 7),
    });
    await error.waitFor();
    const tooLarge = await error.locator('#error-text').textContent();
    assert.match(tooLarge, /larger than 2097152 bytes \(api\.max_body_bytes\); this image is 3\.0 MB/);
    await page.getByRole('button', { name: 'Dismiss this message' }).click();
    await error.waitFor({ state: 'hidden' });
    // Dismissed, the failure still reads as one, not as "no results".
    await page.locator('#summary-detail').filter({ hasText: /^The image search failed: .*api\.max_body_bytes/ }).waitFor();
  });

  await t.test('the status bar follows the service indexing more photos', async () => {
    assert.equal(await server.command('add 8', 'ADDED'), '8');
    await page.locator('#status-text').filter({ hasText: /^Indexing · 40 images indexed · 8 waiting · 1 file failed/ }).waitFor();
    assert.equal(await page.locator('#status').getAttribute('data-state'), 'busy');
    await shot(page, 'desktop-indexing.png');
    // The count moves from 40 to 48 as the run commits its batches.
    assert.equal(await server.command('index', 'INDEXED'), '48');
    await page.locator('#status-text').filter({ hasText: /^Up to date · 48 images indexed · 1 file failed/ }).waitFor();
    assert.equal(await page.locator('#status').getAttribute('data-state'), 'idle');
  });

  await t.test('"Rescan folders" asks the service to rescan and says so', async () => {
    await page.locator('#status-details summary').click();
    const from = server.lines.length;
    await page.getByRole('button', { name: 'Rescan folders' }).click();
    await page.locator('#rescan-result').filter({ hasText: /^Rescanning 1 folder: .*\/photos\. Only what changed/ }).waitFor();
    assert.equal(await server.line('RESCAN', { from }), '*');
    assert.equal(await server.line('INDEXED', { from }), '48');
    await shot(page, 'desktop-rescan.png');
    await page.locator('#status-text').filter({ hasText: /^Up to date · 48 images indexed/ }).waitFor();
    await page.locator('#status-details summary').click();
  });

  await t.test('the keyboard reaches the results from the search box', async () => {
    await page.goto(origin + '/?q=' + encodeURIComponent('people in a street'));
    await waitForFirstPage(page);
    await page.locator('#q').focus();
    let reached = false;
    for (let i = 0; i < 12 && !reached; ++i) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.activeElement.classList.contains('card'));
    }
    assert.ok(reached, 'a result takes the focus within 12 Tabs of the search box');
    assert.equal(await page.evaluate(() => document.activeElement.dataset.index), '0');
  });

  await context.close();
});

test('the web page on a phone-sized screen, in dark mode', async () => {
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, colorScheme: 'dark',
  });
  const page = watch(await context.newPage());
  // A shared link: the query comes from the URL.
  await page.goto(origin + '/?q=' + encodeURIComponent(QUERY));
  await waitForFirstPage(page);
  assert.equal(await page.locator('#q').inputValue(), QUERY);
  await waitForVisibleThumbnails(page);
  await page.locator('#status-text').filter({ hasText: '48 images indexed' }).waitFor();
  const layout = await page.evaluate(() => {
    const boxes = [...document.querySelectorAll('#results .card')].slice(0, 3).map((c) => c.getBoundingClientRect());
    return {
      overflow: document.documentElement.scrollWidth - innerWidth,
      sameRow: Math.abs(boxes[0].top - boxes[1].top) < 1,
      thirdBelow: boxes[2].top > boxes[0].bottom,
      width: boxes[0].width,
    };
  });
  assert.ok(layout.overflow <= 0, `no sideways scrolling (${layout.overflow} px too wide)`);
  assert.ok(layout.sameRow && layout.thirdBelow, 'two columns');
  assert.ok(layout.width > 140, `thumbnails large enough to see (${layout.width} px)`);
  assert.equal(await page.evaluate(() => getComputedStyle(document.body).backgroundColor), 'rgb(20, 24, 30)', 'dark');
  await shot(page, 'phone-results.png');

  // The status details, long paths and the rescan button included, fit the screen.
  await page.locator('#status-details summary').tap();
  await page.locator('#status-more').filter({ hasText: 'notes-not-a-photo.jpg' }).waitFor();
  await page.getByRole('button', { name: 'Rescan folders' }).waitFor();
  const statusOverflow = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
  assert.ok(statusOverflow <= 0, `the status details scroll sideways (${statusOverflow} px too wide)`);
  await shot(page, 'phone-status.png');
  await page.locator('#status-details summary').tap();

  await cards(page).first().tap();
  await page.locator('#viewer').waitFor();
  await page.waitForFunction(() => document.getElementById('viewer-image').naturalWidth > 256);
  const fits = await page.evaluate(() => {
    const box = document.getElementById('viewer-image').getBoundingClientRect();
    return box.left >= 0 && box.right <= innerWidth && box.width > 300;
  });
  assert.ok(fits, 'the picture fills the width of the screen and no more');
  await shot(page, 'phone-viewer.png');
  await page.getByRole('button', { name: 'Close (Escape)' }).tap();
  await page.locator('#viewer').waitFor({ state: 'hidden' });
  await context.close();
});

test('a screen taller than a page of results fills itself without scrolling', async () => {
  const context = await browser.newContext({ viewport: { width: 1920, height: 4000 } });
  const page = watch(await context.newPage());
  await page.goto(origin + '/?q=' + encodeURIComponent('a quiet street'));
  await waitForCards(page, 48);
  await page.locator('#end').waitFor();
  assert.equal(await page.evaluate(() => scrollY), 0);
  await context.close();
});

test('with an access token: the page asks for it once, then searches and shows pictures; then the service stops', async () => {
  const TOKEN = 'web-test-token-5f1c2a9e';
  const guarded = new Server('server-with-token', TOKEN);
  try {
    const guardedOrigin = new URL(await guarded.line('URL', { ms: START_MS })).origin;
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = watch(await context.newPage(), guardedOrigin);
    await page.goto(guardedOrigin + '/');
    await page.locator('#token-form').waitFor();
    assert.match(await page.locator('#error-text').textContent(), /Authorization: Bearer/);
    await page.locator('#token').fill('a wrong token');
    await page.locator('#token').press('Enter');
    await page.locator('#error-text').filter({ hasText: 'the bearer token is wrong' }).waitFor();
    await page.locator('#token').fill(TOKEN);
    await page.locator('#token').press('Enter');
    await page.locator('#status-text').filter({ hasText: '40 images indexed' }).waitFor();
    await page.locator('#error').waitFor({ state: 'hidden' });
    await page.locator('#q').fill(QUERY);
    await page.locator('#q').press('Enter');
    await waitForFirstPage(page);
    // <img> cannot send the token: the thumbnails come through fetch() as blob: URLs.
    await waitForVisibleThumbnails(page);
    assert.ok((await page.locator('#results .card img').first().getAttribute('src')).startsWith('blob:'));
    // A service that stops answering turns the status line red and says so.
    await guarded.stop();
    await page.locator('#status[data-state="down"]').waitFor({ state: 'attached' });
    await page.locator('#status-text').filter({ hasText: 'does not answer' }).waitFor();
    await shot(page, 'desktop-service-down.png');
    await context.close();
  } finally {
    await guarded.stop();
  }
});

test('nothing came from another host and the page threw nothing', () => {
  assert.deepEqual(foreignRequests, []);
  assert.deepEqual(pageErrors, []);
});
