// pages.mjs — drives the terminal, tail and watch pages in headless Chromium through the
// relay (called by tests/integration/test_web_browser_term.py with a JSON job on argv[2]).
// Prints one JSON line with what it saw; screenshots go to job.shots.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const job = JSON.parse(process.argv[2]);
const result = { console: [], steps: [] };
const step = (name) => { result.steps.push(name); };

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1100, height: 700 } });
  const watchConsole = (page, name) => {
    page.on('console', (msg) => { if (msg.type() === 'error') result.console.push(name + ': ' + msg.text()); });
    page.on('pageerror', (err) => result.console.push(name + ': ' + err.message));
  };
  const shot = async (page, name) => {
    await page.screenshot({ path: path.join(job.shots, name + '.png') });
  };
  const rowsText = (page) => page.locator('.xterm-rows').innerText();

  // Terminal: type a command, read its output, reload, find it again (the session stayed).
  const term = await context.newPage();
  watchConsole(term, 'terminal');
  await term.goto(job.terminal);
  result.terminalUrlAfterLogin = term.url();
  await term.waitForSelector('.xterm-rows');
  await term.waitForFunction(() => document.getElementById('term-status').textContent.startsWith('connected'));
  await term.locator('#terminal').click();
  await term.keyboard.type('echo "browser-$((6*7))"\n');
  await term.waitForFunction(() => document.querySelector('.xterm-rows').innerText.includes('browser-42'));
  step('terminal echo');
  await shot(term, 'terminal');
  await term.reload();
  await term.waitForSelector('.xterm-rows');
  await term.waitForFunction(() => document.querySelector('.xterm-rows').innerText.includes('browser-42'),
                             null, { timeout: 15000 });
  step('terminal survived reload');
  await term.locator('#terminal').click();
  await term.keyboard.type('echo "after-reload-$((7*7))"\n');
  await term.waitForFunction(() => document.querySelector('.xterm-rows').innerText.includes('after-reload-49'));
  result.terminalText = await rowsText(term);
  await shot(term, 'terminal-after-reload');
  await term.setViewportSize({ width: 390, height: 760 });
  await term.waitForTimeout(500);
  await shot(term, 'terminal-phone');

  // Tail: a line appended after the page loaded shows up.
  const tail = await context.newPage();
  watchConsole(tail, 'tail');
  await tail.goto(job.tail);
  await tail.waitForFunction(() => document.getElementById('tail-log').innerText.includes('before load'));
  fs.appendFileSync(job.tailFile, 'appended after load \x1b[32mgreen\x1b[0m\n');
  await tail.waitForFunction(() => document.getElementById('tail-log').innerText.includes('appended after load green'));
  result.tailGreen = await tail.locator('#tail-log .line span.c2').first().innerText();
  step('tail appended line');
  await tail.fill('#tail-filter', 'appended');
  result.tailShownAfterFilter = await tail.locator('#tail-log .line:not(.hidden)').count();
  await shot(tail, 'tail');
  await tail.fill('#tail-filter', '');

  // Watch: the page updates with each run.
  const watch = await context.newPage();
  watchConsole(watch, 'watch');
  await watch.goto(job.watch);
  await watch.waitForFunction(() => document.getElementById('watch-state').textContent.startsWith('#'));
  const first = await watch.locator('#watch-state').innerText();
  await watch.waitForFunction((before) => document.getElementById('watch-state').textContent.split(' ')[0] !== before.split(' ')[0],
                              first, { timeout: 20000 });
  result.watchFirst = first;
  result.watchLater = await watch.locator('#watch-state').innerText();
  result.watchChanged = await watch.locator('#watch-output .changed').count();
  result.watchRuns = await watch.locator('#watch-runs li').count();
  step('watch updated');
  await shot(watch, 'watch');
} catch (e) {
  result.error = String(e && e.stack || e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
