// web-pages.js — headless Chromium (Debian's) through the relay on the HTTPS app pages.
// Driven by test_web_browser.py, which starts the relay, the agent and the tunnels and
// passes what to visit as JSON in argv[2]. Prints one JSON line with what it saw.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

async function main() {
  const job = JSON.parse(process.argv[2]);
  const out = { consoleErrors: [], steps: {} };
  const browser = await chromium.launch({
    executablePath: job.chromium || '/usr/bin/chromium',
    headless: true,
    // The relay is on loopback; *.localhost is loopback for Chromium anyway, this only pins it.
    args: [`--host-resolver-rules=MAP *.nfltr.localhost 127.0.0.1`, '--no-sandbox'],
  });
  try {
    // The tunnel's certificate is the agent's own, self-signed: the fingerprint on the page is
    // what a person compares; the test compares it with the CLI's.
    const context = await browser.newContext({ ignoreHTTPSErrors: true, acceptDownloads: true,
                                               viewport: { width: 1000, height: 700 } });
    const page = await context.newPage();
    page.on('console', (m) => { if (m.type() === 'error') out.consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => out.consoleErrors.push(String(e)));

    // 1. the listing
    await page.goto(job.serveUrl);
    await page.waitForSelector('table.listing');
    out.steps.listingNames = await page.$$eval('td.name a', (as) => as.map((a) => a.textContent));
    out.steps.badge = await page.textContent('#nfltr-badge');
    await page.screenshot({ path: path.join(job.shots, 'serve-listing.png'), fullPage: true });

    // 2. sorting by size with the script (no reload)
    const before = page.url();
    await page.click('th.size a');
    out.steps.sortedBySizeFirst = await page.$eval('tbody tr.file td.name a', (a) => a.textContent);
    await page.click('th.size a');
    out.steps.sortedBySizeDescFirst = await page.$eval('tbody tr.file td.name a', (a) => a.textContent);
    out.steps.sortKeptUrl = page.url() === before;

    // 3. a download, checked by its SHA-256 (octet-stream: the browser saves it)
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.click(`a[href="${job.downloadHref}"]`),
    ]);
    const file = await download.path();
    out.steps.downloadSha256 = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

    // 4. phone width
    const phone = await context.newPage();
    phone.on('pageerror', (e) => out.consoleErrors.push(String(e)));
    await phone.setViewportSize({ width: 390, height: 800 });
    await phone.goto(job.serveUrl);
    await phone.waitForSelector('table.listing');
    out.steps.phoneScrollWidth = await phone.evaluate(() => document.documentElement.scrollWidth);
    await phone.screenshot({ path: path.join(job.shots, 'serve-phone.png'), fullPage: true });
    await phone.close();

    // 5. a share that allows one download: the first works, then the link is dead
    if (job.shareUrl) {
      const [dl] = await Promise.all([
        page.waitForEvent('download'),
        page.goto(job.shareUrl).catch(() => {}), // "Download is starting" ends the navigation
      ]);
      out.steps.shareFirst = { status: 200,
                               sha256: crypto.createHash('sha256').update(fs.readFileSync(await dl.path())).digest('hex') };
      // the CLI removes the tunnel once the share reports itself exhausted
      await new Promise((res) => setTimeout(res, 2000));
      try {
        const r2 = await page.goto(job.shareUrl);
        out.steps.shareSecond = { status: r2 ? r2.status() : 0, text: await page.textContent('body') };
      } catch (e) {
        out.steps.shareSecond = { status: 0, error: String(e).split('\n')[0] };
      }
      await page.screenshot({ path: path.join(job.shots, 'share-gone.png') });
    }
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => { console.error(e); process.exit(1); });
