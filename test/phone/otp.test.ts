import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { defaultRecoverySettings } from '../../src/flows/organizations/settings.ts';
import { newOtp } from '../../src/methods/otp/code.ts';
import { FakeClock } from '../../src/security/clock.ts';
import { devMailbox, startTestServer, strongPassword, type TestServer } from '../support/server.ts';
import { countMail, nextCode, outboxIdle, signedInUser, smsTo, type User, verifiedPhone } from './helpers.ts';

const emailTo = (email: string) => (m: { to: string; channel: string; subject: string }) =>
  m.channel === 'email' && m.to === email && m.subject.startsWith('Your password reset code');

describe('email and SMS recovery codes (OTP-01..OTP-05) with an injected clock', () => {
  let server: TestServer;
  const clock = new FakeClock(Date.now());
  const defaults = () => defaultRecoverySettings(server.deps.recoveryMethods, server.deps.config);
  const setMethods = (s: Record<string, unknown>) =>
    server.deps.db
      .updateTable('organizations')
      .set({ recovery_settings: JSON.stringify({ ...defaults(), ...s }) })
      .where('slug', '=', 'default')
      .execute();
  const reset = async (identifier: string, method: string) => {
    const r = await server.client().post('/api/v1/password-resets', { identifier, method });
    assert.equal(r.status, 202, r.text);
    return r;
  };
  const complete = (body: Record<string, string>) => server.client().post('/api/v1/password-resets/complete', body);

  before(async () => {
    server = await startTestServer({}, { clock });
    await setMethods({ methods: ['email_link', 'email_otp', 'sms_otp'] });
  });
  after(async () => {
    await server?.close();
  });

  test('OTP-01 10,000 codes: 6 digits each, every digit equally likely in every position', () => {
    const codes = Array.from({ length: 10_000 }, () => newOtp(server.deps, defaults()));
    assert.ok(codes.every((c) => /^\d{6}$/.test(c)));
    for (let pos = 0; pos < 6; pos++) {
      const counts = new Array(10).fill(0);
      for (const c of codes) counts[Number(c[pos])]++;
      // chi-square with 9 degrees of freedom; 40 is far out in the tail (p < 1e-5)
      const chi = counts.reduce((s, n) => s + (n - 1000) ** 2 / 1000, 0);
      assert.ok(chi < 40, `position ${pos}: chi-square ${chi.toFixed(1)} for ${counts.join(',')}`);
    }
    // 10,000 draws from 10^6: about 50 collisions are expected, thousands would mean a weak source
    assert.ok(new Set(codes).size > 9800);
    assert.ok(newOtp(server.deps, { ...defaults(), otpLength: 10 }).match(/^\d{10}$/));
  });

  test('SMS code end to end: code by text, new password, every session ended, no sign-in, notice mailed', async () => {
    const u = await signedInUser(server, 'smsflow');
    await verifiedPhone(server, u, '+447911123456');
    const seen = await countMail(server, smsTo('+447911123456'));
    const r = await reset('smsflow', 'sms_otp');
    assert.match(r.json.message, /we sent a code/);
    assert.ok(r.json.flow);
    const code = await nextCode(server, smsTo('+447911123456'), seen);
    const password = strongPassword();
    const done = await complete({ identifier: 'smsflow', code, flow: r.json.flow, password });
    assert.equal(done.status, 200, done.text);
    assert.equal(done.headers.get('set-cookie'), null, 'REC-07 no automatic sign-in');
    assert.equal((await u.c.get('/api/v1/sessions/current')).status, 401, 'REC-09 sessions ended');
    assert.equal((await server.client().post('/api/v1/sessions', { identifier: 'smsflow', password })).status, 201);
    const mails = await devMailbox(server);
    assert.ok(mails.some((m) => m.to === u.email && m.subject.startsWith('Your password was changed')));
    // OTP-03: used once
    const again = await complete({ identifier: 'smsflow', code, flow: r.json.flow, password: strongPassword() });
    assert.equal(again.status, 400);
    assert.equal(again.json.code, 'invalid_code');
  });

  test('OTP-03 a code works only with the flow that issued it and the account it was sent for', async () => {
    const a = await signedInUser(server, 'boundA');
    await signedInUser(server, 'boundB');
    const seen = await countMail(server, emailTo(a.email));
    const r = await reset('boundA', 'email_otp');
    const code = await nextCode(server, emailTo(a.email), seen);
    const other = await reset('boundB', 'email_otp');
    await outboxIdle(server);
    for (const body of <Record<string, string>[]>[
      { identifier: 'boundA', code, password: strongPassword() }, // no flow
      { identifier: 'boundA', code, flow: other.json.flow, password: strongPassword() }, // another flow
      { identifier: 'boundB', code, flow: r.json.flow, password: strongPassword() }, // REC-03 another account
    ]) {
      const res = await complete(body);
      assert.equal(res.status, 400);
      assert.equal(res.json.code, 'invalid_code');
    }
    const ok = await complete({ identifier: 'boundA', code, flow: r.json.flow, password: strongPassword() });
    assert.equal(ok.status, 200, ok.text);
    // the stored value is a keyed hash, never the code
    const rows = await server.deps.db
      .selectFrom('recovery_codes')
      .selectAll()
      .where('flow_id', '=', r.json.flow)
      .execute();
    assert.equal(rows.length, 1);
    assert.ok(rows[0].code_hash && !rows[0].code_hash.includes(code));
  });

  test('OTP-02 an email code works until the last millisecond of its lifetime, not at it', async () => {
    const u = await signedInUser(server, 'expiry');
    const seen = await countMail(server, emailTo(u.email));
    const r = await reset('expiry', 'email_otp');
    const code = await nextCode(server, emailTo(u.email), seen);
    const row = await server.deps.db
      .selectFrom('recovery_codes')
      .selectAll()
      .where('flow_id', '=', r.json.flow)
      .executeTakeFirstOrThrow();
    assert.equal(row.expires_at - row.created_at, 600_000);
    clock.set(row.expires_at - 1);
    // A rejected password proves the code was accepted without using it up.
    const weak = await complete({ identifier: 'expiry', code, flow: r.json.flow, password: 'password' });
    assert.equal(weak.json.code, 'password_rejected', weak.text);
    clock.set(row.expires_at);
    const late = await complete({ identifier: 'expiry', code, flow: r.json.flow, password: strongPassword() });
    assert.equal(late.json.code, 'invalid_code');
  });

  test('OTP-04 a resend replaces the code but keeps the failure count; 5 wrong codes kill it', async () => {
    const u = await signedInUser(server, 'resender');
    let seen = await countMail(server, emailTo(u.email));
    const r = await reset('resender', 'email_otp');
    const first = await nextCode(server, emailTo(u.email), seen);
    seen++;
    const wrong = (c: string) => (c === '000000' ? '000001' : '000000');
    for (let i = 0; i < 3; i++)
      assert.equal(
        (await complete({ identifier: 'resender', code: wrong(first), flow: r.json.flow, password: strongPassword() }))
          .status,
        400,
      );
    const resend = await server.client().post('/api/v1/password-resets/resend', { flow: r.json.flow });
    assert.equal(resend.status, 202);
    const second = await nextCode(server, emailTo(u.email), seen);
    seen++;
    assert.notEqual(second, first);
    // the old code is gone: a 4th failure
    assert.equal(
      (await complete({ identifier: 'resender', code: first, flow: r.json.flow, password: strongPassword() })).json
        .code,
      'invalid_code',
    );
    // a 5th wrong try, then the right new code is dead too: the count was not reset
    assert.equal(
      (await complete({ identifier: 'resender', code: wrong(second), flow: r.json.flow, password: strongPassword() }))
        .status,
      400,
    );
    const dead = await complete({
      identifier: 'resender',
      code: second,
      flow: r.json.flow,
      password: strongPassword(),
    });
    assert.equal(dead.json.code, 'invalid_code');
    const row = await server.deps.db
      .selectFrom('recovery_codes')
      .selectAll()
      .where('flow_id', '=', r.json.flow)
      .executeTakeFirstOrThrow();
    assert.equal(row.failed_attempts, 5);
    assert.equal(row.resends, 1);
  });

  test('resends are capped per request (maxResends) and unknown flows get the same answer', async () => {
    await setMethods({ methods: ['email_link', 'email_otp', 'sms_otp'], maxResends: 1 });
    try {
      const u = await signedInUser(server, 'capresend');
      const seen = await countMail(server, emailTo(u.email));
      const r = await reset('capresend', 'email_otp');
      await nextCode(server, emailTo(u.email), seen);
      for (let i = 0; i < 3; i++)
        assert.equal((await server.client().post('/api/v1/password-resets/resend', { flow: r.json.flow })).status, 202);
      const ghost = await server.client().post('/api/v1/password-resets/resend', { flow: 'no-such-flow' });
      assert.equal(ghost.status, 202);
      await outboxIdle(server);
      assert.equal(await countMail(server, emailTo(u.email)), seen + 2, 'the code and one resend');
    } finally {
      await setMethods({ methods: ['email_link', 'email_otp', 'sms_otp'] });
    }
  });

  test('OTP-05 ENUM-02 an account without a confirmed number gets no SMS and the same answer', async () => {
    const u = await signedInUser(server, 'unconfirmed');
    const put = await u.c.put('/api/v1/account/phone', { phone: '+4915123456789' });
    assert.equal(put.status, 202);
    await outboxIdle(server);
    const seen = await countMail(server, smsTo('+4915123456789'));
    const a = await reset('unconfirmed', 'sms_otp');
    const b = await reset('nobody-at-all', 'sms_otp');
    assert.equal(a.json.message, b.json.message);
    assert.deepEqual(Object.keys(a.json).sort(), Object.keys(b.json).sort());
    await outboxIdle(server);
    assert.equal(
      await countMail(server, smsTo('+4915123456789')),
      seen,
      'only the confirmation SMS went to the number',
    );
  });

  test('REC-02 the email link lives as long as the organization says (LATCHKEY_RESET_TTL until an admin sets it)', async () => {
    const u = await signedInUser(server, 'linkttl');
    const ttlOf = async () => {
      await outboxIdle(server);
      const acct = await server.deps.db
        .selectFrom('accounts')
        .select('id')
        .where('username', '=', 'linkttl')
        .executeTakeFirstOrThrow();
      const row = await server.deps.db
        .selectFrom('recovery_codes')
        .selectAll()
        .where('account_id', '=', acct.id)
        .where('method', '=', 'email_link')
        .orderBy('created_at', 'desc')
        .executeTakeFirstOrThrow();
      return row.expires_at - row.created_at;
    };
    await server.client().post('/api/v1/password-resets', { identifier: u.username });
    assert.equal(await ttlOf(), server.deps.config.resetTtl);
    await setMethods({ methods: ['email_link', 'email_otp', 'sms_otp'], emailLinkTtl: 3600 });
    try {
      clock.advance(1);
      await server.client().post('/api/v1/password-resets', { identifier: u.username });
      assert.equal(await ttlOf(), 3_600_000);
    } finally {
      await setMethods({ methods: ['email_link', 'email_otp', 'sms_otp'] });
    }
  });

  test('a method the organization does not enable sends nothing', async () => {
    await setMethods({ methods: ['email_link'] });
    try {
      const u = await signedInUser(server, 'disabledm');
      const seen = await countMail(server, emailTo(u.email));
      await reset('disabledm', 'email_otp');
      await outboxIdle(server);
      assert.equal(await countMail(server, emailTo(u.email)), seen);
    } finally {
      await setMethods({ methods: ['email_link', 'email_otp', 'sms_otp'] });
    }
  });

  test('email code through the pages: chooser → code page → new password; Try another method', async () => {
    const u = await signedInUser(server, 'pagesotp');
    const seen = await countMail(server, emailTo(u.email));
    const c = server.client();
    const page = await c.form('/forgot-password', { identifier: 'pagesotp', method: 'email_otp' });
    assert.equal(page.status, 200);
    assert.match(page.text, /If an account matches, we sent a code to its email address/);
    assert.match(page.text, /Resend code/);
    assert.match(page.text, /href="\/forgot-password">Try another method/);
    const flow = /name="flow" value="([^"]+)"/.exec(page.text)?.[1];
    assert.ok(flow);
    const code = await nextCode(server, emailTo(u.email), seen);
    const password = strongPassword();
    const done = await c.form('/forgot-password/code', {
      flow,
      identifier: 'pagesotp',
      method: 'email_otp',
      back: '/forgot-password',
      code,
      password,
      passwordConfirm: password,
    });
    assert.equal(done.status, 200, done.text);
    assert.match(done.text, /Please sign in again/);
    const bad = await c.form('/forgot-password/code', {
      flow,
      identifier: 'pagesotp',
      method: 'email_otp',
      back: 'https://evil.test/',
      code,
      password,
      passwordConfirm: password,
    });
    assert.equal(bad.status, 400);
    assert.doesNotMatch(bad.text, /evil\.test/);
  });
});

describe('mobile numbers on /settings (SES-07, LOG-03, OTP-05)', () => {
  let server: TestServer;
  const clock = new FakeClock(Date.now());
  let u: User;
  before(async () => {
    server = await startTestServer(
      {
        LATCHKEY_SMS_ALLOWED_COUNTRIES: '44,49',
        LATCHKEY_RATE_LIMIT_SCALE: '1',
        LATCHKEY_OTP_MESSAGE_CAP: '3/1h',
        LATCHKEY_LIMIT_OTP_SEND_ID: '4/1h',
      },
      { clock },
    );
    u = await signedInUser(server, 'phoneuser');
  });
  after(async () => {
    await server?.close();
  });

  test('numbers are parsed to E.164; landlines, junk and countries off the allow-list are 400s', async () => {
    for (const phone of [
      '12345',
      '+442071838750',
      '+33612345678',
      'DROP TABLE accounts',
      '+44 7911 123456 ext 99999999999999999',
    ]) {
      const r = await u.c.put('/api/v1/account/phone', { phone });
      assert.equal(r.status, 400, `${phone}: ${r.text}`);
    }
    assert.equal((await server.deps.db.selectFrom('recovery_codes').select('id').execute()).length, 0);
    const settings = await u.c.get('/settings', { accept: 'text/html' });
    assert.match(settings.text, /Add a mobile number to recover by text message|Mobile number/);
  });

  test('LOG-03 adding tells the email; changing needs a recent sign-in and tells the email and the old number', async () => {
    await verifiedPhone(server, u, '+447911123456');
    const mails = await devMailbox(server);
    assert.ok(mails.some((m) => m.to === u.email && /mobile number was changed/i.test(m.subject)));
    clock.advance(11 * 60_000);
    const stale = await u.c.put('/api/v1/account/phone', { phone: '+4915123456789' });
    assert.equal(stale.status, 401);
    assert.equal(stale.json.code, 'reauthentication_required');
    assert.equal((await u.c.post('/api/v1/sessions', { identifier: u.username, password: u.password })).status, 201);
    await verifiedPhone(server, u, '+4915123456789');
    await outboxIdle(server);
    const after = await devMailbox(server);
    assert.ok(
      after.some((m) => m.channel === 'sms' && m.to === '+447911123456' && /removed from the account/.test(m.text)),
      'old number told',
    );
    const acct = await server.deps.db
      .selectFrom('accounts')
      .selectAll()
      .where('username', '=', u.username)
      .executeTakeFirstOrThrow();
    assert.equal(acct.phone, '+4915123456789');
    assert.ok(acct.phone_verified_at);
  });

  test('OTP-05 pumping: messages to one number are capped silently, then sends are refused with 429', async () => {
    const phone = '+447911000111';
    const before = await countMail(server, smsTo(phone));
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await u.c.put('/api/v1/account/phone', { phone })).status);
    await outboxIdle(server);
    const sent = (await countMail(server, smsTo(phone))) - before;
    assert.ok(sent <= 3, `at most the message cap reached the number (got ${sent})`);
    assert.ok(statuses.includes(429), `the send limit answered 429 (${statuses.join(',')})`);
    assert.ok(
      statuses.slice(0, 2).every((s) => s === 202),
      statuses.join(','),
    );
  });

  test('OTP-05 SMS recovery requests are limited per identifier before anything is queued', async () => {
    await server.deps.db
      .updateTable('organizations')
      .set({ recovery_settings: JSON.stringify({ methods: ['email_link', 'sms_otp'] }) })
      .where('slug', '=', 'default')
      .execute();
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++)
      statuses.push(
        (
          await server
            .client()
            .post('/api/v1/password-resets', { identifier: 'pumped-number-owner', method: 'sms_otp' })
        ).status,
      );
    assert.deepEqual(statuses.slice(0, 4), [202, 202, 202, 202]);
    assert.equal(statuses[4], 429);
    const bad = await server
      .client()
      .post('/api/v1/password-resets', { identifier: 'someone', method: 'carrier_pigeon' });
    assert.equal(bad.status, 400);
  });

  test('removing the number needs a recent sign-in and tells the email and the number', async () => {
    clock.advance(11 * 60_000);
    assert.equal((await u.c.delete('/api/v1/account/phone')).status, 401);
    assert.equal((await u.c.post('/api/v1/sessions', { identifier: u.username, password: u.password })).status, 201);
    assert.equal((await u.c.delete('/api/v1/account/phone')).status, 200);
    await outboxIdle(server);
    const mails = await devMailbox(server);
    assert.ok(mails.some((m) => m.channel === 'sms' && m.to === '+4915123456789' && /removed/.test(m.text)));
    const acct = await server.deps.db
      .selectFrom('accounts')
      .selectAll()
      .where('username', '=', u.username)
      .executeTakeFirstOrThrow();
    assert.equal(acct.phone, null);
    assert.equal(acct.phone_verified_at, null);
  });
});
