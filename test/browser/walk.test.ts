import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { screenshot, seriousA11yViolations } from '../support/browser.ts';
import { withServer } from '../support/fixture.ts';
import { strongPassword, waitForDevMail } from '../support/server.ts';

// The core walk in Chromium, on a dev server without SMTP (mail lands in /dev/mailbox):
// register → activation mail → Activate → sign in → settings → change password → sign out.
// The README's pictures come from `npm run docs:screenshots`, not from this suite.

describe('the core walk in Chromium', () => {
  const fx = withServer({ browser: true });

  async function noSeriousA11y(page: Page, what: string) {
    const v = await seriousA11yViolations(page);
    assert.deepEqual(v, [], `${what}: ${JSON.stringify(v)}`);
  }

  async function register(page: Page, username: string, email: string, password: string) {
    await page.goto(`${fx.server.base}/register`);
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Email address').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByLabel('Confirm password').fill(password);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Check your email' }).waitFor();
  }

  async function signIn(page: Page, identifier: string, password: string) {
    await page.goto(`${fx.server.base}/login`);
    await page.getByLabel('Username or email address').fill(identifier);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/settings$/);
  }

  async function newContext(b: Browser, javaScriptEnabled = true): Promise<BrowserContext> {
    const ctx = await b.newContext({ javaScriptEnabled, viewport: { width: 1000, height: 760 } });
    ctx.setDefaultTimeout(15_000);
    return ctx;
  }

  test('register → dev mailbox → Activate → sign in → settings → change password (other session ends) → sign out; axe on every page', async (t) => {
    if (!fx.ready(t)) return;
    const { browser } = fx;
    const ctx = await newContext(browser);
    const page = await ctx.newPage();
    const password = strongPassword();
    const email = 'walker@example.test';

    await page.goto(`${fx.server.base}/register`);
    await noSeriousA11y(page, '/register');
    await screenshot(page, 'foundation-01-register');
    await register(page, 'walker', email, password);
    await noSeriousA11y(page, 'check your email');
    await screenshot(page, 'foundation-02-check-your-email');

    // the activation mail, read the way a newcomer would: in the dev mailbox
    await waitForDevMail(fx.server, (m) => m.to === email && m.text.includes('/activate?token='));
    await page.goto(`${fx.server.base}/activate`);
    await noSeriousA11y(page, '/activate (code form)');
    await page.goto(`${fx.server.base}/dev/mailbox`);
    await noSeriousA11y(page, '/dev/mailbox');
    await screenshot(page, 'foundation-03-dev-mailbox');
    const mail = page.locator('article.mail', { hasText: email });
    await mail.locator('a[href*="/activate?token="]').first().click();
    await page.waitForURL(/\/activate\?token=/);

    // REC-04-style: opening the link changes nothing until the button is pressed
    await noSeriousA11y(page, '/activate');
    await screenshot(page, 'foundation-04-activate');
    await page.getByRole('button', { name: 'Activate my account' }).click();
    await page.waitForURL(/\/login\?msg=activated$/);
    await page.getByText('Your account is active. You can sign in now.').waitFor();
    await noSeriousA11y(page, '/login');
    await screenshot(page, 'foundation-05-login-activated');

    // a wrong password first: the page says so without naming which part was wrong (ENUM-01)
    await page.getByLabel('Username or email address').fill('walker');
    await page.getByLabel('Password', { exact: true }).fill(`${password}x`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Incorrect username, email or password.').waitFor();
    await noSeriousA11y(page, '/login with an error');
    await screenshot(page, 'foundation-06-login-error');

    await signIn(page, email, password);
    await page.getByRole('heading', { name: 'Settings' }).waitFor();
    await noSeriousA11y(page, '/settings');
    await screenshot(page, 'foundation-07-settings');

    // a second session, in its own browser context
    const other = await newContext(browser);
    const otherPage = await other.newPage();
    await signIn(otherPage, 'walker', password);

    const newPassword = strongPassword();
    await page.goto(`${fx.server.base}/settings`);
    await page.getByLabel('Current password').fill(password);
    await page.getByLabel('New password', { exact: true }).fill(newPassword);
    await page.getByLabel('Confirm new password').fill(newPassword);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByText('Your password has been changed. Every other session was signed out.').waitFor();
    await noSeriousA11y(page, '/settings after a password change');
    await screenshot(page, 'foundation-08-password-changed');

    // SES-06: this browser stays signed in (rotated), the other one is out
    await page.goto(`${fx.server.base}/settings`);
    assert.match(page.url(), /\/settings$/);
    await otherPage.goto(`${fx.server.base}/settings`);
    assert.match(
      otherPage.url(),
      /\/login\?msg=session_ended(&next=%2Fsettings)?$/,
      'the other session ended with the password change',
    );
    await screenshot(otherPage, 'foundation-09-other-session-ended');
    await other.close();

    // SES-04: sign-out ends the session; the old cookie is worthless afterwards
    const [before] = await ctx.cookies();
    await page.getByRole('navigation', { name: 'Account' }).getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You have been signed out.').waitFor();
    await screenshot(page, 'foundation-10-signed-out');
    assert.ok(before, 'a session cookie was set');
    const replay = await fetch(`${fx.server.base}/api/v1/sessions/current`, {
      headers: { cookie: `${before.name}=${before.value}` },
    });
    assert.equal(replay.status, 401, 'the signed-out session is dead on the server');

    // the old password no longer works, the new one does
    await page.getByLabel('Username or email address').fill('walker');
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Incorrect username, email or password.').waitFor();
    await signIn(page, 'walker', newPassword);
    await ctx.close();
  });

  test('the sign-in page screenshot for the README', async (t) => {
    if (!fx.ready(t)) return;
    const { browser } = fx;
    const ctx = await browser.newContext({ viewport: { width: 800, height: 600 } });
    const page = await ctx.newPage();
    await page.goto(`${fx.server.base}/login`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await screenshot(page, 'login');
    await ctx.close();
  });

  // axe runs inside the page, so it cannot run here; the same pages are checked with it above.
  test('WEB pages work without JavaScript: register, activate with the code, sign in, sign out', async (t) => {
    if (!fx.ready(t)) return;
    const { browser } = fx;
    const ctx = await newContext(browser, false);
    const page = await ctx.newPage();
    const password = strongPassword();
    const email = 'nojs@example.test';
    await register(page, 'nojs', email, password);

    // the typed-code path this time: the form on /activate, no link
    const mail = await waitForDevMail(fx.server, (m) => m.to === email && m.text.includes('/activate?token='));
    const code = mail.text.match(/\b[0-9A-Z]{4}-[0-9A-Z]{4}\b/)?.[0];
    assert.ok(code, 'the activation mail carries a code');
    await page.goto(`${fx.server.base}/activate`);
    await page.getByLabel('Username or email address').fill(email);
    await page.getByLabel('Activation code').fill(code);
    await page.getByRole('button', { name: 'Activate', exact: true }).click();
    await page.waitForURL(/\/login\?msg=activated$/);

    await signIn(page, 'nojs', password);
    await page.getByRole('heading', { name: 'Settings' }).waitFor();
    await screenshot(page, 'foundation-11-settings-without-js');
    await page.getByRole('navigation', { name: 'Account' }).getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You have been signed out.').waitFor();
    await ctx.close();
  });
});
