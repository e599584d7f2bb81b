import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock } from '../../src/security/clock.ts';
import { noGuard } from '../../src/security/guard.ts';
import { sha256 } from '../../src/security/hashing.ts';
import { withServer } from '../support/fixture.ts';
import { strongPassword } from '../support/server.ts';
import { activeAccount, isResetMail, requestReset, secretsIn, signIn } from './helpers.ts';

// One server for the whole file, on a fake clock that starts at the real time and only moves
// when an expiry test moves it. The guard is the no-op one except for the reset mail quota,
// which counts here so REC-06's cap can be seen from the outside.
describe('forgot password by email (SQLite, real SMTP)', () => {
  const clock = new FakeClock(Date.now());
  const mailQuota = new Map<string, number>();
  const MAIL_CAP = 6;

  const fx = withServer({
    smtp: true,
    env: { LATCHKEY_RESET_TTL: '30m' },
    overrides: {
      clock,
      guard: () => ({
        ...noGuard,
        allow: async (action, subject) => {
          if (action !== 'reset_mail') return true;
          const n = (mailQuota.get(subject) ?? 0) + 1;
          mailQuota.set(subject, n);
          return n <= MAIL_CAP;
        },
      }),
    },
  });

  const db = () => fx.server.deps.db;
  const accountRow = (username: string) =>
    db().selectFrom('accounts').selectAll().where('username', '=', username).executeTakeFirstOrThrow();
  const complete = (body: Record<string, unknown>) => fx.server.client().post('/api/v1/password-resets/complete', body);
  /** waits until every queued job and mail has been handled */
  async function settle() {
    for (let i = 0; i < 100; i++) {
      const pending = await db().selectFrom('outbox').select('id').where('status', '=', 'pending').execute();
      if (pending.length === 0) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('outbox did not settle');
  }

  test('REC-01 the mail has a >=128-bit link token and a 40-bit code, both stored only as hashes', async () => {
    const a = await activeAccount(fx.server, fx.smtp, 'rec01user');
    const { mail, link, token, code } = await requestReset(fx.server, fx.smtp, a.email, a.email);
    assert.ok(link.startsWith(`${fx.server.base}/auth/reset/code?token=`));
    assert.ok(Buffer.from(token, 'base64url').length * 8 >= 128, 'token has at least 128 bits');
    assert.match(code, /^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/, '8 Crockford base32 symbols = 40 bits');
    assert.match(mail.text, /expire in 30 minutes/);
    assert.match(mail.text, /Didn't ask for this\? You can ignore this mail; your password has not changed\./);
    assert.match(mail.html, /auth\/reset\/code\?token=/);
    assert.match(mail.text, /Latchkey/);
    const row = await db()
      .selectFrom('recovery_codes')
      .selectAll()
      .where('token_hash', '=', sha256(token))
      .executeTakeFirstOrThrow();
    const stored = JSON.stringify(row);
    assert.ok(!stored.includes(token) && !stored.includes(code.replace('-', '')), 'no secret in clear');
    assert.equal(row.method, 'email_link');
    assert.equal(row.account_id, (await accountRow('rec01user')).id);
  });

  test('REC-02 a token works once, expires after the TTL, and a new request ends every earlier one', async () => {
    const a = await activeAccount(fx.server, fx.smtp, 'rec02user');
    const first = await requestReset(fx.server, fx.smtp, 'rec02user', a.email);
    const second = await requestReset(fx.server, fx.smtp, 'rec02user', a.email);
    // only the newest works: both the link and the code of the first mail are dead
    const p1 = strongPassword();
    assert.equal((await complete({ token: first.token, password: p1 })).json.code, 'invalid_token');
    assert.equal((await complete({ identifier: a.email, code: first.code, password: p1 })).json.code, 'invalid_code');
    const ok = await complete({ token: second.token, password: p1 });
    assert.equal(ok.status, 200, ok.text);
    const again = await complete({ token: second.token, password: strongPassword() });
    assert.equal(again.status, 400);
    assert.equal(again.json.code, 'invalid_token');
    // the code from the same mail died with the link
    assert.equal(
      (await complete({ identifier: a.email, code: second.code, password: strongPassword() })).json.code,
      'invalid_code',
    );

    const third = await requestReset(fx.server, fx.smtp, 'rec02user', a.email);
    clock.advance(30 * 60_000 + 1);
    assert.equal((await complete({ token: third.token, password: strongPassword() })).json.code, 'invalid_token');
    assert.equal(
      (await complete({ identifier: 'rec02user', code: third.code, password: strongPassword() })).json.code,
      'invalid_code',
    );
    const page = await fx.server
      .client()
      .get(`/auth/reset/code?token=${encodeURIComponent(third.token)}`, { accept: 'text/html' });
    assert.match(page.text, /This link has expired or was already used/);
    assert.match(page.text, /action="\/forgot-password"/);
    assert.equal((await signIn(fx.server, 'rec02user', p1)).status, 201);
  });

  test("REC-03 A's code with B's identifier changes nothing", async () => {
    const a = await activeAccount(fx.server, fx.smtp, 'rec03alice');
    const b = await activeAccount(fx.server, fx.smtp, 'rec03bob');
    const resetA = await requestReset(fx.server, fx.smtp, a.username, a.email);
    await requestReset(fx.server, fx.smtp, b.username, b.email);
    const before = await accountRow(b.username);
    const res = await complete({ identifier: b.username, code: resetA.code, password: strongPassword() });
    assert.equal(res.status, 400);
    assert.equal(res.json.code, 'invalid_code');
    assert.equal((await accountRow(b.username)).password_hash, before.password_hash);
    assert.equal((await signIn(fx.server, b.username, b.password)).status, 201);
    // A's code still works for A (a wrong try is one of five, not the end)
    assert.equal(
      (await complete({ identifier: a.username, code: resetA.code, password: strongPassword() })).status,
      200,
    );
  });

  test("REC-04 ten GETs of the link (a mail scanner) use nothing up; the user's POST still works", async () => {
    const a = await activeAccount(fx.server, fx.smtp, 'rec04user');
    const { token, link } = await requestReset(fx.server, fx.smtp, a.username, a.email);
    const path = link.slice(fx.server.base.length);
    for (let i = 0; i < 10; i++) {
      const page = await fx.server.client().get(path, { accept: 'text/html' });
      assert.equal(page.status, 200);
      assert.match(page.text, /Choose a new password/);
    }
    const row = await db()
      .selectFrom('recovery_codes')
      .selectAll()
      .where('token_hash', '=', sha256(token))
      .executeTakeFirstOrThrow();
    assert.equal(row.used_at, null);
    assert.equal((await accountRow(a.username)).password_hash !== null, true);
    const password = strongPassword();
    const c = fx.server.client();
    const res = await c.form('/auth/reset/code', { token, password, passwordConfirm: password });
    assert.equal(res.status, 200);
    assert.match(res.text, /Your password has been changed\. Please sign in again\./);
    assert.match(res.text, />\s*Sign in\s*<\/button>/);
    assert.equal((await signIn(fx.server, a.username, password)).status, 201);
  });

  test('REC-05 links use the configured public URL whatever Host the request had; reset pages send no referrer', async () => {
    const a = await activeAccount(fx.server, fx.smtp, 'rec05user');
    const before = fx.smtp.mails.filter(isResetMail(a.email)).length;
    const evil = fx.server.client({ headers: { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' } });
    const res = await evil.request(
      'POST',
      '/api/v1/password-resets',
      { identifier: a.username },
      { host: 'evil.example' },
    );
    assert.equal(res.status, 202);
    await fx.smtp.waitFor(() => fx.smtp.mails.filter(isResetMail(a.email)).length > before);
    const mail = fx.smtp.mails.filter(isResetMail(a.email))[before];
    assert.ok(!mail.text.includes('evil.example') && !mail.html.includes('evil.example'));
    const { link } = secretsIn(mail);
    assert.ok(link.startsWith(`${fx.server.base}/`));
    for (const path of [link.slice(fx.server.base.length), '/forgot-password', '/change-password']) {
      const page = await fx.server.client().get(path, { accept: 'text/html' });
      assert.equal(page.headers.get('referrer-policy'), 'no-referrer', path);
      assert.match(page.headers.get('cache-control') ?? '', /no-store/, path);
    }
  });

  test('REC-06 a code is dead after 5 wrong tries, and reset mails per account are capped with identical answers', async () => {
    const a = await activeAccount(fx.server, fx.smtp, 'rec06user');
    const { code } = await requestReset(fx.server, fx.smtp, a.username, a.email);
    const wrong = code.startsWith('2') ? '3333-3333' : '2222-2222';
    for (let i = 0; i < 5; i++) {
      const r = await complete({ identifier: a.username, code: wrong, password: strongPassword() });
      assert.equal(r.json.code, 'invalid_code');
    }
    const late = await complete({ identifier: a.username, code, password: strongPassword() });
    assert.equal(late.status, 400);
    assert.equal(late.json.code, 'invalid_code');
    assert.equal((await signIn(fx.server, a.username, a.password)).status, 201);

    // mail cap: this account has had one reset mail; the cap is MAIL_CAP per account
    const id = (await accountRow(a.username)).id;
    const answers = [];
    for (let i = 0; i < MAIL_CAP + 2; i++) {
      const r = await fx.server.client().post('/api/v1/password-resets', { identifier: a.username });
      answers.push(`${r.status} ${r.text}`);
    }
    assert.equal(new Set(answers).size, 1, 'every answer identical');
    await settle();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(mailQuota.get(id), MAIL_CAP + 3);
    assert.equal(fx.smtp.mails.filter(isResetMail(a.email)).length, MAIL_CAP);
  });

  test('REC-07 REC-09 a reset signs nobody in, ends every session, cancels every code and sends a notice', async () => {
    const a = await activeAccount(fx.server, fx.smtp, 'rec07user');
    const old = await signIn(fx.server, a.username, a.password);
    assert.equal(old.status, 201);
    assert.equal((await old.c.get('/api/v1/sessions/current')).status, 200);
    const first = await requestReset(fx.server, fx.smtp, a.username, a.email);
    const password = strongPassword();
    const c = fx.server.client();
    const res = await c.post('/api/v1/password-resets/complete', {
      identifier: a.email,
      code: first.code.toLowerCase(),
      password,
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.message, 'Your password has been changed. Please sign in again.');
    assert.equal(res.headers.getSetCookie().length, 0, 'no session cookie (REC-07)');
    assert.equal((await c.get('/api/v1/sessions/current')).status, 401);
    assert.equal((await old.c.get('/api/v1/sessions/current')).status, 401, 'the old session has ended');
    const acct = await accountRow(a.username);
    assert.equal(
      Number(
        (
          await db()
            .selectFrom('sessions')
            .select((eb) => eb.fn.countAll().as('n'))
            .where('account_id', '=', acct.id)
            .executeTakeFirstOrThrow()
        ).n,
      ),
      0,
    );
    assert.equal((await complete({ token: first.token, password: strongPassword() })).json.code, 'invalid_token');
    const live = await db()
      .selectFrom('recovery_codes')
      .select('id')
      .where('account_id', '=', acct.id)
      .where('used_at', 'is', null)
      .execute();
    assert.equal(live.length, 0);
    const notice = await fx.smtp.waitFor((m) => m.to.includes(a.email) && /Your password was changed/.test(m.subject));
    // formatTime writes the reader's language (issue 17): in English "Dec 3, 2026, 03:45 PM UTC"
    assert.match(notice.text, /reset on [A-Z][a-z]{2} \d{1,2}, \d{4}, \d\d:\d\d [AP]M UTC/);
    assert.match(notice.text, /IP address: 127\.0\.0\.1/);
    assert.match(notice.text, /Browser: /);
    assert.match(notice.text, /If this wasn't you/);
    assert.equal((await signIn(fx.server, a.username, a.password)).status, 401);
    assert.equal((await signIn(fx.server, a.username, password)).status, 201);
  });

  test('REC-09 changing the password in settings ends every outstanding reset token and code', async () => {
    const a = await activeAccount(fx.server, fx.smtp, 'rec09user');
    const { token, code } = await requestReset(fx.server, fx.smtp, a.username, a.email);
    const s = await signIn(fx.server, a.username, a.password);
    const changed = await s.c.put('/api/v1/account/password', {
      currentPassword: a.password,
      newPassword: strongPassword(),
    });
    assert.equal(changed.status, 200, changed.text);
    assert.equal((await complete({ token, password: strongPassword() })).json.code, 'invalid_token');
    assert.equal(
      (await complete({ identifier: a.username, code, password: strongPassword() })).json.code,
      'invalid_code',
    );
  });

  test('ENUM-02 existing, unknown, pending and disabled accounts get the same 202; only real enabled accounts get mail', async () => {
    const active = await activeAccount(fx.server, fx.smtp, 'enumactive');
    const reg = await fx.server.client().post('/api/v1/registrations', {
      username: 'enumpending',
      email: 'enumpending@example.test',
      password: strongPassword(),
    });
    assert.equal(reg.status, 202);
    const disabled = await activeAccount(fx.server, fx.smtp, 'enumdisabled');
    await db().updateTable('accounts').set({ status: 'disabled' }).where('username', '=', 'enumdisabled').execute();
    const answers = [];
    for (const identifier of [
      active.email,
      'nobody-here@example.test',
      'enumpending@example.test',
      disabled.email,
      'nobodyhere',
    ]) {
      const r = await fx.server.client().post('/api/v1/password-resets', { identifier });
      const headers = [...r.headers.entries()].filter(
        ([k]) => !['date', 'x-request-id', 'x-correlation-id'].includes(k),
      );
      answers.push(JSON.stringify({ status: r.status, body: r.text, headers }));
    }
    assert.equal(new Set(answers).size, 1, answers.join('\n'));
    assert.equal(JSON.parse(answers[0]).status, 202);
    assert.equal(
      JSON.parse(JSON.parse(answers[0]).body).message,
      'If an account matches, we sent an email with a link and a code. It can take a few minutes; check spam.',
    );
    await fx.smtp.waitFor(isResetMail(active.email));
    await fx.smtp.waitFor(isResetMail('enumpending@example.test'));
    await settle();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(fx.smtp.mails.filter(isResetMail(disabled.email)).length, 0, 'a disabled account gets nothing');
    assert.equal(fx.smtp.mails.filter((m) => m.to.includes('nobody')).length, 0);
  });

  test('EXT-05 a reset of a pending account activates it only once the new password is set, ending what the pre-registrant set up', async () => {
    const squatterPassword = strongPassword();
    const reg = await fx.server.client().post('/api/v1/registrations', {
      username: 'squatted',
      email: 'victim@example.test',
      password: squatterPassword,
    });
    assert.equal(reg.status, 202);
    const acct = await accountRow('squatted');
    await db()
      .insertInto('external_identities')
      .values({
        id: 'ext-squat',
        account_id: acct.id,
        provider: 'test',
        subject: 'attacker',
        email: null,
        display_name: null,
        created_at: clock.now(),
        last_used_at: null,
      })
      .execute();
    const { token, link } = await requestReset(fx.server, fx.smtp, 'victim@example.test', 'victim@example.test');
    await fx.server.client().get(link.slice(fx.server.base.length));
    assert.equal((await accountRow('squatted')).status, 'pending', 'opening the link activates nothing');
    const password = strongPassword();
    assert.equal((await complete({ token, password })).status, 200);
    const after = await accountRow('squatted');
    assert.equal(after.status, 'active');
    assert.equal(
      (await db().selectFrom('external_identities').select('id').where('account_id', '=', acct.id).execute()).length,
      0,
    );
    assert.equal((await signIn(fx.server, 'squatted', squatterPassword)).status, 401);
    assert.equal((await signIn(fx.server, 'squatted', password)).status, 201);
  });

  test('PWD-04 the blocklist and context words are refused on register, change and reset, with reasons', async () => {
    const reg = await fx.server
      .client()
      .post('/api/v1/registrations', { username: 'pwd04new', email: 'pwd04new@example.test', password: 'password123' });
    assert.equal(reg.status, 400);
    assert.equal(reg.json.code, 'password_rejected');
    assert.ok(reg.json.reasons.some((r: { code: string }) => r.code === 'too_common'));

    const a = await activeAccount(fx.server, fx.smtp, 'pwd04user');
    const s = await signIn(fx.server, a.username, a.password);
    const change = await s.c.put('/api/v1/account/password', {
      currentPassword: a.password,
      newPassword: 'pwd04user2024',
    });
    assert.equal(change.status, 400);
    assert.equal(change.json.code, 'password_rejected');
    assert.ok(change.json.reasons.some((r: { code: string }) => r.code === 'contains_personal_info'));

    const { token, code } = await requestReset(fx.server, fx.smtp, a.username, a.email);
    for (const weak of ['qwertyuiop', 'Latchkey2024!', 'pwd04user!!']) {
      const r = await complete({ token, password: weak });
      assert.equal(r.status, 400, weak);
      assert.equal(r.json.code, 'password_rejected');
      assert.ok(r.json.reasons.length > 0);
    }
    const byCode = await complete({ identifier: a.username, code, password: 'iloveyou12' });
    assert.equal(byCode.json.code, 'password_rejected');
    const page = await fx.server
      .client()
      .form('/auth/reset/code', { token, password: 'password123', passwordConfirm: 'password123' });
    assert.equal(page.status, 400);
    assert.match(page.text, /most common passwords/);
    // a rejected password uses nothing up
    assert.equal((await complete({ token, password: strongPassword() })).status, 200);
  });

  test('REC-02 50 concurrent completions with one token, and with one code, give exactly one success (SQLite)', async () => {
    for (const via of ['token', 'code'] as const) {
      const a = await activeAccount(fx.server, fx.smtp, `race${via}`);
      const { token, code } = await requestReset(fx.server, fx.smtp, a.username, a.email);
      const body = (p: string) =>
        via === 'token' ? { token, password: p } : { identifier: a.username, code, password: p };
      const results = await Promise.all(Array.from({ length: 50 }, () => complete(body(strongPassword()))));
      const ok = results.filter((r) => r.status === 200);
      assert.equal(ok.length, 1, results.map((r) => r.status).join(','));
      assert.ok(results.every((r) => r.status === 200 || (r.status >= 400 && r.status < 500)));
      const changes = await db()
        .selectFrom('password_changes')
        .select('id')
        .where('account_id', '=', (await accountRow(a.username)).id)
        .execute();
      assert.equal(changes.length, 1);
    }
  });

  test('the signed-in "Send Reset Email" mails the address on file, from the API and from /settings', async () => {
    const a = await activeAccount(fx.server, fx.smtp, 'selfreset');
    const s = await signIn(fx.server, a.username, a.password);
    const before = fx.smtp.mails.filter(isResetMail(a.email)).length;
    const api = await s.c.post('/api/v1/account/password-reset-email');
    assert.equal(api.status, 202);
    await fx.smtp.waitFor(() => fx.smtp.mails.filter(isResetMail(a.email)).length > before);
    const settings = await s.c.get('/settings', { accept: 'text/html' });
    assert.match(settings.text, /Send reset email/);
    const page = await s.c.form('/settings/password-reset-email', {});
    assert.equal(page.status, 303);
    assert.equal(page.headers.get('location'), '/settings?done=reset_sent#reset-email');
    await fx.smtp.waitFor(() => fx.smtp.mails.filter(isResetMail(a.email)).length > before + 1);
    const { token } = secretsIn(fx.smtp.mails.filter(isResetMail(a.email))[before + 1]);
    assert.equal((await complete({ token, password: strongPassword() })).status, 200);
    const anon = await fx.server.client().post('/api/v1/account/password-reset-email');
    assert.equal(anon.status, 401);
  });

  test('WEB-04 hostile input to the reset routes gets a 4xx and changes nothing', async () => {
    const a = await activeAccount(fx.server, fx.smtp, 'hostile');
    const { token } = await requestReset(fx.server, fx.smtp, a.username, a.email);
    const hashBefore = (await accountRow(a.username)).password_hash;
    const jobsBefore = (await db().selectFrom('outbox').select('id').execute()).length;
    const c = fx.server.client();
    const cases: [string, unknown, Record<string, string>?][] = [
      ['/api/v1/password-resets', '{"identifier":'],
      ['/api/v1/password-resets', { identifier: 42 }],
      ['/api/v1/password-resets', { identifier: ['a', 'b'] }],
      ['/api/v1/password-resets', { identifier: '' }],
      ['/api/v1/password-resets', { identifier: 'x'.repeat(1_000_000) }],
      ['/api/v1/password-resets', { identifier: '   ' }],
      ['/api/v1/password-resets', {}],
      ['/api/v1/password-resets/complete', { token: "' OR 1=1 --", password: strongPassword() }],
      ['/api/v1/password-resets/complete', { token, password: 'x'.repeat(1_000_000) }],
      ['/api/v1/password-resets/complete', { token: { $ne: null }, password: strongPassword() }],
      ['/api/v1/password-resets/complete', { identifier: "hostile' --", code: '<script>', password: strongPassword() }],
      [
        '/api/v1/password-resets/complete',
        { identifier: 'hostile\u0000\r\n', code: '\u0000\u0001', password: strongPassword() },
      ],
      ['/api/v1/password-resets/complete', { password: strongPassword() }],
      ['/api/v1/password-resets/complete', { token, password: '' }],
      ['/api/v1/password-resets/complete', 'null'],
      ['/api/v1/password-resets/complete', { token }, { 'content-type': 'text/plain' }],
    ];
    for (const [path, body, headers] of cases) {
      const r = await c.request('POST', path, body, headers);
      assert.ok(
        r.status >= 400 && r.status < 500,
        `${path} ${JSON.stringify(body)?.slice(0, 80)} → ${r.status} ${r.text.slice(0, 200)}`,
      );
    }
    const forms: [string, Record<string, string>][] = [
      ['/forgot-password', { identifier: '' }],
      ['/auth/reset/code', { token: '<img src=x onerror=alert(1)>', password: strongPassword() }],
      ['/auth/reset/code', { token, password: 'a', passwordConfirm: 'b' }],
      ['/change-password', { identifier: '<b>x</b>', code: "' or 1=1", password: strongPassword() }],
      ['/change-password', { identifier: '', code: '', password: '' }],
    ];
    for (const [path, f] of forms) {
      const r = await c.form(path, f);
      assert.ok(r.status >= 400 && r.status < 500, `${path} → ${r.status}`);
      // echoed only inside quoted attribute values, never as markup
      const outsideAttributes = r.text.replace(/value="[^"]*"/g, '');
      assert.ok(
        !outsideAttributes.includes('<img src=x') && !outsideAttributes.includes('<b>x</b>'),
        'input is escaped',
      );
    }
    const getBad = await c.get('/auth/reset/code?token=%3Cscript%3E', { accept: 'text/html' });
    assert.equal(getBad.status, 410);
    assert.ok(!getBad.text.includes('<script>'));
    const noOrigin = await fx.server
      .client({ origin: 'https://evil.example' })
      .post('/api/v1/password-resets/complete', { token, password: strongPassword() });
    assert.equal(noOrigin.status, 403);
    // `Origin: null` (what no-referrer pages send) passes only with Sec-Fetch-Site: same-origin
    for (const site of ['cross-site', 'same-site', undefined]) {
      const headers: Record<string, string> = { origin: 'null', ...(site ? { 'sec-fetch-site': site } : {}) };
      const r = await c.request(
        'POST',
        '/api/v1/password-resets/complete',
        { token, password: strongPassword() },
        headers,
      );
      assert.equal(r.status, 403, String(site));
    }
    assert.equal((await accountRow(a.username)).password_hash, hashBefore);
    assert.equal((await db().selectFrom('outbox').select('id').execute()).length, jobsBefore);
    assert.equal((await complete({ token, password: strongPassword() })).status, 200, 'the token survived all of it');
  });
});
