import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatDateTime, withLocale } from '../../src/i18n/index.ts';
import { FakeClock } from '../../src/security/clock.ts';
import { countMail, signedInUser, type User } from '../phone/helpers.ts';
import { uniqueName } from '../support/accounts.ts';
import { withServer } from '../support/fixture.ts';
import type { Client } from '../support/http.ts';
import { devMailbox, type TestServer, waitForDevMail } from '../support/server.ts';

// Changing one's email address and username (issue 17, docs/profile.md): the same identifier
// rules as registration (ID-01, ID-02), a recent sign-in (SES-07), a notice (LOG-03), and an
// address that counts only once the mail to it comes back.

const TWO_HOURS = 2 * 3600_000; // older than LATCHKEY_REAUTH_WINDOW (10m), younger than the idle timeout

const CODE = /enter this code in your settings: ([0-9A-Z]{4}-[0-9A-Z]{4})/i;
const TOKEN = /\/settings\/email\/verify\?token=([A-Za-z0-9_-]+)/;

async function mailTo(server: TestServer, to: string, subject: RegExp) {
  return waitForDevMail(server, (m) => m.to === to && subject.test(m.subject));
}

async function currentEmail(c: Client): Promise<string> {
  const r = await c.get('/api/v1/sessions/current');
  assert.equal(r.status, 200, r.text);
  return r.json.account.email;
}

async function events(server: TestServer, event: string): Promise<{ details: string | null }[]> {
  return server.deps.db.selectFrom('audit_log').select('details').where('event', '=', event).execute();
}

describe('ID-03 change email and username (API and pages, injected clock)', () => {
  const clock = new FakeClock(Date.now());
  const fx = withServer({ overrides: { clock } });
  const fresh = async (prefix: string): Promise<User> => signedInUser(fx.server, uniqueName(prefix));
  const signInAgain = async (u: User, identifier = u.username) => {
    const r = await u.c.post('/api/v1/sessions', { identifier, password: u.password });
    assert.equal(r.status, 201, r.text);
  };

  test('ID-03 LOG-03 a new email address is pending until the mailed code comes back; then the old address is told, with the time', async () => {
    const { server } = fx;
    const u = await fresh('mail');
    const to = `${u.username}.new@Example.TEST`;
    const normal = to.toLowerCase();
    const start = await u.c.put('/api/v1/account/email', { email: to });
    assert.equal(start.status, 202, start.text);
    assert.equal(start.json.pending, normal, 'ID-01: the normal form is what is verified and stored');
    assert.match(start.json.message, new RegExp(`stays ${u.email}`));
    assert.equal(await currentEmail(u.c), u.email, 'nothing changed yet');

    const page = await u.c.get('/settings', { accept: 'text/html' });
    assert.match(page.text, /Pending:/);
    assert.ok(page.text.includes(normal), 'the page names the pending address');
    assert.match(page.text, /waiting for confirmation/);

    const mail = await mailTo(server, normal, /Confirm your new email address/);
    const code = CODE.exec(mail.text)?.[1];
    assert.ok(code, mail.text);
    assert.match(mail.text, TOKEN);

    const wrong = await u.c.post('/api/v1/account/email/confirmation', { code: 'AAAA-AAAA' });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.json.code, 'invalid_code');
    assert.equal(await currentEmail(u.c), u.email);

    const before = await countMail(server, (m) => m.to === u.email && /email address was changed/.test(m.subject));
    const ok = await u.c.post('/api/v1/account/email/confirmation', { code: code.toLowerCase().replace('-', ' ') });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.email, normal);
    assert.equal(await currentEmail(u.c), normal);

    const notice = await mailTo(server, u.email, /Your email address was changed/);
    assert.equal(before, 0);
    // Mail times are written out in the reader's language (issue 17), here English.
    const when = withLocale('en', () => formatDateTime(clock.now()));
    assert.ok(notice.text.includes(`On ${when}`), notice.text);
    assert.ok(notice.text.includes(normal), 'names the new address');
    assert.match(notice.text, /Wasn't you\?.*\/forgot-password.*contact/s);
    assert.doesNotMatch(notice.text, new RegExp(code), 'LOG-02: no code in the notice');

    // The code works once; the new address signs in; the old one no longer names the account.
    const again = await u.c.post('/api/v1/account/email/confirmation', { code });
    assert.equal(again.status, 400);
    assert.equal((await u.c.post('/api/v1/sessions', { identifier: to, password: u.password })).status, 201);
    assert.equal(
      (await server.client().post('/api/v1/sessions', { identifier: u.email, password: u.password })).status,
      401,
    );

    // LOG-01, LOG-02: audited, and neither code nor address in the trail.
    const trail = [...(await events(server, 'email.change_requested')), ...(await events(server, 'email.changed'))];
    assert.ok(trail.length >= 2);
    for (const e of trail) {
      assert.ok(!String(e.details).includes(code), 'no code in the audit trail');
      assert.ok(!String(e.details).includes(normal), 'no address in the audit trail');
    }
  });

  test('ID-03 REC-04 the mailed link confirms only with a POST (a GET, e.g. a mail scanner, changes nothing) and only once', async () => {
    const { server } = fx;
    const u = await fresh('link');
    const to = `${u.username}.link@example.test`;
    assert.equal((await u.c.put('/api/v1/account/email', { email: to })).status, 202);
    const token = TOKEN.exec((await mailTo(server, to, /Confirm your new email/)).text)?.[1] as string;
    const anon = server.client();
    for (let i = 0; i < 3; i++) {
      const get = await anon.get(`/settings/email/verify?token=${token}`, { accept: 'text/html' });
      assert.equal(get.status, 200);
      assert.match(get.text, /Confirm this address/);
    }
    assert.equal(await currentEmail(u.c), u.email, 'opening the link changed nothing');
    const post = await anon.form('/settings/email/verify', { token });
    assert.equal(post.status, 200, post.text);
    assert.ok(post.text.includes(`Your account now uses ${to}`));
    assert.equal(await currentEmail(u.c), to);
    const twice = await anon.form('/settings/email/verify', { token });
    assert.equal(twice.status, 400);
    assert.match(twice.text, /expired or was already used/);
    const api = await anon.post('/api/v1/account/email/confirmation', { token });
    assert.equal(api.status, 400);
    assert.equal(api.json.code, 'invalid_token');
    await mailTo(server, u.email, /Your email address was changed/);
  });

  test('REC-02 REC-06 a newer request voids the older code; five wrong tries end a code; a code expires after 30 minutes', async () => {
    const { server } = fx;
    const u = await fresh('tries');
    const first = `${u.username}.a@example.test`;
    const second = `${u.username}.b@example.test`;
    await u.c.put('/api/v1/account/email', { email: first });
    const oldCode = CODE.exec((await mailTo(server, first, /Confirm/)).text)?.[1] as string;
    await u.c.put('/api/v1/account/email', { email: second });
    const newCode = CODE.exec((await mailTo(server, second, /Confirm/)).text)?.[1] as string;
    assert.equal((await u.c.post('/api/v1/account/email/confirmation', { code: oldCode })).status, 400);
    for (let i = 0; i < 5; i++)
      assert.equal((await u.c.post('/api/v1/account/email/confirmation', { code: `ZZZZ-ZZZ${i + 2}` })).status, 400);
    const dead = await u.c.post('/api/v1/account/email/confirmation', { code: newCode });
    assert.equal(dead.status, 400, 'the right code after five wrong tries is refused');
    assert.equal(await currentEmail(u.c), u.email);

    const third = `${u.username}.c@example.test`;
    await signInAgain(u);
    await u.c.put('/api/v1/account/email', { email: third });
    const late = CODE.exec((await mailTo(server, third, /Confirm/)).text)?.[1] as string;
    clock.advance(31 * 60_000);
    assert.equal((await u.c.post('/api/v1/account/email/confirmation', { code: late })).status, 400);
    assert.equal(await currentEmail(u.c), u.email);
  });

  test('ID-03 ENUM-03 an address that belongs to another account gets the same answer; its owner is mailed; nothing changes', async () => {
    const { server } = fx;
    const u = await fresh('taker');
    const other = await fresh('owner');
    const free = await u.c.put('/api/v1/account/email', { email: `${u.username}.free@example.test` });
    await signInAgain(u);
    const taken = await u.c.put('/api/v1/account/email', { email: other.email.toUpperCase() });
    assert.equal(taken.status, free.status);
    assert.deepEqual(Object.keys(taken.json).sort(), Object.keys(free.json).sort());
    assert.equal(
      taken.json.message.replace(other.email, 'X'),
      free.json.message.replace(/\S+\.free@example\.test/, 'X'),
    );
    const owner = await mailTo(server, other.email, /You already have an account/);
    assert.doesNotMatch(owner.text, /[0-9A-Z]{4}-[0-9A-Z]{4}/, 'no code goes to the taken address');
    assert.equal(await currentEmail(u.c), u.email);
    assert.equal(await currentEmail(other.c), other.email);
  });

  test('ID-01 WEB-04 bad addresses, wrong types and oversized input get a 400 and change nothing', async () => {
    const { server } = fx;
    const u = await fresh('bad');
    const codes = async () =>
      (await server.deps.db.selectFrom('recovery_codes').select('id').where('account_id', '!=', '').execute()).length;
    const n = await codes();
    for (const body of [
      { email: 'not-an-address' },
      { email: 'a@192.168.0.1' },
      { email: 'x\u200by@example.test' },
      { email: u.email.toUpperCase() },
      { email: `${'a'.repeat(70)}@example.test` },
      { email: 42 },
      { email: ['a@example.test'] },
      { email: null },
      {},
      { email: `${'a'.repeat(1_000_000)}@example.test` },
    ]) {
      const r = await u.c.put('/api/v1/account/email', body);
      assert.ok(r.status === 400 || r.status === 413, `${JSON.stringify(body).slice(0, 60)}: ${r.status} ${r.text}`);
      assert.ok(r.json?.code, 'a problem document');
    }
    for (const body of [{ username: 7 }, { username: '' }, {}, { username: 'x'.repeat(5000) }]) {
      const r = await u.c.put('/api/v1/account/username', body);
      assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 60)}: ${r.text}`);
    }
    for (const body of [{ code: 5 }, { token: 5 }, { code: 'x', token: 'y' }, {}, { code: 'x'.repeat(100) }]) {
      const r = await u.c.post('/api/v1/account/email/confirmation', body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    }
    const page = await u.c.form('/settings/email', { email: '<script>alert(1)</script>@x' });
    assert.equal(page.status, 400);
    assert.doesNotMatch(page.text, /<script>alert/);
    assert.equal(await codes(), n, 'no code issued');
    assert.equal(await currentEmail(u.c), u.email);
    assert.equal(
      (await server.client().put('/api/v1/account/email', { email: 'a@example.test' })).status,
      401,
      'signed out',
    );
  });

  test('ID-02 ID-03 LOG-03 a new username is normalised and checked like at registration; taken 409, look-alike 400; the address on file is told', async () => {
    const { server } = fx;
    const u = await fresh('name');
    const other = await fresh('paypal');
    const put = (username: string) => u.c.put('/api/v1/account/username', { username });

    const taken = await put(other.username.toUpperCase());
    assert.equal(taken.status, 409, taken.text);
    assert.equal(taken.json.errors[0].code, 'taken');
    // Cyrillic а (U+0430) for Latin a: a look-alike of the other account's name.
    const lookalike = await put(other.username.replace('a', '\u0430'));
    assert.equal(lookalike.status, 400, lookalike.text);
    assert.ok(['confusable', 'mixed_script'].includes(lookalike.json.errors[0].code), lookalike.text);
    const lookalike2 = await put(other.username.replace('l', '1').replace('a', '\u0430'));
    assert.equal(lookalike2.status, 400);
    for (const [bad, code] of [
      ['ab', 'invalid'],
      ['a b c', 'invisible'],
      ['zero\u200bwidth', 'invisible'],
      ['has@sign', 'invalid'],
      ['latinкирилица', 'mixed_script'],
    ]) {
      const r = await put(bad);
      assert.equal(r.status, 400, bad);
      assert.equal(r.json.errors[0].code, code, `${bad}: ${r.text}`);
    }
    const same = await put(u.username);
    assert.equal(same.status, 400);
    assert.equal(same.json.errors[0].code, 'unchanged');

    const wanted = `${u.username}_Ｎew`; // full-width N: stored in NFKC
    const ok = await put(wanted);
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.username, wanted.normalize('NFKC'));
    const notice = await mailTo(server, u.email, /Your username was changed/);
    assert.ok(notice.text.includes(u.username) && notice.text.includes(ok.json.username));
    assert.match(notice.text, /Wasn't you\?/);
    assert.equal(
      (await u.c.post('/api/v1/sessions', { identifier: ok.json.username, password: u.password })).status,
      201,
    );
    // Its own name in other letter case is not a clash with itself.
    assert.equal((await put(ok.json.username.toUpperCase())).status, 200);
    // The old name is free again for someone else.
    const reg = await server.client().post('/api/v1/registrations', {
      username: u.username,
      email: `${u.username}.again@example.test`,
      password: u.password,
    });
    assert.equal(reg.status, 202, reg.text);
    assert.ok((await events(server, 'username.changed')).length >= 2);
  });

  test('SES-07 changing email, username or deleting needs a recent sign-in: the API says 401 reauthentication_required, the page leads to sign in again; nothing changes', async () => {
    const { server } = fx;
    const u = await fresh('stale');
    clock.advance(TWO_HOURS);
    const before = await devMailbox(server);
    for (const [what, r] of [
      ['email', await u.c.put('/api/v1/account/email', { email: `${u.username}.x@example.test` })],
      ['username', await u.c.put('/api/v1/account/username', { username: `${u.username}x` })],
      ['deletion', await u.c.post('/api/v1/account/deletion', { confirm: u.username })],
    ] as const) {
      assert.equal(r.status, 401, `${what}: ${r.text}`);
      assert.equal(r.json.code, 'reauthentication_required', what);
    }
    assert.equal(await currentEmail(u.c), u.email);
    const page = await u.c.get('/settings', { accept: 'text/html' });
    assert.match(page.text, /will first ask you to sign in again/);
    for (const [path, fields] of [
      ['/settings/email', { email: `${u.username}.y@example.test` }],
      ['/settings/username', { username: `${u.username}y` }],
      ['/settings/delete', { confirm: u.username }],
    ] as const) {
      await signInAgain(u);
      clock.advance(TWO_HOURS);
      const r = await u.c.form(path, fields);
      assert.equal(r.status, 303, `${path}: ${r.text}`);
      assert.equal(r.headers.get('location'), `/login?msg=reauthenticate&next=${encodeURIComponent('/settings')}`);
    }
    await signInAgain(u);
    const me = (await u.c.get('/api/v1/sessions/current')).json.account;
    assert.equal(me.username, u.username);
    assert.equal(me.email, u.email);
    const row = await server.deps.db
      .selectFrom('accounts')
      .select('deletion_due_at')
      .where('username', '=', u.username)
      .executeTakeFirstOrThrow();
    assert.equal(row.deletion_due_at, null);
    assert.equal((await devMailbox(server)).length, before.length, 'no mail sent');
  });

  test('ID-03 the pages: change the email (pending, then the typed code), cancel a pending change, change the username', async () => {
    const { server } = fx;
    const u = await fresh('pages');
    const to = `${u.username}.page@example.test`;
    const start = await u.c.form('/settings/email', { email: to });
    assert.equal(start.status, 303);
    assert.equal(start.headers.get('location'), '/settings?done=email_pending#identifiers');
    const page = await u.c.get('/settings?done=email_pending', { accept: 'text/html' });
    assert.match(page.text, /It is not used until you confirm it/);
    const code = CODE.exec((await mailTo(server, to, /Confirm/)).text)?.[1] as string;
    const bad = await u.c.form('/settings/email/confirm', { code: 'nope' });
    assert.equal(bad.status, 400);
    assert.match(bad.text, /Invalid or expired code/);
    const ok = await u.c.form('/settings/email/confirm', { code });
    assert.equal(ok.headers.get('location'), '/settings?done=email_changed#identifiers');
    assert.equal(await currentEmail(u.c), to);

    await u.c.form('/settings/email', { email: `${u.username}.other@example.test` });
    const cancelled = await u.c.form('/settings/email/cancel', {});
    assert.equal(cancelled.headers.get('location'), '/settings?done=email_change_cancelled#identifiers');
    assert.doesNotMatch((await u.c.get('/settings', { accept: 'text/html' })).text, /Pending:/);

    const renamed = await u.c.form('/settings/username', { username: `${u.username}_p` });
    assert.equal(renamed.headers.get('location'), '/settings?done=username_changed#username');
    const taken = await u.c.form('/settings/username', { username: 'ab' });
    assert.equal(taken.status, 400);
    assert.match(taken.text, /3 to 32 letters/);
  });
});

describe('ID-03 email and username changes are rate-limited (real limits)', () => {
  const fx = withServer({ env: { LATCHKEY_RATE_LIMIT_SCALE: '1' } });

  test('ID-03 BF-02 the sixth change within an hour is refused with 429 and Retry-After', async () => {
    const u = await signedInUser(fx.server, uniqueName('limit'));
    const answers: number[] = [];
    for (let i = 0; i < 6; i++)
      answers.push((await u.c.put('/api/v1/account/username', { username: `${u.username}r${i}` })).status);
    assert.deepEqual(answers, [200, 200, 200, 200, 200, 429]);
    const r = await u.c.put('/api/v1/account/email', { email: `${u.username}@example.org` });
    assert.equal(r.status, 429);
    assert.ok(r.headers.get('retry-after'));
  });
});
