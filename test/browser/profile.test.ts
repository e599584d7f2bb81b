import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { activeAccount, uniqueName } from '../support/accounts.ts';
import { screenshot, seriousA11yViolations } from '../support/browser.ts';
import { withServer } from '../support/fixture.ts';
import { waitForDevMail } from '../support/server.ts';

// The self-service profile in Chromium (issue 17, docs/profile.md): change the email address by
// the link in the mail read from /dev/mailbox, and delete the account then cancel the deletion by
// signing in, on a desktop and a phone viewport, with axe on every page touched.

describe('ID-03 self-service profile in Chromium', () => {
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
    await page.waitForURL(/\/settings/);
  }

  test('ID-03 LOG-03 change the email address: pending on the page, confirmed with the link from the dev mailbox, the old address told (desktop)', async (t) => {
    if (!fx.ready(t)) return;
    const u = await activeAccount(fx.server, { username: uniqueName('bmail') });
    const ctx = await fx.browser.newContext({ viewport: { width: 1280, height: 800 } });
    ctx.setDefaultTimeout(15_000);
    const page = await ctx.newPage();
    await signIn(page, u.username, u.password);
    await noSeriousA11y(page, '/settings');

    const to = `${u.username}.moved@example.test`;
    await page.getByLabel('New email address').fill(to);
    await page.getByRole('button', { name: 'Change email address' }).click();
    await page.waitForURL(/done=email_pending#identifiers$/);
    await page.getByText('It is not used until you confirm it.').waitFor();
    await page.getByText(`${to} is waiting for confirmation`).waitFor();
    await noSeriousA11y(page, '/settings with a pending email change');
    await screenshot(page, 'profile-01-email-pending');

    await waitForDevMail(fx.server, (m) => m.to === to && /Confirm your new email/.test(m.subject));
    await page.goto(`${fx.server.base}/dev/mailbox`);
    await page
      .locator('article.mail', { hasText: to })
      .locator('a[href*="/settings/email/verify?token="]')
      .first()
      .click();
    await page.waitForURL(/\/settings\/email\/verify\?token=/);
    await noSeriousA11y(page, '/settings/email/verify');
    await screenshot(page, 'profile-02-email-verify');
    await page.getByRole('button', { name: 'Confirm this address' }).click();
    await page.waitForURL(/done=email_changed#identifiers$/);
    await page.getByText('Your new email address is confirmed and in use.').waitFor();
    assert.ok(((await page.locator('main').textContent()) ?? '').includes(to));
    await noSeriousA11y(page, '/settings after the change');

    const notice = await waitForDevMail(
      fx.server,
      (m) => m.to === u.email && /email address was changed/.test(m.subject),
    );
    assert.match(notice.text, /Wasn't you\?/);
    await ctx.close();
  });

  test('delete the account, then cancel it by signing in again (phone, 390×844)', async (t) => {
    if (!fx.ready(t)) return;
    const u = await activeAccount(fx.server, { username: uniqueName('bdel') });
    const ctx = await fx.browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    ctx.setDefaultTimeout(15_000);
    const page = await ctx.newPage();
    await signIn(page, u.username, u.password);
    const confirm = page.getByLabel('Type your username to confirm');
    await confirm.fill('not-my-name');
    await page.getByRole('button', { name: 'Delete my account' }).click();
    await page.getByText('Type your username to confirm the deletion.').first().waitFor();
    await noSeriousA11y(page, '/settings with a deletion error');

    await page.getByLabel('Type your username to confirm').fill(u.username);
    await page.getByRole('button', { name: 'Delete my account' }).click();
    await page.waitForURL(/\/login\?msg=deletion_requested$/);
    await page.getByText('Your account will be deleted and every session was signed out.').waitFor();
    await noSeriousA11y(page, '/login after asking for deletion');
    await screenshot(page, 'profile-03-deletion-requested');
    const mail = await waitForDevMail(fx.server, (m) => m.to === u.email && /will be deleted/.test(m.subject));
    assert.match(mail.text, /Sign in before then/);

    await page.getByLabel('Username or email address').fill(u.username);
    await page.getByLabel('Password', { exact: true }).fill(u.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/done=deletion_cancelled#delete$/);
    await page.getByText('You signed in, so the deletion of your account was cancelled.').waitFor();
    await noSeriousA11y(page, '/settings after the deletion was cancelled');
    await screenshot(page, 'profile-04-deletion-cancelled');
    await ctx.close();
  });
});
