import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { isResetMail, secretsIn } from '../recovery/helpers.ts';
import { withServer } from '../support/fixture.ts';
import { strongPassword } from '../support/server.ts';
import { createAccounts } from './helpers.ts';

// Real defaults (scale 1), a trusted proxy so each test can speak from its own client IPs, and
// a few limits lowered so the tests stay short.
let ipN = 0;
const nextIp = () => `198.51.100.${++ipN}`;

/** What must be identical between two answers (ENUM-01, BF-02): status, body and the headers a client sees. */
function shape(r: { status: number; text: string; headers: Headers }) {
  const h = Object.fromEntries(
    [...r.headers].filter(([k]) => !['date', 'content-length', 'keep-alive', 'connection'].includes(k)),
  );
  return { status: r.status, body: r.text, headers: h };
}

/**
 * Two 429s compared: everything exactly but Retry-After, which counts down while the test runs
 * (the second answer may come a second or more later on a loaded machine): within 5 s.
 */
function assertSameLimitAnswer(
  a: { status: number; text: string; headers: Headers },
  b: { status: number; text: string; headers: Headers },
) {
  const { 'retry-after': ra, ...ha } = shape(a).headers;
  const { 'retry-after': rb, ...hb } = shape(b).headers;
  assert.deepEqual({ ...shape(a), headers: ha }, { ...shape(b), headers: hb });
  assert.ok(Math.abs(Number(ra) - Number(rb)) <= 5, `Retry-After ${ra} vs ${rb}`);
}

describe('rate limits and sign-in lockout with the real defaults', () => {
  const fx = withServer({
    smtp: true,
    env: {
      LATCHKEY_RATE_LIMIT_SCALE: '1',
      LATCHKEY_TRUSTED_PROXIES: '127.0.0.1',
      LATCHKEY_LIMIT_SIGN_IN_IP: '5/10m',
      LATCHKEY_LIMIT_RESET_COMPLETE_ID: '3/10m',
    },
  });
  const password = strongPassword();
  before(async () => {
    await createAccounts(fx.server, ['limit1', 'lock1', 'lock2', 'streak1', 'lockslow'], password);
  });

  test('BF-02 past the per-IP limit a 429 carries Retry-After and rate_limited, the same for every account', async () => {
    const c = fx.server.client({ headers: { 'x-forwarded-for': '203.0.113.50' } });
    for (let i = 0; i < 5; i++) {
      const r = await c.post('/api/v1/sessions', {
        identifier: i % 2 ? 'limit1' : `nobody${i}`,
        password: 'wrong-password-1',
      });
      assert.equal(r.status, 401);
    }
    const known = await c.post('/api/v1/sessions', { identifier: 'limit1', password });
    const unknown = await c.post('/api/v1/sessions', { identifier: 'nobody-at-all', password });
    assert.equal(known.status, 429);
    assert.equal(known.json.code, 'rate_limited');
    const retry = Number(known.headers.get('retry-after'));
    assert.ok(retry > 0 && retry <= 600, `Retry-After ${retry}`);
    assertSameLimitAnswer(unknown, known);
    assert.doesNotMatch(known.text, /limit1/);
    // Another client IP has its own budget (limits are per IP, not global).
    const other = await fx.server
      .client({ headers: { 'x-forwarded-for': nextIp() } })
      .post('/api/v1/sessions', { identifier: 'limit1', password });
    assert.equal(other.status, 201);
    const hits = await fx.server.deps.db
      .selectFrom('audit_log')
      .selectAll()
      .where('event', '=', 'rate_limited')
      .execute();
    assert.equal(hits.length, 1, 'one audit record per window and scope, not one per refused request');
    assert.equal(hits[0].ip, '203.0.113.50');
    assert.match(hits[0].details ?? '', /"scope":"ip"/);
  });

  test('BF-02 per-identifier limits hold however many IPs the guesses come from', async () => {
    const guess = (identifier: string) =>
      fx.server.client({ headers: { 'x-forwarded-for': nextIp() } }).post('/api/v1/password-resets/complete', {
        identifier,
        code: 'AAAA-BBBB',
        password: strongPassword(),
      });
    for (let i = 0; i < 3; i++) assert.equal((await guess('limit1')).status, 400);
    const limited = await guess('limit1');
    assert.equal(limited.status, 429);
    assert.equal(limited.json.code, 'rate_limited');
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
    assert.equal((await guess('someone-else')).status, 400, 'another identifier is not affected');
  });

  test('BF-02 ENUM-03 registrations are limited per email whatever the IP, the same for a registered email', async () => {
    const register = (email: string) =>
      fx.server.client({ headers: { 'x-forwarded-for': nextIp() } }).post('/api/v1/registrations', {
        username: `reg${ipN}`,
        email,
        password: strongPassword(),
      });
    const known: number[] = [];
    const fresh: number[] = [];
    for (let i = 0; i < 6; i++) {
      known.push((await register('limit1@example.test')).status);
      fresh.push((await register('brand-new@example.test')).status);
    }
    assert.deepEqual(known, [202, 202, 202, 202, 202, 429]);
    assert.deepEqual(fresh, known, 'a new and a registered email get the same answers');
  });

  test('BF-01 ENUM-01 after 10 failures the account is locked and answers exactly like a wrong password', async () => {
    const attempt = (identifier: string, pw: string) =>
      fx.server
        .client({ headers: { 'x-forwarded-for': nextIp() } })
        .post('/api/v1/sessions', { identifier, password: pw });
    for (let i = 0; i < 10; i++)
      assert.equal((await attempt(i % 2 ? 'lock1' : 'lock1@example.test', 'not-the-password')).status, 401);
    const right = await attempt('lock1', password);
    const wrong = await attempt('lock1', 'still-not-the-password');
    const unknown = await attempt('no-such-user-here', password);
    assert.equal(right.status, 401, 'the right password does not get in while locked');
    assert.deepEqual(shape(right), shape(wrong));
    assert.deepEqual(shape(unknown), shape(wrong));
    // Another account is not affected.
    assert.equal((await attempt('lock2', password)).status, 201);

    await fx.server.deps.guard.settled?.();
    const locked = await fx.server.deps.db
      .selectFrom('audit_log')
      .selectAll()
      .where('event', '=', 'sign_in.locked')
      .execute();
    assert.equal(locked.length, 1);
    const failures = await fx.server.deps.db
      .selectFrom('audit_log')
      .select('details')
      .where('event', '=', 'sign_in.failed')
      .execute();
    assert.ok(
      failures.some((f) => /"reason":"locked"/.test(f.details ?? '')),
      'the internal reason is kept in the audit trail',
    );
  });

  test('ENUM-01 the attempt that locks an account answers before the lock is audited or the owner is mailed', {
    timeout: 60_000,
  }, async () => {
    const d = fx.server.deps;
    const { id } = await d.db
      .selectFrom('accounts')
      .select('id')
      .where('username', '=', 'lockslow')
      .executeTakeFirstOrThrow();
    const attempt = (identifier: string) =>
      fx.server
        .client({ headers: { 'x-forwarded-for': nextIp() } })
        .post('/api/v1/sessions', { identifier, password: 'not-it' });
    const lockRows = () =>
      d.db
        .selectFrom('audit_log')
        .select('id')
        .where('event', '=', 'sign_in.locked')
        .where('account_id', '=', id)
        .execute();
    const notices = () =>
      d.db
        .selectFrom('outbox')
        .select('id')
        .where('kind', '=', 'lockout_notice')
        .where('recipient', '=', 'lockslow@example.test')
        .execute();
    for (let i = 0; i < 9; i++) assert.equal((await attempt('lockslow')).status, 401);
    // Hold the lock's bookkeeping (its audit row, then the notice) until the answer is in: an
    // answer that waited for it would never come, and the test would time out.
    let started = false;
    let release = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    const record = d.audit.record;
    d.audit.record = async function (this: typeof d.audit, event, ...rest) {
      if (event === 'sign_in.locked') {
        started = true;
        await held;
      }
      return record.call(this, event, ...rest);
    };
    try {
      const tenth = await attempt('lockslow');
      const unknown = await attempt('no-such-lockslow');
      assert.equal(tenth.status, 401);
      assert.deepEqual(shape(tenth), shape(unknown), 'the locking attempt answers like any failure');
      assert.equal((await lockRows()).length, 0, 'not audited before the answer');
      assert.equal((await notices()).length, 0, 'no notice before the answer');
      release();
      await d.guard.settled?.();
      assert.ok(started, 'the bookkeeping ran');
      assert.equal((await lockRows()).length, 1, 'the lock is audited after the answer');
      assert.equal((await notices()).length, 1, 'and the owner is told');
    } finally {
      release();
      d.audit.record = record;
    }
  });

  test('BF-01 a right password ends the run of failures: the count toward the lock starts again', async () => {
    const attempt = (identifier: string, pw: string) =>
      fx.server
        .client({ headers: { 'x-forwarded-for': nextIp() } })
        .post('/api/v1/sessions', { identifier, password: pw });
    const gate = () => fx.server.deps.guard.signInGate('streak1', { ip: nextIp(), userAgent: '', correlationId: 'x' });
    assert.equal((await gate()).failuresCounted, false);
    for (let i = 0; i < 9; i++)
      assert.equal((await attempt(i % 2 ? 'streak1' : 'streak1@example.test', 'not-the-password')).status, 401);
    assert.equal((await gate()).failuresCounted, true);
    assert.equal((await attempt('streak1', password)).status, 201, 'nine failures do not lock');
    assert.equal((await gate()).failuresCounted, false, 'the success cleared them');
    for (let i = 0; i < 9; i++) assert.equal((await attempt('streak1', 'not-the-password')).status, 401);
    assert.equal(
      (await attempt('streak1', password)).status,
      201,
      '9 + 9 failures with a success between is no lockout',
    );
    assert.equal((await gate()).locked, false);
  });

  test('BF-01 the owner is mailed once per lockout, however long the attack goes on', async () => {
    const notice = await fx.smtp.waitFor(
      (m) => m.to.includes('lock1@example.test') && /blocked sign-in attempts/.test(m.subject),
    );
    assert.match(notice.text, /forgot-password/);
    for (let i = 0; i < 5; i++)
      await fx.server
        .client({ headers: { 'x-forwarded-for': nextIp() } })
        .post('/api/v1/sessions', { identifier: 'lock1', password: 'nope-nope' });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(
      fx.smtp.mails.filter((m) => m.to.includes('lock1@example.test') && /blocked/.test(m.subject)).length,
      1,
    );
  });

  test('BF-03 a locked account recovers by email, and the new password signs in', async () => {
    const c = fx.server.client({ headers: { 'x-forwarded-for': nextIp() } });
    const req = await c.post('/api/v1/password-resets', { identifier: 'lock1' });
    assert.equal(req.status, 202);
    const mail = await fx.smtp.waitFor(isResetMail('lock1@example.test'));
    const { token } = secretsIn(mail);
    const fresh = strongPassword();
    const done = await c.post('/api/v1/password-resets/complete', { token, password: fresh });
    assert.equal(done.status, 200, done.text);
    const signIn = await fx.server
      .client({ headers: { 'x-forwarded-for': nextIp() } })
      .post('/api/v1/sessions', { identifier: 'lock1', password: fresh });
    assert.equal(signIn.status, 201);
  });
});
