import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { enrolTotpDirect, ShiftClock, totpCode } from '../mfa/helpers.ts';
import { activeAccount, isResetMail, requestReset } from '../recovery/helpers.ts';
import { statusLinkIn } from '../review/helpers.ts';
import { screenshot, seriousA11yViolations } from '../support/browser.ts';
import { withServer } from '../support/fixture.ts';
import { strongPassword } from '../support/server.ts';

// Support-assisted recovery and the review queue in Chromium: a user who lost phone and recovery
// codes files a request; an administrator finds it in the queue, records the identity check,
// removes the second factors and sends a reset; the user resets by mail and enrols again. And
// the flag flow: four completed resets in a day put the account in the queue; staff resolve it.

const clock = new ShiftClock();

describe('support requests and the review queue in Chromium', () => {
  const fx = withServer({ browser: true, smtp: true, overrides: { clock } });

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

  /** An administrator signed in with password and authenticator app, in a desktop browser. */
  async function staffPage() {
    const staff = await activeAccount(fx.server, fx.smtp, `walkadmin${Math.random().toString(36).slice(2, 6)}`);
    await fx.server.deps.staffMembers.add(staff.username, 'admin', { ip: '', userAgent: '', correlationId: 't' });
    const { secret } = await enrolTotpDirect(fx.server, clock, staff.username);
    const ctx = await fx.browser.newContext();
    const page = await ctx.newPage();
    await passwordStep(page, staff.username, staff.password);
    await page.waitForURL(/\/login\/second-factor$/);
    await page.getByLabel('Authentication code').fill(totpCode(secret, clock.now()));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(/\/settings/);
    clock.nextStep();
    return { ctx, page };
  }

  test('ADM-08 ADM-03 lost phone and codes: support request → queue → identity check, factors removed, reset → the user resets and enrols again; axe on every page', async (t) => {
    if (!fx.ready(t)) return;
    const user = await activeAccount(fx.server, fx.smtp, 'lostphone');
    const { accountId: userId } = await enrolTotpDirect(fx.server, clock, user.username);
    // Phone gone, every recovery code used.
    await fx.server.deps.db
      .updateTable('mfa_recovery_codes')
      .set({ used_at: clock.now() })
      .where('account_id', '=', userId)
      .execute();

    // The user, on a phone: the password works, the second step cannot be passed.
    const uctx = await fx.browser.newContext({ viewport: { width: 390, height: 844 } });
    const u = await uctx.newPage();
    await passwordStep(u, user.username, user.password);
    await u.waitForURL(/\/login\/second-factor$/);
    await u.getByRole('link', { name: 'Cancel and sign in as someone else' }).click();
    await u.waitForURL(/\/login/);
    await u.getByRole('link', { name: 'Contact support' }).click();
    await u.waitForURL(/\/support$/);
    await noSeriousA11y(u, '/support');
    await screenshot(u, 'support-01-form');
    const contact = 'lostphone-home@contact.test';
    await u.getByLabel('Username or email of the account').fill(user.username);
    await u.getByLabel('Email address we can reach you at').fill(contact);
    await u.getByLabel('What happened?').fill('My phone was stolen and I used all my recovery codes.');
    await u.getByRole('button', { name: 'Send request' }).click();
    await u.getByRole('heading', { name: 'Request received' }).waitFor();
    await noSeriousA11y(u, 'request received');
    const link = statusLinkIn(await fx.mail(contact, /Your support request/));
    await u.goto(`${fx.server.base}${link.path}`);
    await u.getByRole('heading', { name: `Support request ${link.ref}` }).waitFor();
    await noSeriousA11y(u, 'status page');

    // Support finds it in the queue.
    const { ctx: sctx, page: s } = await staffPage();
    await s.goto(`${fx.server.base}/admin`);
    await s.getByRole('heading', { name: 'Review queue' }).waitFor();
    await noSeriousA11y(s, '/admin');
    await screenshot(s, 'support-02-queue');
    const row = s.getByRole('row').filter({ hasText: user.username }).filter({ hasText: 'Support request' });
    await row.getByRole('link').click();
    await s.getByRole('heading', { name: `Request ${link.ref}` }).waitFor();
    await noSeriousA11y(s, 'queue item');
    await screenshot(s, 'support-03-item');
    await s.getByRole('button', { name: 'Assign to me' }).click();
    await s.getByText('The item is assigned to you.').waitFor();
    await s
      .getByLabel('Add a note (staff only)')
      .fill('Video call: photo ID matched, confirmed the last sign-in city.');
    await s.getByRole('button', { name: 'Add note' }).click();
    await s.getByText('Note added.').waitFor();
    await s
      .getByLabel('Reply to the user')
      .fill('We checked who you are. You will get a reset mail at your account address.');
    await s.getByRole('button', { name: 'Send reply' }).click();
    await s.getByText(/Reply sent/).waitFor();
    const itemUrl = s.url().replace(/\?.*$/, '');

    // On the account page: remove the factors with the identity check, then send a reset.
    await s.getByRole('link', { name: user.username }).click();
    await s.waitForURL(/\/admin\/accounts\//);
    await s.getByLabel('Action').selectOption('remove_second_factors');
    await s.getByLabel('Reason (kept in the audit trail)').fill(`Support request ${link.ref}: phone stolen`);
    await s.getByLabel(/Identity check made/).fill('Video call, photo ID matched, confirmed the last sign-in city');
    await s.getByRole('button', { name: 'Do it' }).click();
    await s.waitForURL(/done=remove_second_factors/);
    await s.getByLabel('Action').selectOption('reset');
    await s.getByLabel('Reason (kept in the audit trail)').fill(`Support request ${link.ref}: new password`);
    await s.getByRole('button', { name: 'Do it' }).click();
    await s.waitForURL(/done=reset/);
    await s.goto(itemUrl);
    await s.getByLabel('Outcome').selectOption('secured');
    await s.getByLabel('Reason').fill('Identity checked by video call; factors removed and reset sent.');
    await s.getByRole('button', { name: 'Resolve' }).click();
    await s.getByText('Resolved.').waitFor();
    await noSeriousA11y(s, 'resolved item');

    // The user: the reply on the status page, the reset by mail, then a new factor.
    await u.goto(`${fx.server.base}${link.path}`);
    await u.getByText('We checked who you are.').waitFor();
    await u.getByText('Closed').waitFor();
    const reset = await fx.smtp.waitFor(isResetMail(user.email));
    const resetLink = /(http:\/\/\S+\/auth\/reset\/code\?token=[A-Za-z0-9_-]+)/.exec(reset.text)?.[1];
    assert.ok(resetLink);
    await u.goto(resetLink);
    const fresh = strongPassword();
    await u.getByLabel('New password', { exact: true }).fill(fresh);
    await u.getByLabel('Confirm new password').fill(fresh);
    await u.getByRole('button', { name: 'Change password' }).click();
    await u.getByRole('button', { name: 'Sign in', exact: true }).click();
    await passwordStep(u, user.username, fresh);
    await u.waitForURL(/\/settings/);
    await u.getByRole('button', { name: 'Set up an authenticator app' }).click();
    const secret = (await u.locator('[data-totp-secret]').textContent())?.trim() ?? '';
    await u.getByLabel('6-digit code').fill(totpCode(secret, clock.now()));
    await u.getByRole('button', { name: 'Turn on' }).click();
    await u.getByRole('heading', { name: 'Save your recovery codes' }).waitFor();
    clock.nextStep();
    await screenshot(u, 'support-04-enrolled-again');
    await uctx.close();
    await sctx.close();
  });

  test('LOG-04 four completed resets in 24 h put the account in the queue; staff resolve it and the flag clears', async (t) => {
    if (!fx.ready(t)) return;
    const a = await activeAccount(fx.server, fx.smtp, 'fourresets');
    for (let i = 0; i < 4; i++) {
      const { token } = await requestReset(fx.server, fx.smtp, a.username, a.email);
      const r = await fx.server
        .client()
        .post('/api/v1/password-resets/complete', { token, password: strongPassword() });
      assert.equal(r.status, 200, r.text);
    }
    const { ctx, page: s } = await staffPage();
    await s.goto(`${fx.server.base}/admin?kind=flagged_resets`);
    await noSeriousA11y(s, 'filtered queue');
    const row = s.getByRole('row').filter({ hasText: a.username });
    await row.getByRole('link').click();
    await s
      .getByText(/possibly compromised/)
      .first()
      .waitFor();
    await s.getByRole('cell', { name: 'account.flagged' }).first().waitFor();
    await s.getByLabel('Outcome').selectOption('legitimate');
    await s.getByLabel('Reason').fill('Owner confirmed by phone that all four resets were theirs.');
    await s.getByRole('button', { name: 'Resolve' }).click();
    await s.getByText('Resolved.').waitFor();
    const acct = await fx.server.deps.db
      .selectFrom('accounts')
      .select('flagged_at')
      .where('username', '=', a.username)
      .executeTakeFirstOrThrow();
    assert.equal(acct.flagged_at, null);
    await s.goto(`${fx.server.base}/admin/requests`);
    await noSeriousA11y(s, '/admin/requests');
    await ctx.close();
  });
});
