import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { activeAccount, signedIn } from '../support/accounts.ts';
import { screenshot, seriousA11yViolations } from '../support/browser.ts';
import { withServer } from '../support/fixture.ts';
import { freePort, waitForDevMail } from '../support/server.ts';
import { SoftAuthenticator } from '../support/webauthn.ts';

// Passkeys in Chromium with its virtual authenticator (CDP WebAuthn domain: CTAP2, internal
// transport, resident keys, user verification): add one in /settings, sign in with it alone,
// remove it; axe on the pages touched. The public URL is http://localhost:PORT: localhost is a
// secure context, and an RP ID cannot be an IP address.

describe('passkeys in Chromium (virtual authenticator)', () => {
  const fx = withServer({
    browser: true,
    env: async () => {
      const port = await freePort();
      return { LATCHKEY_PORT: String(port), LATCHKEY_PUBLIC_URL: `http://localhost:${port}` };
    },
  });

  async function noSeriousA11y(page: Page, what: string) {
    const v = await seriousA11yViolations(page);
    assert.deepEqual(v, [], `${what}: ${JSON.stringify(v)}`);
  }

  /** A context whose pages share one virtual platform authenticator. */
  async function withAuthenticator(ctx: BrowserContext, page: Page) {
    const cdp = await ctx.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    return { cdp, authenticatorId };
  }

  test('MFA-04 BF-05 add a passkey in /settings, sign in with it alone (button and autofill), as second factor after the password, remove it; axe on each page', async (t) => {
    if (!fx.ready(t)) return;
    const base = fx.server.base;
    const a = await activeAccount(fx.server);
    const ctx = await fx.browser.newContext({ viewport: { width: 390, height: 844 } });
    ctx.setDefaultTimeout(15_000);
    t.after(() => ctx.close());
    const page = await ctx.newPage();
    const { cdp, authenticatorId } = await withAuthenticator(ctx, page);

    await page.goto(`${base}/login`);
    await page.getByLabel('Username or email address').fill(a.username);
    await page.getByLabel('Password', { exact: true }).fill(a.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(/\/settings$/);
    await noSeriousA11y(page, '/settings without passkeys');

    await page.getByLabel('Name for a new passkey').fill('Virtual key');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.waitForURL(/\/settings\?done=passkey_added$/);
    await page.getByText('Your passkey was added.').waitFor();
    await page.locator('[data-passkey-list] li', { hasText: 'Virtual key' }).waitFor();
    await noSeriousA11y(page, '/settings with a passkey');
    await screenshot(page, 'passkeys-01-settings');
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.equal(credentials.length, 1);
    assert.equal(credentials[0]?.isResidentCredential, true, 'a discoverable credential');

    const presence = (enabled: boolean) =>
      cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled });
    const signedInWithPasskey = async () => {
      await page.waitForURL(/\/settings$/);
      await page.waitForLoadState('networkidle');
      const me = await (await ctx.request.get(`${base}/api/v1/sessions`)).json();
      assert.ok(
        me.sessions.some((s: { current: boolean; method: string }) => s.current && s.method === 'passkey'),
        JSON.stringify(me),
      );
    };

    // The button: the authenticator answers only once it is pressed.
    await presence(false);
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL(/\/login\?msg=signed_out$/);
    await page.getByRole('region', { name: 'Passkey' }).getByRole('button', { name: 'Use a passkey' }).waitFor();
    await noSeriousA11y(page, '/login with the passkey button');
    await screenshot(page, 'passkeys-02-login');
    await presence(true);
    await page.getByRole('region', { name: 'Passkey' }).getByRole('button', { name: 'Use a passkey' }).click();
    await signedInWithPasskey();

    // Conditional UI: the passkey offered with the username autofill (the virtual authenticator
    // picks it at once) signs in without a button.
    const before = (await ctx.cookies()).find((c) => c.name === 'latchkey_session')?.value;
    await Promise.all([
      page.waitForURL(/\/login\?msg=signed_out$/, { waitUntil: 'commit' }),
      page.getByRole('button', { name: 'Sign out', exact: true }).click(),
    ]);
    await signedInWithPasskey();
    const after = (await ctx.cookies()).find((c) => c.name === 'latchkey_session')?.value;
    assert.ok(after && after !== before, 'a new session, from the autofill');

    // The password, then the passkey as second factor (BF-05) on /login/second-factor.
    await presence(false);
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL(/\/login\?msg=signed_out$/);
    await page.getByLabel('Username or email address').fill(a.username);
    await page.getByLabel('Password', { exact: true }).fill(a.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(/\/login\/second-factor$/);
    await page.getByRole('button', { name: 'Use a passkey' }).waitFor();
    await noSeriousA11y(page, '/login/second-factor with a passkey');
    await screenshot(page, 'passkeys-03-second-factor');
    await presence(true);
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    await page.waitForURL(/\/settings$/);
    await page.waitForLoadState('networkidle');
    const step = await (await ctx.request.get(`${base}/api/v1/sessions`)).json();
    assert.ok(
      step.sessions.some((s: { current: boolean; method: string }) => s.current && s.method === 'password'),
      JSON.stringify(step),
    );

    await page.getByRole('button', { name: 'Remove passkey Virtual key' }).click();
    await page.waitForURL(/\/settings\?done=passkey_removed$/);
    await page.getByText('No passkeys yet.').waitFor();
    await noSeriousA11y(page, '/settings after removing');
  });

  test('REC-08 a passkey-only account recovers by mail: "add a new passkey or set a password" → new passkey → signed in with it; axe', async (t) => {
    if (!fx.ready(t)) return;
    const base = fx.server.base;
    const a = await activeAccount(fx.server);
    // A passkey on another device (a software one), then no password: passkeys are its only way in.
    const c = await signedIn(fx.server, a.username, a.password);
    const lost = new SoftAuthenticator(base, 'localhost');
    const o = await c.post('/api/v1/account/factors/passkeys/options', {});
    assert.equal((await c.post('/api/v1/account/factors/passkeys', { response: lost.create(o.json) })).status, 201);
    await fx.server.deps.db
      .updateTable('accounts')
      .set({ password_hash: null })
      .where('username', '=', a.username)
      .execute();
    assert.equal((await fx.server.client().post('/api/v1/password-resets', { identifier: a.username })).status, 202);
    const mail = await waitForDevMail(fx.server, (m) => m.to === a.email && m.text.includes('/auth/reset/code?token='));
    const link = /(http\S+\/auth\/reset\/code\?token=[A-Za-z0-9_-]+)/.exec(mail.text)?.[1] as string;

    const ctx = await fx.browser.newContext({ viewport: { width: 390, height: 844 } });
    ctx.setDefaultTimeout(15_000);
    t.after(() => ctx.close());
    const page = await ctx.newPage();
    await withAuthenticator(ctx, page);
    await page.goto(link);
    await page.getByRole('heading', { name: 'Add a new passkey or set a password' }).waitFor();
    await noSeriousA11y(page, 'reset link of a passkey-only account');
    await screenshot(page, 'passkeys-04-recovery');
    await page.getByLabel('Name for the new passkey').fill('Replacement');
    await Promise.all([
      page.waitForURL(/\/login\?msg=passkey_recovered$/, { waitUntil: 'commit' }),
      page.getByRole('button', { name: 'Add a new passkey' }).click(),
    ]);
    // The autofill (or the button) signs in with the new passkey.
    await page.waitForURL(/\/settings$/);
    await page.locator('[data-passkey-list] li', { hasText: 'Replacement' }).waitFor();
  });

  test('without JavaScript /login still signs in with a password and says passkeys need JavaScript', async (t) => {
    if (!fx.ready(t)) return;
    const a = await activeAccount(fx.server);
    const ctx = await fx.browser.newContext({ javaScriptEnabled: false, viewport: { width: 390, height: 844 } });
    ctx.setDefaultTimeout(15_000);
    t.after(() => ctx.close());
    const page = await ctx.newPage();
    await page.goto(`${fx.server.base}/login`);
    await page.getByText('Signing in with a passkey needs JavaScript.').waitFor();
    assert.equal(
      await page.getByRole('region', { name: 'Passkey' }).getByRole('button', { name: 'Use a passkey' }).isVisible(),
      false,
    );
    await page.getByLabel('Username or email address').fill(a.username);
    await page.getByLabel('Password', { exact: true }).fill(a.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(/\/settings$/);
    await page.getByText('Adding a passkey needs JavaScript.').waitFor();
    // Pressing the button anyway says so, and changes nothing.
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.getByRole('alert').getByText('Adding a passkey needs JavaScript.').waitFor();
  });
});
