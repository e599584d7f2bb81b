import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { endAllAccess } from '../../src/flows/staff/access.ts';
import { activeAccount, signedIn } from '../support/accounts.ts';
import { withServer } from '../support/fixture.ts';
import { strongPassword, waitForDevMail } from '../support/server.ts';
import { authRequest, consent, follow, REDIRECT, registerClient, signInThrough } from './op-support.ts';

// OP-04, OP-06 and RP-initiated logout: what ends an app's access, and who hears about it.

/** A relying party's back-channel logout endpoint: collects the logout tokens it receives. */
class BackchannelReceiver {
  readonly tokens: string[] = [];
  private server?: Server;
  url = '';
  async start() {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        const token = new URLSearchParams(body).get('logout_token');
        if (token) this.tokens.push(token);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => this.server?.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/backchannel`;
  }
  async waitFor(n: number, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    while (this.tokens.length < n) {
      if (Date.now() > deadline) throw new Error(`only ${this.tokens.length} logout token(s) arrived`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return this.tokens[n - 1];
  }
  stop() {
    return new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

describe('OpenID Provider: consent, revocation and logout', () => {
  const fx = withServer();
  const rp = new BackchannelReceiver();
  fx.onStop(() => rp.stop());

  it('OP-06 a third-party client gets a consent screen; deny refuses, allow grants', async () => {
    const acct = await activeAccount(fx.server);
    const app = await registerClient(fx.server);
    const c = await signedIn(fx.server, acct.username, acct.password);
    const first = await follow(c, (await authRequest(app.config)).url.href);
    assert.equal(first.status, 200);
    assert.match(first.text, /Allow access\?/);
    assert.match(first.text, /Photo printer/);
    assert.match(first.text, /See your email address/);
    const denied = await consent(c, first, 'deny');
    assert.equal(denied.url.searchParams.get('error'), 'access_denied');
    // allowed once, the next authorization asks no more
    const { tokens } = await signInThrough(c, app);
    assert.ok(tokens.access_token);
    const again = await follow(c, (await authRequest(app.config)).url.href);
    assert.equal(again.url.origin + again.url.pathname, REDIRECT, 'no second consent screen');
  });

  it('OP-06 a first-party client skips consent; /settings lists the app and revokes its access', async () => {
    const acct = await activeAccount(fx.server);
    const app = await registerClient(fx.server, { firstParty: true });
    const c = await signedIn(fx.server, acct.username, acct.password);
    const end = await follow(c, (await authRequest(app.config)).url.href);
    assert.equal(end.url.origin + end.url.pathname, REDIRECT, 'straight back to the app');
    const { tokens } = await signInThrough(c, app);
    const settings = await c.get('/settings', { accept: 'text/html' });
    assert.match(settings.text, /Apps you signed in to/);
    assert.match(settings.text, /Team wiki/);
    const revoke = await c.form(`/settings/apps/${app.id}/revoke`, {});
    assert.equal(revoke.status, 303);
    await assert.rejects(oidc.refreshTokenGrant(app.config, tokens.refresh_token as string));
    assert.equal((await oidc.tokenIntrospection(app.config, tokens.access_token)).active, false);
    assert.doesNotMatch((await c.get('/settings', { accept: 'text/html' })).text, /Team wiki/);
  });

  it('OP-04 a password reset revokes the grants and sends a signed back-channel logout token', async () => {
    await rp.start();
    const acct = await activeAccount(fx.server);
    const app = await registerClient(fx.server, { firstParty: true, backchannel: rp.url });
    const c = await signedIn(fx.server, acct.username, acct.password);
    const { tokens } = await signInThrough(c, app);
    const sub = tokens.claims()?.sub;

    const anon = fx.server.client();
    assert.equal((await anon.post('/api/v1/password-resets', { identifier: acct.email })).status, 202);
    const mail = await waitForDevMail(fx.server, (m) => m.to.includes(acct.email) && /reset/i.test(m.subject));
    const token = /token=([A-Za-z0-9_-]+)/.exec(mail.text)?.[1];
    const done = await anon.post('/api/v1/password-resets/complete', { token, password: strongPassword() });
    assert.equal(done.status, 200, done.text);

    const logout = await rp.waitFor(1);
    const jwks = createRemoteJWKSet(new URL(`${fx.server.base}/oidc/jwks`));
    const { payload, protectedHeader } = await jwtVerify(logout, jwks, {
      issuer: `${fx.server.base}/oidc`,
      audience: app.id,
      typ: 'logout+jwt',
    });
    assert.equal(protectedHeader.alg, 'RS256');
    assert.equal(payload.sub, sub);
    assert.ok(payload.jti);
    assert.deepEqual(payload.events, { 'http://schemas.openid.net/event/backchannel-logout': {} });
    assert.equal(payload.nonce, undefined);
    await assert.rejects(oidc.refreshTokenGrant(app.config, tokens.refresh_token as string));
    assert.equal((await oidc.tokenIntrospection(app.config, tokens.access_token)).active, false);
  });

  it('OP-04 sign out everywhere and a password change revoke every grant too', async () => {
    for (const how of ['everywhere', 'change'] as const) {
      const acct = await activeAccount(fx.server);
      const app = await registerClient(fx.server, { firstParty: true, backchannel: rp.url });
      const c = await signedIn(fx.server, acct.username, acct.password);
      const { tokens } = await signInThrough(c, app);
      const before = rp.tokens.length;
      if (how === 'everywhere') assert.equal((await c.form('/settings/sessions/end-all', {})).status, 303);
      else
        assert.equal(
          (await c.put('/api/v1/account/password', { currentPassword: acct.password, newPassword: strongPassword() }))
            .status,
          200,
        );
      await rp.waitFor(before + 1);
      await assert.rejects(oidc.refreshTokenGrant(app.config, tokens.refresh_token as string), how);
    }
  });

  it('OP-04 disabling an account or removing its second factors (endAllAccess) revokes every grant', async () => {
    for (const reason of ['account_disabled', 'second_factor_removed'] as const) {
      const acct = await activeAccount(fx.server);
      const app = await registerClient(fx.server, { firstParty: true, backchannel: rp.url });
      const c = await signedIn(fx.server, acct.username, acct.password);
      const { tokens } = await signInThrough(c, app);
      const before = rp.tokens.length;
      const id = tokens.claims()?.sub as string;
      // the one place the staff console's disable and second-factor removal end access
      const r = await endAllAccess(fx.server.deps, id, fx.server.deps.db, reason);
      assert.equal(r.apps, 1);
      await rp.waitFor(before + 1);
      await assert.rejects(oidc.refreshTokenGrant(app.config, tokens.refresh_token as string), reason);
    }
  });

  it('RP-initiated logout ends the provider and Latchkey sessions and returns to the app', async () => {
    const acct = await activeAccount(fx.server);
    const back = 'http://127.0.0.1:9/signed-out';
    const app = await registerClient(fx.server, { firstParty: true, postLogout: back });
    const c = await signedIn(fx.server, acct.username, acct.password);
    const { tokens } = await signInThrough(c, app);
    const url = oidc.buildEndSessionUrl(app.config, {
      id_token_hint: tokens.id_token as string,
      post_logout_redirect_uri: back,
      state: 'bye',
    });
    const confirm = await follow(c, url.href);
    assert.equal(confirm.status, 200);
    const form = /<form[^>]*action="([^"]+)"[^>]*>/.exec(confirm.text);
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(confirm.text)?.[1];
    assert.ok(form && xsrf, confirm.text.slice(0, 500));
    const res = await c.form(new URL(form[1], fx.server.base).pathname, { xsrf, logout: 'yes' });
    assert.equal(res.status, 303, res.text.slice(0, 300));
    const to = new URL(res.headers.get('location') as string);
    assert.equal(to.origin + to.pathname, back);
    assert.equal(to.searchParams.get('state'), 'bye');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await c.get('/api/v1/sessions/current')).status, 401, 'the Latchkey session ended');
    const again = await follow(c, (await authRequest(app.config)).url.href);
    assert.equal(again.url.pathname, '/login', 'the next authorization asks to sign in');
  });
});
