import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { activeAccount } from '../support/accounts.ts';
import { withServer } from '../support/fixture.ts';
import { enrolTotpDirect, ShiftClock, totpCode } from './helpers.ts';

// The second-factor sign-in step over HTTP (BF-05, MFA-02, MFA-07, OTP-06).

const clock = new ShiftClock();

describe('second-factor sign-in step', () => {
  const fx = withServer({ overrides: { clock } });

  test('BF-05 MFA-07 a right password for an account with a factor issues no session, only a pending cookie', async () => {
    const a = await activeAccount(fx.server);
    const { secret } = await enrolTotpDirect(fx.server, clock, a.username);
    const c = fx.server.client();
    const res = await c.post('/api/v1/sessions', { identifier: a.username, password: a.password });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.status, 'second_factor_required');
    assert.deepEqual(
      res.json.factors.map((f: { type: string }) => f.type),
      ['totp', 'recovery_code'],
    );
    assert.ok(!c.cookies.has('latchkey_session'), 'no session cookie');
    const pending = res.headers.getSetCookie().find((x) => x.startsWith('latchkey_pending='));
    assert.ok(pending && /Max-Age=300/.test(pending) && /HttpOnly/.test(pending), pending);
    // The pending cookie grants nothing else.
    assert.equal((await c.get('/api/v1/sessions/current')).status, 401);
    const r2 = await c.post('/api/v1/sessions/second-factor', { code: totpCode(secret, clock.now()) });
    assert.equal(r2.status, 201, r2.text);
    assert.equal(r2.json.status, 'signed_in');
    const cur = await c.get('/api/v1/sessions/current');
    assert.equal(cur.status, 200);
    const row = await fx.server.deps.db
      .selectFrom('sessions')
      .select('amr')
      .where('id', '=', r2.json.session.id)
      .executeTakeFirstOrThrow();
    assert.deepEqual(JSON.parse(row.amr).sort(), ['mfa', 'otp', 'pwd']);
    // Single use: the pending sign-in is gone.
    const again = await c.post('/api/v1/sessions/second-factor', { code: totpCode(secret, clock.now()) });
    assert.equal(again.status, 401);
  });

  test('the step in one transaction: a wrong code is still counted and audited, and the right one cancels a pending deletion', async () => {
    const a = await activeAccount(fx.server);
    const { secret, accountId } = await enrolTotpDirect(fx.server, clock, a.username);
    const db = fx.server.deps.db;
    await db
      .updateTable('accounts')
      .set({ deletion_due_at: clock.now() + 7 * 86_400_000 })
      .where('id', '=', accountId)
      .execute();
    const c = fx.server.client();
    assert.equal((await c.post('/api/v1/sessions', { identifier: a.username, password: a.password })).status, 200);
    const right = totpCode(secret, clock.now());
    const wrong = right === '000000' ? '111111' : '000000';
    const bad = await c.post('/api/v1/sessions/second-factor', { code: wrong });
    assert.equal(bad.status, 400);
    // MFA-03: the wrong answer's count was committed, not rolled back with it.
    const run = await db
      .selectFrom('sign_in_failures')
      .select('failures')
      .where('key', '=', `mfa:${accountId}`)
      .executeTakeFirst();
    assert.equal(run?.failures, 1);
    const ok = await c.post('/api/v1/sessions/second-factor', { code: right });
    assert.equal(ok.status, 201, ok.text);
    assert.equal(ok.json.deletionCancelled, true);
    const row = await db
      .selectFrom('accounts')
      .select('deletion_due_at')
      .where('id', '=', accountId)
      .executeTakeFirstOrThrow();
    assert.equal(row.deletion_due_at, null);
    const cleared = await db
      .selectFrom('sign_in_failures')
      .select('failures')
      .where('key', '=', `mfa:${accountId}`)
      .executeTakeFirst();
    assert.equal(cleared, undefined, 'a success ends the run');
    const events = (
      await db.selectFrom('audit_log').select('event').where('account_id', '=', accountId).orderBy('at').execute()
    ).map((e) => e.event);
    for (const e of ['second_factor.failed', 'account.deletion_cancelled', 'sign_in.succeeded'])
      assert.ok(events.includes(e), `${e} audited (LOG-01): ${events.join(', ')}`);
  });

  test('LOG-01 a half-finished sign-in is audited once, when it ends: abandoned when it expires unused, from where it began', async () => {
    const d = fx.server.deps;
    const events = async (accountId: string) =>
      d.db
        .selectFrom('audit_log')
        .select(['event', 'ip', 'user_agent', 'details'])
        .where('account_id', '=', accountId)
        .where('event', 'like', 'sign_in.%')
        .execute();
    const left = await activeAccount(fx.server);
    const leftFactor = await enrolTotpDirect(fx.server, clock, left.username);
    const done = await activeAccount(fx.server);
    const doneFactor = await enrolTotpDirect(fx.server, clock, done.username);

    const browser = fx.server.client({ headers: { 'user-agent': 'abandoning-browser/1' } });
    assert.equal(
      (await browser.post('/api/v1/sessions', { identifier: left.username, password: left.password })).status,
      200,
    );
    const finisher = fx.server.client();
    assert.equal(
      (await finisher.post('/api/v1/sessions', { identifier: done.username, password: done.password })).status,
      200,
    );
    const ok = await finisher.post('/api/v1/sessions/second-factor', {
      code: totpCode(doneFactor.secret, clock.now()),
    });
    assert.equal(ok.status, 201, ok.text);
    // Nothing is written when it starts; while it is live, a sweep leaves it alone.
    assert.deepEqual(await events(leftFactor.accountId), []);
    await d.signIn.sweep();
    assert.deepEqual(await events(leftFactor.accountId), []);

    clock.shift += 5 * 60_000 + 1000;
    // Two sweeps at once: each abandoned sign-in is recorded once (SQLite has one writer at a
    // time; test/mfa/postgres.test.ts races sweeps on separate connections).
    await Promise.all([d.signIn.sweep(), d.signIn.sweep()]);
    await d.signIn.sweep();
    const abandoned = await events(leftFactor.accountId);
    assert.equal(abandoned.length, 1, JSON.stringify(abandoned));
    assert.equal(abandoned[0]?.event, 'sign_in.second_factor_abandoned');
    assert.equal(abandoned[0]?.ip, '127.0.0.1');
    assert.equal(abandoned[0]?.user_agent, 'abandoning-browser/1');
    const details = JSON.parse(abandoned[0]?.details ?? '{}');
    assert.equal(details.method, 'password');
    assert.ok(details.started < clock.now() - 5 * 60_000, 'when it began');
    // The finished one was a sign-in, never abandoned.
    assert.deepEqual(
      (await events(doneFactor.accountId)).map((e) => e.event),
      ['sign_in.succeeded'],
    );
    // An abandoned sign-in cannot be finished, and its row is forgotten an hour on.
    const late = await browser.post('/api/v1/sessions/second-factor', {
      code: totpCode(leftFactor.secret, clock.now()),
    });
    assert.equal(late.status, 401);
    clock.shift += 3_600_000;
    await d.signIn.sweep();
    const rows = await d.db
      .selectFrom('pending_sign_ins')
      .select('id')
      .where('account_id', '=', leftFactor.accountId)
      .execute();
    assert.deepEqual(rows, []);
  });

  test('MFA-07 the half-finished sign-in expires and works only in the browser that started it', async () => {
    const a = await activeAccount(fx.server);
    const { secret } = await enrolTotpDirect(fx.server, clock, a.username);
    const c = fx.server.client();
    await c.post('/api/v1/sessions', { identifier: a.username, password: a.password });
    const other = fx.server.client();
    const stolen = await other.post('/api/v1/sessions/second-factor', { code: totpCode(secret, clock.now()) });
    assert.equal(stolen.status, 401);
    clock.shift += 5 * 60_000 + 1000;
    const late = await c.post('/api/v1/sessions/second-factor', { code: totpCode(secret, clock.now()) });
    assert.equal(late.status, 401);
    assert.equal(late.json.code, 'unauthorized');
  });

  test('MFA-02 a used TOTP code, or an earlier one, is refused', async () => {
    const a = await activeAccount(fx.server);
    const { secret } = await enrolTotpDirect(fx.server, clock, a.username);
    const code = totpCode(secret, clock.now());
    const earlier = totpCode(secret, clock.now() - 30_000);
    const c1 = fx.server.client();
    await c1.post('/api/v1/sessions', { identifier: a.username, password: a.password });
    assert.equal((await c1.post('/api/v1/sessions/second-factor', { code })).status, 201);
    const c2 = fx.server.client();
    await c2.post('/api/v1/sessions', { identifier: a.username, password: a.password });
    const replay = await c2.post('/api/v1/sessions/second-factor', { code });
    assert.equal(replay.status, 400);
    assert.equal(replay.json.code, 'invalid_code');
    assert.equal((await c2.post('/api/v1/sessions/second-factor', { code: earlier })).status, 400);
  });

  test('OTP-06 an email code is never a second factor: none offered, the step takes no such answer', async () => {
    const a = await activeAccount(fx.server);
    await enrolTotpDirect(fx.server, clock, a.username);
    const c = fx.server.client();
    const res = await c.post('/api/v1/sessions', { identifier: a.username, password: a.password });
    assert.ok(res.json.factors.every((f: { type: string }) => !/email|sms/.test(f.type)));
    const bad = await c.post('/api/v1/sessions/second-factor', { emailCode: '123456' });
    assert.equal(bad.status, 400);
    assert.ok(!c.cookies.has('latchkey_session'));
  });

  test('BF-05 the page flow: /login goes to /login/second-factor, keeps the return path, and finishes without JS', async () => {
    const a = await activeAccount(fx.server);
    const { secret } = await enrolTotpDirect(fx.server, clock, a.username);
    const c = fx.server.client();
    const login = await c.form('/login', { identifier: a.username, password: a.password, next: '/settings#sessions' });
    assert.equal(login.status, 303);
    assert.equal(login.headers.get('location'), '/login/second-factor');
    const page = await c.get('/login/second-factor', { accept: 'text/html' });
    assert.equal(page.status, 200);
    assert.match(page.text, /Use a recovery code instead/);
    const wrong = await c.form('/login/second-factor', { code: '000000' });
    assert.equal(wrong.status, 400);
    const ok = await c.form('/login/second-factor', { code: totpCode(secret, clock.now()) });
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.get('location'), '/settings#sessions');
    assert.equal((await c.get('/api/v1/sessions/current')).status, 200);
  });

  test('"Keep me signed in" ticked with the password is kept through the second-factor step (page and API)', async () => {
    const a = await activeAccount(fx.server);
    const { secret } = await enrolTotpDirect(fx.server, clock, a.username);
    const sessionCookie = (r: { headers: Headers }) =>
      r.headers.getSetCookie().find((x) => x.startsWith('latchkey_session=')) ?? '';
    const lasting = /Max-Age=604800/i; // the configured session lifetime (7 d)

    const kept = fx.server.client();
    const login = await kept.form('/login', { identifier: a.username, password: a.password, remember: '1' });
    assert.equal(login.headers.get('location'), '/login/second-factor');
    assert.equal(sessionCookie(login), '', 'no session before the second factor');
    const ok = await kept.form('/login/second-factor', { code: totpCode(secret, clock.now()) });
    assert.equal(ok.status, 303);
    assert.match(sessionCookie(ok), lasting);
    clock.nextStep();

    const plain = fx.server.client();
    await plain.form('/login', { identifier: a.username, password: a.password });
    const plainOk = await plain.form('/login/second-factor', { code: totpCode(secret, clock.now()) });
    assert.equal(plainOk.status, 303);
    assert.ok(sessionCookie(plainOk), 'a session');
    assert.doesNotMatch(sessionCookie(plainOk), /Max-Age|Expires/i, 'a browser-session cookie');
    clock.nextStep();

    const api = fx.server.client();
    const first = await api.post('/api/v1/sessions', { identifier: a.username, password: a.password, remember: true });
    assert.equal(first.json?.status, 'second_factor_required', first.text);
    const second = await api.post('/api/v1/sessions/second-factor', { code: totpCode(secret, clock.now()) });
    assert.equal(second.status, 201, second.text);
    assert.match(sessionCookie(second), lasting);
  });
});
