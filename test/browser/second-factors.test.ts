import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { systemContext } from '../../src/context.ts';
import { enrolTotpDirect, ShiftClock, totpCode } from '../mfa/helpers.ts';
import { activeAccount } from '../support/accounts.ts';
import { screenshot, seriousA11yViolations } from '../support/browser.ts';
import { withServer } from '../support/fixture.ts';
import { strongPassword, waitForDevMail } from '../support/server.ts';

// Second factors in Chromium: enrolling an authenticator app from /settings (the secret read
// from the page, codes computed with otpauth), signing in with it, the recovery-code walk, and
// the enrolment an organization that requires a factor forces right after the password.

const clock = new ShiftClock();

describe('second factors in Chromium', () => {
  const fx = withServer({ browser: true, overrides: { clock } });

  async function noSeriousA11y(page: Page, what: string) {
    const v = await seriousA11yViolations(page);
    assert.deepEqual(v, [], `${what}: ${JSON.stringify(v)}`);
  }

  async function passwordStep(page: Page, identifier: string, password: string) {
    await page.goto(`${fx.server.base}/login`);
    await page.getByLabel('Username or email address').fill(identifier);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  async function signOut(page: Page) {
    await page.getByRole('navigation', { name: 'Account' }).getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/login/);
  }

  test('MFA-01 MFA-05 enrol an authenticator app from settings, save the codes, sign in with it, then the recovery-code walk', async (t) => {
    if (!fx.ready(t)) return;
    const a = await activeAccount(fx.server);
    const ctx = await fx.browser.newContext();
    const page = await ctx.newPage();
    await passwordStep(page, a.username, a.password);
    await page.waitForURL(/\/settings/);
    await page.getByRole('heading', { name: 'Two-step verification' }).waitFor();
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    await page.getByRole('heading', { name: 'Set up an authenticator app' }).waitFor();
    await noSeriousA11y(page, 'TOTP setup');
    await screenshot(page, 'mfa-01-totp-setup');
    assert.equal(await page.getByRole('img', { name: /QR code/ }).count(), 1);
    const secret = (await page.locator('[data-totp-secret]').textContent())?.trim() ?? '';
    assert.match(secret, /^[A-Z2-7]{32}$/);
    // A wrong code keeps the same secret on the page.
    await page.getByLabel('6-digit code').fill('000000');
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.getByText('Invalid or expired code.').waitFor();
    assert.equal((await page.locator('[data-totp-secret]').textContent())?.trim(), secret);
    await page.getByLabel('6-digit code').fill(totpCode(secret, clock.now()));
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.getByRole('heading', { name: 'Save your recovery codes' }).waitFor();
    await noSeriousA11y(page, 'recovery codes');
    await screenshot(page, 'mfa-02-recovery-codes');
    const codes = (await page.locator('ul.codes code').allTextContents()).map((c) => c.trim());
    assert.equal(codes.length, 10);
    const download = await page.getByRole('link', { name: 'Download as .txt' }).getAttribute('href');
    assert.ok(download?.startsWith('data:text/plain') && decodeURIComponent(download).includes(codes[9]));
    await page.getByRole('link', { name: 'I saved them' }).click();
    await page.waitForURL(/\/settings/);
    await page.getByText('You have 10 unused recovery codes.').waitFor();
    clock.nextStep();
    await signOut(page);

    // Sign in: password, then the app's code.
    await passwordStep(page, a.username, a.password);
    await page.waitForURL(/\/login\/second-factor$/);
    await noSeriousA11y(page, '/login/second-factor');
    await screenshot(page, 'mfa-03-second-factor');
    await page.getByLabel('Authentication code').fill(totpCode(secret, clock.now()));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(/\/settings/);
    clock.nextStep();
    await signOut(page);

    // Lost the phone: a recovery code.
    await passwordStep(page, a.username, a.password);
    await page.waitForURL(/\/login\/second-factor$/);
    await page.getByRole('link', { name: 'Use a recovery code instead' }).click();
    await page.getByLabel('Recovery code').waitFor();
    await noSeriousA11y(page, 'recovery code form');
    await page.getByLabel('Recovery code').fill(codes[0]);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByText('You have 9 recovery codes left.').waitFor();
    await noSeriousA11y(page, 'recovery code used');
    await screenshot(page, 'mfa-04-recovery-code-used');
    await page.getByRole('link', { name: 'Create new recovery codes' }).click();
    await page.waitForURL(/\/settings/);
    await page.getByRole('button', { name: 'Create new recovery codes' }).click();
    await page.getByRole('heading', { name: 'Save your recovery codes' }).waitFor();
    const fresh = (await page.locator('ul.codes code').allTextContents()).map((c) => c.trim());
    assert.equal(fresh.length, 10);
    assert.ok(!fresh.includes(codes[1]));
    await ctx.close();
  });

  test('a code page works without JavaScript', async (t) => {
    if (!fx.ready(t)) return;
    const a = await activeAccount(fx.server);
    const { secret } = await enrolTotpDirect(fx.server, clock, a.username);
    const ctx = await fx.browser.newContext({ javaScriptEnabled: false });
    const page = await ctx.newPage();
    await passwordStep(page, a.username, a.password);
    await page.waitForURL(/\/login\/second-factor$/);
    await page.getByLabel('Authentication code').fill(totpCode(secret, clock.now()));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(/\/settings/);
    clock.nextStep();
    await ctx.close();
  });

  test('MFA-08 a member of an organization that requires a factor enrols right after the password (phone-sized)', async (t) => {
    if (!fx.ready(t)) return;
    const d = fx.server.deps;
    const org = await d.organizations.create({ slug: 'strict-co', name: 'Strict Co' }, systemContext());
    await d.db.updateTable('organizations').set({ require_second_factor: 1 }).where('id', '=', org.id).execute();
    const username = 'strictmember';
    const email = `${username}@example.test`;
    const password = strongPassword();
    const c = fx.server.client();
    assert.equal(
      (await c.post('/api/v1/organizations/strict-co/registrations', { username, email, password })).status,
      202,
    );
    const mail = await waitForDevMail(fx.server, (m) => m.to.includes(email) && /activate/i.test(m.subject));
    const token = /\/activate\?token=([A-Za-z0-9_-]+)/.exec(mail.text)?.[1];
    assert.equal((await c.post('/api/v1/activations', { token })).status, 200);

    const ctx = await fx.browser.newContext({ viewport: { width: 390, height: 844 } });
    const page = await ctx.newPage();
    await passwordStep(page, username, password);
    await page.waitForURL(/\/login\/second-factor$/);
    await page.getByRole('heading', { name: 'Set up two-step verification' }).waitFor();
    await noSeriousA11y(page, 'forced enrolment');
    await screenshot(page, 'mfa-05-forced-enrolment');
    assert.equal((await ctx.cookies()).filter((x) => x.name === 'latchkey_session').length, 0, 'no session yet');
    const secret = (await page.locator('[data-totp-secret]').textContent())?.trim() ?? '';
    // Reloading shows the same secret (the app already set up keeps working).
    await page.reload();
    assert.equal((await page.locator('[data-totp-secret]').textContent())?.trim(), secret);
    await page.getByLabel('Code from the app').fill(totpCode(secret, clock.now()));
    await page.getByRole('button', { name: 'Turn on and continue' }).click();
    await page.getByRole('heading', { name: 'Save your recovery codes' }).waitFor();
    await noSeriousA11y(page, 'forced enrolment codes');
    await page.getByRole('link', { name: 'I saved them, continue' }).click();
    await page.waitForURL(/\/settings/);
    await page.getByText('Authenticator app').first().waitFor();
    clock.nextStep();
    await ctx.close();
  });
});
