import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { enrolTotpDirect, ShiftClock, totpCode } from '../mfa/helpers.ts';
import { cast } from '../staff/helpers.ts';
import { screenshot, seriousA11yViolations } from '../support/browser.ts';
import { withServer } from '../support/fixture.ts';
import { waitForDevMail } from '../support/server.ts';

// The staff console in Chromium: search → account → action, axe on every console page, on a
// desktop and on a phone (390×844). Staff sign in with password and authenticator app (ADM-07).
const clock = new ShiftClock();

describe('the staff console in Chromium', () => {
  const fx = withServer({ browser: true, overrides: { clock } });

  async function noSeriousA11y(page: Page, what: string) {
    const v = await seriousA11yViolations(page);
    assert.deepEqual(v, [], `${what}: ${JSON.stringify(v)}`);
  }

  for (const [device, viewport] of [
    ['desktop', { width: 1200, height: 800 }],
    ['phone', { width: 390, height: 844 }],
  ] as const) {
    test(`search (keyboard only) → account → send a reset, axe on every console page (${device})`, async (t) => {
      if (!fx.ready(t)) return;
      const c = await cast(fx.server);
      const ctx = await fx.browser.newContext({ viewport });
      ctx.setDefaultTimeout(15_000);
      const page = await ctx.newPage();
      try {
        // The cast's placeholder factor has no usable secret: a real authenticator app replaces it.
        await fx.server.deps.db.deleteFrom('second_factors').where('account_id', '=', c.support.id).execute();
        const { secret } = await enrolTotpDirect(fx.server, clock, c.support.username);
        await page.goto(`${fx.server.base}/login`);
        await page.getByLabel('Username or email address').fill(c.support.username);
        await page.getByLabel('Password', { exact: true }).fill(c.support.password);
        await page.getByRole('button', { name: 'Sign in', exact: true }).click();
        await page.waitForURL(/\/login\/second-factor$/);
        await page.getByLabel('Authentication code').fill(totpCode(secret, clock.now()));
        await page.getByRole('button', { name: 'Verify' }).click();
        await page.waitForURL(/\/settings$/);
        clock.nextStep();
        await page.goto(`${fx.server.base}/admin/accounts`);
        await page.getByRole('heading', { name: 'Accounts' }).waitFor();
        await noSeriousA11y(page, `/admin/accounts (${device})`);
        // with the keyboard only: Tab to the search field, type, Enter; then Tab to the result, Enter
        const tabTo = async (matches: () => Promise<boolean>, what: string) => {
          for (let i = 0; i < 30; i++) {
            await page.keyboard.press('Tab');
            if (await matches()) return;
          }
          assert.fail(`Tab never reached ${what}`);
        };
        await tabTo(() => page.evaluate(() => document.activeElement?.id === 'f-q'), 'the search field');
        await page.keyboard.type(c.target.username.slice(0, 6).toUpperCase());
        await page.keyboard.press('Enter');
        await page.waitForURL(/\/admin\/accounts\?q=/);
        await noSeriousA11y(page, `search results (${device})`);
        await screenshot(page, `staff-01-search-${device}`);
        await tabTo(
          () => page.evaluate((name) => document.activeElement?.textContent === name, c.target.username),
          'the account link',
        );
        await page.keyboard.press('Enter');
        await page.waitForURL(new RegExp(`/admin/accounts/${c.target.id}$`));
        await page.getByRole('heading', { name: `Account ${c.target.username}` }).waitFor();
        await noSeriousA11y(page, `account page (${device})`);

        await page.getByLabel('Action').selectOption('reset');
        await page.getByLabel('Reason (kept in the audit trail)').fill('user phoned in, ticket 1234');
        await page.getByRole('button', { name: 'Do it' }).click();
        await page.waitForURL(/\?done=reset$/);
        await page.getByText('A reset was sent to the account’s own addresses').waitFor();
        const pending = page.locator('section', { has: page.getByRole('heading', { name: 'Pending resets' }) });
        assert.match((await pending.textContent()) ?? '', /email_link: expires \d{4}-\d{2}-\d{2}T/);
        await noSeriousA11y(page, `account page after the action (${device})`);
        await screenshot(page, `staff-02-account-${device}`);
        await waitForDevMail(fx.server, (m) => m.to.includes(c.target.email) && /staff member/i.test(m.subject));

        await page.getByRole('link', { name: 'Audit' }).click();
        await page.waitForURL(/\/admin\/audit$/);
        await noSeriousA11y(page, `/admin/audit (${device})`);
        await page.getByLabel('Event').fill('staff.*');
        await page.getByRole('button', { name: 'Filter' }).click();
        await page.getByRole('cell', { name: 'staff.reset_sent' }).first().waitFor();
        await noSeriousA11y(page, `/admin/audit filtered (${device})`);
        // nothing overflows the phone's width
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 1, `the page is ${overflow}px wider than the screen`);
      } finally {
        await ctx.close();
      }
    });
  }
});
