import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseAmr } from '../../src/security/amr.ts';
import { activeAccount, signedIn } from '../support/accounts.ts';
import { withServer } from '../support/fixture.ts';
import { Client } from '../support/http.ts';
import { freePort, waitForDevMail } from '../support/server.ts';
import { SoftAuthenticator } from '../support/webauthn.ts';

// Passkeys over HTTP with a software authenticator (test/support/webauthn.ts): adding one,
// signing in with it alone, and every check MFA-04 asks of a ceremony, including what a hostile
// client sends. Two processes share one database: a challenge issued by one is used on the other.

const offset = { ms: 0 };
const clock = { now: () => Date.now() + offset.ms };
const TTL_MS = 60_000;

describe('passkeys over HTTP', () => {
  const fx = withServer({
    env: async () => {
      const port = await freePort();
      return {
        LATCHKEY_PORT: String(port),
        LATCHKEY_PUBLIC_URL: `http://localhost:${port}`,
        LATCHKEY_WEBAUTHN_CHALLENGE_TTL: '60s',
        LATCHKEY_REAUTH_WINDOW: '1h',
      };
    },
    overrides: { clock },
    twin: { overrides: { clock, worker: false } },
  });
  const rpId = 'localhost';
  const auth = () => new SoftAuthenticator(fx.server.base, rpId);

  /** A new account with one passkey (`name`), added in a password session; `c` signed in with the passkey. */
  async function withPasskey(name = 'Laptop') {
    const a = await activeAccount(fx.server);
    const c = await signedIn(fx.server, a.username, a.password);
    const key = auth();
    const o = await c.post('/api/v1/account/factors/passkeys/options', {});
    assert.equal(o.status, 200, o.text);
    const r = await c.post('/api/v1/account/factors/passkeys', { name, response: key.create(o.json) });
    assert.equal(r.status, 201, r.text);
    // From now on the account has a second factor: changes need a session that proved one (MFA-06).
    const strong = fx.server.client();
    const so = await strong.post('/api/v1/sessions/passkey/options', {});
    assert.equal((await strong.post('/api/v1/sessions/passkey', { response: key.get(so.json) })).status, 201);
    return { a, c: strong, pwd: c, key, factor: r.json.factor };
  }

  async function passkeySignIn(c: Client, key: SoftAuthenticator, m: Parameters<SoftAuthenticator['get']>[1] = {}) {
    const o = await c.post('/api/v1/sessions/passkey/options', {});
    assert.equal(o.status, 200, o.text);
    return { options: o.json, res: await c.post('/api/v1/sessions/passkey', { response: key.get(o.json, m) }) };
  }

  const factorRow = (id: string) =>
    fx.server.deps.db.selectFrom('second_factors').selectAll().where('id', '=', id).executeTakeFirst();
  const audits = (event: string, accountId?: string) => {
    let q = fx.server.deps.db.selectFrom('audit_log').selectAll().where('event', '=', event);
    if (accountId) q = q.where('account_id', '=', accountId);
    return q.execute();
  };

  test('MFA-04 a passkey is added in a session, listed with its dates, told by mail, and signs in alone (hwk+user)', async () => {
    const { a, factor } = await withPasskey('Work laptop');
    assert.equal(factor.kind, 'passkey');
    assert.equal(factor.name, 'Work laptop');
    assert.ok(Date.parse(factor.createdAt));
    assert.equal(factor.lastUsedAt, null);
    const row = await factorRow(factor.id);
    assert.equal(row?.kind, 'passkey');
    assert.ok(row?.credential_id && row.public_key);
    assert.equal(row?.transports, '["internal"]');
    await waitForDevMail(fx.server, (m) => m.to === a.email && /passkey was added/i.test(m.subject));
    assert.equal((await audits('passkey.added', row?.account_id)).length, 1);
  });

  test('MFA-06 adding or removing a passkey forgets "don\'t ask again" browsers', async () => {
    const { a, c } = await withPasskey();
    const db = fx.server.deps.db;
    const { id } = await db
      .selectFrom('accounts')
      .select('id')
      .where('username', '=', a.username)
      .executeTakeFirstOrThrow();
    const remember = () =>
      db
        .insertInto('mfa_trusted_devices')
        .values({
          id: `dev-${Math.random()}`,
          account_id: id,
          token_hash: `h-${Math.random()}`,
          created_at: Date.now(),
          expires_at: Date.now() + 86_400_000,
        })
        .execute();
    const remembered = async () =>
      (await db.selectFrom('mfa_trusted_devices').select('id').where('account_id', '=', id).execute()).length;
    await remember();
    const o = await c.post('/api/v1/account/factors/passkeys/options', {});
    const added = await c.post('/api/v1/account/factors/passkeys', { response: auth().create(o.json) });
    assert.equal(added.status, 201, added.text);
    assert.equal(await remembered(), 0, 'forgotten when one was added');
    await remember();
    assert.equal((await c.delete(`/api/v1/account/factors/passkeys/${added.json.factor.id}`)).status, 200);
    assert.equal(await remembered(), 0, 'forgotten when one was removed');
  });

  test('MFA-06 the API lists the passkeys and removes one', async () => {
    const { c, factor } = await withPasskey('Tablet');
    const list = await c.get('/api/v1/account/factors/passkeys');
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.json.passkeys.map((p: { id: string; name: string }) => [p.id, p.name]),
      [[factor.id, 'Tablet']],
    );
    assert.equal((await c.delete('/api/v1/account/factors/passkeys/nope')).status, 404);
    const del = await c.delete(`/api/v1/account/factors/passkeys/${factor.id}`);
    assert.equal(del.status, 200, del.text);
    assert.deepEqual((await c.get('/api/v1/account/factors/passkeys')).json.passkeys, []);
    assert.equal((await fx.server.client().get('/api/v1/account/factors/passkeys')).status, 401);
  });

  test('MFA-04 passkey-only sign-in: discoverable options with 256-bit challenge and UV required; the session records hwk+user', async () => {
    const { a, key, factor } = await withPasskey();
    const c = fx.server.client();
    const { options, res } = await passkeySignIn(c, key);
    assert.equal(Buffer.from(options.challenge, 'base64url').length, 32, 'a 256-bit challenge (>= 128)');
    assert.equal(options.userVerification, 'required');
    assert.equal(options.rpId, rpId);
    assert.deepEqual(options.allowCredentials ?? [], []);
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.account.username, a.username);
    const me = await c.get('/api/v1/sessions/current');
    assert.equal(me.status, 200);
    const session = await fx.server.deps.db
      .selectFrom('sessions')
      .selectAll()
      .where('id', '=', res.json.session.id)
      .executeTakeFirstOrThrow();
    assert.deepEqual(parseAmr(session.amr).sort(), ['hwk', 'user']);
    assert.equal(session.method, 'passkey');
    const row = await factorRow(factor.id);
    assert.ok(row?.last_used_at, 'last used is recorded');
    assert.equal(Number(row?.sign_count), 2);
  });

  test('MFA-04 a challenge is single use: a replayed assertion is refused and changes nothing', async () => {
    const { key } = await withPasskey();
    const c = fx.server.client();
    const o = await c.post('/api/v1/sessions/passkey/options', {});
    const response = key.get(o.json);
    assert.equal((await c.post('/api/v1/sessions/passkey', { response })).status, 201);
    const sessions = await fx.server.deps.db.selectFrom('sessions').select('id').execute();
    const replay = await fx.server
      .client()
      .post('/api/v1/sessions/passkey', { response }, { cookie: c.cookieHeader() });
    assert.equal(replay.status, 400);
    assert.equal(replay.json.code, 'passkey_failed');
    assert.equal((await fx.server.deps.db.selectFrom('sessions').select('id').execute()).length, sessions.length);
  });

  test('MFA-04 a challenge expires (LATCHKEY_WEBAUTHN_CHALLENGE_TTL)', async (t) => {
    const { key } = await withPasskey();
    const c = fx.server.client();
    const o = await c.post('/api/v1/sessions/passkey/options', {});
    offset.ms += TTL_MS + 1000;
    t.after(() => {
      offset.ms -= TTL_MS + 1000;
    });
    const res = await c.post('/api/v1/sessions/passkey', { response: key.get(o.json) });
    assert.equal(res.status, 400);
    assert.equal(res.json.code, 'passkey_failed');
  });

  test('MFA-04 a challenge is bound to its ceremony: a registration or second-factor challenge, an invented one', async () => {
    const { a, c: owner, key } = await withPasskey();
    // A registration challenge does not sign in, even in the session's own browser.
    const reg = await owner.post('/api/v1/account/factors/passkeys/options', {});
    assert.equal((await owner.post('/api/v1/sessions/passkey', { response: key.get(reg.json) })).status, 400);
    // A sign-in challenge does not register.
    const si = await owner.post('/api/v1/sessions/passkey/options', {});
    const bad = await owner.post('/api/v1/account/factors/passkeys', { response: auth().create(si.json) });
    assert.equal(bad.status, 400);
    // The second factor's challenge of a half-finished sign-in does not sign in alone.
    const step = await fx.server.client().post('/api/v1/sessions', { identifier: a.username, password: a.password });
    const offer = step.json.factors.find((f: { type: string }) => f.type === 'passkey');
    assert.equal(
      (await fx.server.client().post('/api/v1/sessions/passkey', { response: key.get(offer.options) })).status,
      400,
    );
    // A challenge the server never issued.
    const c2 = fx.server.client();
    const o2 = await c2.post('/api/v1/sessions/passkey/options', {});
    const wrong = key.get(o2.json, { challenge: Buffer.alloc(32, 7).toString('base64url') });
    assert.equal((await c2.post('/api/v1/sessions/passkey', { response: wrong })).status, 400);
    // None of these refusals used up the challenges they did not match.
    assert.equal((await c2.post('/api/v1/sessions/passkey', { response: key.get(o2.json) })).status, 201);
  });

  test('MFA-04 a challenge issued by one process is used on another (same database), once', async () => {
    const { key } = await withPasskey();
    const a = fx.server.client();
    const o = await a.post('/api/v1/sessions/passkey/options', {});
    const b = new Client(fx.twin.url, fx.server.base);
    for (const [k, v] of a.cookies) b.cookies.set(k, v);
    const response = key.get(o.json);
    assert.equal((await b.post('/api/v1/sessions/passkey', { response })).status, 201);
    assert.equal((await a.post('/api/v1/sessions/passkey', { response })).status, 400);
  });

  test('MFA-04 a wrong origin or RP ID is refused, at registration and at sign-in', async () => {
    const { c: owner, key } = await withPasskey();
    for (const m of [{ origin: 'https://evil.example' }, { rpId: 'evil.example' }, { type: 'webauthn.create' }]) {
      const c = fx.server.client();
      const { res } = await passkeySignIn(c, key, m);
      assert.equal(res.status, 400, JSON.stringify(m));
      assert.equal(res.json.code, 'passkey_failed');
    }
    for (const m of [{ origin: 'http://127.0.0.1:1' }, { rpId: 'example.com' }, { type: 'webauthn.get' }]) {
      const o = await owner.post('/api/v1/account/factors/passkeys/options', {});
      const r = await owner.post('/api/v1/account/factors/passkeys', { response: auth().create(o.json, m) });
      assert.equal(r.status, 400, JSON.stringify(m));
    }
    assert.equal((await owner.get('/api/v1/sessions/current')).status, 200);
  });

  test('MFA-04 user verification is required for passwordless sign-in', async () => {
    const { key } = await withPasskey();
    const { res } = await passkeySignIn(fx.server.client(), key, { uv: false });
    assert.equal(res.status, 400);
    assert.equal(res.json.code, 'passkey_failed');
    // The same passkey with verification signs in.
    assert.equal((await passkeySignIn(fx.server.client(), key)).res.status, 201);
  });

  test('MFA-04 a signature counter that goes backwards is refused, flags the passkey, is audited, queued for review and told', async () => {
    const { a, key, factor } = await withPasskey();
    assert.equal((await passkeySignIn(fx.server.client(), key, { counter: 5 })).res.status, 201);
    // A forged assertion (another key) with a low counter flags nothing: the signature comes first.
    const forger = auth();
    forger.create({ challenge: 'x', user: { id: '' } });
    const cred = forger.credentials[0];
    if (!cred) throw new Error('no credential');
    cred.id = key.credentials[0]?.id as Buffer;
    assert.equal((await passkeySignIn(fx.server.client(), forger, { counter: 1 })).res.status, 400);
    assert.equal((await factorRow(factor.id))?.flagged_at, null);
    // The real key, cloned, with the counter behind.
    const { res } = await passkeySignIn(fx.server.client(), key, { counter: 3 });
    assert.equal(res.status, 400);
    const row = await factorRow(factor.id);
    assert.ok(row?.flagged_at, 'flagged');
    const events = await audits('passkey.counter_regressed', row?.account_id);
    assert.equal(events.length, 1);
    assert.match(events[0]?.details ?? '', /"counter":3/);
    // Staff see it in the review queue (one item, opened with the flag).
    const items = await fx.server.deps.db
      .selectFrom('review_items')
      .selectAll()
      .where('kind', '=', 'passkey_counter')
      .where('account_id', '=', row?.account_id ?? '')
      .execute();
    assert.equal(items.length, 1);
    assert.equal(items[0]?.resolved_at ?? null, null);
    assert.match(items[0]?.details ?? '', /"counter":3/);
    await waitForDevMail(fx.server, (m) => m.to === a.email && /passkey was blocked/i.test(m.subject));
    // Flagged for good: even a counter ahead does not sign in.
    assert.equal((await passkeySignIn(fx.server.client(), key, { counter: 50 })).res.status, 400);
    // Equal counters are a regression too (both non-zero).
    const other = await withPasskey();
    assert.equal((await passkeySignIn(fx.server.client(), other.key, { counter: 7 })).res.status, 201);
    assert.equal((await passkeySignIn(fx.server.client(), other.key, { counter: 7 })).res.status, 400);
    assert.ok((await factorRow(other.factor.id))?.flagged_at);
  });

  test('MFA-04 authenticators without a counter (always 0) keep working', async () => {
    const a = await activeAccount(fx.server);
    const c = await signedIn(fx.server, a.username, a.password);
    const key = new SoftAuthenticator(fx.server.base, rpId, false);
    const o = await c.post('/api/v1/account/factors/passkeys/options', {});
    assert.equal((await c.post('/api/v1/account/factors/passkeys', { response: key.create(o.json) })).status, 201);
    for (let i = 0; i < 2; i++) assert.equal((await passkeySignIn(fx.server.client(), key)).res.status, 201);
  });

  test('MFA-04 hostile inputs: malformed WebAuthn JSON, huge attestation objects, wrong types are 4xx and change nothing', async () => {
    const { c, key } = await withPasskey();
    const count = async () =>
      (await fx.server.deps.db.selectFrom('second_factors').select('id').execute()).length +
      (await fx.server.deps.db.selectFrom('sessions').select('id').execute()).length;
    const before = await count();
    const o = await c.post('/api/v1/account/factors/passkeys/options', {});
    const good = auth().create(o.json);
    const cases: [string, unknown, number][] = [
      ['not JSON', '{"response":', 400],
      ['no response', {}, 400],
      ['response a string', { response: 'x' }, 400],
      ['type not public-key', { response: { ...good, type: 'password' } }, 400],
      [
        'clientDataJSON not base64url',
        { response: { ...good, response: { ...good.response, clientDataJSON: '%%%' } } },
        400,
      ],
      [
        'clientDataJSON not JSON',
        {
          response: {
            ...good,
            response: { ...good.response, clientDataJSON: Buffer.from('nope').toString('base64url') },
          },
        },
        400,
      ],
      [
        'attestationObject not CBOR',
        {
          response: {
            ...good,
            response: { ...good.response, attestationObject: Buffer.alloc(64, 0xff).toString('base64url') },
          },
        },
        400,
      ],
      [
        'attestationObject of 20 KB',
        { response: { ...good, response: { ...good.response, attestationObject: 'A'.repeat(20_000) } } },
        400,
      ],
      [
        'attestationObject of 200 KB (over the body limit)',
        { response: { ...good, response: { ...good.response, attestationObject: 'A'.repeat(200_000) } } },
        413,
      ],
      ['a 5,000-character id', { response: { ...good, id: 'A'.repeat(5000), rawId: 'A'.repeat(5000) } }, 400],
      [
        'extensions with 10,000 keys',
        {
          response: {
            ...good,
            clientExtensionResults: Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, 1])),
          },
        },
        413,
      ],
    ];
    for (const [what, body, status] of cases) {
      const r = await c.post('/api/v1/account/factors/passkeys', body, { 'content-type': 'application/json' });
      assert.equal(r.status, status, `${what}: ${r.text.slice(0, 200)}`);
      assert.equal(r.headers.get('content-type')?.startsWith('application/problem+json') ?? false, true, what);
    }
    // The same on the sign-in route.
    const s = fx.server.client();
    const so = await s.post('/api/v1/sessions/passkey/options', {});
    const assertion = key.get(so.json);
    for (const [what, body] of [
      ['signature garbage', { response: { ...assertion, response: { ...assertion.response, signature: 'AAAA' } } }],
      [
        'authenticatorData short',
        { response: { ...assertion, response: { ...assertion.response, authenticatorData: 'AAAA' } } },
      ],
      ['unknown credential', { response: { ...assertion, id: 'AAAA', rawId: 'AAAA' } }],
      [
        'userHandle of another account',
        { response: { ...assertion, response: { ...assertion.response, userHandle: 'QUJD' } } },
      ],
      ['id and rawId differ', { response: { ...assertion, rawId: 'QUJD' } }],
    ] as const) {
      const r = await s.post('/api/v1/sessions/passkey', body);
      assert.equal(r.status, 400, `${what}: ${r.text.slice(0, 200)}`);
    }
    assert.equal(await count(), before, 'nothing stored, no session');
  });

  test('SES-07 MFA-06 adding or removing a passkey needs a recent sign-in, with a second factor once one exists', async (t) => {
    const { pwd, key, factor } = await withPasskey();
    // The password-only session it was added in is not enough for the next change (MFA-06).
    // (A new password sign-in now asks for the passkey, BF-05.)
    const refused = await pwd.post('/api/v1/account/factors/passkeys/options', {});
    assert.equal(refused.status, 401);
    assert.equal(refused.json.code, 'reauthentication_required');
    const page = await pwd.form(`/settings/passkeys/${factor.id}/remove`, {});
    assert.equal(page.status, 303);
    assert.match(page.headers.get('location') ?? '', /^\/login\?msg=reauthenticate/);
    assert.ok(await factorRow(factor.id), 'still there');
    // A passkey session (two factors) may; an old one may not (SES-07).
    const strong = fx.server.client();
    assert.equal((await passkeySignIn(strong, key)).res.status, 201);
    offset.ms += 2 * 3_600_000;
    t.after(() => {
      offset.ms -= 2 * 3_600_000;
    });
    const stale = await strong.post('/api/v1/account/factors/passkeys/options', {});
    assert.equal(stale.status, 401);
    assert.equal(stale.json.code, 'reauthentication_required');
  });

  test('MFA-06 removing a passkey in /settings (no JavaScript) is told by mail; the last way to sign in is kept', async () => {
    const { a, key, factor } = await withPasskey('Old phone');
    const c = fx.server.client();
    assert.equal((await passkeySignIn(c, key)).res.status, 201);
    const settings = await c.get('/settings', { accept: 'text/html' });
    assert.match(settings.text, /Old phone/);
    assert.match(settings.text, /\/static\/passkey\/webauthn\.js/);
    const r = await c.form(`/settings/passkeys/${factor.id}/remove`, {});
    assert.equal(r.status, 303);
    assert.equal(r.headers.get('location'), '/settings?done=passkey_removed');
    assert.equal(await factorRow(factor.id), undefined);
    await waitForDevMail(fx.server, (m) => m.to === a.email && /passkey was removed/i.test(m.subject));
    assert.equal((await passkeySignIn(fx.server.client(), key)).res.status, 400, 'a removed passkey signs in no more');

    // An account without a password keeps its last passkey.
    const b = await withPasskey();
    const bc = fx.server.client();
    assert.equal((await passkeySignIn(bc, b.key)).res.status, 201);
    await fx.server.deps.db
      .updateTable('accounts')
      .set({ password_hash: null })
      .where('username', '=', b.a.username)
      .execute();
    const last = await bc.form(`/settings/passkeys/${b.factor.id}/remove`, {});
    assert.equal(last.status, 409);
    assert.match(last.text, /only way to sign in/);
    assert.ok(await factorRow(b.factor.id));
  });

  test('MFA-04 /settings lists passkeys once, in the Passkeys section; Two-step verification links to it', async () => {
    const { c } = await withPasskey('Desk key');
    const o = await c.post('/api/v1/account/factors/passkeys/options', {});
    assert.equal(
      (await c.post('/api/v1/account/factors/passkeys', { name: 'Pocket key', response: auth().create(o.json) }))
        .status,
      201,
    );
    const html = (await c.get('/settings', { accept: 'text/html' })).text;
    const section = (id: string) => {
      const start = html.indexOf(`id="${id}"`);
      assert.ok(start > 0, id);
      return html.slice(start, html.indexOf('</section>', start));
    };
    const twoStep = section('two-step');
    assert.doesNotMatch(twoStep, /Desk key|Pocket key/);
    assert.doesNotMatch(twoStep, /Two-step verification is off/);
    assert.match(twoStep, /<a href="#passkeys">2 passkeys<\/a> also count as a second factor\./);
    assert.match(twoStep, /Recovery codes/);
    assert.match(section('passkeys'), /Desk key[\s\S]*Pocket key/);
    assert.equal(html.match(/<strong>Desk key<\/strong>/g)?.length, 1);
  });

  test('MFA-06 the generic factor route keeps the last passkey of an account without a password too', async () => {
    const { a, c, key, factor } = await withPasskey();
    await fx.server.deps.db
      .updateTable('accounts')
      .set({ password_hash: null })
      .where('username', '=', a.username)
      .execute();
    const last = await c.delete(`/api/v1/account/factors/${factor.id}`);
    assert.equal(last.status, 409, last.text);
    assert.match(last.text, /last_sign_in_method/);
    assert.ok(await factorRow(factor.id));
    // With a second passkey, the first one may go through the same route.
    const o = await c.post('/api/v1/account/factors/passkeys/options', {});
    const spare = auth();
    const added = await c.post('/api/v1/account/factors/passkeys', { name: 'Spare', response: spare.create(o.json) });
    assert.equal(added.status, 201, added.text);
    assert.equal((await c.delete(`/api/v1/account/factors/${factor.id}`)).status, 204);
    assert.equal(await factorRow(factor.id), undefined);
    assert.equal((await passkeySignIn(fx.server.client(), key)).res.status, 400);
    assert.equal(
      (await c.delete(`/api/v1/account/factors/${added.json.factor.id}`)).status,
      409,
      'the spare is now the last',
    );
  });

  test('the browser library is served from this origin as JavaScript, and the pages say passkeys need it', async () => {
    const c = fx.server.client();
    for (const path of ['/static/passkey/webauthn.js', '/static/passkey/passkey.js']) {
      const r = await c.get(path);
      assert.equal(r.status, 200, path);
      assert.equal(r.headers.get('content-type'), 'text/javascript; charset=utf-8');
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    }
    assert.match((await c.get('/static/passkey/webauthn.js')).text, /SimpleWebAuthnBrowser/);
    const login = await c.get('/login', { accept: 'text/html' });
    assert.match(login.text, /autocomplete="username webauthn"/);
    assert.match(login.text, /Signing in with a passkey needs JavaScript/);
    assert.match(login.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  });

  test('MFA-04 /login and its passwordless options set no cookie; the stored challenge names its purpose', async () => {
    const c = fx.server.client();
    await c.get('/login', { accept: 'text/html' });
    const o = await c.post('/api/v1/sessions/passkey/options', {});
    assert.equal(o.status, 200);
    assert.deepEqual(o.headers.getSetCookie(), []);
    assert.equal(c.cookies.size, 0);
    const row = await fx.server.deps.db
      .selectFrom('webauthn_challenges')
      .selectAll()
      .where('challenge', '=', o.json.challenge)
      .executeTakeFirstOrThrow();
    assert.equal(row.purpose, 'signin');
    assert.equal(row.account_id, null);
    assert.ok(row.expires_at - row.created_at <= TTL_MS);
  });
});

describe('a passkey as the second factor after the password', () => {
  const fx = withServer({
    env: async () => {
      const port = await freePort();
      return { LATCHKEY_PORT: String(port), LATCHKEY_PUBLIC_URL: `http://localhost:${port}` };
    },
  });

  async function enrolled() {
    const a = await activeAccount(fx.server);
    const c = await signedIn(fx.server, a.username, a.password);
    const key = new SoftAuthenticator(fx.server.base, 'localhost');
    const o = await c.post('/api/v1/account/factors/passkeys/options', {});
    assert.equal((await c.post('/api/v1/account/factors/passkeys', { response: key.create(o.json) })).status, 201);
    return { a, key };
  }

  async function pendingStep(a: { username: string; password: string }) {
    const c = fx.server.client();
    const r = await c.post('/api/v1/sessions', { identifier: a.username, password: a.password });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'second_factor_required');
    const offer = r.json.factors.find((f: { type: string }) => f.type === 'passkey');
    assert.ok(offer, JSON.stringify(r.json.factors));
    return { c, options: offer.options };
  }

  test('BF-05 MFA-04 password then passkey: the step offers it with allowCredentials, and the session records pwd+hwk+mfa', async () => {
    const { a, key } = await enrolled();
    const { c, options } = await pendingStep(a);
    assert.equal(options.allowCredentials.length, 1);
    assert.equal(options.allowCredentials[0].id, Buffer.from(key.credentials[0]?.id as Buffer).toString('base64url'));
    assert.equal((await c.get('/api/v1/sessions/current')).status, 401, 'no session yet (MFA-07)');
    const done = await c.post('/api/v1/sessions/second-factor', { webauthn: key.get(options, { uv: false }) });
    assert.equal(done.status, 201, done.text);
    const session = await fx.server.deps.db
      .selectFrom('sessions')
      .selectAll()
      .where('id', '=', done.json.session.id)
      .executeTakeFirstOrThrow();
    assert.deepEqual(parseAmr(session.amr).sort(), ['hwk', 'mfa', 'pwd']);
  });

  test('MFA-04 the second-factor challenge is bound to its half-finished sign-in and used once', async () => {
    const { a, key } = await enrolled();
    const first = await pendingStep(a);
    const second = await pendingStep(a);
    // The first sign-in's challenge does not finish the second one.
    const cross = await second.c.post('/api/v1/sessions/second-factor', { webauthn: key.get(first.options) });
    assert.equal(cross.status, 400);
    assert.equal(cross.json.code, 'invalid_code');
    // A passwordless challenge neither.
    const pl = await second.c.post('/api/v1/sessions/passkey/options', {});
    assert.equal((await second.c.post('/api/v1/sessions/second-factor', { webauthn: key.get(pl.json) })).status, 400);
    // Another account's passkey neither.
    const other = await enrolled();
    const foreign = await second.c.post('/api/v1/sessions/second-factor', {
      webauthn: other.key.get(second.options),
    });
    assert.equal(foreign.status, 400);
    // Its own answer does, once.
    const ok = key.get(first.options);
    assert.equal((await first.c.post('/api/v1/sessions/second-factor', { webauthn: ok })).status, 201);
    assert.equal((await first.c.post('/api/v1/sessions/second-factor', { webauthn: ok })).status, 401);
  });

  test('MFA-04 hostile second-factor answers are 4xx: malformed, huge, not an object', async () => {
    const { a } = await enrolled();
    const { c } = await pendingStep(a);
    for (const [webauthn, status] of [
      [{}, 400],
      [{ id: 'x', response: { clientDataJSON: '%%' } }, 400],
      [{ id: 'x', response: { clientDataJSON: 'A'.repeat(100_000) } }, 413],
      ['a string', 400],
    ] as const) {
      const r = await c.post('/api/v1/sessions/second-factor', { webauthn });
      assert.equal(r.status, status, r.text.slice(0, 200));
    }
  });

  test('MFA-04 the step page offers the passkey button (with its options) next to the no-JS forms', async () => {
    const { a } = await enrolled();
    const c = fx.server.client();
    const r = await c.form('/login', { identifier: a.username, password: a.password });
    assert.equal(r.status, 303);
    assert.equal(r.headers.get('location'), '/login/second-factor');
    const page = await c.get('/login/second-factor', { accept: 'text/html' });
    assert.equal(page.status, 200);
    assert.match(page.text, /data-passkey-second-factor/);
    assert.match(page.text, /Using a passkey needs JavaScript/);
    // Without JavaScript a posted form without an answer changes nothing.
    const bad = await c.form('/login/second-factor', { webauthn: '{not json' });
    assert.equal(bad.status, 400);
    assert.equal((await c.get('/api/v1/sessions/current')).status, 401);
  });
});

describe('recovering an account that signs in with passkeys only', () => {
  const fx = withServer({
    env: async () => {
      const port = await freePort();
      return { LATCHKEY_PORT: String(port), LATCHKEY_PUBLIC_URL: `http://localhost:${port}` };
    },
  });

  /** An account whose only credential is a passkey (its password removed, as for one made with an external account). */
  async function passkeyOnly() {
    const a = await activeAccount(fx.server);
    const c = await signedIn(fx.server, a.username, a.password);
    const key = new SoftAuthenticator(fx.server.base, 'localhost');
    const o = await c.post('/api/v1/account/factors/passkeys/options', {});
    assert.equal((await c.post('/api/v1/account/factors/passkeys', { response: key.create(o.json) })).status, 201);
    await fx.server.deps.db
      .updateTable('accounts')
      .set({ password_hash: null })
      .where('username', '=', a.username)
      .execute();
    return { a, c };
  }

  async function resetLink(email: string, username: string) {
    const r = await fx.server.client().post('/api/v1/password-resets', { identifier: username });
    assert.equal(r.status, 202);
    const mail = await waitForDevMail(fx.server, (m) => m.to === email && m.text.includes('/auth/reset/code?token='));
    return /\/auth\/reset\/code\?token=([A-Za-z0-9_-]+)/.exec(mail.text)?.[1] as string;
  }

  test('REC-08 MFA-04 the mailed link offers "add a new passkey or set a password"; a new passkey uses the link up and signs in', async () => {
    const { a, c } = await passkeyOnly();
    const token = await resetLink(a.email, a.username);
    const page = await fx.server.client().get(`/auth/reset/code?token=${token}`, { accept: 'text/html' });
    assert.equal(page.status, 200);
    assert.match(page.text, /<h1>Add a new passkey or set a password<\/h1>/);
    assert.match(page.text, /Or set a password/);
    const browser = fx.server.client();
    const fresh = new SoftAuthenticator(fx.server.base, 'localhost');
    const o = await browser.post('/api/v1/password-resets/passkey/options', { token });
    assert.equal(o.status, 200, o.text);
    assert.equal(o.json.authenticatorSelection.userVerification, 'required');
    // Without user verification it is refused: it will be the account's only way in.
    const noUv = await browser.post('/api/v1/password-resets/passkey', {
      token,
      response: fresh.create(o.json, { uv: false }),
    });
    assert.equal(noUv.status, 400);
    const o2 = await browser.post('/api/v1/password-resets/passkey/options', { token });
    const done = await browser.post('/api/v1/password-resets/passkey', {
      token,
      name: 'New phone',
      response: fresh.create(o2.json),
    });
    assert.equal(done.status, 200, done.text);
    assert.equal((await browser.get('/api/v1/sessions/current')).status, 401, 'no session (REC-07)');
    assert.equal((await c.get('/api/v1/sessions/current')).status, 401, 'every session ended (REC-09)');
    assert.equal((await fx.server.client().get(`/auth/reset/code?token=${token}`)).status, 410, 'the link is used up');
    await waitForDevMail(fx.server, (m) => m.to === a.email && /passkey was added/i.test(m.subject));
    // The new passkey signs in.
    const s = fx.server.client();
    const so = await s.post('/api/v1/sessions/passkey/options', {});
    assert.equal((await s.post('/api/v1/sessions/passkey', { response: fresh.get(so.json) })).status, 201);
  });

  test('REC-08 with an authenticator app as well, or with a password, the link only sets a password', async () => {
    const { a } = await passkeyOnly();
    const account = await fx.server.deps.db
      .selectFrom('accounts')
      .select('id')
      .where('username', '=', a.username)
      .executeTakeFirstOrThrow();
    await fx.server.deps.db
      .insertInto('second_factors')
      .values({
        id: `totp-${account.id}`,
        account_id: account.id,
        kind: 'totp',
        name: 'Authenticator app',
        created_at: Date.now(),
        confirmed_at: Date.now(),
        last_used_at: null,
        secret_enc: 'x',
        last_step: null,
        credential_id: null,
        public_key: null,
        sign_count: null,
        transports: null,
        flagged_at: null,
      })
      .execute();
    const token = await resetLink(a.email, a.username);
    const page = await fx.server.client().get(`/auth/reset/code?token=${token}`, { accept: 'text/html' });
    assert.match(page.text, /<h1>Choose a new password<\/h1>/);
    const o = await fx.server.client().post('/api/v1/password-resets/passkey/options', { token });
    assert.equal(o.status, 400);
    assert.equal(o.json.code, 'invalid_token');

    const b = await activeAccount(fx.server);
    const tb = await resetLink(b.email, b.username);
    const pb = await fx.server.client().get(`/auth/reset/code?token=${tb}`, { accept: 'text/html' });
    assert.match(pb.text, /<h1>Choose a new password<\/h1>/);
    assert.equal((await fx.server.client().post('/api/v1/password-resets/passkey/options', { token: tb })).status, 400);
  });
});
