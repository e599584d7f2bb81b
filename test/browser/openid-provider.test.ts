import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import type { BrowserContext, Page } from 'playwright-core';
import { authRequest, REDIRECT, registerClient } from '../apps/op-support.ts';
import { enrolTotpDirect, ShiftClock, totpCode } from '../mfa/helpers.ts';
import { activeAccount } from '../support/accounts.ts';
import { screenshot, seriousA11yViolations } from '../support/browser.ts';
import { withServer } from '../support/fixture.ts';
import { OidcProvider } from '../support/oauth-providers.ts';
import { freePort } from '../support/server.ts';

// Apps signing in through Latchkey, in Chromium: openid-client is the relying party, the
// browser walks /oidc/auth → /login (password, second factor, external account) → consent →
// back to the app, whose callback the test intercepts.

const clock = new ShiftClock();

describe('OpenID Provider in Chromium', () => {
  let port: number;
  let base: string;
  const google = new OidcProvider('google-client', 'google-secret-0123456789');
  before(async () => {
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    await google.start(() => [`${base}/auth/google/callback`]);
  });
  after(() => google.stop());
  const fx = withServer({
    browser: true,
    overrides: { clock },
    env: () => ({
      LATCHKEY_PORT: String(port),
      LATCHKEY_GOOGLE_ISSUER: google.url,
      LATCHKEY_GOOGLE_CLIENT_ID: google.clientId,
      LATCHKEY_GOOGLE_CLIENT_SECRET: google.clientSecret,
    }),
  });

  async function noSeriousA11y(page: Page, what: string) {
    const v = await seriousA11yViolations(page);
    assert.deepEqual(v, [], `${what}: ${JSON.stringify(v)}`);
  }

  /** A browser whose requests to the app's callback are answered by the test, which keeps the URL. */
  async function appBrowser(): Promise<{ ctx: BrowserContext; page: Page; callback: Promise<URL> }> {
    const ctx = await fx.browser.newContext({ viewport: { width: 390, height: 844 } });
    const page = await ctx.newPage();
    // The app's callback: the URL is kept, the request never leaves the browser.
    const callback = new Promise<URL>((resolve) => {
      page.on('request', (r) => {
        if (r.url().startsWith(REDIRECT)) resolve(new URL(r.url()));
      });
    });
    return { ctx, page, callback };
  }

  async function exchange(
    app: Awaited<ReturnType<typeof registerClient>>,
    req: Awaited<ReturnType<typeof authRequest>>,
    url: URL,
  ) {
    const tokens = await oidc.authorizationCodeGrant(app.config, url, {
      pkceCodeVerifier: req.verifier,
      expectedState: req.state,
      expectedNonce: req.nonce,
    });
    return { claims: tokens.claims() as oidc.IDToken, tokens };
  }

  async function passwordStep(page: Page, identifier: string, password: string) {
    await page.getByLabel('Username or email address').fill(identifier);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  test('OP-01 OP-02 OP-06 code + PKCE with a password: /login, the consent screen of a third-party app, back to the app', async (t) => {
    if (!fx.ready(t)) return;
    const acct = await activeAccount(fx.server);
    const app = await registerClient(fx.server);
    const req = await authRequest(app.config);
    const { ctx, page, callback } = await appBrowser();
    await page.goto(req.url.href);
    await page.waitForURL(/\/login\?return_to=/);
    await passwordStep(page, acct.username, acct.password);
    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
    await screenshot(page, 'op-01-consent');
    await noSeriousA11y(page, 'consent page');
    await page.getByRole('button', { name: 'Allow' }).click();
    const { claims, tokens } = await exchange(app, req, await callback);
    assert.deepEqual(claims.amr, ['pwd']);
    assert.equal(claims.acr, 'urn:latchkey:acr:1fa');
    assert.ok(tokens.access_token);
    await ctx.close();
  });

  test('OP-02 password + TOTP: the second factor is asked, and amr carries both (first-party: no consent)', async (t) => {
    if (!fx.ready(t)) return;
    const acct = await activeAccount(fx.server);
    const { secret } = await enrolTotpDirect(fx.server, clock, acct.username);
    const app = await registerClient(fx.server, { firstParty: true });
    const req = await authRequest(app.config);
    const { ctx, page, callback } = await appBrowser();
    await page.goto(req.url.href);
    await passwordStep(page, acct.username, acct.password);
    await page.getByLabel('Authentication code').fill(totpCode(secret, clock.now()));
    await page.getByRole('button', { name: 'Verify' }).click();
    const { claims, tokens } = await exchange(app, req, await callback);
    assert.deepEqual([...((claims.amr as string[]) ?? [])].sort(), ['mfa', 'otp', 'pwd']);
    assert.equal(claims.acr, 'urn:latchkey:acr:mfa');
    assert.ok(tokens.refresh_token);
    await ctx.close();
  });

  test('OP-02 an external account (Google) signs in to the app; amr is fed', async (t) => {
    if (!fx.ready(t)) return;
    google.nextUser = { sub: 'op-g1', email: 'grace@example.test', email_verified: true, name: 'Grace Hopper' };
    // first visit creates the Latchkey account
    const first = await fx.browser.newContext();
    const p1 = await first.newPage();
    await p1.goto(`${base}/login`);
    await p1.getByRole('link', { name: 'Continue with Google' }).click();
    await p1.waitForURL(/\/auth\/welcome$/);
    await p1.getByLabel('Username').fill('grace-op');
    await p1.getByRole('button', { name: 'Continue' }).click();
    await p1.waitForURL(/\/settings$/);
    await first.close();

    const app = await registerClient(fx.server, { firstParty: true });
    const req = await authRequest(app.config);
    const { ctx, page, callback } = await appBrowser();
    await page.goto(req.url.href);
    await page.waitForURL(/\/login\?return_to=/);
    await page.getByRole('link', { name: 'Continue with Google' }).click();
    const { claims, tokens } = await exchange(app, req, await callback);
    assert.deepEqual(claims.amr, ['fed']);
    const info = await oidc.fetchUserInfo(app.config, tokens.access_token, claims.sub);
    assert.equal(info.preferred_username, 'grace-op');
    await ctx.close();
  });
});
