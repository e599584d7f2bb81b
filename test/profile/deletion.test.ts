import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config/index.ts';
import { formatDateTime, withLocale } from '../../src/i18n/index.ts';
import { FakeClock } from '../../src/security/clock.ts';
import { ACCOUNT_TABLES, ACCOUNT_TABLES_KEPT } from '../../src/store/account-deletion.ts';
import { signedInUser, type User } from '../phone/helpers.ts';
import { uniqueName } from '../support/accounts.ts';
import { withServer } from '../support/fixture.ts';
import type { Client } from '../support/http.ts';
import { devMailbox, type TestServer, waitForDevMail } from '../support/server.ts';

// Deleting one's account (issue 17, docs/profile.md): a recent sign-in (SES-07), every session
// ends at once, a grace period in which signing in cancels it, and afterwards an outbox job that
// leaves no personal data behind but an anonymised audit trail. The clock is injected, so the
// 7-day default grace period passes without waiting.

const DAY = 86_400_000;
const GRACE = 7 * DAY;

async function accountRow(server: TestServer, id: string) {
  return server.deps.db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

async function idOf(c: Client): Promise<string> {
  const r = await c.get('/api/v1/sessions/current');
  assert.equal(r.status, 200, r.text);
  return r.json.account.id;
}

describe('account deletion with a grace period (injected clock)', () => {
  const clock = new FakeClock(Date.now());
  const fx = withServer({ overrides: { clock } });
  const fresh = (prefix: string): Promise<User> => signedInUser(fx.server, uniqueName(prefix));
  /** Lets the outbox worker run what is due at the (fake) time now. */
  const runDueJobs = () => fx.server.deps.worker.drain();

  test('SES-07 LOG-03 asking to delete ends every session at once and mails the date; the account stays during the grace period', async () => {
    const { server } = fx;
    const u = await fresh('del');
    const id = await idOf(u.c);
    const other = server.client();
    assert.equal((await other.post('/api/v1/sessions', { identifier: u.username, password: u.password })).status, 201);

    const wrong = await u.c.post('/api/v1/account/deletion', { confirm: 'someone-else' });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.json.errors[0].field, 'confirm');
    for (const body of [{}, { confirm: 5 }, { confirm: 'x'.repeat(5000) }, { confirm: [u.username] }])
      assert.equal((await u.c.post('/api/v1/account/deletion', body)).status, 400, JSON.stringify(body).slice(0, 40));
    assert.equal((await accountRow(server, id)).deletion_due_at, null, 'nothing changed');

    const r = await u.c.post('/api/v1/account/deletion', { confirm: u.username.toUpperCase() });
    assert.equal(r.status, 202, r.text);
    assert.equal(r.json.deletionDueAt, new Date(clock.now() + GRACE).toISOString());
    assert.equal((await u.c.get('/api/v1/sessions/current')).status, 401, 'this session ended');
    assert.equal((await other.get('/api/v1/sessions/current')).status, 401, 'every other session ended');
    const live = await server.deps.db.selectFrom('sessions').select('id').where('account_id', '=', id).execute();
    assert.equal(live.length, 0);

    const mail = await waitForDevMail(server, (m) => m.to === u.email && /will be deleted/.test(m.subject));
    // Mail times are written out in the reader's language (issue 17), here English.
    const due = withLocale('en', () => formatDateTime(clock.now() + GRACE));
    assert.ok(mail.text.includes(`On ${due}`), mail.text);
    assert.match(mail.text, /Sign in before then/);

    clock.advance(GRACE - 60_000);
    await runDueJobs();
    const row = await accountRow(server, id);
    assert.equal(row.status, 'active', 'still there a minute before the end');
    assert.equal(row.email, u.email);
    const audit = await server.deps.db
      .selectFrom('audit_log')
      .select('event')
      .where('account_id', '=', id)
      .where('event', '=', 'account.deletion_requested')
      .execute();
    assert.equal(audit.length, 1, 'LOG-01: the request is audited');
  });

  test('signing in during the grace period cancels the deletion and says so (API, page and mail); the job then leaves the account alone', async () => {
    const { server } = fx;
    const api = await fresh('keep');
    const id = await idOf(api.c);
    assert.equal((await api.c.post('/api/v1/account/deletion', { confirm: api.username })).status, 202);
    clock.advance(3 * DAY);
    const back = await api.c.post('/api/v1/sessions', { identifier: api.email, password: api.password });
    assert.equal(back.status, 201, back.text);
    assert.equal(back.json.deletionCancelled, true);
    assert.equal((await accountRow(server, id)).deletion_due_at, null);
    await waitForDevMail(server, (m) => m.to === api.email && /will not be deleted/.test(m.subject));
    const next = await api.c.post('/api/v1/sessions', { identifier: api.email, password: api.password });
    assert.equal(next.json.deletionCancelled, undefined, 'said once');

    // The page: sign in, land on /settings with the notice.
    const page = await fresh('keeppage');
    const pid = await idOf(page.c);
    const asked = await page.c.form('/settings/delete', { confirm: page.username });
    assert.equal(asked.status, 303);
    assert.equal(asked.headers.get('location'), '/login?msg=deletion_requested');
    assert.match((await page.c.get('/login?msg=deletion_requested', { accept: 'text/html' })).text, /will be deleted/);
    const login = await page.c.form('/login', { identifier: page.username, password: page.password });
    assert.equal(login.status, 303);
    assert.equal(login.headers.get('location'), '/settings?done=deletion_cancelled#delete');
    const settings = await page.c.get('/settings?done=deletion_cancelled', { accept: 'text/html' });
    assert.match(settings.text, /the deletion of your account was cancelled/);

    clock.advance(GRACE + DAY);
    await runDueJobs();
    assert.equal((await accountRow(server, id)).status, 'active', 'cancelled: the due job changes nothing');
    assert.equal((await accountRow(server, pid)).status, 'active');
    assert.equal((await api.c.get('/api/v1/sessions/current')).status, 401, 'idle sessions ended meanwhile');
    assert.equal(
      (await api.c.post('/api/v1/sessions', { identifier: api.username, password: api.password })).status,
      201,
    );
  });

  test('after the grace period the job removes every personal datum: sessions, identities, factors, codes, personal fields; the audit trail stays, anonymised', async () => {
    const { server } = fx;
    const db = server.deps.db;
    const u = await fresh('gone');
    const id = await idOf(u.c);
    const now = clock.now();
    // Data of every kind the account can have, some from features of other branches.
    await db
      .updateTable('accounts')
      .set({ phone: '+14155550123', phone_verified_at: now, display_name: 'Gone Person' })
      .where('id', '=', id)
      .execute();
    await db
      .insertInto('external_identities')
      .values({
        id: `ext-${id}`,
        account_id: id,
        provider: 'github',
        subject: `sub-${id}`,
        email: u.email,
        display_name: 'Gone',
        created_at: now,
        last_used_at: null,
      })
      .execute();
    await db
      .insertInto('second_factors')
      .values({
        id: `sf-${id}`,
        account_id: id,
        kind: 'totp',
        name: 'Phone',
        created_at: now,
        confirmed_at: now,
        last_used_at: null,
        secret_enc: 'enc',
        last_step: null,
        credential_id: null,
        public_key: null,
        sign_count: null,
        transports: null,
        flagged_at: null,
      })
      .execute();
    await db
      .insertInto('mfa_recovery_codes')
      .values({ id: `rc-${id}`, account_id: id, code_hash: `h-${id}`, created_at: now, used_at: null })
      .execute();
    // A pending email change and a reset code.
    assert.equal((await u.c.put('/api/v1/account/email', { email: `${u.username}.n@example.test` })).status, 202);
    assert.equal((await u.c.post('/api/v1/account/password-reset-email')).status < 300, true);
    const r = await u.c.post('/api/v1/account/deletion', { confirm: u.username });
    assert.equal(r.status, 202);
    await runDueJobs();
    // Rows of the features of this round, made during the grace period: the purge removes them.
    await db
      .insertInto('pending_sign_ins')
      .values({
        id: `ps-${id}`,
        token_hash: `th-${id}`,
        account_id: id,
        method: 'password',
        amr: '["pwd"]',
        created_at: now,
        expires_at: now + GRACE * 2,
        return_to: null,
        enrol: 0,
        keep_signed_in: 0,
        used_at: null,
      })
      .execute();
    await db
      .insertInto('mfa_trusted_devices')
      .values({ id: `td-${id}`, account_id: id, token_hash: `td-${id}`, created_at: now, expires_at: now + GRACE * 2 })
      .execute();
    await db
      .insertInto('webauthn_challenges')
      .values({
        challenge: `ch-${id}`,
        purpose: 'register',
        binding: `b-${id}`,
        account_id: id,
        created_at: now,
        expires_at: now + GRACE * 2,
      })
      .execute();
    await db
      .insertInto('qr_logins')
      .values({
        id: `qr-${id}`,
        binding_hash: `bh-${id}`,
        secret_hash: `sh-${id}`,
        code_hash: `chash-${id}`,
        number: 42,
        status: 'redeemed',
        created_at: now,
        expires_at: now + 1000,
        ip: '192.0.2.7',
        user_agent: 'Phone',
        shown_at: now,
        account_id: id,
        approver_session_id: null,
        approver_amr: null,
        approver_ip: '192.0.2.8',
        approver_user_agent: 'Phone',
        decided_at: now,
        session_id: null,
        redeemed_at: now,
        report_hash: null,
        reported_at: null,
      })
      .execute();
    await db
      .insertInto('staff_roles')
      .values({ account_id: id, role: 'support', created_at: now, created_by: 'cli' })
      .execute();
    const oidc = (model: string, oid: string, accountId: string | null, grantId: string | null) => ({
      model,
      id: oid,
      payload: '{}',
      grant_id: grantId,
      account_id: accountId,
      client_id: 'app',
      uid: null,
      user_code: null,
      expires_at: null,
      consumed_at: null,
    });
    await db
      .insertInto('oidc_payloads')
      .values([
        oidc('Grant', `g-${id}`, id, null),
        oidc('AccessToken', `at-${id}`, id, `g-${id}`),
        // a row under the account's grant that does not name the account goes too
        oidc('RefreshToken', `rt-${id}`, null, `g-${id}`),
      ])
      .execute();

    clock.advance(GRACE + 1);
    await runDueJobs();
    const row = await accountRow(server, id);
    assert.equal(row.status, 'deleted');
    assert.equal(row.deleted_at, clock.now());
    for (const col of [
      'email',
      'email_key',
      'password_hash',
      'display_name',
      'phone',
      'phone_verified_at',
      'username_skeleton',
    ] as const)
      assert.equal(row[col], null, col);
    assert.ok(!row.username.includes(u.username) && !row.username_key.includes(u.username));
    for (const table of ACCOUNT_TABLES) {
      const left = await db.selectFrom(table).select('account_id').where('account_id', '=', id).execute();
      assert.equal(left.length, 0, `${table} rows left`);
    }
    assert.equal(
      (await db.selectFrom('oidc_payloads').select('id').where('grant_id', '=', `g-${id}`).execute()).length,
      0,
    );
    const trail = await db.selectFrom('audit_log').selectAll().where('account_id', '=', id).execute();
    assert.ok(trail.some((e) => e.event === 'account.deleted'));
    assert.ok(
      trail.some((e) => e.event === 'sign_in.succeeded'),
      'the events stay',
    );
    for (const e of trail) {
      assert.equal(e.ip || null, null, `${e.event}: ip`);
      assert.equal(e.user_agent === null || e.user_agent === 'latchkey', true, `${e.event}: user agent`);
      assert.ok(!String(e.details).includes(u.username) && !String(e.details).includes(u.email), e.event);
    }
    // Nothing anywhere still names the person.
    const outbox = await db.selectFrom('outbox').select(['recipient', 'body_text']).execute();
    assert.ok(!outbox.some((m) => m.recipient === u.email || m.body_text.includes(u.email)), 'outbox');
    assert.ok(!(await devMailbox(server)).some((m) => m.to === u.email), 'dev mailbox');
    const failures = await db.selectFrom('sign_in_failures').select('key').execute();
    assert.ok(!failures.some((f) => f.key.includes(u.username) || f.key.includes(u.email)));

    // No way back in; the name and the address are free for someone new.
    for (const identifier of [u.username, u.email])
      assert.equal(
        (await server.client().post('/api/v1/sessions', { identifier, password: u.password })).status,
        401,
        identifier,
      );
    const reg = await server.client().post('/api/v1/registrations', {
      username: u.username,
      email: u.email,
      password: u.password,
    });
    assert.equal(reg.status, 202, reg.text);
    await waitForDevMail(server, (m) => m.to === u.email && /Activate/i.test(m.subject));
    // The job ran once: running again changes nothing.
    assert.equal(await server.deps.deletion.purge(id), false);
  });

  test('LATCHKEY_DELETION_GRACE is a typed duration (default 7 days) and a bad value is refused at start', () => {
    assert.equal(loadConfig({}).deletionGrace, GRACE);
    assert.equal(loadConfig({ LATCHKEY_DELETION_GRACE: '36h' }).deletionGrace, 36 * 3600_000);
    for (const bad of ['0', 'soon', '-1d', '400d'])
      assert.throws(() => loadConfig({ LATCHKEY_DELETION_GRACE: bad }), /LATCHKEY_DELETION_GRACE/, bad);
  });
});

describe('account deletion covers the schema', () => {
  const fx = withServer({});

  test('every table with an account_id column is purged or deliberately kept (a new table cannot be forgotten)', async () => {
    const tables = await fx.server.deps.db.introspection.getTables();
    const withAccount = tables
      .filter((t) => t.columns.some((c) => c.name === 'account_id'))
      .map((t) => t.name)
      .sort();
    const known = new Set<string>([...ACCOUNT_TABLES, ...ACCOUNT_TABLES_KEPT]);
    assert.deepEqual(
      withAccount.filter((t) => !known.has(t)),
      [],
      'add the table to ACCOUNT_TABLES (or ACCOUNT_TABLES_KEPT) in src/store/account-deletion.ts',
    );
    // and the lists name only real tables with that column
    assert.deepEqual(
      [...known].filter((t) => !withAccount.includes(t)),
      [],
    );
    assert.ok(withAccount.length >= 17, `found ${withAccount.join(', ')}`);
  });
});

describe('account deletion with a shortened grace period (real clock)', () => {
  const fx = withServer({ env: { LATCHKEY_DELETION_GRACE: '1s' } });

  test('the worker removes the account by itself once the grace period is over', async () => {
    const { server } = fx;
    const u = await signedInUser(server, uniqueName('short'));
    const id = await idOf(u.c);
    assert.equal((await u.c.post('/api/v1/account/deletion', { confirm: u.username })).status, 202);
    const deadline = Date.now() + 10_000;
    while ((await accountRow(server, id)).status !== 'deleted') {
      assert.ok(Date.now() < deadline, 'deleted within 10 s');
      await new Promise((r) => setTimeout(r, 100));
    }
  });
});

describe('the profile on PostgreSQL (injected clock)', () => {
  const clock = new FakeClock(Date.now());
  const fx = withServer({ pg: true, overrides: { clock } });

  test('ID-03 an email change and a deletion with its purge run the same on PostgreSQL', async (t) => {
    if (!fx.ready(t)) return;
    const { server } = fx;
    const u = await signedInUser(server, uniqueName('pg'));
    const id = await idOf(u.c);
    const to = `${u.username}.pg@example.test`;
    assert.equal((await u.c.put('/api/v1/account/email', { email: to })).status, 202);
    const code = /([0-9A-Z]{4}-[0-9A-Z]{4})/.exec(
      (await waitForDevMail(server, (m) => m.to === to && /Confirm/.test(m.subject))).text,
    )?.[1] as string;
    assert.equal((await u.c.post('/api/v1/account/email/confirmation', { code })).status, 200);
    const other = await signedInUser(server, uniqueName('pgo'));
    assert.equal((await u.c.put('/api/v1/account/username', { username: other.username })).status, 409);

    assert.equal((await u.c.post('/api/v1/account/deletion', { confirm: u.username })).status, 202);
    clock.advance(GRACE + 1);
    await server.deps.worker.drain();
    const row = await accountRow(server, id);
    assert.equal(row.status, 'deleted');
    assert.equal(row.email, null);
    for (const table of ACCOUNT_TABLES) {
      const left = await server.deps.db.selectFrom(table).select('account_id').where('account_id', '=', id).execute();
      assert.equal(left.length, 0, table);
    }
  });
});
