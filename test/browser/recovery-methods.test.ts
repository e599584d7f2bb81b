import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { systemContext } from '../../src/context.ts';
import { countMail, nextCode, signedInUser, smsTo } from '../phone/helpers.ts';
import { screenshot, seriousA11yViolations } from '../support/browser.ts';
import { withServer } from '../support/fixture.ts';
import { strongPassword } from '../support/server.ts';

const emailCode = (email: string) => (m: { to: string; channel: string; subject: string }) =>
  m.channel === 'email' && m.to === email && m.subject.startsWith('Your password reset code');

describe('recovery methods in Chromium: admin settings, chooser, SMS and email codes', () => {
  const fx = withServer({ browser: true });

  async function noSeriousA11y(page: Page, what: string) {
    const v = await seriousA11yViolations(page);
    assert.deepEqual(v, [], `${what}: ${JSON.stringify(v)}`);
  }

  async function signIn(page: Page, identifier: string, password: string) {
    await page.goto(`${fx.server.base}/login`);
    await page.getByLabel('Username or email address').fill(identifier);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/settings$/);
  }

  test('ADM-05 an admin enables all three methods on /admin/organization; a member is refused', async (t) => {
    if (!fx.ready(t)) return;
    const { browser } = fx;
    const admin = await signedInUser(fx.server, 'boss');
    const member = await signedInUser(fx.server, 'worker');
    await fx.server.deps.organizations.addAdmin('default', 'boss', 'owner', systemContext('test'));

    const page = await (await browser.newContext()).newPage();
    await signIn(page, admin.username, admin.password);
    await page.goto(`${fx.server.base}/admin/organization`);
    await noSeriousA11y(page, '/admin/organization');
    await page.getByLabel('Email me a code').check();
    await page.getByLabel('Text me a code').check();
    await page.getByLabel('Code length (digits)').fill('8');
    // The recovery form is one of several on the page, each with its own Save button.
    await page
      .locator('form[action^="/admin/organization?"]')
      .getByRole('button', { name: 'Save', exact: true })
      .click();
    await page.getByText('Recovery settings saved.').waitFor();
    await screenshot(page, 'recovery-methods-01-admin');
    const s = await fx.server.deps.organizations.defaultOrg();
    assert.deepEqual(s.recovery.methods, ['email_link', 'email_otp', 'sms_otp']);
    assert.equal(s.recovery.otpLength, 8);

    const mp = await (await browser.newContext()).newPage();
    await signIn(mp, member.username, member.password);
    const res = await mp.goto(`${fx.server.base}/admin/organization`);
    assert.equal(res?.status(), 403);
    await mp.getByText('You are not allowed to do this.').waitFor();
  });

  test('a mobile number added on /settings, then recovery by "Text me a code"', async (t) => {
    if (!fx.ready(t)) return;
    const { browser } = fx;
    const u = await signedInUser(fx.server, 'texter');
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await signIn(page, u.username, u.password);
    await page.getByText('Add a mobile number to recover by text message.').waitFor();
    await page.getByRole('textbox', { name: 'Mobile number' }).fill('+44 7911 123456');
    const seen = await countMail(fx.server, smsTo('+447911123456'));
    await page.getByRole('button', { name: 'Add number' }).click();
    await page.getByText('We sent a code to your mobile number.').waitFor();
    const verify = await nextCode(fx.server, smsTo('+447911123456'), seen);
    await page.getByLabel('Code from the text message').fill(verify);
    await page.getByRole('button', { name: 'Confirm number' }).click();
    await page.getByText('Your mobile number is confirmed.').waitFor();
    await noSeriousA11y(page, '/settings with a mobile number');
    await screenshot(page, 'recovery-methods-02-settings-phone');

    const p2 = await (await browser.newContext()).newPage();
    await p2.goto(`${fx.server.base}/forgot-password`);
    await noSeriousA11y(p2, '/forgot-password chooser');
    await screenshot(p2, 'recovery-methods-03-chooser');
    await p2.getByLabel('Username or email address').fill(u.username);
    await p2.getByLabel('Text me a code').check();
    const seen2 = await countMail(fx.server, smsTo('+447911123456'));
    await p2.getByRole('button', { name: 'Continue' }).click();
    await p2.getByText('we sent a code to it by text message').waitFor();
    await noSeriousA11y(p2, 'SMS code page');
    await screenshot(p2, 'recovery-methods-04-sms-code');
    const code = await nextCode(fx.server, smsTo('+447911123456'), seen2);
    assert.match(code, /^\d{8}$/, 'the organization asked for 8 digits');
    const password = strongPassword();
    await p2.getByLabel('Code from the text message').fill(code);
    await p2.getByLabel('New password', { exact: true }).fill(password);
    await p2.getByLabel('Confirm new password').fill(password);
    await p2.getByRole('button', { name: 'Change password' }).click();
    await p2.getByText('Your password has been changed. Please sign in again.').waitFor();
    // the session from before is gone (REC-09)
    await page.reload();
    await page.waitForURL(/\/login/);
  });

  test('OTP-04 "Email me a code", "Resend code", then the new code works', async (t) => {
    if (!fx.ready(t)) return;
    const { browser } = fx;
    const u = await signedInUser(fx.server, 'mailer');
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${fx.server.base}/forgot-password`);
    await page.getByLabel('Username or email address').fill(u.email);
    await page.getByLabel('Email me a code').check();
    const seen = await countMail(fx.server, emailCode(u.email));
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByText('If an account matches, we sent a code to its email address.').waitFor();
    const first = await nextCode(fx.server, emailCode(u.email), seen);
    await page.getByRole('button', { name: 'Resend code' }).click();
    await page.getByText('we sent a new code').waitFor();
    const second = await nextCode(fx.server, emailCode(u.email), seen + 1);
    assert.notEqual(first, second);
    const password = strongPassword();
    await page.getByLabel('Code from the email').fill(second);
    await page.getByLabel('New password', { exact: true }).fill(password);
    await page.getByLabel('Confirm new password').fill(password);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByText('Your password has been changed. Please sign in again.').waitFor();
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(/\/login/);
    await page.goto(`${fx.server.base}/forgot-password`);
    await page.getByRole('link', { name: 'Back to sign in' }).waitFor();
  });
});
