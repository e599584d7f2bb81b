import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { activeAccount, isResetMail, secretsIn } from '../recovery/helpers.ts';
import { screenshot, seriousA11yViolations } from '../support/browser.ts';
import { withServer } from '../support/fixture.ts';
import { strongPassword } from '../support/server.ts';

describe('forgot password in Chromium', () => {
  const fx = withServer({ smtp: true, browser: true });

  async function noSeriousA11y(page: Page, what: string) {
    const v = await seriousA11yViolations(page);
    assert.deepEqual(v, [], `${what}: ${JSON.stringify(v)}`);
  }

  async function signInWith(page: Page, identifier: string, password: string) {
    await page.goto(`${fx.server.base}/login`);
    await page.getByLabel('Username or email address').fill(identifier);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/settings$/);
  }

  test('REC-04 REC-07 REC-09 link walk: forgot password → mail → link → new password → Sign in; the old session is gone', async (t) => {
    if (!fx.ready(t)) return;
    const { browser } = fx;
    const a = await activeAccount(fx.server, fx.smtp, 'walker');

    // a session opened before the reset, in its own browser
    const oldCtx = await browser.newContext();
    const oldPage = await oldCtx.newPage();
    await signInWith(oldPage, a.username, a.password);
    assert.match(oldPage.url(), /\/settings$/);

    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`${fx.server.base}/login`);
    await page.getByRole('link', { name: 'Forgot password?' }).click();
    await page.waitForURL(/\/forgot-password$/);
    await noSeriousA11y(page, '/forgot-password');
    await screenshot(page, 'recovery-01-forgot-password');
    await page.getByLabel('Username or email address').fill(a.email);
    await page.getByRole('button', { name: 'Send reset link' }).click();
    await page
      .getByText(
        'If an account matches, we sent an email with a link and a code. It can take a few minutes; check spam.',
      )
      .waitFor();
    await noSeriousA11y(page, 'reset requested');
    await screenshot(page, 'recovery-02-check-your-email');

    const mail = await fx.smtp.waitFor(isResetMail(a.email));
    const { link } = secretsIn(mail);
    await page.goto(link);
    await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
    await noSeriousA11y(page, 'new password page');
    // the policy's reasons show live, from the same check the server enforces
    await page.getByLabel('New password', { exact: true }).fill('password123');
    await page.getByText('most common passwords').waitFor();
    await screenshot(page, 'recovery-03-new-password-policy');
    const password = strongPassword();
    await page.getByLabel('New password', { exact: true }).fill(password);
    await page.getByText('Strong enough.').waitFor();
    await page.getByLabel('Confirm new password').fill(password);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByText('Your password has been changed. Please sign in again.').waitFor();
    await noSeriousA11y(page, 'password changed');
    await screenshot(page, 'recovery-04-changed');
    const cookies = await ctx.cookies();
    assert.equal(cookies.length, 0, 'no session after a reset (REC-07)');

    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(/\/login/);
    await page.getByLabel('Username or email address').fill(a.username);
    await page.getByLabel('Password', { exact: true }).fill(a.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Incorrect username, email or password.').waitFor();
    await signInWith(page, a.username, password);
    assert.match(page.url(), /\/settings$/);

    // the link is used up: opening it again says so, with a way to ask for a new one
    await page.goto(link);
    await page.getByText('This link has expired or was already used.').waitFor();
    await noSeriousA11y(page, 'dead link');
    await screenshot(page, 'recovery-05-dead-link');

    await oldPage.goto(`${fx.server.base}/settings`);
    assert.match(oldPage.url(), /\/login/, 'the session from before the reset has ended');
    await oldCtx.close();
    await ctx.close();
  });

  test('REC-06 code walk in a second browser context: Already have a code? → wrong code → right code', async (t) => {
    if (!fx.ready(t)) return;
    const { browser } = fx;
    const a = await activeAccount(fx.server, fx.smtp, 'codewalker');
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`${fx.server.base}/forgot-password`);
    await page.getByLabel('Username or email address').fill(a.username);
    await page.getByRole('button', { name: 'Send reset link' }).click();
    await page.getByText('If an account matches').waitFor();
    await page.getByRole('link', { name: 'Already have a code?' }).click();
    await page.waitForURL(/\/change-password$/);
    await noSeriousA11y(page, '/change-password');
    const { code } = secretsIn(await fx.smtp.waitFor(isResetMail(a.email)));
    const password = strongPassword();
    const fill = async (c: string) => {
      await page.getByLabel('Username or email address').fill(a.email);
      await page.getByLabel('Reset code').fill(c);
      await page.getByLabel('New password', { exact: true }).fill(password);
      await page.getByLabel('Confirm new password').fill(password);
      await page.getByRole('button', { name: 'Change password' }).click();
    };
    await fill(code.startsWith('2') ? '3333-3333' : '2222-2222');
    await page.getByText(/That code did not work/).waitFor();
    await noSeriousA11y(page, 'wrong code');
    await screenshot(page, 'recovery-06-wrong-code');
    await fill(code);
    await page.getByText('Your password has been changed. Please sign in again.').waitFor();
    await screenshot(page, 'recovery-07-code-changed');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await signInWith(page, a.username, password);
    assert.match(page.url(), /\/settings$/);
    await page.getByRole('button', { name: 'Send reset email' }).click();
    await page.getByText('We sent a reset link and code to your email address.').waitFor();
    await noSeriousA11y(page, 'settings with Send reset email');
    await ctx.close();
  });
});
