import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { openSecret } from '../../src/methods/totp/secret-box.ts';
import { findAccountByIdentifier } from '../../src/store/accounts.ts';
import { activeAccount } from '../support/accounts.ts';
import { withServer } from '../support/fixture.ts';
import type { Client } from '../support/http.ts';
import { strongPassword, waitForDevMail } from '../support/server.ts';
import { enrolTotpDirect, ShiftClock, totpCode } from './helpers.ts';

// Managing second factors over HTTP, and what they do to sign-in and recovery: MFA-01, MFA-03,
// MFA-05, MFA-06, MFA-08, OTP-07, REC-08, the remembered browser, the notices (LOG-03).

const clock = new ShiftClock();

describe('second factors: enrolment, recovery codes, re-authentication, organizations', () => {
  const fx = withServer({ overrides: { clock } });
  const db = () => fx.server.deps.db;

  /** A fresh account signed in through the API (single factor). */
  async function fresh() {
    const a = await activeAccount(fx.server);
    const c = fx.server.client();
    assert.equal((await c.post('/api/v1/sessions', a)).status, 400); // wrong shape: username, email …
    const res = await c.post('/api/v1/sessions', { identifier: a.username, password: a.password });
    assert.equal(res.status, 201, res.text);
    return { ...a, c };
  }

  /** Adds an authenticator app through the API; returns its secret and the recovery codes. */
  async function addTotp(c: Client) {
    const start = await c.post('/api/v1/account/factors/totp');
    assert.equal(start.status, 201, start.text);
    const conf = await c.post('/api/v1/account/factors/totp/confirm', {
      code: totpCode(start.json.secret, clock.now()),
    });
    assert.equal(conf.status, 201, conf.text);
    clock.nextStep();
    return { secret: start.json.secret as string, codes: conf.json.recoveryCodes as string[], start, conf };
  }

  /** Signs in with password + TOTP; returns the client. */
  async function signInMfa(u: { username: string; password: string }, secret: string) {
    const c = fx.server.client();
    const r = await c.post('/api/v1/sessions', { identifier: u.username, password: u.password });
    assert.equal(r.json.status, 'second_factor_required', r.text);
    const done = await c.post('/api/v1/sessions/second-factor', { code: totpCode(secret, clock.now()) });
    assert.equal(done.status, 201, done.text);
    clock.nextStep();
    return c;
  }

  test('MFA-01 a 160-bit secret, sealed at rest, shown with an otpauth URI and an SVG QR, counts only once confirmed', async () => {
    const u = await fresh();
    const start = await u.c.post('/api/v1/account/factors/totp');
    assert.equal(start.status, 201);
    const { secret, uri, qrSvg, factorId } = start.json;
    assert.ok(Buffer.from(secret.replace(/=+$/, ''), 'utf8').length * 5 >= 160, 'base32: 5 bits a character');
    assert.match(uri, /^otpauth:\/\/totp\/.+secret=[A-Z2-7]+.*algorithm=SHA1.*digits=6.*period=30/);
    assert.match(qrSvg, /^<svg [^>]*role="img"/);
    const row = await db()
      .selectFrom('second_factors')
      .selectAll()
      .where('id', '=', factorId)
      .executeTakeFirstOrThrow();
    assert.ok(row.secret_enc && !row.secret_enc.includes(secret), 'never in clear');
    assert.equal(openSecret(fx.server.deps.secret, factorId, row.secret_enc), secret);
    assert.equal(openSecret('another-server-secret-0123456789', factorId, row.secret_enc), undefined);
    assert.equal(openSecret(fx.server.deps.secret, 'another-row', row.secret_enc), undefined);
    // Not confirmed: it does not count, sign-in asks nothing more.
    assert.equal((await u.c.get('/api/v1/account/factors')).json.factors.length, 0);
    assert.equal(
      (await fx.server.client().post('/api/v1/sessions', { identifier: u.username, password: u.password })).status,
      201,
    );
    const wrong = await u.c.post('/api/v1/account/factors/totp/confirm', { code: '000000' });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.json.code, 'invalid_code');
    // ±1 step: the code of the next step is accepted.
    const ok = await u.c.post('/api/v1/account/factors/totp/confirm', { code: totpCode(secret, clock.now() + 30_000) });
    assert.equal(ok.status, 201, ok.text);
    assert.equal(ok.json.recoveryCodes.length, 10);
    clock.nextStep();
    clock.nextStep();
    const list = await u.c.get('/api/v1/account/factors');
    assert.deepEqual(
      list.json.factors.map((f: { type: string }) => f.type),
      ['totp'],
    );
    assert.equal(list.json.recoveryCodesLeft, 10);
    // Now a factor exists: this password-only session may change nothing more (MFA-06) …
    assert.equal((await u.c.post('/api/v1/account/factors/totp')).json.code, 'reauthentication_required');
    // … and a second authenticator app is refused while one is set up.
    const m = await signInMfa(u, secret);
    assert.equal((await m.post('/api/v1/account/factors/totp')).status, 409);
    const mail = await waitForDevMail(
      fx.server,
      (m) => m.to.includes(u.email) && /second factor was added/i.test(m.subject),
    );
    assert.ok(!mail.text.includes(secret));
  });

  test('OTP-07 MFA-05 ten codes of >= 64 bits, hashed, single use; a new set voids the old and notifies', async () => {
    const u = await fresh();
    const { secret, codes } = await addTotp(u.c);
    assert.equal(new Set(codes).size, 10);
    for (const code of codes) assert.ok(code.replace(/-/g, '').length * Math.log2(30) >= 64, code);
    const acct = await findAccountByIdentifier(db(), u.username);
    const rows = await db()
      .selectFrom('mfa_recovery_codes')
      .selectAll()
      .where('account_id', '=', acct?.id ?? '')
      .execute();
    assert.equal(rows.length, 10);
    for (const r of rows) for (const code of codes) assert.ok(!r.code_hash.includes(code.replace(/-/g, '')));

    // Sign in with a recovery code (typed in upper case with spaces): once.
    const c = fx.server.client();
    await c.post('/api/v1/sessions', { identifier: u.username, password: u.password });
    const used = await c.post('/api/v1/sessions/second-factor', {
      recoveryCode: ` ${codes[0].toUpperCase().replace(/-/g, ' ')} `,
    });
    assert.equal(used.status, 201, used.text);
    assert.equal(used.json.notice.recoveryCodesLeft, 9);
    const s = await db()
      .selectFrom('sessions')
      .select('amr')
      .where('id', '=', used.json.session.id)
      .executeTakeFirstOrThrow();
    assert.deepEqual(JSON.parse(s.amr).sort(), ['kba', 'mfa', 'pwd']);
    await waitForDevMail(fx.server, (m) => m.to.includes(u.email) && /recovery code was used/i.test(m.subject));
    const c2 = fx.server.client();
    await c2.post('/api/v1/sessions', { identifier: u.username, password: u.password });
    assert.equal((await c2.post('/api/v1/sessions/second-factor', { recoveryCode: codes[0] })).status, 400);

    // Regenerate (the session u.c passed only the password: re-authenticate with the factor first).
    const stale = await u.c.post('/api/v1/account/recovery-codes');
    assert.equal(stale.status, 401);
    assert.equal(stale.json.code, 'reauthentication_required');
    const m = await signInMfa(u, secret);
    const regen = await m.post('/api/v1/account/recovery-codes');
    assert.equal(regen.status, 201);
    assert.equal(regen.json.recoveryCodes.length, 10);
    assert.equal(
      (await c2.post('/api/v1/sessions/second-factor', { recoveryCode: codes[1] })).status,
      400,
      'old set void',
    );
    assert.equal(
      (await c2.post('/api/v1/sessions/second-factor', { recoveryCode: regen.json.recoveryCodes[0] })).status,
      201,
    );
    await waitForDevMail(fx.server, (x) => x.to.includes(u.email) && /New recovery codes/i.test(x.subject));
  });

  test('MFA-06 adding, removing and regenerating need a recent sign-in made with the second factor, and send notices', async () => {
    const u = await fresh();
    // Adding the first factor: a recent sign-in suffices.
    const { secret } = await addTotp(u.c);
    const acct = await findAccountByIdentifier(db(), u.username);
    const factorId = (await u.c.get('/api/v1/account/factors')).json.factors[0].id;
    // The password-only session may not remove it.
    const refused = await u.c.delete(`/api/v1/account/factors/${factorId}`);
    assert.equal(refused.status, 401);
    assert.equal(refused.json.code, 'reauthentication_required');
    // An old multi-factor sign-in may not either (SES-07).
    const m = await signInMfa(u, secret);
    clock.shift += 11 * 60_000;
    assert.equal((await m.delete(`/api/v1/account/factors/${factorId}`)).json.code, 'reauthentication_required');
    const m2 = await signInMfa(u, secret);
    assert.equal((await m2.delete(`/api/v1/account/factors/${factorId}`)).status, 204);
    await waitForDevMail(fx.server, (x) => x.to.includes(u.email) && /second factor was removed/i.test(x.subject));
    // The last factor gone: the codes are void and sign-in asks for nothing more.
    const left = await db()
      .selectFrom('mfa_recovery_codes')
      .select('id')
      .where('account_id', '=', acct?.id ?? '')
      .where('used_at', 'is', null)
      .execute();
    assert.equal(left.length, 0);
    const plain = await fx.server.client().post('/api/v1/sessions', { identifier: u.username, password: u.password });
    assert.equal(plain.status, 201);
    const audit = await db()
      .selectFrom('audit_log')
      .select('event')
      .where('account_id', '=', acct?.id ?? '')
      .execute();
    const events = audit.map((r) => r.event);
    for (const e of ['second_factor.added', 'second_factor.removed']) assert.ok(events.includes(e), e);
  });

  test('MFA-06 on a page: a single-factor session is led to sign in again, and a remembered browser is still asked', async () => {
    const u = await fresh();
    const { secret } = await addTotp(u.c);
    // Remember this browser, then sign in with the password only (the step is skipped).
    const c = fx.server.client();
    await c.post('/api/v1/sessions', { identifier: u.username, password: u.password });
    assert.equal(
      (await c.post('/api/v1/sessions/second-factor', { code: totpCode(secret, clock.now()), remember: true })).status,
      201,
    );
    clock.nextStep();
    c.cookies.delete('latchkey_session');
    assert.equal((await c.post('/api/v1/sessions', { identifier: u.username, password: u.password })).status, 201);
    const regen = await c.form('/settings/two-step/recovery-codes', {});
    assert.equal(regen.status, 303);
    const to = regen.headers.get('location') ?? '';
    assert.match(to, /^\/login\?msg=reauthenticate&next=%2Fsettings/);
    const page = await c.get(to, { accept: 'text/html' });
    assert.match(page.text, /name="reauth" value="1"/);
    const again = await c.form('/login', {
      identifier: u.username,
      password: u.password,
      reauth: '1',
      next: '/settings',
    });
    assert.equal(again.headers.get('location'), '/login/second-factor', 'the remembered browser answers the factor');
    const done = await c.form('/login/second-factor', { code: totpCode(secret, clock.now()) });
    clock.nextStep();
    assert.equal(done.headers.get('location'), '/settings');
    const ok = await c.form('/settings/two-step/recovery-codes', {});
    assert.equal(ok.status, 200);
    assert.match(ok.text, /Save your recovery codes/);
  });

  test('MFA-03 second-factor attempts are limited per account: the right code is refused once the limit is used', async () => {
    const u = await fresh();
    const { secret } = await addTotp(u.c);
    for (let i = 0; i < 5; i++) {
      const c = fx.server.client();
      await c.post('/api/v1/sessions', { identifier: u.username, password: u.password });
      assert.equal((await c.post('/api/v1/sessions/second-factor', { code: '000000' })).status, 400);
    }
    const c = fx.server.client();
    await c.post('/api/v1/sessions', { identifier: u.username, password: u.password });
    const limited = await c.post('/api/v1/sessions/second-factor', { code: totpCode(secret, clock.now()) });
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
    // After the window, it works again.
    clock.shift += 5 * 60_000 + 1000;
    await signInMfa(u, secret);
  });

  test('REC-08 a reset by link or code never signs in, and the next sign-in still asks for the second factor', async () => {
    const u = await fresh();
    const { secret } = await addTotp(u.c);
    const c = fx.server.client();
    assert.equal((await c.post('/api/v1/password-resets', { identifier: u.email })).status, 202);
    const mail = await waitForDevMail(fx.server, (m) => m.to.includes(u.email) && /reset/i.test(m.subject));
    const token = /reset\/code\?token=([A-Za-z0-9_-]+)/.exec(mail.text)?.[1];
    assert.ok(token);
    const password = strongPassword();
    const done = await c.post('/api/v1/password-resets/complete', { token, password });
    assert.equal(done.status, 200, done.text);
    assert.equal(done.headers.getSetCookie().filter((x) => /latchkey_session=./.test(x)).length, 0);
    assert.equal((await c.get('/api/v1/sessions/current')).status, 401);
    const next = await c.post('/api/v1/sessions', { identifier: u.username, password });
    assert.equal(next.status, 200);
    assert.equal(next.json.status, 'second_factor_required');
    assert.equal((await c.get('/api/v1/sessions/current')).status, 401);
    assert.equal((await c.post('/api/v1/sessions/second-factor', { code: totpCode(secret, clock.now()) })).status, 201);
    clock.nextStep();

    // The same by typed code, on the page this time: no session, and the factor is still asked.
    const p = fx.server.client();
    assert.equal((await p.post('/api/v1/password-resets', { identifier: u.username })).status, 202);
    const mail2 = await waitForDevMail(
      fx.server,
      (m) => m.to.includes(u.email) && /reset/i.test(m.subject) && !m.text.includes(token),
    );
    const code = /\b[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}\b/.exec(mail2.text)?.[0];
    assert.ok(code);
    const third = strongPassword();
    const byCode = await p.post('/api/v1/password-resets/complete', { identifier: u.username, code, password: third });
    assert.equal(byCode.status, 200, byCode.text);
    assert.equal((await p.get('/api/v1/sessions/current')).status, 401);
    const login = await p.form('/login', { identifier: u.username, password: third });
    assert.equal(login.headers.get('location'), '/login/second-factor');
    assert.equal((await p.get('/api/v1/sessions/current')).status, 401);
  });

  /** An account with an authenticator app, signed in on a new browser that chose "don't ask again". */
  async function rememberedBrowser() {
    const u = await fresh();
    const { secret } = await addTotp(u.c);
    const c = fx.server.client();
    await c.post('/api/v1/sessions', { identifier: u.username, password: u.password });
    const r = await c.post('/api/v1/sessions/second-factor', { code: totpCode(secret, clock.now()), remember: true });
    assert.equal(r.status, 201, r.text);
    return { u, secret, c, r };
  }

  test('a remembered browser skips the step for 30 days, until a password change or sign-out everywhere ends it', async () => {
    const { u, secret, c, r } = await rememberedBrowser();
    clock.nextStep();
    const device = r.headers.getSetCookie().find((x) => x.startsWith('latchkey_device='));
    assert.ok(device && /Max-Age=2592000/.test(device) && /HttpOnly/.test(device), device);
    c.cookies.delete('latchkey_session');
    assert.equal((await c.post('/api/v1/sessions', { identifier: u.username, password: u.password })).status, 201);
    // Another browser is still asked.
    assert.equal(
      (await fx.server.client().post('/api/v1/sessions', { identifier: u.username, password: u.password })).status,
      200,
    );
    // Sign out everywhere forgets it.
    assert.equal((await c.form('/settings/sessions/end-all', {})).status, 303);
    assert.equal((await c.post('/api/v1/sessions', { identifier: u.username, password: u.password })).status, 200);
    // Remember again, then a password change forgets it.
    const r2 = await c.post('/api/v1/sessions/second-factor', { code: totpCode(secret, clock.now()), remember: true });
    assert.equal(r2.status, 201);
    clock.nextStep();
    const newPassword = strongPassword();
    assert.equal((await c.put('/api/v1/account/password', { currentPassword: u.password, newPassword })).status, 200);
    c.cookies.delete('latchkey_session');
    assert.equal((await c.post('/api/v1/sessions', { identifier: u.username, password: newPassword })).status, 200);
  });

  test('MFA-08 an organization that requires a factor: enrolment right after the password, no session before, last factor kept', async () => {
    const admin = await fresh();
    const acct = await findAccountByIdentifier(db(), admin.username);
    const org = await db()
      .selectFrom('organizations')
      .select(['id', 'slug'])
      .where('id', '=', acct?.org_id ?? '')
      .executeTakeFirstOrThrow();
    await db()
      .insertInto('org_members')
      .values({ org_id: org.id, account_id: acct?.id ?? '', role: 'owner', created_at: clock.now() })
      .execute();
    try {
      const bad = await admin.c.put(`/api/v1/organizations/${org.slug}/security-settings`, {
        requireSecondFactor: 'yes',
      });
      assert.equal(bad.status, 400);
      const unknown = await admin.c.put(`/api/v1/organizations/${org.slug}/security-settings`, { other: true });
      assert.equal(unknown.status, 400);
      const member = await activeAccount(fx.server);
      const outsider = await signInAs(member);
      assert.equal(
        (await outsider.put(`/api/v1/organizations/${org.slug}/security-settings`, { requireSecondFactor: true }))
          .status,
        403,
      );
      const put = await admin.c.put(`/api/v1/organizations/${org.slug}/security-settings`, {
        requireSecondFactor: true,
      });
      assert.equal(put.status, 200, put.text);
      assert.deepEqual(put.json, { requireSecondFactor: true, defaultLanguage: null });
      assert.deepEqual((await admin.c.get(`/api/v1/organizations/${org.slug}/security-settings`)).json, {
        requireSecondFactor: true,
        defaultLanguage: null,
      });

      // The member: password right → enrolment, no session.
      const c = fx.server.client();
      const first = await c.post('/api/v1/sessions', { identifier: member.username, password: member.password });
      assert.equal(first.status, 200);
      assert.equal(first.json.enrol, true);
      assert.deepEqual(
        first.json.factors.map((f: { type: string }) => f.type),
        ['totp'],
      );
      assert.equal((await c.get('/api/v1/sessions/current')).status, 401);
      const e = await c.post('/api/v1/sessions/second-factor/enrolment');
      assert.equal(e.status, 200, e.text);
      assert.ok(e.json.secret && e.json.uri && e.json.qrSvg);
      // A recovery code or a wrong code does not finish it.
      assert.equal((await c.post('/api/v1/sessions/second-factor', { recoveryCode: 'aaaaa-bbbbb-ccccc' })).status, 400);
      assert.equal((await c.post('/api/v1/sessions/second-factor', { code: '000000' })).status, 400);
      const done = await c.post('/api/v1/sessions/second-factor', { code: totpCode(e.json.secret, clock.now()) });
      assert.equal(done.status, 201, done.text);
      assert.equal(done.json.notice.recoveryCodes.length, 10);
      clock.nextStep();
      // The last factor cannot be removed (even with a fresh multi-factor sign-in).
      const factorId = (await c.get('/api/v1/account/factors')).json.factors[0].id;
      const keep = await c.delete(`/api/v1/account/factors/${factorId}`);
      assert.equal(keep.status, 409, keep.text);
      // The next sign-in asks for the factor, like any account with one.
      const again = await fx.server
        .client()
        .post('/api/v1/sessions', { identifier: member.username, password: member.password });
      assert.equal(again.json.enrol, false);
      // The admin page shows the setting and turns it off again (form: the hidden 0 alone).
      const page = await admin.c.get(`/admin/organization?org=${org.slug}`, { accept: 'text/html' });
      assert.match(page.text, /id="f-require-second-factor"[^>]*checked/);
      const off = await admin.c.form(`/admin/organization/security?org=${org.slug}`, { requireSecondFactor: '0' });
      assert.equal(off.status, 303, off.text);
      assert.equal(off.headers.get('location'), `/admin/organization?org=${org.slug}&saved=security`);
      assert.equal((await fx.server.deps.organizations.bySlug(org.slug))?.security.requireSecondFactor, false);
    } finally {
      await db().updateTable('organizations').set({ require_second_factor: 0 }).where('id', '=', org.id).execute();
    }
  });

  async function signInAs(a: { username: string; password: string }) {
    const c = fx.server.client();
    assert.equal((await c.post('/api/v1/sessions', { identifier: a.username, password: a.password })).status, 201);
    return c;
  }

  test('hostile inputs on the new routes: clear 4xx, nothing changed', async () => {
    const u = await fresh();
    await enrolTotpDirect(fx.server, clock, u.username);
    const c = fx.server.client();
    await c.post('/api/v1/sessions', { identifier: u.username, password: u.password });
    const bodies: unknown[] = [
      {},
      { code: 123456 },
      { code: 'x'.repeat(5000) },
      { code: '123456', recoveryCode: 'abc' },
      { webauthn: 'not-an-object' },
      { code: '12345\u0000' },
      { recoveryCode: '\u{1F600}'.repeat(10) },
      { remember: 'yes', code: '123456' },
      { __proto__: { code: '1' } },
      [],
      'null',
    ];
    for (const b of bodies) {
      const r = await c.post('/api/v1/sessions/second-factor', b);
      assert.ok(r.status >= 400 && r.status < 500, `${JSON.stringify(b)} → ${r.status}`);
    }
    const raw = await c.post('/api/v1/sessions/second-factor', '{"code":', { 'content-type': 'application/json' });
    assert.equal(raw.status, 400);
    // Junk pending cookies.
    for (const v of ['', 'x'.repeat(4000), '../../etc', '%00']) {
      const j = fx.server.client();
      j.cookies.set('latchkey_pending', v);
      const r = await j.post('/api/v1/sessions/second-factor', { code: '123456' });
      assert.ok(r.status === 401 || r.status === 400 || r.status === 431, `${v.slice(0, 10)} → ${r.status}`);
    }
    const page = fx.server.client();
    page.cookies.set('latchkey_pending', 'nope');
    const p = await page.get('/login/second-factor', { accept: 'text/html' });
    assert.equal(p.status, 303);
    const f = await page.form('/login/second-factor', { code: '<script>' });
    assert.ok(f.status === 303 || f.status === 400);
    // Factor management without a session, and with junk ids.
    const anon = fx.server.client();
    assert.equal((await anon.get('/api/v1/account/factors')).status, 401);
    assert.equal((await anon.post('/api/v1/account/factors/totp')).status, 401);
    assert.equal((await anon.post('/api/v1/account/recovery-codes')).status, 401);
    const m = fx.server.client();
    await m.post('/api/v1/sessions', { identifier: u.username, password: u.password });
    for (const id of ['nope', 'x'.repeat(65), '%2e%2e', "' or 1=1 --"]) {
      const r = await u.c.delete(`/api/v1/account/factors/${encodeURIComponent(id)}`);
      assert.ok(r.status >= 400 && r.status < 500, `${id} → ${r.status}`);
    }
    for (const b of [{ code: 5 }, { code: '' }, { code: '1'.repeat(17) }, { extra: 1, code: '123456' }]) {
      const r = await u.c.post('/api/v1/account/factors/totp/confirm', b);
      assert.ok(r.status >= 400 && r.status < 500, `${JSON.stringify(b)} → ${r.status}`);
    }
    assert.equal((await anon.post('/api/v1/sessions/second-factor/enrolment')).status, 401);
    // The pages: junk forms and ids get a page with a 4xx, or a way to sign in; never a 5xx.
    const pagePosts: [string, Record<string, string>][] = [
      ['/settings/two-step/totp/confirm', { code: '<img src=x>' }],
      ['/settings/two-step/factors/..%2F..%2Fetc/remove', {}],
      [`/settings/two-step/factors/${'x'.repeat(300)}/remove`, {}],
      ['/settings/two-step/recovery-codes', { extra: 'x'.repeat(5000) }],
      ['/admin/organization/security?org=default', { requireSecondFactor: 'maybe' }],
      ['/admin/organization/security?org=%00', { requireSecondFactor: '1' }],
      ['/login/second-factor', { code: '1'.repeat(5000), recoveryCode: 'x' }],
    ];
    for (const [path, body] of pagePosts) {
      for (const who of [anon, u.c]) {
        const r = await who.form(path, body);
        assert.ok(r.status < 500, `${path} → ${r.status}`);
        assert.doesNotMatch(r.text, /<img src=x>/, path);
      }
    }
    const org = await fx.server.deps.organizations.bySlug('default');
    assert.equal(org?.security.requireSecondFactor, false);
  });

  // Last in the file: it moves the shared clock 30 days on.
  test('a remembered browser is asked again after 30 days, and the housekeeping sweep forgets it', async () => {
    const { u, c } = await rememberedBrowser();
    const accountId = (await findAccountByIdentifier(db(), u.username))?.id ?? '';
    const devices = () =>
      db().selectFrom('mfa_trusted_devices').select('expires_at').where('account_id', '=', accountId).execute();
    assert.equal((await devices()).length, 1);
    c.cookies.delete('latchkey_session');
    // A sweep before its time leaves it alone.
    clock.shift += 29 * 86_400_000;
    await fx.server.deps.signIn.sweep();
    assert.equal((await devices()).length, 1);
    assert.equal((await c.post('/api/v1/sessions', { identifier: u.username, password: u.password })).status, 201);
    c.cookies.delete('latchkey_session');
    clock.shift += 86_400_000 + 1000;
    assert.equal((await c.post('/api/v1/sessions', { identifier: u.username, password: u.password })).status, 200);
    await fx.server.deps.signIn.sweep();
    assert.deepEqual(await devices(), []);
  });
});
