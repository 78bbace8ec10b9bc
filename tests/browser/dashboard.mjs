// Drives the relay's /dashboard in headless Chromium (Debian's /usr/bin/chromium) through
// playwright-core; tests/integration/test_dashboard.py runs it and judges the JSON it prints.
// argv: BASE_URL PORT PASSWORD SHOT_DIR TUNNEL_HOST [TAMPER_HOST]
import { chromium } from 'playwright-core';

const [base, port, password, shots, tunnelHost, tamperHost] = process.argv.slice(2);
const out = { console: [], steps: {} };

const browser = await chromium.launch({
  executablePath: process.env.NFLTR_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  // Root in CI has no user namespace sandbox; nfltr.localhost is the relay on loopback.
  args: ['--no-sandbox', `--host-resolver-rules=MAP nfltr.localhost 127.0.0.1`],
});
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  // Every console message of type error or warning, with the step it happened in: the steps
  // that provoke a refusal (wrong password, CSRF) may show the browser's note on the status.
  let step = 'anonymous';
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') out.console.push({ step, text: `${m.type()}: ${m.text()}` }); });
  page.on('pageerror', (e) => out.console.push({ step, text: `pageerror: ${e.message}` }));

  // 1. Login required: the dashboard shows the login form, not data.
  let r = await page.goto(`${base}/dashboard`);
  out.steps.anonymous = { status: r.status(), hasPassword: await page.locator('input[type=password]').count(),
                          hasTables: await page.locator('table').count() };
  await page.screenshot({ path: `${shots}/dashboard-login.png`, fullPage: true });

  // 2. A wrong password is refused.
  step = 'wrong';
  await page.fill('#password', 'not the password at all');
  await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]')]);
  out.steps.wrong = { text: await page.locator('.error').first().textContent() };

  // 3. The right one lets in; cookies are Secure, HttpOnly, SameSite=Strict.
  step = 'login';
  await page.fill('#password', password);
  await Promise.all([page.waitForURL(`${base}/dashboard`), page.click('button[type=submit]')]);
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'nfltr_dash');
  out.steps.login = { url: page.url(), cookie: session ? { secure: session.secure, httpOnly: session.httpOnly, sameSite: session.sameSite } : null,
                      headings: await page.locator('h2').allTextContents(),
                      tunnelRow: await page.locator('#tunnels tr', { hasText: tunnelHost }).count(),
                      tunnelText: (await page.locator('#tunnels tr', { hasText: tunnelHost }).textContent()) || '',
                      tamperText: tamperHost ? (await page.locator('#tunnels tr', { hasText: tamperHost }).textContent()) || '' : null };

  // 4. CSRF: a POST with the session cookie but without the token is refused (403) and
  //    creates nothing; with a wrong token too.
  step = 'csrf';
  const before = await page.locator('#keys tbody tr').count();
  // The browser itself submits the page's own "Create API key" form, its token removed or
  // replaced: the session cookie goes along (same site), the token does not.
  const submitKeyForm = async (token) => {
    await page.fill('#key-name', 'csrf-probe');
    await page.evaluate((t) => {
      const form = document.querySelector('#keys form.card');
      const field = form.querySelector('input[name=csrf]');
      if (t === null) field.remove(); else field.value = t;
    }, token);
    const [resp] = await Promise.all([page.waitForNavigation(), page.click('#keys form.card button[type=submit]')]);
    const status = resp.status();
    const text = await page.locator('main').textContent();
    await page.goto(`${base}/dashboard`);
    return { status, text };
  };
  const noToken = await submitKeyForm(null);
  const badToken = await submitKeyForm('00'.repeat(32));
  out.steps.csrf = { noToken: noToken.status, badToken: badToken.status, text: noToken.text,
                     keysBefore: before, keysAfter: await page.locator('#keys tbody tr').count() };

  // 5. Create a fleet token from the form: its secret is shown once.
  step = 'token';
  await page.fill('#token-name', 'browser-fleet');
  await page.fill('#token-prefix', 'web-');
  await page.fill('#token-uses', '3');
  await Promise.all([page.waitForLoadState('load'), page.click('#tokens form.card button[type=submit]')]);
  out.steps.token = { flash: await page.locator('main > p').first().textContent(),
                      secret: await page.locator('#secret').textContent({ timeout: 30000 }).catch(() => ''),
                      row: await page.locator('#tokens tr', { hasText: 'browser-fleet' }).count() };
  await page.screenshot({ path: `${shots}/dashboard-desktop.png`, fullPage: true });
  // Reloading shows it no more.
  await page.goto(`${base}/dashboard`);
  out.steps.token.afterReload = await page.locator('#secret').count();

  // 6. Phone width: nothing wider than the screen.
  step = 'phone';
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${base}/dashboard`);
  out.steps.phone = { scrollWidth: await page.evaluate(() => document.documentElement.scrollWidth) };
  await page.screenshot({ path: `${shots}/dashboard-phone.png`, fullPage: true });
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
