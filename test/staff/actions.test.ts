import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { runAdminCommand } from '../../src/cli/commands.ts';
import { loadConfig } from '../../src/config/index.ts';
import { withServer } from '../support/fixture.ts';
import { devMailbox, strongPassword, waitForDevMail } from '../support/server.ts';
import { cast, enrolFactor, type Person, person, proveSecondFactor, signInAgain } from './helpers.ts';

type Cast = Awaited<ReturnType<typeof cast>>;
const reason = 'user called support, ticket 77';
const act = (p: Person, target: string, action: string, body: Record<string, string> = {}) =>
  p.client.post(`/api/v1/admin/accounts/${target}/actions/${action}`, { reason, ...body });

async function auditRows(fx: ReturnType<typeof withServer>, accountId: string, event: string) {
  return fx.server.deps.db
    .selectFrom('audit_log')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('event', '=', event)
    .orderBy('at', 'desc')
    .execute();
}

/** The notice of a staff action: to the account's address, naming the role, carrying no link or code. */
async function staffNotice(fx: ReturnType<typeof withServer>, email: string, role: RegExp, what: RegExp) {
  const mail = await waitForDevMail(
    fx.server,
    (m) => m.to.includes(email) && /staff member/i.test(m.subject) && what.test(m.text),
  );
  assert.match(mail.text, role);
  assert.match(mail.text, /\b20\d{2}\b.*\d{1,2}:\d{2}.*UTC/, 'says when');
  assert.doesNotMatch(mail.text, /token=|code:|password is/i, 'never a secret (ADM-09)');
  return mail;
}

describe('staff actions', () => {
  const fx = withServer();
  let c: Cast;
  before(async () => {
    c = await cast(fx.server);
  });

  test('ADM-04 no staff exist until `latchkey staff add` makes one; remove and list work', async () => {
    const fresh = await person(fx.server, { prefix: 'cli' });
    const config = loadConfig(fx.server.env);
    const log = console.log;
    const lines: string[] = [];
    console.log = (...a: unknown[]) => lines.push(a.join(' '));
    try {
      assert.equal(await runAdminCommand(config, 'staff', ['add', fresh.username, '--role', 'boss'], ''), 1);
      assert.equal(await runAdminCommand(config, 'staff', ['add', fresh.username, '--role', 'support'], ''), 0);
      assert.equal(await runAdminCommand(config, 'staff', ['list'], ''), 0);
      assert.ok(
        lines.some((l) => l.includes(fresh.username) && l.includes('support') && l.includes('NO second factor')),
      );
      assert.equal(await runAdminCommand(config, 'staff', ['remove', fresh.username], ''), 0);
      assert.equal(await runAdminCommand(config, 'staff', ['remove', fresh.username], ''), 1);
    } finally {
      console.log = log;
    }
    const granted = await auditRows(fx, fresh.id, 'staff.role_granted');
    assert.equal(granted.length, 1);
    const row = await fx.server.deps.db
      .selectFrom('accounts')
      .select('is_staff')
      .where('id', '=', fresh.id)
      .executeTakeFirstOrThrow();
    assert.equal(Number(row.is_staff), 0);
  });

  test('ADM-07 staff without a second factor are sent to enrol; with one but a one-factor sign-in, to sign in again', async () => {
    const s = await person(fx.server, { prefix: 'nofactor' });
    await fx.server.deps.staffMembers.add(s.username, 'admin', { ip: '', userAgent: 't', correlationId: 't' });
    const api = await s.client.get('/api/v1/admin/accounts?q=x');
    assert.equal(api.status, 403);
    assert.equal(api.json.code, 'staff_second_factor_required');
    const refused = await fx.server.deps.db
      .selectFrom('audit_log')
      .select('details')
      .where('event', '=', 'admin.forbidden')
      .where('actor_id', '=', s.id)
      .execute();
    assert.ok(
      refused.some((r) => r.details?.includes('no_second_factor')),
      'the refusal is audited',
    );
    const page = await s.client.get('/admin/accounts', { accept: 'text/html' });
    assert.equal(page.status, 303);
    assert.equal(page.headers.get('location'), '/settings#two-step');
    await enrolFactor(fx.server, s.id);
    const again = await s.client.get('/admin/accounts', { accept: 'text/html' });
    assert.equal(again.status, 303);
    assert.match(again.headers.get('location') ?? '', /^\/login\?msg=reauthenticate&next=%2Fadmin%2Faccounts/);
  });

  test('ADM-07 an action needs a written reason and a recent sign-in; reads do not', async () => {
    const before = await auditRows(fx, c.target.id, 'staff.unlocked');
    const none = await c.support.client.post(`/api/v1/admin/accounts/${c.target.id}/actions/unlock`, {
      reason: ' short ',
    });
    assert.equal(none.status, 400);
    assert.equal(none.json.errors[0].field, 'reason');
    // a sign-in older than the re-authentication window
    const window = fx.server.deps.config.session.reauthWindow;
    await fx.server.deps.db
      .updateTable('sessions')
      .set((eb) => ({ auth_at: eb('auth_at', '-', window + 1000) }))
      .where('account_id', '=', c.support.id)
      .execute();
    const stale = await act(c.support, c.target.id, 'unlock');
    assert.equal(stale.status, 401);
    assert.equal(stale.json.code, 'reauthentication_required');
    assert.equal((await c.support.client.get(`/api/v1/admin/accounts/${c.target.id}`)).status, 200);
    const pagePost = await c.support.client.form(`/admin/accounts/${c.target.id}/act`, { action: 'unlock', reason });
    assert.equal(pagePost.status, 303);
    assert.match(pagePost.headers.get('location') ?? '', /^\/login\?msg=reauthenticate/);
    assert.deepEqual(await auditRows(fx, c.target.id, 'staff.unlocked'), before, 'nothing was done');
    // sign in again, with the factor
    c.support.client = await signInAgain(fx.server, c.support.username, c.support.password);
    await proveSecondFactor(fx.server, c.support.id);
    const ok = await act(c.support, c.target.id, 'unlock');
    assert.equal(ok.status, 200, ok.text);
    const [row] = await auditRows(fx, c.target.id, 'staff.unlocked');
    assert.equal(row.actor_id, c.support.id);
    assert.deepEqual(JSON.parse(row.details ?? '{}'), { reason, role: 'support' });
  });

  test('ADM-01 ADM-02 staff send a reset: the user gets link and code at their own address, staff see only when it expires', async () => {
    const res = await act(c.support, c.target.id, 'reset');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.sent[0].method, 'email_link');
    const expires = Date.parse(res.json.sent[0].expiresAt);
    assert.ok(expires > Date.now() && expires <= Date.now() + 24 * 3600_000, 'an expiry within REC limits');
    const mail = await waitForDevMail(fx.server, (m) => m.to.includes(c.target.email) && /token=/.test(m.text));
    const token = /token=([A-Za-z0-9_-]+)/.exec(mail.text)?.[1] as string;
    assert.ok(!res.text.includes(token), 'the answer carries no token');
    const detail = await c.support.client.get(`/api/v1/admin/accounts/${c.target.id}`);
    assert.equal(detail.json.pendingResets[0].expiresAt, res.json.sent[0].expiresAt, 'the page shows when it expires');
    const page = await c.support.client.get(`/admin/accounts/${c.target.id}`, { accept: 'text/html' });
    assert.ok(page.text.includes(res.json.sent[0].expiresAt));
    await staffNotice(fx, c.target.email, /member of the support team/, /password reset/);
    // staff have no way to set a password: no such action, no such field
    const set = await c.admin.client.post(`/api/v1/admin/accounts/${c.target.id}/actions/set_password`, { reason });
    assert.equal(set.status, 400);
    const withPassword = await act(c.admin, c.target.id, 'reset', { password: strongPassword() });
    assert.equal(withPassword.status, 400);
    // the user completes it like any reset (REC-01..REC-09)
    const password = strongPassword();
    const done = await fx.server.client().post('/api/v1/password-resets/complete', { token, password });
    assert.equal(done.status, 200, done.text);
    c.target.password = password;
    c.target.client = await signInAgain(fx.server, c.target.username, password);
  });

  test('ADM-09 staff actions show on the user’s /settings activity with the role, never the staff member', async () => {
    const settings = await c.target.client.get('/settings', { accept: 'text/html' });
    assert.equal(settings.status, 200);
    assert.match(settings.text, /Staff sent you a password reset/);
    assert.match(settings.text, /Staff \(support\)/);
    assert.ok(!settings.text.includes(c.support.username));
  });

  test('end one session by its handle, or all; an unknown handle is a 404', async () => {
    const second = await signInAgain(fx.server, c.target.username, c.target.password);
    const detail = await c.support.client.get(`/api/v1/admin/accounts/${c.target.id}`);
    assert.equal(detail.json.sessions.length, 2);
    const unknown = await act(c.support, c.target.id, 'end_sessions', { session: 'nope' });
    assert.equal(unknown.status, 404);
    const one = await act(c.support, c.target.id, 'end_sessions', { session: detail.json.sessions[0].handle });
    assert.equal(one.status, 200);
    assert.equal(one.json.count, 1);
    const all = await act(c.support, c.target.id, 'end_sessions');
    assert.equal(all.json.count, 1);
    assert.equal((await second.get('/api/v1/sessions/current')).status, 401);
    assert.equal((await c.target.client.get('/api/v1/sessions/current')).status, 401);
    await staffNotice(fx, c.target.email, /support team/, /signed your account out/);
    c.target.client = await signInAgain(fx.server, c.target.username, c.target.password);
  });

  test('unlock clears a lockout; clear_flag clears the flag; both are audited and mailed', async () => {
    await fx.server.deps.db
      .insertInto('sign_in_failures')
      .values({ key: `a:${c.target.id}`, failures: 1_000_000_000, last_at: Date.now(), prev_at: 0 })
      .onConflict((oc) => oc.column('key').doUpdateSet({ failures: 1_000_000_000, last_at: Date.now() }))
      .execute();
    assert.equal((await c.admin.client.get(`/api/v1/admin/accounts/${c.target.id}`)).json.locked, true);
    assert.equal((await act(c.ownOrgAdmin, c.target.id, 'unlock')).status, 200);
    assert.equal((await c.admin.client.get(`/api/v1/admin/accounts/${c.target.id}`)).json.locked, false);
    await staffNotice(fx, c.target.email, /administrator of your organization/, /sign-in block/);

    await fx.server.deps.db
      .updateTable('accounts')
      .set({ flagged_at: Date.now(), flag_reason: 'possibly compromised: 4 resets' })
      .where('id', '=', c.target.id)
      .execute();
    assert.ok((await c.admin.client.get(`/api/v1/admin/accounts/${c.target.id}`)).json.flag);
    assert.equal((await act(c.admin, c.target.id, 'clear_flag')).status, 200);
    assert.equal((await c.admin.client.get(`/api/v1/admin/accounts/${c.target.id}`)).json.flag, null);
    assert.equal((await act(c.admin, c.target.id, 'clear_flag')).status, 409);
  });

  test('resend activation: a pending account gets a new link; an active one is a 409', async () => {
    const reg = await fx.server.client().post('/api/v1/registrations', {
      username: 'pendingone',
      email: 'pendingone@example.test',
      password: strongPassword(),
    });
    assert.equal(reg.status, 202);
    const id = (
      await fx.server.deps.db
        .selectFrom('accounts')
        .select('id')
        .where('username', '=', 'pendingone')
        .executeTakeFirstOrThrow()
    ).id;
    const before = (await devMailbox(fx.server)).filter(
      (m) => m.to.includes('pendingone') && /activate/i.test(m.subject),
    ).length;
    assert.equal((await act(c.support, id, 'resend_activation')).status, 200);
    const deadline = Date.now() + 5000;
    let after = before;
    while (after === before && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      after = (await devMailbox(fx.server)).filter(
        (m) => m.to.includes('pendingone') && /activate/i.test(m.subject),
      ).length;
    }
    assert.equal(after, before + 1);
    await staffNotice(fx, 'pendingone@example.test', /support team/, /new activation link/);
    assert.equal((await act(c.support, c.target.id, 'resend_activation')).status, 409);
  });

  /** A half-finished sign-in and a remembered browser of the target, as a second-factor step leaves them. */
  async function halfSignedIn(tag: string): Promise<() => Promise<{ live: number; trusted: number }>> {
    const db = fx.server.deps.db;
    const now = fx.server.deps.clock.now();
    const id = `${tag}-${c.target.id}`;
    await db
      .insertInto('pending_sign_ins')
      .values({
        id: `ps-${id}`,
        token_hash: `th-${id}`,
        account_id: c.target.id,
        method: 'password',
        amr: '["pwd"]',
        created_at: now,
        expires_at: now + 600_000,
        return_to: null,
        enrol: 0,
        keep_signed_in: 0,
        used_at: null,
      })
      .execute();
    await db
      .insertInto('mfa_trusted_devices')
      .values({
        id: `td-${id}`,
        account_id: c.target.id,
        token_hash: `td-${id}`,
        created_at: now,
        expires_at: now + 600_000,
      })
      .execute();
    return async () => ({
      live: (
        await db
          .selectFrom('pending_sign_ins')
          .select('id')
          .where('account_id', '=', c.target.id)
          .where('used_at', 'is', null)
          .execute()
      ).length,
      trusted: (await db.selectFrom('mfa_trusted_devices').select('id').where('account_id', '=', c.target.id).execute())
        .length,
    });
  }

  test('ADM-03 second factors are removed only with a recorded identity check, who made it, and access ends', async () => {
    await enrolFactor(fx.server, c.target.id, 'Phone app');
    const without = await act(c.admin, c.target.id, 'remove_second_factors');
    assert.equal(without.status, 400);
    assert.equal(without.json.errors[0].field, 'identityCheck');
    const factors = () =>
      fx.server.deps.db.selectFrom('second_factors').select('id').where('account_id', '=', c.target.id).execute();
    assert.equal((await factors()).length, 1, 'nothing removed without a check');
    const left = await halfSignedIn('adm03');
    assert.deepEqual(await left(), { live: 1, trusted: 1 });
    const support = await act(c.support, c.target.id, 'remove_second_factors', { identityCheck: 'video call with ID' });
    assert.equal(support.status, 403, 'support may not remove factors');
    const check = 'video call; passport photo matched; knew last sign-in city';
    const ok = await act(c.admin, c.target.id, 'remove_second_factors', { identityCheck: check });
    assert.equal(ok.status, 200, ok.text);
    assert.equal((await factors()).length, 0);
    const [rec] = await auditRows(fx, c.target.id, 'staff.identity_checked');
    assert.equal(rec.actor_id, c.admin.id);
    const details = JSON.parse(rec.details ?? '{}');
    assert.equal(details.check, check);
    assert.equal(details.checkedBy, c.admin.username);
    assert.equal((await c.target.client.get('/api/v1/sessions/current')).status, 401, 'every session ended');
    assert.deepEqual(await left(), { live: 0, trusted: 0 }, 'half-finished sign-ins and remembered browsers end too');
    await staffNotice(fx, c.target.email, /an administrator/, /second factors/);
    c.target.client = await signInAgain(fx.server, c.target.username, c.target.password);
  });

  test('ADM-06 disabling ends the account’s sessions, pending sign-ins and remembered browsers at once and refuses sign-in; enabling lets it back', async () => {
    assert.equal((await c.target.client.get('/api/v1/sessions/current')).status, 200);
    const left = await halfSignedIn('adm06');
    const res = await act(c.admin, c.target.id, 'disable');
    assert.equal(res.status, 200, res.text);
    assert.equal((await c.target.client.get('/api/v1/sessions/current')).status, 401);
    assert.deepEqual(await left(), { live: 0, trusted: 0 }, 'no half-finished sign-in can be finished');
    const again = await fx.server
      .client()
      .post('/api/v1/sessions', { identifier: c.target.username, password: c.target.password });
    assert.notEqual(again.status, 201);
    assert.equal((await act(c.admin, c.target.id, 'reset')).status, 409, 'no reset for a disabled account');
    assert.equal((await act(c.admin, c.admin.id, 'disable')).status, 409, 'not one’s own account');
    await staffNotice(fx, c.target.email, /an administrator/, /disabled your account/);
    assert.equal((await act(c.admin, c.target.id, 'enable')).status, 200);
    c.target.client = await signInAgain(fx.server, c.target.username, c.target.password);
  });

  test('the page form runs an action and says so; a refused action shows the error', async () => {
    const ok = await c.admin.client.form(`/admin/accounts/${c.target.id}/act`, {
      action: 'end_sessions',
      reason,
      session: '',
    });
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.get('location'), `/admin/accounts/${c.target.id}?done=end_sessions`);
    const page = await c.admin.client.get(ok.headers.get('location') as string, { accept: 'text/html' });
    assert.match(page.text, /Sessions ended/);
    const bad = await c.admin.client.form(`/admin/accounts/${c.target.id}/act`, {
      action: 'remove_second_factors',
      reason,
    });
    assert.equal(bad.status, 400);
    assert.match(bad.text, /identity check/);
    const noAction = await c.admin.client.form(`/admin/accounts/${c.target.id}/act`, { action: 'launch', reason });
    assert.equal(noAction.status, 400);
    c.target.client = await signInAgain(fx.server, c.target.username, c.target.password);
  });
});
