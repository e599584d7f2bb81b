import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { screenshot, seriousA11yViolations } from '../support/browser.ts';
import { withServer } from '../support/fixture.ts';
import { strongPassword } from '../support/server.ts';

describe('ALTCHA round trip in Chromium', () => {
  const fx = withServer({ browser: true, env: { LATCHKEY_CAPTCHA: 'altcha' } });

  test('BF-04 the widget solves in the page under the strict CSP, the form posts, the server verifies; the payload cannot be replayed', async (t) => {
    if (!fx.ready(t)) return;
    const { browser } = fx;
    const context = await browser.newContext();
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));

    const t0 = Date.now();
    await page.goto(`${fx.server.base}/register`);
    const payload = page.locator('input[name="altcha"]');
    await payload.waitFor({ state: 'attached', timeout: 15_000 });
    await page.waitForFunction(
      () => (document.querySelector('input[name="altcha"]') as HTMLInputElement | null)?.value,
      null,
      {
        timeout: 30_000,
      },
    );
    console.log(`# ALTCHA solved in Chromium ${Date.now() - t0} ms after navigation (default difficulty)`);
    const solved = await payload.inputValue();
    assert.ok(solved.length > 50);
    await screenshot(page, 'captcha-register-solved');
    const violations = await seriousA11yViolations(page);
    assert.deepEqual(violations, [], 'no serious accessibility problems on /register with the widget');

    const password = strongPassword();
    await page.fill('#f-username', 'browser1');
    await page.fill('#f-email', 'browser1@example.test');
    await page.fill('#f-password', password);
    await page.fill('#f-passwordConfirm', password);
    await Promise.all([page.waitForURL(`${fx.server.base}/register`), page.click('button[type=submit]')]);
    assert.match(await page.content(), /Check your email/);
    assert.deepEqual(
      problems.filter((p) => /Content Security Policy|Refused/.test(p)),
      [],
      'no CSP violations',
    );

    // The same solved payload is dead now.
    const replay = await fx.server.client().post('/api/v1/registrations', {
      username: 'browser2',
      email: 'browser2@example.test',
      password: strongPassword(),
      captcha: solved,
    });
    assert.equal(replay.status, 400);
    assert.equal(replay.json.code, 'captcha_invalid');
    await context.close();
  });

  test('BF-04 without JavaScript the page says plainly what to do (issue 17: a short wait instead)', async (t) => {
    if (!fx.ready(t)) return;
    const { browser } = fx;
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(`${fx.server.base}/register`);
    assert.match((await page.locator('main').textContent()) ?? '', /Without JavaScript, this check is a short wait/);
    await context.close();
  });
});
