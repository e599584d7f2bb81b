import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { systemContext } from '../../src/context.ts';
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

  test('an admin brands the organization: a contrast error keeps what was typed, the logo uploads (SVG refused), pages wear the colour and logo', async (t) => {
    if (!fx.ready(t)) return;
    const u = await activeAccount(fx.server, { username: uniqueName('badmin') });
    await fx.server.deps.organizations.addAdmin('default', u.username, 'admin', systemContext('test'));
    const ctx = await fx.browser.newContext({ viewport: { width: 1280, height: 800 } });
    ctx.setDefaultTimeout(15_000);
    const page = await ctx.newPage();
    await signIn(page, u.username, u.password);
    await page.goto(`${fx.server.base}/admin/organization`);
    await page.getByRole('link', { name: /Brand: name, colours, logo/ }).click();
    await page.waitForURL(/\/admin\/organization\/brand\?org=default$/);
    await noSeriousA11y(page, '/admin/organization/brand');

    await page.getByLabel('Display name').fill('Acme');
    await page.getByLabel('Primary colour', { exact: true }).fill('#ffff00');
    await page.getByRole('button', { name: 'Save brand' }).click();
    await page.getByText(/#ffff00 has a contrast of 1\.07:1/).waitFor();
    assert.equal(await page.getByLabel('Display name').inputValue(), 'Acme', 'what was typed stays');
    await noSeriousA11y(page, '/admin/organization/brand with an error');
    await page.getByLabel('Primary colour', { exact: true }).fill('#8a1538');
    await page.getByRole('button', { name: 'Save brand' }).click();
    await page.getByText('Brand saved.').waitFor();

    const input = page.getByLabel('Logo image');
    await input.setInputFiles({ name: 'x.svg', mimeType: 'image/svg+xml', buffer: Buffer.from('<svg/>') });
    await page.getByRole('button', { name: 'Upload logo' }).click();
    await page.getByText(/SVG logos are refused/).waitFor();
    const png = Buffer.from(
      'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
      'base64',
    );
    await input.setInputFiles({ name: 'logo.png', mimeType: 'image/png', buffer: png });
    await page.getByRole('button', { name: 'Upload logo' }).click();
    await page.getByText('Logo saved.').waitFor();
    await page.getByRole('img', { name: 'Current logo of Acme' }).waitFor();
    await noSeriousA11y(page, '/admin/organization/brand with a logo');
    await screenshot(page, 'brand-01-admin');

    // The organization's pages wear its colour and logo (theme.css). A signed-in visitor is sent
    // on from the sign-in page, so it is opened in a context of its own.
    const anon = await fx.browser.newContext({ viewport: { width: 1280, height: 800 } });
    anon.setDefaultTimeout(15_000);
    const login = await anon.newPage();
    await login.goto(`${fx.server.base}/o/default/login`);
    const bg = await login
      .getByRole('button', { name: 'Sign in', exact: true })
      .evaluate((b) => getComputedStyle(b).backgroundColor);
    assert.equal(bg, 'rgb(138, 21, 56)');
    const logo = await login.locator('header .brand').evaluate((a) => getComputedStyle(a, '::before').backgroundImage);
    assert.match(logo, /\/brand\/default\/logo\?v=\d+/);
    await noSeriousA11y(login, '/o/default/login with the brand');
    await screenshot(login, 'brand-02-org-login');
    await anon.close();
    await ctx.close();
  });
});
