import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { activeAccount, signedIn } from '../support/accounts.ts';
import { withServer } from '../support/fixture.ts';
import { authRequest, follow, REDIRECT, registerClient } from './op-support.ts';

// Two Latchkey processes on one PostgreSQL database: grants, codes and keys live in the store,
// so an app may be sent to either of them at any step.

describe('OpenID Provider on PostgreSQL with two processes', () => {
  const fx = withServer({ pg: true, twin: true });

  it('authorize on one process, exchange the code and refresh on the other', async (t) => {
    if (!fx.ready(t)) return;
    const acct = await activeAccount(fx.server);
    const onOne = await registerClient(fx.server, { firstParty: true });
    // the same client, as seen through the second process (its issuer differs only by port)
    const c = await signedIn(fx.server, acct.username, acct.password);
    const req = await authRequest(onOne.config);
    const end = await follow(c, req.url.href);
    assert.equal(end.url.origin + end.url.pathname, REDIRECT);
    const code = end.url.searchParams.get('code');
    assert.ok(code);

    // The twin has its own public URL, hence its own issuer: exchange the code at its token
    // endpoint directly, authenticating as the client.
    const basic = `Basic ${Buffer.from(`${onOne.id}:${onOne.secret}`).toString('base64')}`;
    const twin = fx.twin.base;
    const res = await fetch(`${twin}/oidc/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: REDIRECT,
        code_verifier: req.verifier,
      }).toString(),
    });
    const body = await res.json();
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.ok(body.access_token && body.id_token && body.refresh_token);
    // the ID token signed by the twin verifies with the first process's JWKS: one key set
    const keys1 = (await (await fetch(`${fx.server.base}/oidc/jwks`)).json()).keys.map((k: { kid: string }) => k.kid);
    const keys2 = (await (await fetch(`${twin}/oidc/jwks`)).json()).keys.map((k: { kid: string }) => k.kid);
    assert.deepEqual(keys2, keys1);
    const kid = JSON.parse(Buffer.from(body.id_token.split('.')[0], 'base64url').toString()).kid;
    assert.ok(keys1.includes(kid));
    // the refresh token issued by the twin works at the first process (rotation shared)
    const refreshed = await oidc.refreshTokenGrant(onOne.config, body.refresh_token);
    assert.ok(refreshed.access_token);
    assert.equal((await oidc.tokenIntrospection(onOne.config, refreshed.access_token)).active, true);
  });
});
