import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { systemContext } from '../../src/context.ts';
import { checkTotp, startTotp } from '../../src/methods/totp/totp.ts';
import { FakeClock } from '../../src/security/clock.ts';
import { sha256 } from '../../src/security/hashing.ts';
import { findAccountByIdentifier } from '../../src/store/accounts.ts';
import { totpCode } from '../mfa/helpers.ts';
import { signedInUser, type User } from '../phone/helpers.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { SoftAuthenticator } from '../support/webauthn.ts';
import { reportLink, secretOf, startQr, wrongNumber } from './helpers.ts';

const TWO_MIN = 120_000;

describe('QR sign-in API (injected clock)', () => {
  let server: TestServer;
  const clock = new FakeClock(Date.now());
  let phone: User;
  let other: User;

  const row = (id: string) =>
    server.deps.db.selectFrom('qr_logins').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const audit = (event: string) =>
    server.deps.db.selectFrom('audit_log').selectAll().where('event', '=', event).orderBy('at', 'desc').execute();
  const approve = (u: User, id: string, body: Record<string, unknown>) =>
    u.c.post(`/api/v1/qr-logins/${id}/approve`, { password: u.password, ...body });
  /** Lets the next poll of the same request count as on time (RFC 8628 interval). */
  const wait = () => clock.advance(2000);

  before(async () => {
    server = await startTestServer({}, { clock });
    phone = await signedInUser(server, 'qrphone');
    other = await signedInUser(server, 'qrother');
  });
  after(async () => {
    await server?.close();
  });

  test('QR-01 QR-02 QR-06 QR-08 happy path: the bound browser gets a session of its own, no stronger than the phone', async () => {
    const desktop = server.client({
      headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0' },
    });
    const s = await startQr(desktop);
    assert.match(s.url, new RegExp(`^${server.base}/qr/[A-Za-z0-9_-]{43}$`), 'a 256-bit secret in the link');
    assert.match(s.code, /^[23456789ABCDEFGHJKMNPQRSTVWXYZ]{4}-[23456789ABCDEFGHJKMNPQRSTVWXYZ]{4}$/);
    assert.ok(s.number >= 10 && s.number <= 99);
    assert.match(s.qrSvg, /^<svg /);
    assert.equal(Date.parse(s.expiresAt) - clock.now(), TWO_MIN, 'lives 2 minutes');
    assert.equal(Date.parse(s.rotateAt) - clock.now(), 60_000, 'rotates after 60 s');
    const stored = await row(s.id);
    const secret = secretOf(s);
    assert.equal(stored.secret_hash, sha256(secret), 'only the hash is kept');
    assert.ok(!JSON.stringify(stored).includes(secret) && !JSON.stringify(stored).includes(s.code.replace('-', '')));

    assert.equal((await desktop.get(`/api/v1/qr-logins/${s.id}`)).json.status, 'pending');
    const details = await phone.c.get(`/api/v1/qr-logins/${s.id}/details?secret=${secret}`);
    assert.equal(details.status, 200, details.text);
    assert.equal(details.json.browser, 'Firefox 128');
    assert.equal(details.json.os, 'Linux');
    assert.equal(details.json.ip, '127.0.0.1');
    assert.equal(details.json.differentNetwork, false);
    assert.equal(details.json.choices.length, 3);
    assert.ok(details.json.choices.includes(s.number));
    wait();
    assert.equal((await desktop.get(`/api/v1/qr-logins/${s.id}`)).json.status, 'shown');

    // The phone's session proved a second factor: the new one may count it, and nothing more (QR-06).
    const phoneSession = (await phone.c.get('/api/v1/sessions/current')).json.session.id as string;
    await server.deps.db
      .updateTable('sessions')
      .set({ amr: '["pwd","otp","mfa"]' })
      .where('id', '=', phoneSession)
      .execute();
    const ok = await approve(phone, s.id, { secret, number: s.number });
    assert.equal(ok.status, 204, ok.text);
    wait();
    const done = await desktop.get(`/api/v1/qr-logins/${s.id}`);
    assert.equal(done.status, 200, done.text);
    assert.equal(done.json.status, 'approved');
    assert.equal(done.json.account.username, phone.username);
    const me = await desktop.get('/api/v1/sessions/current');
    assert.equal(me.status, 200);
    assert.notEqual(me.json.session.id, phoneSession, 'a session of its own, never a copy (QR-08)');
    const created = await server.deps.db
      .selectFrom('sessions')
      .selectAll()
      .where('id', '=', me.json.session.id)
      .executeTakeFirstOrThrow();
    assert.equal(created.method, 'qr');
    assert.equal(created.amr, '["pwd","otp","mfa"]');

    // Redeemed once: the same browser polling again gets nothing more.
    wait();
    assert.equal((await desktop.get(`/api/v1/qr-logins/${s.id}`)).json.status, 'expired');
    assert.equal(
      (await server.deps.db.selectFrom('sessions').select('id').where('method', '=', 'qr').execute()).length,
      1,
    );

    // Audited with both devices' addresses and browsers.
    const approved = (await audit('qr.approved'))[0];
    assert.equal(approved.ip, '127.0.0.1');
    assert.match(approved.details ?? '', /"browserAgent":"Mozilla\/5.0 \(X11; Linux/);
    const redeemed = (await audit('qr.redeemed'))[0];
    assert.match(redeemed.user_agent ?? '', /Firefox\/128/);
    assert.match(redeemed.details ?? '', /"phoneIp":"127.0.0.1"/);
    for (const e of ['qr.created', 'qr.shown']) assert.ok((await audit(e)).length > 0, e);
    for (const r of await server.deps.db
      .selectFrom('audit_log')
      .select('details')
      .where('event', 'like', 'qr.%')
      .execute())
      assert.ok(!(r.details ?? '').includes(secret), 'no secret in the audit trail');

    // The activity list on /settings shows it.
    const settings = await phone.c.get('/settings', { accept: 'text/html' });
    assert.match(settings.text, /Signed in on a new browser by QR code/);
    assert.match(settings.text, /Sign in on another device/);
  });

  test('QR-09 "This wasn\'t me" ends that session at once, flags the account, queues a review, works once', async () => {
    const u = await signedInUser(server, 'qrreport');
    const desktop = server.client();
    const s = await startQr(desktop);
    assert.equal((await approve(u, s.id, { secret: secretOf(s), number: s.number })).status, 204);
    assert.equal((await desktop.get(`/api/v1/qr-logins/${s.id}`)).json.status, 'approved');
    assert.equal((await desktop.get('/api/v1/sessions/current')).status, 200);
    const link = await reportLink(server, u.email);
    const anon = server.client();
    const page = await anon.get(link, { accept: 'text/html' });
    assert.equal(page.status, 200);
    assert.equal((await desktop.get('/api/v1/sessions/current')).status, 200, 'opening the link changes nothing (GET)');
    const r = await anon.form(link, {});
    assert.equal(r.status, 200, r.text);
    assert.equal((await desktop.get('/api/v1/sessions/current')).status, 401, 'the QR session ended');
    assert.equal((await u.c.get('/api/v1/sessions/current')).status, 200, "the phone's own session stays");
    const acct = await server.deps.db
      .selectFrom('accounts')
      .selectAll()
      .where('username', '=', u.username)
      .executeTakeFirstOrThrow();
    assert.ok(acct.flagged_at);
    assert.match(acct.flag_reason ?? '', /QR sign-in/);
    assert.equal((await audit('qr.reported')).filter((a) => a.account_id === acct.id).length, 1);
    const reviewItems = () =>
      server.deps.db
        .selectFrom('review_items')
        .selectAll()
        .where('kind', '=', 'qr_reported')
        .where('account_id', '=', acct.id)
        .execute();
    assert.equal((await reviewItems()).length, 1, 'a review item is opened for staff');
    const again = await anon.form(link, {});
    assert.equal(again.status, 400, 'single use');
    assert.equal((await audit('qr.reported')).filter((a) => a.account_id === acct.id).length, 1);
    assert.equal((await reviewItems()).length, 1);
  });

  test('QR-01 expiry at the exact boundary: usable 1 ms before, dead at expiresAt', async () => {
    const desktop = server.client();
    const s = await startQr(desktop);
    const secret = secretOf(s);
    clock.advance(TWO_MIN - 1);
    assert.equal((await phone.c.get(`/api/v1/qr-logins/${s.id}/details?secret=${secret}`)).status, 200);
    clock.advance(1);
    const late = await phone.c.get(`/api/v1/qr-logins/${s.id}/details?secret=${secret}`);
    assert.equal(late.status, 400);
    assert.equal(late.json.code, 'invalid_token');
    const r = await approve(phone, s.id, { secret, number: s.number });
    assert.equal(r.json.code, 'invalid_token');
    assert.equal((await desktop.get(`/api/v1/qr-logins/${s.id}`)).json.status, 'expired');
    assert.equal((await row(s.id)).status, 'shown', 'never approved');
  });

  test('QR-01 approved at the last millisecond, redeemed at expiresAt: nothing', async () => {
    const desktop = server.client();
    const s = await startQr(desktop);
    clock.advance(TWO_MIN - 1);
    assert.equal((await approve(phone, s.id, { secret: secretOf(s), number: s.number })).status, 204);
    clock.advance(1);
    assert.equal((await desktop.get(`/api/v1/qr-logins/${s.id}`)).json.status, 'expired');
    assert.equal((await desktop.get('/api/v1/sessions/current')).status, 401);
  });

  test('QR-01 rotation: the replaced code dies, the new one keeps the deadline', async () => {
    const desktop = server.client();
    const first = await startQr(desktop);
    clock.advance(57_999);
    assert.equal((await desktop.get(`/api/v1/qr-logins/${first.id}`)).json.rotate, false);
    clock.advance(2001); // exactly LATCHKEY_QR_ROTATE after it began
    assert.equal((await desktop.get(`/api/v1/qr-logins/${first.id}`)).json.rotate, true, 'the page is told to rotate');
    const second = await startQr(desktop, { replaces: first.id });
    assert.notEqual(second.id, first.id);
    assert.notEqual(secretOf(second), secretOf(first));
    assert.equal(second.expiresAt, first.expiresAt, 'the whole attempt still dies 2 minutes after it began');
    assert.equal((await row(first.id)).status, 'replaced');
    const old = await phone.c.get(`/api/v1/qr-logins/${first.id}/details?secret=${secretOf(first)}`);
    assert.equal(old.json.code, 'invalid_token');
    const byOldCode = await phone.c.get(`/api/v1/qr-logins/-/details?secret=${first.code}`);
    assert.equal(byOldCode.json.code, 'invalid_token');
    // Another browser cannot rotate (end) someone else's request.
    const stranger = server.client();
    await startQr(stranger, { replaces: second.id });
    assert.equal((await row(second.id)).status, 'pending');
  });

  test('typed code: the phone opens and approves with the 8-character code', async () => {
    const desktop = server.client();
    const s = await startQr(desktop);
    const typed = s.code.toLowerCase().replace('-', ' ');
    const d = await phone.c.get(`/api/v1/qr-logins/-/details?secret=${encodeURIComponent(typed)}`);
    assert.equal(d.status, 200, d.text);
    assert.equal(d.json.id, s.id);
    assert.equal((await approve(phone, s.id, { secret: s.code, number: s.number })).status, 204);
    assert.equal((await desktop.get(`/api/v1/qr-logins/${s.id}`)).json.status, 'approved');
  });

  test("QR-02 an app's sign-in (return_to) survives the QR pages; a foreign address is dropped", async () => {
    const desktop = server.client();
    const start = await desktop.get('/login/qr?return_to=%2Foidc%2Finteraction%2Fabc', { accept: 'text/html' });
    assert.equal(start.status, 200, start.text);
    const s = await startQr(desktop);
    await phone.c.get(`/api/v1/qr-logins/${s.id}/details?secret=${encodeURIComponent(secretOf(s))}`);
    assert.equal((await approve(phone, s.id, { secret: secretOf(s), number: s.number })).status, 204);
    assert.equal((await desktop.get(`/api/v1/qr-logins/${s.id}`)).json.status, 'approved');
    const back = await desktop.get('/login/qr', { accept: 'text/html' });
    assert.equal(back.status, 303);
    assert.equal(back.headers.get('location'), '/oidc/interaction/abc');
    // Once used, the kept address is gone; an address off this site is never kept.
    assert.equal((await desktop.get('/login/qr', { accept: 'text/html' })).headers.get('location'), '/settings');
    const other = server.client();
    await other.get('/login/qr?return_to=https%3A%2F%2Fevil.example%2F', { accept: 'text/html' });
    const s2 = await startQr(other);
    await phone.c.get(`/api/v1/qr-logins/${s2.id}/details?secret=${encodeURIComponent(secretOf(s2))}`);
    assert.equal((await approve(phone, s2.id, { secret: secretOf(s2), number: s2.number })).status, 204);
    assert.equal((await other.get(`/api/v1/qr-logins/${s2.id}`)).json.status, 'approved');
    assert.equal((await other.get('/login/qr', { accept: 'text/html' })).headers.get('location'), '/settings');
  });

  test('QR-07 a wrong number cancels the request', async () => {
    const desktop = server.client();
    const s = await startQr(desktop);
    const wrong = await wrongNumber(phone.c, s);
    const r = await approve(phone, s.id, { secret: secretOf(s), number: wrong });
    assert.equal(r.status, 400);
    assert.equal(r.json.code, 'invalid_code');
    assert.equal((await row(s.id)).status, 'declined');
    const retry = await approve(phone, s.id, { secret: secretOf(s), number: s.number });
    assert.equal(retry.json.code, 'invalid_token', 'cancelled for good');
    assert.equal((await desktop.get(`/api/v1/qr-logins/${s.id}`)).json.status, 'declined');
    assert.match((await audit('qr.declined'))[0].details ?? '', /wrong_number/);
  });

  test('QR-04 decline: the new browser is told and gets nothing', async () => {
    const desktop = server.client();
    const s = await startQr(desktop);
    const r = await phone.c.post(`/api/v1/qr-logins/${s.id}/decline`, { secret: secretOf(s) });
    assert.equal(r.status, 204, r.text);
    assert.equal((await desktop.get(`/api/v1/qr-logins/${s.id}`)).json.status, 'declined');
    assert.equal((await desktop.get('/api/v1/sessions/current')).status, 401);
  });

  test('QR-02 a third browser polling with the id but without the binding cookie gets nothing', async () => {
    const desktop = server.client();
    const s = await startQr(desktop);
    assert.equal((await approve(phone, s.id, { secret: secretOf(s), number: s.number })).status, 204);
    const third = server.client();
    const r = await third.get(`/api/v1/qr-logins/${s.id}`);
    assert.equal(r.status, 404);
    assert.equal(r.headers.get('set-cookie'), null);
    // A binding cookie of its own (from its own request) does not fit this one either.
    await startQr(third);
    assert.equal((await third.get(`/api/v1/qr-logins/${s.id}`)).status, 404);
    const forged = server.client();
    forged.cookies.set('latchkey_qr', 'A'.repeat(43));
    assert.equal((await forged.get(`/api/v1/qr-logins/${s.id}`)).status, 404);
    assert.equal((await row(s.id)).status, 'approved', 'still waiting for its own browser');
    assert.equal((await desktop.get(`/api/v1/qr-logins/${s.id}`)).json.status, 'approved');
  });

  test("QR-03 an approval without the secret (or with another request's) does nothing", async () => {
    const desktop = server.client();
    const s = await startQr(desktop);
    const decoy = await startQr(server.client());
    for (const secret of ['', 'x', 'A'.repeat(43), secretOf(decoy), decoy.code]) {
      const r = await approve(phone, s.id, { secret, number: s.number });
      assert.equal(r.status, 400, `${secret}: ${r.text}`);
    }
    const bare = await phone.c.post(`/api/v1/qr-logins/${s.id}/approve`, {
      number: s.number,
      password: phone.password,
    });
    assert.equal(bare.status, 400);
    assert.equal((await row(s.id)).status, 'pending');
    assert.equal((await row(decoy.id)).status, 'pending');
  });

  test('QR-01 single use: a second account opening the link after the first approved gets nothing', async () => {
    const desktop = server.client();
    const s = await startQr(desktop);
    const secret = secretOf(s);
    assert.equal((await approve(phone, s.id, { secret, number: s.number })).status, 204);
    const d = await other.c.get(`/api/v1/qr-logins/${s.id}/details?secret=${secret}`);
    assert.equal(d.status, 400);
    const a = await approve(other, s.id, { secret, number: s.number });
    assert.equal(a.json.code, 'invalid_token');
    assert.equal((await row(s.id)).account_id, (await row(s.id)).account_id);
    assert.equal((await desktop.get(`/api/v1/qr-logins/${s.id}`)).json.account.username, phone.username);
    // And the first account to open a request holds it, even before approving.
    const s2 = await startQr(server.client());
    assert.equal((await phone.c.get(`/api/v1/qr-logins/${s2.id}/details?secret=${secretOf(s2)}`)).status, 200);
    assert.equal((await other.c.get(`/api/v1/qr-logins/${s2.id}/details?secret=${secretOf(s2)}`)).status, 400);
  });

  test('QR-08 an account without a password approves with a passkey (user verification, bound to the request)', async () => {
    const u = await signedInUser(server, 'qrpasskey');
    const key = new SoftAuthenticator(server.base, server.deps.config.webauthn.rpId);
    const ro = await u.c.post('/api/v1/account/factors/passkeys/options', {});
    assert.equal(ro.status, 200, ro.text);
    const added = await u.c.post('/api/v1/account/factors/passkeys', { name: 'Phone', response: key.create(ro.json) });
    assert.equal(added.status, 201, added.text);
    await server.deps.db
      .updateTable('accounts')
      .set({ password_hash: null })
      .where('username', '=', u.username)
      .execute();
    // Without a password, the phone signs in with the passkey (hwk+user), as such an account does.
    const pc = server.client();
    const so = await pc.post('/api/v1/sessions/passkey/options', {});
    assert.equal((await pc.post('/api/v1/sessions/passkey', { response: key.get(so.json) })).status, 201);
    const desktop = server.client();
    const s = await startQr(desktop);
    const secret = secretOf(s);
    const details = await pc.get(`/api/v1/qr-logins/${s.id}/details?secret=${secret}`);
    assert.equal(details.json.passkey, true);
    const page = await pc.get(`/qr/${secret}`, { accept: 'text/html' });
    assert.match(page.text, /Confirm with a passkey/);
    assert.match(page.text, /data-passkey-qr/);
    const options = async (id = s.id, sec = secret) => {
      const o = await pc.post(`/api/v1/qr-logins/${id}/approve/passkey-options`, { secret: sec });
      assert.equal(o.status, 200, o.text);
      return o.json;
    };
    const o = await options();
    assert.equal(o.userVerification, 'required');
    assert.deepEqual(
      o.allowCredentials.map((c: { id: string }) => c.id),
      [key.credentials[0].id.toString('base64url')],
    );
    // Neither a password nor a passkey: refused before anything is checked.
    const bare = await pc.post(`/api/v1/qr-logins/${s.id}/approve`, { secret, number: s.number });
    assert.equal(bare.status, 400, bare.text);
    // Without user verification, refused; the challenge is used up.
    const noUv = await pc.post(`/api/v1/qr-logins/${s.id}/approve`, {
      secret,
      number: s.number,
      webauthn: key.get(o, { uv: false }),
    });
    assert.equal(noUv.status, 400, noUv.text);
    assert.equal(noUv.json.code, 'passkey_failed');
    // A challenge issued for another QR request does not approve this one.
    const s2 = await startQr(server.client());
    const foreign = await options(s2.id, secretOf(s2));
    const wrongRequest = await pc.post(`/api/v1/qr-logins/${s.id}/approve`, {
      secret,
      number: s.number,
      webauthn: key.get(foreign),
    });
    assert.equal(wrongRequest.status, 400, wrongRequest.text);
    assert.equal((await row(s.id)).status, 'shown', 'not approved yet');
    // The right one approves; the number is still checked first (QR-07), so it comes with it.
    const ok = await pc.post(`/api/v1/qr-logins/${s.id}/approve`, {
      secret,
      number: s.number,
      webauthn: key.get(await options()),
    });
    assert.equal(ok.status, 204, ok.text);
    wait();
    const done = await desktop.get(`/api/v1/qr-logins/${s.id}`);
    assert.equal(done.json.status, 'approved');
    assert.equal(done.json.account.username, u.username);
    // Used up: the same kind of answer again finds the request approved.
    const again = await pc.post(`/api/v1/qr-logins/${s.id}/approve`, {
      secret,
      number: s.number,
      webauthn: key.get(o),
    });
    assert.equal(again.status, 400);
  });

  test('QR-08 a session older than the re-authentication window cannot approve; a wrong password neither', async () => {
    const u = await signedInUser(server, 'qrstale');
    const desktop = server.client();
    const s = await startQr(desktop);
    const wrongPw = await u.c.post(`/api/v1/qr-logins/${s.id}/approve`, {
      secret: secretOf(s),
      number: s.number,
      password: 'not-the-password-at-all',
    });
    assert.equal(wrongPw.status, 400);
    assert.equal(wrongPw.json.code, 'current_password_wrong');
    clock.advance(11 * 60_000); // LATCHKEY_REAUTH_WINDOW is 10 minutes
    const s2 = await startQr(desktop);
    const stale = await approve(u, s2.id, { secret: secretOf(s2), number: s2.number });
    assert.equal(stale.status, 401, stale.text);
    assert.equal(stale.json.code, 'reauthentication_required');
    assert.equal((await row(s2.id)).status, 'pending');
    // Signing in again on the phone is the fresh check that lets it approve.
    assert.equal((await u.c.post('/api/v1/sessions', { identifier: u.username, password: u.password })).status, 201);
    assert.equal((await approve(u, s2.id, { secret: secretOf(s2), number: s2.number })).status, 204);
  });

  test('QR-06 when the organization requires a second factor (the org setting hook), a single-factor phone session cannot approve', async () => {
    const u = await signedInUser(server, 'qrmfa');
    const wired = server.deps.qrSecondFactorRequired;
    server.deps.qrSecondFactorRequired = async () => true;
    try {
      const s = await startQr(server.client());
      const r = await approve(u, s.id, { secret: secretOf(s), number: s.number });
      assert.equal(r.status, 403, r.text);
      assert.equal((await row(s.id)).status, 'pending');
      const sid = (await u.c.get('/api/v1/sessions/current')).json.session.id as string;
      await server.deps.db.updateTable('sessions').set({ amr: '["pwd","otp","mfa"]' }).where('id', '=', sid).execute();
      assert.equal((await approve(u, s.id, { secret: secretOf(s), number: s.number })).status, 204);
    } finally {
      server.deps.qrSecondFactorRequired = wired;
    }
  });

  test("BF-05 QR-06 a phone session without a second factor: the new browser still answers the account's second factor", async () => {
    const u = await signedInUser(server, 'qrtotp');
    const account = await findAccountByIdentifier(server.deps.db, u.username);
    assert.ok(account);
    const e = await startTotp(server.deps, account);
    await checkTotp(server.deps, account.id, totpCode(e.secret, clock.now()), { confirm: true });
    clock.advance(30_000);
    const desktop = server.client();
    const s = await startQr(desktop);
    assert.equal((await approve(u, s.id, { secret: secretOf(s), number: s.number })).status, 204);
    const r = await desktop.get(`/api/v1/qr-logins/${s.id}`);
    assert.equal(r.json.status, 'second_factor_required', r.text);
    assert.equal((await desktop.get('/api/v1/sessions/current')).status, 401, 'no session before the second factor');
    const step = await desktop.post('/api/v1/sessions/second-factor', { code: totpCode(e.secret, clock.now()) });
    assert.ok(step.status === 200 || step.status === 201, step.text);
    const me = await desktop.get('/api/v1/sessions/current');
    assert.equal(me.status, 200);
    const row = await server.deps.db
      .selectFrom('sessions')
      .select(['amr', 'method'])
      .where('id', '=', me.json.session.id)
      .executeTakeFirstOrThrow();
    assert.match(row.amr, /"mfa"/);
  });

  test('RFC 8628 polling faster than the interval gets slow_down and a longer interval', async () => {
    const desktop = server.client();
    const s = await startQr(desktop);
    assert.equal(s.interval, 2);
    assert.equal((await desktop.get(`/api/v1/qr-logins/${s.id}`)).json.status, 'pending');
    const fast = await desktop.get(`/api/v1/qr-logins/${s.id}`);
    assert.deepEqual(fast.json, { status: 'slow_down', interval: 7 });
    clock.advance(2000);
    assert.equal((await desktop.get(`/api/v1/qr-logins/${s.id}`)).json.status, 'slow_down', 'now 7 s apart');
    clock.advance(12_000);
    const ok = await desktop.get(`/api/v1/qr-logins/${s.id}`);
    assert.equal(ok.json.status, 'pending');
    assert.equal(ok.json.interval, 12);
  });

  test('QR-09 an organization admin turns QR sign-in off: members can no longer open or approve', async () => {
    const admin = await signedInUser(server, 'qradmin');
    await server.deps.organizations.addAdmin('default', admin.username, 'admin', systemContext('test'));
    const member = await phone.c.put('/api/v1/organizations/default/qr-login', { enabled: false });
    assert.equal(member.status, 403);
    const off = await admin.c.put('/api/v1/organizations/default/qr-login', { enabled: false });
    assert.equal(off.status, 200, off.text);
    try {
      assert.deepEqual((await admin.c.get('/api/v1/organizations/default/qr-login')).json, { enabled: false });
      const s = await startQr(server.client());
      const d = await admin.c.get(`/api/v1/qr-logins/${s.id}/details?secret=${secretOf(s)}`);
      assert.equal(d.status, 403);
      const a = await approve(admin, s.id, { secret: secretOf(s), number: s.number });
      assert.equal(a.status, 403);
      assert.equal((await row(s.id)).status, 'pending');
      assert.doesNotMatch((await admin.c.get('/settings', { accept: 'text/html' })).text, /Sign in on another device/);
      const page = await admin.c.get('/admin/organization', { accept: 'text/html' });
      assert.match(page.text, /Sign-in by QR code/);
      assert.equal((await audit('org.qr_login_changed')).length, 1);
    } finally {
      assert.equal((await admin.c.put('/api/v1/organizations/default/qr-login', { enabled: true })).status, 200);
    }
  });
});
