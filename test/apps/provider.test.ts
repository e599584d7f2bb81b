import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { activeAccount, signedIn } from '../support/accounts.ts';
import { withServer } from '../support/fixture.ts';
import { follow, REDIRECT, registerClient, signInThrough } from './op-support.ts';

describe('Latchkey as OpenID Provider', () => {
  const fx = withServer();

  it('OP-01 OP-02 OP-07 code + PKCE walk with a password sign-in: claims, amr, iss', async () => {
    const server = fx.server;
    const acct = await activeAccount(server);
    const app = await registerClient(server, { firstParty: true });
    const c = await signedIn(server, acct.username, acct.password);
    const { tokens, callback } = await signInThrough(c, app);
    assert.equal(callback.searchParams.get('iss'), `${server.base}/oidc`);
    const claims = tokens.claims();
    assert.ok(claims);
    assert.equal(claims.iss, `${server.base}/oidc`);
    assert.deepEqual(claims.amr, ['pwd']);
    assert.equal(claims.acr, 'urn:latchkey:acr:1fa');
    assert.ok(claims.auth_time);
    const info = await oidc.fetchUserInfo(app.config, tokens.access_token, claims.sub);
    assert.equal(info.preferred_username, acct.username);
    assert.equal(info.email, acct.email);
    assert.equal(info.email_verified, true);
    assert.ok(tokens.refresh_token);
  });

  it('discovery answers at the root and under /oidc, with caching headers', async () => {
    const server = fx.server;
    for (const path of ['/.well-known/openid-configuration', '/oidc/.well-known/openid-configuration']) {
      const res = await fetch(server.base + path);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('cache-control') ?? '', /max-age=\d+/);
      const doc = await res.json();
      assert.equal(doc.issuer, `${server.base}/oidc`);
      assert.equal(doc.authorization_endpoint, `${server.base}/oidc/auth`);
      assert.equal(doc.revocation_endpoint, `${server.base}/oidc/revoke`);
      assert.equal(doc.introspection_endpoint, `${server.base}/oidc/introspect`);
      assert.deepEqual(doc.response_types_supported, ['code']);
    }
    const jwks = await fetch(`${server.base}/oidc/jwks`);
    assert.match(jwks.headers.get('cache-control') ?? '', /max-age/);
    const { keys } = await jwks.json();
    assert.ok(keys.length >= 1);
    assert.equal(keys[0].d, undefined, 'no private part');
    void REDIRECT;
    void follow;
  });
});
