import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Agent, type ForgeMode, ForgingOidcServer, OidcProvider } from '../support/oauth-providers.ts';
import { freePort, startTestServer, type TestServer } from '../support/server.ts';

// EXT-01, EXT-02, EXT-07 attacks. "Forge" is an OpenID provider we control that signs ID tokens
// with a key it publishes (or hands out broken ones); "Google" is a real oidc-provider instance.

describe('external sign-in attacks', () => {
  let server: TestServer;
  let base: string;
  let host: string;
  const forge = new ForgingOidcServer('forge-client', 'forge-secret-0123456789');
  const google = new OidcProvider('google-client', 'google-secret-0123456789');

  before(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    host = new URL(base).host;
    await forge.start();
    await google.start(() => [`${base}/auth/google/callback`]);
    server = await startTestServer({
      LATCHKEY_PORT: String(port),
      LATCHKEY_OIDC_FORGE_ISSUER: forge.url,
      LATCHKEY_OIDC_FORGE_CLIENT_ID: forge.clientId,
      LATCHKEY_OIDC_FORGE_CLIENT_SECRET: forge.clientSecret,
      LATCHKEY_GOOGLE_ISSUER: google.url,
      LATCHKEY_GOOGLE_CLIENT_ID: google.clientId,
      LATCHKEY_GOOGLE_CLIENT_SECRET: google.clientSecret,
      LATCHKEY_RETURN_URL_ALLOWLIST: 'https://app.example.test',
    });
  });
  after(async () => {
    await server?.close();
    await forge.stop();
    await google.stop();
  });

  const signedIn = async (a: Agent) => {
    const cookie = [...(a.jars.get(host) ?? new Map())].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(`${base}/api/v1/sessions/current`, { headers: { cookie } });
    return res.status === 200 ? ((await res.json()) as { account: { id: string; username: string } }).account : null;
  };
  const accountCount = async () => {
    const { db } = server.deps;
    const row = await db
      .selectFrom('accounts')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  };

  /** Starts an attempt and stops at the redirect back to Latchkey: returns the callback URL. */
  async function callbackUrlFor(a: Agent, provider: string): Promise<string> {
    const start = await a.get(`${base}/auth/${provider}/start`, false);
    assert.equal(start.status, 303);
    let next = new URL(start.headers.get('location') as string);
    for (let i = 0; i < 10 && next.origin !== base; i++) {
      const hop = await a.get(next.href, false);
      next = new URL(hop.headers.get('location') as string, next);
    }
    assert.equal(next.pathname, `/auth/${provider}/callback`);
    return next.href;
  }

  test('EXT-02 the forging provider in honest mode works (the harness is sound)', async () => {
    forge.mode = 'good';
    forge.user = { sub: 'honest-1', email: 'honest@example.test', email_verified: true, name: 'Honest Person' };
    const a = new Agent();
    const res = await a.get(`${base}/auth/oidc-forge/start`);
    assert.equal(new URL(res.url).pathname, '/auth/welcome');
    assert.ok(await signedIn(a));
  });

  const forged: [ForgeMode, string][] = [
    ['alg_none', 'alg none'],
    ['hs256_with_public_key', 'an HS256 token keyed with the public key'],
    ['bad_signature', 'a bad signature'],
    ['unpublished_key', 'a key the provider does not publish'],
    ['wrong_aud', 'the wrong audience'],
    ['wrong_iss', 'the wrong issuer'],
    ['wrong_nonce', 'the wrong nonce'],
    ['no_nonce', 'no nonce'],
    ['expired', 'an expired token'],
    ['other_provider', "another provider's token (provider B's ID token at provider A's callback)"],
  ];
  for (const [mode, what] of forged) {
    test(`EXT-02 an ID token with ${what} is refused and creates nothing`, async () => {
      forge.mode = mode;
      forge.user = { sub: `forged-${mode}`, email: `${mode}@example.test`, email_verified: true, name: 'Forged' };
      const before = await accountCount();
      const a = new Agent();
      const res = await a.get(`${base}/auth/oidc-forge/start`);
      assert.equal(res.status, 400, res.text.slice(0, 300));
      assert.match(res.text, /failed our security checks/);
      assert.match(res.text, /href="\/login"/);
      assert.equal(await signedIn(a), null);
      assert.equal(await accountCount(), before);
    });
  }

  test('EXT-01 each attempt gets a fresh state, S256 PKCE challenge and nonce, bound by a signed HttpOnly cookie', async () => {
    const a = new Agent();
    const seen = new Set<string>();
    for (let i = 0; i < 2; i++) {
      const res = await a.get(`${base}/auth/oidc-forge/start`, false);
      const url = new URL(res.headers.get('location') as string);
      assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
      for (const k of ['state', 'nonce', 'code_challenge']) {
        const v = url.searchParams.get(k) as string;
        assert.ok(v.length >= 43, `${k} is long enough`);
        assert.ok(!seen.has(v), `${k} is fresh`);
        seen.add(v);
      }
      const setCookie = res.headers.getSetCookie().find((c) => c.startsWith('latchkey_ext='));
      assert.ok(setCookie);
      assert.match(setCookie, /HttpOnly/i);
      assert.match(setCookie, /SameSite=Lax/i);
      assert.match(setCookie, /Path=\/auth\//);
    }
  });

  test('EXT-01 a callback without the flow cookie (missing state binding) is refused', async () => {
    forge.mode = 'good';
    const a = new Agent();
    const cb = await callbackUrlFor(a, 'oidc-forge');
    a.jars.get(host)?.delete('latchkey_ext');
    const res = await a.get(cb);
    assert.equal(res.status, 400);
    assert.match(res.text, /could not be matched to this browser/);
    assert.equal(await signedIn(a), null);
  });

  test('EXT-01 a callback with a missing or wrong state is refused', async () => {
    forge.mode = 'good';
    for (const tamper of [
      (u: URL) => u.searchParams.delete('state'),
      (u: URL) => u.searchParams.set('state', 'attacker-state'),
    ]) {
      const a = new Agent();
      const cb = new URL(await callbackUrlFor(a, 'oidc-forge'));
      tamper(cb);
      const res = await a.get(cb.href);
      assert.equal(res.status, 400);
      assert.equal(await signedIn(a), null);
    }
  });

  test('EXT-01 a forged flow cookie (bad signature) is refused', async () => {
    forge.mode = 'good';
    const a = new Agent();
    const cb = await callbackUrlFor(a, 'oidc-forge');
    const jar = a.jars.get(host) as Map<string, string>;
    const value = jar.get('latchkey_ext') as string;
    jar.set('latchkey_ext', `${value.slice(0, value.lastIndexOf('.'))}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`);
    const res = await a.get(cb);
    assert.equal(res.status, 400);
    assert.equal(await signedIn(a), null);
  });

  test('EXT-01 a callback replayed in another browser, or again in the same one, is refused', async () => {
    forge.mode = 'good';
    forge.user = { sub: 'replay-1', name: 'Replay Victim' };
    const victim = new Agent();
    const cb = await callbackUrlFor(victim, 'oidc-forge');
    const ok = await victim.get(cb);
    assert.equal(new URL(ok.url).pathname, '/auth/welcome');
    const attacker = new Agent();
    const stolen = await attacker.get(cb);
    assert.equal(stolen.status, 400);
    assert.equal(await signedIn(attacker), null);
    const replay = await victim.get(cb);
    assert.equal(replay.status, 400);
  });

  test('EXT-01 a spent flow cookie copied into another browser is refused (the state is single use)', async () => {
    forge.mode = 'good';
    forge.user = { sub: 'replay-2', name: 'Second Victim' };
    const victim = new Agent();
    const cb = await callbackUrlFor(victim, 'oidc-forge');
    const flowCookie = victim.jars.get(host)?.get('latchkey_ext') as string;
    assert.equal(new URL((await victim.get(cb)).url).pathname, '/auth/welcome');
    const attacker = new Agent();
    attacker.jars.set(host, new Map([['latchkey_ext', flowCookie]]));
    const res = await attacker.get(cb);
    assert.equal(res.status, 400);
    assert.equal(await signedIn(attacker), null);
  });

  test("EXT-01 EXT-02 provider A's callback (code and state) presented to provider B's callback is refused", async () => {
    google.nextUser = { sub: 'mixup-1', name: 'Mix Up' };
    const a = new Agent();
    const cb = new URL(await callbackUrlFor(a, 'google'));
    const moved = new URL(`${base}/auth/oidc-forge/callback${cb.search}`);
    const res = await a.get(moved.href);
    assert.equal(res.status, 400);
    assert.equal(await signedIn(a), null);
  });

  test('WEB-04 hostile input on the external routes gets a clear 4xx, never a 5xx', async () => {
    forge.mode = 'good';
    forge.user = { sub: 'hostile-1', name: 'Hostile Input' };
    const a = new Agent();
    await a.get(`${base}/auth/oidc-forge/start`);
    const probes = [
      `${base}/auth/oidc-forge/start?return_to=a&return_to=b`,
      `${base}/auth/oidc-forge/start?return_to=${'x'.repeat(5000)}`,
      `${base}/auth/oidc-forge/callback?state=${encodeURIComponent('\'"<script>')}&code=%00`,
      `${base}/auth/oidc-forge/callback?state[]=1&code[]=2`,
      `${base}/auth/%3Cscript%3E/start`,
    ];
    for (const url of probes) {
      const res = await a.get(url);
      assert.ok(res.status < 500, `${url} → ${res.status}`);
      assert.ok(!res.text.includes('<script>'), url);
    }
    for (const username of ['', 'a', '<b>x</b>', 'x'.repeat(300), '\u0000\u0007']) {
      const res = await a.form(`${base}/auth/welcome`, { username });
      assert.ok(res.status < 500, `${JSON.stringify(username)} → ${res.status}`);
    }
    const del = await fetch(`${base}/api/v1/account/identities/${'z'.repeat(100)}`, {
      method: 'DELETE',
      headers: { origin: base },
    });
    assert.ok(del.status >= 400 && del.status < 500, String(del.status));
  });

  test('EXT-07 return URLs: same-origin paths and allow-listed origins are accepted, everything else refused', async () => {
    const refused = [
      'https://evil.example/',
      '//evil.example/x',
      '/\\evil.example',
      'javascript:alert(1)',
      `${base}.evil.example/`,
      'https://app.example.test.evil.example/',
      'http://user@127.0.0.1/',
      '/%0d%0aSet-Cookie:x=y',
    ];
    for (const r of refused) {
      const res = await fetch(`${base}/auth/oidc-forge/start?return_to=${encodeURIComponent(r)}`, {
        redirect: 'manual',
      });
      if (r.startsWith('/%0d')) {
        // Encoded CR/LF stay encoded inside a same-origin path: accepted, harmless.
        assert.equal(res.status, 303, r);
        continue;
      }
      assert.equal(res.status, 400, r);
      assert.equal(res.headers.get('set-cookie'), null, r);
    }
    const allowed = await fetch(
      `${base}/auth/oidc-forge/start?return_to=${encodeURIComponent('https://app.example.test/after')}`,
      { redirect: 'manual' },
    );
    assert.equal(allowed.status, 303);

    forge.mode = 'good';
    forge.user = { sub: 'returner-1', name: 'Returner' };
    const a = new Agent();
    await a.get(`${base}/auth/oidc-forge/start?return_to=${encodeURIComponent('/settings?tab=x')}`); // first sign-in: welcome step
    const done = await a.form(`${base}/auth/welcome`, { username: 'returner' });
    assert.equal(new URL(done.url).pathname + new URL(done.url).search, '/settings?tab=x');
  });
});
