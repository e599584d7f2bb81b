import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { markDeletion, purgeIfDue } from '../../src/store/account-deletion.ts';
import { openReviewItem } from '../../src/store/review-items.ts';
import { withServer } from '../support/fixture.ts';
import type { Client } from '../support/http.ts';
import { strongPassword } from '../support/server.ts';
import {
  accountId,
  consoleClient,
  grantStaff,
  makeAccounts,
  makeOrg,
  PASSWORD,
  seedSupportRequest,
  statusLinkIn,
} from './helpers.ts';

const REASON = 'Checked with the owner by phone call';

describe('the staff review queue (LOG-04, ADM-05, ADM-08)', () => {
  const fx = withServer({ smtp: true });
  let support: Client;
  let admin: Client;
  let acmeItem: string;
  before(async () => {
    const s = fx.server;
    const acme = await makeOrg(s, 'acme');
    const globex = await makeOrg(s, 'globex');
    await makeAccounts(s, ['qsupport', 'qadmin', 'qmember', 'flagme', 'lockme', 'helpq']);
    await makeAccounts(s, ['acmeuser', 'acmeadmin'], acme);
    await makeAccounts(s, ['globexadmin'], globex);
    await grantStaff(s, 'qsupport', 'support');
    await grantStaff(s, 'qadmin', 'admin');
    await s.deps.organizations.addAdmin('acme', 'acmeadmin', 'admin', { ip: '', userAgent: '', correlationId: 't' });
    await s.deps.organizations.addAdmin('globex', 'globexadmin', 'admin', {
      ip: '',
      userAgent: '',
      correlationId: 't',
    });
    support = await consoleClient(s, 'qsupport');
    admin = await consoleClient(s, 'qadmin');
    // How another flow opens an item: one call (passkey counters, "This wasn't me" reports).
    acmeItem = (await openReviewItem(s.deps, {
      kind: 'qr_reported',
      accountId: await accountId(s, 'acmeuser'),
      reason: 'The owner answered "This wasn\'t me" to a QR sign-in',
    })) as string;
    assert.ok(acmeItem);
  });

  const items = async (c: Client, query = '') => {
    const r = await c.get(`/api/v1/admin/queue${query}`);
    assert.equal(r.status, 200, r.text);
    return r.json as {
      counts: Record<string, number>;
      items: { id: string; kind: string; account: { username: string } | null }[];
    };
  };

  test('LOG-04 four completed password changes in 24 h put the account in the queue once; staff resolve it and the flag clears', async () => {
    const c = fx.server.client();
    assert.equal((await c.post('/api/v1/sessions', { identifier: 'flagme', password: PASSWORD })).status, 201);
    let current = PASSWORD;
    for (let i = 0; i < 5; i++) {
      const next = strongPassword();
      const r = await c.put('/api/v1/account/password', { currentPassword: current, newPassword: next });
      assert.equal(r.status, 200, r.text);
      current = next;
    }
    const q = await items(support, '?kind=flagged_resets');
    const mine = q.items.filter((i) => i.account?.username === 'flagme');
    assert.equal(mine.length, 1, 'one open item, however many more changes follow');
    assert.equal(q.counts.flagged_resets, 1);
    const id = mine[0]?.id as string;

    const detail = await support.get(`/api/v1/admin/queue/${id}`);
    assert.equal(detail.status, 200);
    assert.match(detail.json.reason, /possibly compromised/);
    assert.ok(detail.json.activity.some((a: { event: string }) => a.event === 'account.flagged'));
    assert.ok(detail.json.activity.filter((a: { event: string }) => a.event === 'password.changed').length >= 4);

    assert.equal((await support.post(`/api/v1/admin/queue/${id}/assign`)).status, 200);
    assert.equal((await support.post(`/api/v1/admin/queue/${id}/notes`, { body: 'Called the owner.' })).status, 201);
    const after = await support.get(`/api/v1/admin/queue/${id}`);
    assert.equal(after.json.assignedTo, 'qsupport');
    assert.equal(after.json.notes[0].body, 'Called the owner.');

    const noReason = await support.post(`/api/v1/admin/queue/${id}/resolve`, { outcome: 'legitimate', reason: 'ok' });
    assert.equal(noReason.status, 400, 'ADM-07 a written reason is required');
    const done = await support.post(`/api/v1/admin/queue/${id}/resolve`, { outcome: 'legitimate', reason: REASON });
    assert.equal(done.status, 200, done.text);
    const again = await support.post(`/api/v1/admin/queue/${id}/resolve`, { outcome: 'legitimate', reason: REASON });
    assert.equal(again.status, 409);
    const flag = await fx.server.deps.db
      .selectFrom('accounts')
      .select('flagged_at')
      .where('username', '=', 'flagme')
      .executeTakeFirstOrThrow();
    assert.equal(flag.flagged_at, null, 'a reviewed flag is cleared');
    assert.equal((await items(support, '?kind=flagged_resets')).counts.flagged_resets, 0);
    const resolved = await items(support, '?status=resolved');
    assert.ok(resolved.items.some((i) => i.id === id));
    const audit = await fx.server.deps.db
      .selectFrom('audit_log')
      .select(['event', 'details', 'actor_id'])
      .where('event', 'like', 'review.%')
      .execute();
    const resolvedRow = audit.find((a) => a.event === 'review.resolved');
    assert.ok(resolvedRow?.actor_id);
    assert.match(resolvedRow?.details ?? '', /Checked with the owner/);
    assert.match(resolvedRow?.details ?? '', /"role":"support"/);
    assert.ok(audit.some((a) => a.event === 'review.assigned'));
    assert.ok(audit.some((a) => a.event === 'review.noted'));
  });

  test('LOG-04 clearing the flag from the account page resolves its review item too', async () => {
    const s = fx.server;
    await makeAccounts(s, ['flagme2']);
    const id = await accountId(s, 'flagme2');
    await s.deps.db
      .updateTable('accounts')
      .set({ flagged_at: Date.now(), flag_reason: 'test' })
      .where('id', '=', id)
      .execute();
    const item = await openReviewItem(s.deps, {
      kind: 'flagged_resets',
      accountId: id,
      reason: 'possibly compromised',
    });
    assert.ok(item);
    const r = await support.post(`/api/v1/admin/accounts/${id}/actions/clear_flag`, { reason: REASON });
    assert.equal(r.status, 200, r.text);
    const detail = await support.get(`/api/v1/admin/queue/${item}`);
    assert.ok(detail.json.resolvedAt, 'resolved with the flag');
    assert.equal(detail.json.outcome, 'legitimate');
  });

  test('BF-01 a lockout that reaches the hard cap opens a review item', async () => {
    const d = fx.server.deps;
    const id = await accountId(fx.server, 'lockme');
    const cap = d.config.limits.hardCap * d.config.limits.scale;
    const now = d.clock.now();
    // The run one failure short of the hard cap (reaching it for real takes cap × a hash).
    await d.db
      .insertInto('sign_in_failures')
      .values({ key: `a:${id}`, failures: cap - 1, last_at: now, prev_at: now })
      .execute();
    const r = await fx.server.client().post('/api/v1/sessions', { identifier: 'lockme', password: 'wrong-password-1' });
    assert.equal(r.status, 401);
    await d.guard.settled?.();
    const q = await items(support, '?kind=lockout_hard_cap');
    const item = q.items.find((i) => i.account?.username === 'lockme');
    assert.ok(item, 'the hard-cap lockout is in the queue');
    assert.equal(q.counts.lockout_hard_cap, 1);
  });

  test('ADM-08 staff reply to a support request from its item: mailed to the contact, shown on the status page', async () => {
    const c = fx.server.client();
    const to = 'lost-phone@contact.test';
    const filed = await c.post('/api/v1/support-requests', {
      identifier: 'helpq',
      contact: to,
      message: 'Lost my phone and my codes.',
    });
    assert.equal(filed.status, 202);
    const link = statusLinkIn(await fx.mail(to, /Your support request/));
    let item: { id: string } | undefined;
    for (let i = 0; i < 50 && !item; i++) {
      item = (await items(support, '?kind=support_request')).items.find((x) => x.account?.username === 'helpq');
      if (!item) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(item, 'the request is in the queue');
    const detail = await support.get(`/api/v1/admin/queue/${item.id}`);
    assert.equal(detail.json.request.contact, to);
    assert.equal(detail.json.request.identifier, 'helpq');

    const bad = await support.post(`/api/v1/admin/queue/${item.id}/reply`, { body: '   ' });
    assert.equal(bad.status, 400);
    const r = await support.post(`/api/v1/admin/queue/${item.id}/reply`, {
      body: 'We called you on the number on file.\nPlease confirm the code we read out.',
    });
    assert.equal(r.status, 202, r.text);
    const mail = await fx.mail(to, /Reply to your support request/);
    assert.match(mail.text, /We called you on the number on file/);
    assert.match(mail.text, new RegExp(link.ref));
    const status = await c.get(`/api/v1/support-requests/${link.id}?sig=${link.sig}`);
    assert.equal(status.json.status, 'answered');
    assert.equal(status.json.messages[1].from, 'support');
    assert.match(status.json.messages[1].body, /number on file/);
    const page = await c.get(link.path, { accept: 'text/html' });
    assert.match(page.text, /Support replied/);
    assert.doesNotMatch(page.text, /qsupport/, 'the user sees a role, never a staff name');

    const other = await support.post(`/api/v1/admin/queue/${acmeItem}/reply`, { body: 'hello' });
    assert.equal(other.status, 409, 'only support requests take replies');

    const done = await support.post(`/api/v1/admin/queue/${item.id}/resolve`, { outcome: 'answered', reason: REASON });
    assert.equal(done.status, 200);
    assert.equal((await c.get(`/api/v1/support-requests/${link.id}?sig=${link.sig}`)).json.status, 'closed');
    const late = await support.post(`/api/v1/admin/queue/${item.id}/reply`, { body: 'one more thing' });
    assert.equal(late.status, 409);
  });

  test('ADM-05 the queue answers by role: anonymous, member, other organization, own organization, support, admin', async () => {
    const s = fx.server;
    const anon = s.client();
    const member = await consoleClient(s, 'qmember');
    const own = await consoleClient(s, 'acmeadmin');
    const otherOrg = await consoleClient(s, 'globexadmin');
    const routes = [
      ['GET', '/api/v1/admin/queue'],
      ['GET', `/api/v1/admin/queue/${acmeItem}`],
      ['POST', `/api/v1/admin/queue/${acmeItem}/notes`],
    ] as const;
    const call = (c: Client, [m, p]: readonly [string, string]) =>
      m === 'GET' ? c.get(p) : c.post(p, { body: 'Looked at it.' });
    const expect: [string, Client, number[]][] = [
      ['anonymous', anon, [401, 401, 401]],
      ['member', member, [403, 403, 403]],
      ['other organization admin', otherOrg, [200, 403, 403]],
      ['own organization admin', own, [200, 200, 201]],
      ['support', support, [200, 200, 201]],
      ['admin', admin, [200, 200, 201]],
    ];
    for (const [who, c, statuses] of expect)
      for (const [i, route] of routes.entries()) {
        const r = await call(c, route);
        assert.equal(r.status, statuses[i], `${who} ${route.join(' ')} → ${r.status} ${r.text}`);
      }
    // Scoped lists: the other organization's admin sees none of acme's items, acme's admin only acme's.
    assert.ok(!(await items(otherOrg)).items.some((i) => i.id === acmeItem));
    const ownList = await items(own);
    assert.ok(ownList.items.some((i) => i.id === acmeItem));
    assert.ok(ownList.items.every((i) => i.account?.username === 'acmeuser'));
    assert.equal(ownList.counts.flagged_resets, 0, 'counts are scoped too');
    // Items about no account (unknown identifiers) are for the install's staff only.
    const orphan = (await items(support, '?kind=support_request&status=resolved')).items.find((i) => !i.account);
    if (orphan) assert.equal((await own.get(`/api/v1/admin/queue/${orphan.id}`)).status, 403);
    // Refusals are audited.
    const refused = await s.deps.db
      .selectFrom('audit_log')
      .select('details')
      .where('event', '=', 'admin.forbidden')
      .execute();
    assert.ok(refused.some((r) => /queue\./.test(r.details ?? '')));
    // ADM-07: a one-factor session of staff is refused.
    const weak = await consoleClient(s, 'qadmin', false);
    const r = await weak.get('/api/v1/admin/queue');
    assert.equal(r.status, 403);
    assert.equal(r.json.code, 'staff_second_factor_required');
  });

  test('ADM-05 pages: /admin shows counts and the queue oldest first; forms work without JavaScript', async () => {
    const page = await support.get('/admin', { accept: 'text/html' });
    assert.equal(page.status, 200);
    assert.match(page.text, /Review queue/);
    assert.match(page.text, /data-kind="qr_reported">1</);
    const requests = await support.get('/admin/requests', { accept: 'text/html' });
    assert.equal(requests.status, 200);
    assert.match(requests.text, /Support requests/);
    const item = await support.get(`/admin/queue/${acmeItem}`, { accept: 'text/html' });
    assert.equal(item.status, 200);
    assert.match(item.text, /This wasn&#39;t me|This wasn't me/);
    const note = await support.form(`/admin/queue/${acmeItem}/notes`, { body: '<b>checked</b> id card' });
    assert.equal(note.status, 303);
    const shown = await support.get(`/admin/queue/${acmeItem}?done=noted`, { accept: 'text/html' });
    assert.match(shown.text, /&lt;b>checked&lt;\/b> id card|&lt;b&gt;checked&lt;\/b&gt; id card/);
    assert.match(shown.text, /Note added/);
    const noReason = await support.form(`/admin/queue/${acmeItem}/resolve`, { outcome: 'legitimate', reason: '' });
    assert.equal(noReason.status, 400);
    assert.match(noReason.text, /Write why you are doing this/);
    const anon = await fx.server.client().get('/admin', { accept: 'text/html' });
    assert.equal(anon.status, 303);
    assert.match(anon.headers.get('location') ?? '', /^\/login/);
  });

  test('hostile input to the queue is a clear 4xx and changes nothing', async () => {
    const bad: [string, string, unknown, number][] = [
      ['GET', '/api/v1/admin/queue?kind=everything', undefined, 400],
      ['GET', '/api/v1/admin/queue?age=forever', undefined, 400],
      ['GET', `/api/v1/admin/queue/${'x'.repeat(65)}`, undefined, 400],
      ['GET', '/api/v1/admin/queue/does-not-exist', undefined, 404],
      ['POST', `/api/v1/admin/queue/${acmeItem}/resolve`, { outcome: 'banished', reason: REASON }, 400],
      ['POST', `/api/v1/admin/queue/${acmeItem}/resolve`, { outcome: ['legitimate'], reason: REASON }, 400],
      ['POST', `/api/v1/admin/queue/${acmeItem}/notes`, { body: '' }, 400],
      ['POST', `/api/v1/admin/queue/${acmeItem}/notes`, { body: 'x'.repeat(2001) }, 400],
      ['POST', `/api/v1/admin/queue/${acmeItem}/notes`, { body: { $ne: 1 } }, 400],
      ['POST', '/api/v1/admin/queue/does-not-exist/assign', undefined, 404],
    ];
    for (const [m, p, body, status] of bad) {
      const r = m === 'GET' ? await admin.get(p) : await admin.post(p, body);
      assert.equal(r.status, status, `${m} ${p} ${JSON.stringify(body)} → ${r.status} ${r.text}`);
    }
    const still = await admin.get(`/api/v1/admin/queue/${acmeItem}`);
    assert.equal(still.json.resolvedAt, null);
  });

  test('ADM-05 no queue answer carries a password hash, token hash or session id', async () => {
    const bodies = [
      (await admin.get('/api/v1/admin/queue')).text,
      (await admin.get('/api/v1/admin/queue?status=resolved')).text,
      (await admin.get(`/api/v1/admin/queue/${acmeItem}`)).text,
      (await admin.get('/admin', { accept: 'text/html' })).text,
      (await admin.get(`/admin/queue/${acmeItem}`, { accept: 'text/html' })).text,
    ].join('\n');
    assert.doesNotMatch(bodies, /\$argon2/);
    const sessions = await fx.server.deps.db.selectFrom('sessions').select(['id', 'token_hash']).execute();
    for (const s of sessions) {
      assert.ok(!bodies.includes(s.id), 'no session id');
      assert.ok(!bodies.includes(s.token_hash), 'no token hash');
    }
  });

  test('an account deleted by its owner takes its support conversation along; its open items close', async () => {
    const s = fx.server;
    await makeAccounts(s, ['goneuser']);
    const id = await accountId(s, 'goneuser');
    const item = await seedSupportRequest(s, id, 'gone@contact.test');
    const now = s.deps.clock.now();
    await markDeletion(s.deps.db, id, now, now);
    await s.deps.db.transaction().execute((trx) => purgeIfDue(trx, id, now));
    const detail = await support.get(`/api/v1/admin/queue/${item}`);
    assert.equal(detail.status, 200);
    assert.equal(detail.json.outcome, 'account_deleted');
    assert.equal(detail.json.request.contact, 'deleted');
    assert.deepEqual(detail.json.request.messages, []);
  });

  test('the review queue gauge counts open items per kind', async () => {
    const r = await fx.server.client().get('/metrics', { accept: 'text/plain' });
    assert.equal(r.status, 200);
    assert.match(r.text, /latchkey_review_queue_open\{kind="qr_reported"\} 1/);
    assert.match(r.text, /latchkey_review_queue_open\{kind="lockout_hard_cap"\} 1/);
    assert.match(r.text, /latchkey_review_queue_open\{kind="flagged_resets"\} 0/);
  });
});
