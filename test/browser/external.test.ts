import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { screenshot, seriousA11yViolations } from '../support/browser.ts';
import { withServer } from '../support/fixture.ts';
import { FakeOAuthServer, OidcProvider } from '../support/oauth-providers.ts';
import { freePort, strongPassword, waitForDevMail } from '../support/server.ts';

describe('external accounts in Chromium', () => {
  let port: number;
  let base: string;
  const google = new OidcProvider('google-client', 'google-secret-0123456789');
  const github = new FakeOAuthServer('github', 'gh-client', 'gh-secret');

  before(async () => {
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    await google.start(() => [`${base}/auth/google/callback`]);
    await github.start();
  });
  const fx = withServer({
    browser: true,
    env: () => ({
      LATCHKEY_PORT: String(port),
      LATCHKEY_GOOGLE_ISSUER: google.url,
      LATCHKEY_GOOGLE_CLIENT_ID: google.clientId,
      LATCHKEY_GOOGLE_CLIENT_SECRET: google.clientSecret,
      ...github.env(),
    }),
  });
  after(async () => {
    await google.stop();
    await github.stop();
  });

  async function noSeriousA11y(page: Page, what: string) {
    const v = await seriousA11yViolations(page);
    assert.deepEqual(v, [], `${what}: ${JSON.stringify(v)}`);
  }

  async function username(page: Page): Promise<string> {
    const res = await page.request.get(`${base}/api/v1/sessions/current`);
    return ((await res.json()) as { account: { username: string } }).account.username;
  }

  async function signOut(page: Page) {
    await page.getByRole('button', { name: 'Sign out' }).first().click();
    await page.waitForURL(/\/login/);
  }

  test('EXT-03 sign in with Google → account created → welcome → sign out → sign in again lands in the same account; EXT-06 its only method cannot be unlinked', async (t) => {
    if (!fx.ready(t)) return;
    const { browser } = fx;
    google.nextUser = { sub: 'browser-g1', email: 'ada@example.test', email_verified: true, name: 'Ada Lovelace' };
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`${base}/login`);
    await noSeriousA11y(page, '/login with provider buttons');
    await screenshot(page, 'external-01-login-buttons');
    await page.getByRole('link', { name: 'Continue with Google' }).click();
    await page.waitForURL(/\/auth\/welcome$/);
    await noSeriousA11y(page, '/auth/welcome');
    await screenshot(page, 'external-02-welcome');
    await page.getByLabel('Username').fill('countess-ada');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(/\/settings$/);
    assert.equal(await username(page), 'countess-ada');
    await page.getByRole('heading', { name: 'Linked accounts' }).waitFor();
    await noSeriousA11y(page, '/settings with linked accounts');
    await screenshot(page, 'external-03-settings-linked');

    await page.getByRole('button', { name: 'Unlink Google' }).click();
    await page.getByText('You cannot remove your only way to sign in.').waitFor();
    await screenshot(page, 'external-04-unlink-refused');

    await signOut(page);
    await page.getByRole('link', { name: 'Continue with Google' }).click();
    await page.waitForURL(/\/settings$/);
    assert.equal(await username(page), 'countess-ada');
    await ctx.close();
  });

  test('EXT-06 link GitHub from settings to a password account, then sign in with GitHub', async (t) => {
    if (!fx.ready(t)) return;
    const { browser } = fx;
    const password = strongPassword();
    const c = fx.server.client();
    assert.equal(
      (await c.post('/api/v1/registrations', { username: 'linkme', email: 'linkme@example.test', password })).status,
      202,
    );
    const mail = await waitForDevMail(fx.server, (m) => m.to.includes('linkme@example.test'));
    const token = /activate\?token=([A-Za-z0-9_-]+)/.exec(mail.text)?.[1];
    assert.equal((await c.post('/api/v1/activations', { token })).status, 200);

    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`${base}/login`);
    await page.getByLabel('Username or email address').fill('linkme');
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/settings$/);

    github.nextUser = { id: '77', login: 'linkme-gh', name: 'Link Me' };
    await page.getByRole('button', { name: 'Link GitHub' }).click();
    await page.waitForURL(/\/settings\?done=linked/);
    await page.getByText('The account was linked. You can now sign in with it.').waitFor();
    await screenshot(page, 'external-05-linked-github');
    await waitForDevMail(
      fx.server,
      (m) => m.to.includes('linkme@example.test') && /GitHub account linked/.test(m.subject),
    );

    await signOut(page);
    await page.getByRole('link', { name: 'Continue with GitHub' }).click();
    await page.waitForURL(/\/settings$/);
    assert.equal(await username(page), 'linkme');

    // With a password left, unlinking GitHub is allowed.
    await page.getByRole('button', { name: 'Unlink GitHub' }).click();
    await page.getByText('The linked account was removed.').waitFor();
    await ctx.close();
  });
});
