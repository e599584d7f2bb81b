// A ~40-line app that signs its users in through Latchkey (docs/openid-provider.md).
// Register it first:  latchkey clients add --name "Example app" --redirect-uri http://localhost:4000/callback \
//                       --post-logout-redirect-uri http://localhost:4000/
// then: LATCHKEY_ISSUER=http://localhost:3000/oidc CLIENT_ID=… CLIENT_SECRET=… node --import tsx examples/express-app/app.ts
// (Plain node:http, so the example needs nothing but openid-client; an Express app does the same.)
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import * as oidc from 'openid-client';

const base = 'http://localhost:4000';
const issuer = new URL(process.env.LATCHKEY_ISSUER ?? 'http://localhost:3000/oidc');
const config = await oidc.discovery(
  issuer,
  String(process.env.CLIENT_ID),
  String(process.env.CLIENT_SECRET),
  undefined,
  {
    execute: issuer.protocol === 'http:' ? [oidc.allowInsecureRequests] : [],
  },
);
// Per-browser state, in memory: a real app keeps it in its own session store.
const pending = new Map<string, { verifier: string; state: string }>();
const signedIn = new Map<string, { claims: oidc.IDToken; idToken: string }>();

createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', base);
  const sid = /sid=([\w-]+)/.exec(req.headers.cookie ?? '')?.[1] ?? randomBytes(16).toString('base64url');
  const go = (to: string) =>
    res.writeHead(302, { location: to, 'set-cookie': `sid=${sid}; HttpOnly; SameSite=Lax; Path=/` }).end();
  if (url.pathname === '/login') {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    pending.set(sid, { verifier, state });
    const challenge = await oidc.calculatePKCECodeChallenge(verifier);
    return go(
      oidc.buildAuthorizationUrl(config, {
        redirect_uri: `${base}/callback`,
        scope: 'openid profile email',
        code_challenge: challenge,
        code_challenge_method: 'S256',
        state,
      }).href,
    );
  }
  if (url.pathname === '/callback') {
    const p = pending.get(sid);
    pending.delete(sid);
    const tokens = await oidc.authorizationCodeGrant(config, url, {
      pkceCodeVerifier: p?.verifier,
      expectedState: p?.state,
    });
    signedIn.set(sid, { claims: tokens.claims() as oidc.IDToken, idToken: tokens.id_token as string });
    return go('/');
  }
  const me = signedIn.get(sid);
  if (url.pathname === '/logout' && me) {
    signedIn.delete(sid);
    return go(
      oidc.buildEndSessionUrl(config, { id_token_hint: me.idToken, post_logout_redirect_uri: `${base}/` }).href,
    );
  }
  const body = me
    ? `<pre>${JSON.stringify(me.claims, null, 2).replace(/</g, '&lt;')}</pre><a href="/logout">Sign out</a>`
    : '<a href="/login">Sign in with Latchkey</a>';
  res
    .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    .end(`<!doctype html><title>Example app</title>${body}`);
}).listen(4000, () => console.log(`example app on ${base}`));
