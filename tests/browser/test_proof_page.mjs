// test_proof_page.mjs — opens the relay's proof page in headless Chromium (Debian's, through
// playwright-core) at phone and desktop width; prints one JSON line per width: console errors,
// failed requests, whether the page scrolls sideways, the verdict and the QR code's size.
// Usage: node test_proof_page.mjs URL OUTDIR NAME
import { chromium } from 'playwright-core';

const [url, outdir, name] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--host-resolver-rules=MAP *.localhost 127.0.0.1'],
});
try {
  for (const [label, width, height] of [['phone', 360, 740], ['desktop', 1280, 900]]) {
    const context = await browser.newContext({ viewport: { width, height }, ignoreHTTPSErrors: true });
    const page = await context.newPage();
    const errors = [];
    const failed = [];
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('requestfailed', (r) => failed.push(r.url()));
    const response = await page.goto(url, { waitUntil: 'load' });
    const info = await page.evaluate(() => {
      const qr = document.querySelector('svg.qr');
      const box = qr ? qr.getBoundingClientRect() : null;
      return {
        overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
        verdict: document.querySelector('#verdict')?.dataset.result,
        verdictText: document.querySelector('#verdict')?.textContent,
        qr: box ? { width: box.width, height: box.height } : null,
        scripts: document.scripts.length,
      };
    });
    const shot = `${outdir}/${name}-${label}.png`;
    await page.screenshot({ path: shot, fullPage: true });
    console.log(JSON.stringify({ label, width, status: response.status(), errors, failed, shot, ...info }));
    await context.close();
  }
} finally {
  await browser.close();
}
