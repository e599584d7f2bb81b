import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { activeAccount, signedIn } from '../support/accounts.ts';
import { withServer } from '../support/fixture.ts';
import { authRequest, follow, REDIRECT, registerClient, signInThrough } from './op-support.ts';

// What an attacker tries against the OpenID Provider (OP-01, OP-03, OP-07 and RFC 9700).

const invalidGrant = (err: unknown) => (err as { error?: string }).error === 'invalid_grant';

describe('OpenID Provider attacks', () => {
  const fx = withServer();

  async function setup() {
    const acct = await activeAccount(fx.server);
    const app = await registerClient(fx.server, { firstParty: true });
    const c = await signedIn(fx.server, acct.username, acct.password);
    return { acct, app, c };
  }

  /** Where the browser ends after the authorization request `url` (never a code here). */
  async function refused(c: Awaited<ReturnType<typeof setup>>['c'], url: URL) {
    const end = await follow(c, url.href);
    assert.equal(end.url.searchParams.get('code'), null, 'no code issued');
    return end;
  }

  it('OP-01 an authorization request without PKCE is refused', async () => {
    const { app, c } = await setup();
    const req = await authRequest(app.config);
    req.url.searchParams.delete('code_challenge');
    req.url.searchParams.delete('code_challenge_method');
    const end = await refused(c, req.url);
    assert.equal(end.url.origin + end.url.pathname, REDIRECT);
    assert.equal(end.url.searchParams.get('error'), 'invalid_request');
    assert.equal(end.url.searchParams.get('iss'), `${fx.server.base}/oidc`, 'OP-07 iss on errors too');
  });

  it('OP-01 plain PKCE is refused', async () => {
    const { app, c } = await setup();
    const req = await authRequest(app.config, { code_challenge_method: 'plain' });
    req.url.searchParams.set('code_challenge', 'a'.repeat(43));
    const end = await refused(c, req.url);
    assert.equal(end.url.searchParams.get('error'), 'invalid_request');
  });

  it('OP-01 OP-07 a redirect URI with an extra path or query is refused without redirecting there', async () => {
    const { app, c } = await setup();
    for (const bad of [
      `${REDIRECT}/extra`,
      `${REDIRECT}?next=evil`,
      'http://127.0.0.1:59999/callbac',
      'https://evil.test/callback',
    ]) {
      const req = await authRequest(app.config, {}, bad);
      const end = await refused(c, req.url);
      assert.equal(end.url.origin, fx.server.base, `stays on Latchkey for ${bad}`);
      assert.equal(end.status, 400);
      assert.match(end.text, /redirect_uri/);
    }
  });

  it('OP-01 implicit and hybrid response types and the password grant are refused', async () => {
    const { app, c } = await setup();
    for (const rt of ['token', 'id_token', 'code id_token']) {
      const req = await authRequest(app.config, { response_type: rt });
      const end = await refused(c, req.url);
      const answer = new URLSearchParams(end.url.hash.slice(1));
      assert.ok(end.status === 400 || end.url.searchParams.get('error') || answer.get('error'), rt);
      assert.equal(answer.get('access_token') ?? answer.get('id_token'), null, `${rt}: no token in the fragment`);
    }
    const res = await fetch(`${fx.server.base}/oidc/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${app.id}:${app.secret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'password', username: 'x', password: 'y' }).toString(),
    });
    assert.equal(res.status, 400);
    assert.equal((await res.json()).error, 'unsupported_grant_type');
  });

  it('OP-01 a code replayed is refused and revokes the tokens of its first use', async () => {
    const { app, c } = await setup();
    const { tokens, callback, req } = await signInThrough(c, app);
    await assert.rejects(
      oidc.authorizationCodeGrant(app.config, callback, {
        pkceCodeVerifier: req.verifier,
        expectedState: req.state,
        expectedNonce: req.nonce,
      }),
      invalidGrant,
    );
    const info = await oidc.tokenIntrospection(app.config, tokens.access_token);
    assert.equal(info.active, false, 'the first access token is revoked');
    await assert.rejects(oidc.refreshTokenGrant(app.config, tokens.refresh_token as string));
  });

  it('OP-03 refresh tokens rotate; reusing an old one revokes the whole grant', async () => {
    const { app, c } = await setup();
    const { tokens } = await signInThrough(c, app);
    const first = tokens.refresh_token as string;
    const next = await oidc.refreshTokenGrant(app.config, first);
    assert.ok(next.refresh_token && next.refresh_token !== first, 'a new refresh token');
    await assert.rejects(oidc.refreshTokenGrant(app.config, first), invalidGrant);
    await assert.rejects(oidc.refreshTokenGrant(app.config, next.refresh_token), 'the newest one dies with the grant');
    assert.equal((await oidc.tokenIntrospection(app.config, next.access_token)).active, false);
  });

  it("OP-01 a token of client A is inactive at client B's introspection", async () => {
    const { app, c } = await setup();
    const other = await registerClient(fx.server, { firstParty: true });
    const { tokens } = await signInThrough(c, app);
    assert.equal((await oidc.tokenIntrospection(app.config, tokens.access_token)).active, true);
    assert.equal((await oidc.tokenIntrospection(other.config, tokens.access_token)).active, false);
    assert.equal((await oidc.tokenIntrospection(other.config, tokens.refresh_token as string)).active, false);
  });

  it('OP-01 an unsigned (alg none) request object is refused', async () => {
    const { app, c } = await setup();
    const req = await authRequest(app.config);
    const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const params = Object.fromEntries(req.url.searchParams);
    const request = `${enc({ alg: 'none', typ: 'oauth-authz-req+jwt' })}.${enc({
      ...params,
      iss: app.id,
      aud: `${fx.server.base}/oidc`,
    })}.`;
    const url = new URL(`${fx.server.base}/oidc/auth`);
    for (const k of ['client_id', 'response_type', 'scope', 'redirect_uri']) url.searchParams.set(k, params[k]);
    url.searchParams.set('request', request);
    const end = await refused(c, url);
    assert.ok(
      /invalid_request_object|request_not_supported/.test(end.url.searchParams.get('error') ?? end.text),
      end.url.href,
    );
  });
});
