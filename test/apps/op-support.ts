import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import type { Client } from '../support/http.ts';
import type { TestServer } from '../support/server.ts';

// Helpers for driving Latchkey as an OpenID Provider from a test: registering clients, an
// openid-client configuration for them, and a browser-less walk through /oidc/auth with a
// cookie-jar client (the Chromium tests drive the same pages in a real browser).

// Never contacted (the walk stops at the redirect; Chromium's tests intercept it); not port 9,
// which Chromium refuses as unsafe before any interception.
export const REDIRECT = 'http://127.0.0.1:59999/callback';

export async function registerClient(
  server: TestServer,
  o: { firstParty?: boolean; public?: boolean; backchannel?: string; redirect?: string; postLogout?: string } = {},
) {
  const { client, secret } = await server.deps.apps.clients.add({
    name: o.firstParty ? 'Team wiki' : 'Photo printer',
    redirectUris: [o.redirect ?? REDIRECT],
    public: o.public,
    firstParty: o.firstParty,
    backchannelLogoutUri: o.backchannel,
    postLogoutRedirectUris: o.postLogout ? [o.postLogout] : [],
  });
  const config = await oidc.discovery(
    new URL(`${server.base}/oidc`),
    client.id,
    o.public ? { token_endpoint_auth_method: 'none' } : (secret as string),
    o.public ? oidc.None() : undefined,
    { execute: [oidc.allowInsecureRequests] },
  );
  return { id: client.id, secret, config };
}

export interface AuthRequest {
  url: URL;
  verifier: string;
  state: string;
  nonce: string;
}

export async function authRequest(
  config: oidc.Configuration,
  extra: Record<string, string> = {},
  redirect = REDIRECT,
): Promise<AuthRequest> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirect,
    scope: 'openid profile email phone organization',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  });
  return { url, verifier, state, nonce };
}

/**
 * Follows redirects on Latchkey's origin the way a browser would; stops at the first answer
 * that is not a redirect (a page) or a redirect elsewhere (to the app).
 */
export async function follow(c: Client, start: string): Promise<{ status: number; url: URL; text: string }> {
  let url = new URL(start);
  for (let i = 0; i < 12; i++) {
    const res = await c.get(url.pathname + url.search, { accept: 'text/html' });
    // A Refresh header continues like a redirect (the interaction pages answer that way).
    const refresh = /^0;url=(.+)$/.exec(res.headers.get('refresh') ?? '')?.[1];
    const loc = res.headers.get('location') ?? refresh;
    if (((res.status >= 300 && res.status < 400) || refresh) && loc) {
      url = new URL(loc, url);
      if (url.origin !== c.base) return { status: res.status, url, text: '' };
      continue;
    }
    return { status: res.status, url, text: res.text };
  }
  throw new Error('too many redirects');
}

/** Posts the consent form of the page at `page` (allow or deny) and follows on. */
export async function consent(c: Client, page: { url: URL; text: string }, decision: 'allow' | 'deny') {
  const action = /<form method="post" action="([^"]+\/consent)"/.exec(page.text)?.[1];
  assert.ok(action, 'a consent form');
  const res = await c.form(action, { decision });
  const loc = /^0;url=(.+)$/.exec(res.headers.get('refresh') ?? '')?.[1];
  assert.ok(res.status === 200 && loc, `${res.status} ${res.text.slice(0, 200)}`);
  return follow(c, new URL(loc, c.base).href);
}

/** The full walk for a signed-in client: authorize (consenting when asked) and exchange the code. */
export async function signInThrough(
  c: Client,
  app: { config: oidc.Configuration },
  extra: Record<string, string> = {},
) {
  const req = await authRequest(app.config, extra);
  let end = await follow(c, req.url.href);
  if (end.status === 200 && end.url.pathname.startsWith('/oidc/interaction/')) end = await consent(c, end, 'allow');
  assert.equal(end.url.origin + end.url.pathname, REDIRECT, `ended at ${end.url.href} (${end.status})`);
  const tokens = await oidc.authorizationCodeGrant(app.config, end.url, {
    pkceCodeVerifier: req.verifier,
    expectedState: req.state,
    expectedNonce: req.nonce,
  });
  return { tokens, callback: end.url, req };
}
