// inspect-page.js — the request inspector's loopback page (issue 9 §8) in headless Chromium.
// Driven by test_inspect_page.py, which starts the relay, the agent and `nfltr http --inspect`
// and makes requests through the relay while the page is open: argv[2] is JSON with the
// page's URL, a file the test writes to ask for the next request ("go"), and where the
// screenshots go. Prints one JSON line with what it saw.
'use strict';
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

async function waitFile(file, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (fs.existsSync(file)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('timed out waiting for ' + file);
}

// page.waitForFunction evaluates a string, which the page's CSP (no 'unsafe-eval') forbids:
// poll with page.evaluate instead, which does not.
async function waitFor(page, fn, arg, ms = 20000) {
  const end = Date.now() + ms;
  for (;;) {
    if (await page.evaluate(fn, arg)) return;
    if (Date.now() > end) throw new Error('timed out waiting for ' + fn.toString());
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main() {
  const job = JSON.parse(process.argv[2]);
  const out = { consoleErrors: [], steps: {} };
  const browser = await chromium.launch({ executablePath: job.chromium, headless: true, args: ['--no-sandbox'] });
  try {
    const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
    const page = await context.newPage();
    page.on('console', (m) => { if (m.type() === 'error') out.consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => out.consoleErrors.push(String(e)));

    // 1. the page, with the request made before it opened
    await page.goto(job.url);
    await page.waitForSelector('#rows tr');
    out.steps.initialPaths = await page.$$eval('#rows td.path', (tds) => tds.map((t) => t.textContent));
    await waitFor(page, () => document.getElementById('live').textContent === 'live');

    // 2. a new request through the relay shows up without a reload
    fs.writeFileSync(job.go, 'go');
    await waitFor(page, () => [...document.querySelectorAll('#rows td.path')]
      .some((t) => t.textContent.startsWith('/live-one')));
    out.steps.liveRow = await page.$eval('#rows tr', (tr) => tr.textContent);
    out.steps.reloaded = await page.evaluate(() => performance.getEntriesByType('navigation').length !== 1);

    // 3. the detail
    await page.click('#rows tr:first-child');
    await page.waitForSelector('#detail:not([hidden])');
    await waitFor(page, () => document.getElementById('d-title').textContent.includes('/live-one'));
    out.steps.detailTitle = await page.textContent('#d-title');
    out.steps.requestHeaders = await page.$$eval('#d-req-headers td:first-child', (tds) => tds.map((t) => t.textContent));
    out.steps.responseBody = await page.textContent('#d-resp-body');
    await page.screenshot({ path: path.join(job.shots, 'inspect-detail.png'), fullPage: true });

    // 4. the filters
    await page.fill('#f-path', '/nothing-like-this');
    out.steps.filteredRows = await page.$$eval('#rows tr', (trs) => trs.length);
    await page.fill('#f-path', '');
    await page.fill('#f-text', 'application/json');
    await page.waitForTimeout(300);
    out.steps.searchRows = await page.$$eval('#rows tr', (trs) => trs.length);
    await page.fill('#f-text', '');

    // 5. replay with an edit: the new exchange appears, marked
    await page.fill('#r-path', '/replayed-from-browser');
    await page.click('#replay-edited');
    await waitFor(page, () => document.getElementById('r-result').textContent.startsWith('Replayed as #'));
    out.steps.replayResult = await page.textContent('#r-result');
    await waitFor(page, () => [...document.querySelectorAll('#rows td.path')]
      .some((t) => t.textContent.includes('/replayed-from-browser') && t.textContent.includes('replay of')));
    await page.screenshot({ path: path.join(job.shots, 'inspect-list.png'), fullPage: true });

    // 6. phone width
    await page.setViewportSize({ width: 390, height: 800 });
    out.steps.phoneScrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    await page.screenshot({ path: path.join(job.shots, 'inspect-phone.png'), fullPage: true });
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(out));
}

main().catch((e) => { console.error(e); process.exit(1); });
