import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Account, newAccountRow } from '../../src/store/accounts.ts';
import { insertAuditRow, recentAuditEvents } from '../../src/store/audit.ts';
import { migrate, openStore, type Store } from '../../src/store/db.ts';
import { findDevMail, insertDevMail, listDevMail } from '../../src/store/dev-mailbox.ts';
import { metaValueOrInit } from '../../src/store/meta.ts';
import {
  claimDueOutbox,
  finishOutbox,
  insertOutbox,
  type NewOutboxRow,
  pendingOutboxByChannel,
  retryOutboxLater,
} from '../../src/store/outbox.ts';
import { countPasswordChangesSince, insertPasswordChange } from '../../src/store/password-changes.ts';
import {
  consumeCode,
  findCodeByTokenHash,
  findLatestLiveCode,
  findLiveFlowCode,
  flowHasCode,
  insertRecoveryCode,
  type RecoveryCode,
  replaceCode,
  returnCodeAttempt,
  supersedeCodes,
  takeCodeAttempt,
  takeCodeAttempts,
  voidAccountCodes,
} from '../../src/store/recovery-codes.ts';
import {
  endAccountSession,
  endAccountSessions,
  endSession,
  insertSession,
  listLiveSessions,
  type Session,
  sessionLookupQuery,
  sessionLookupRow,
  setSessionTokenHash,
  touchSession,
} from '../../src/store/sessions.ts';
import {
  clearFailures,
  deleteForgottenFailures,
  readFailures,
  reserveFailure,
} from '../../src/store/sign-in-failures.ts';
import { deleteExpiredNonces, useNonce } from '../../src/store/used-nonces.ts';
import { engines } from '../support/engines.ts';

// Every function of the per-table store modules, on both engines: one query text must behave
// alike on SQLite and PostgreSQL. The flows' tests cover the policy built on them.

const T0 = 1_767_225_600_000;
const HOUR = 3_600_000;
let seq = 0;
const uid = (prefix: string) => `${prefix}_${++seq}_${Math.random().toString(36).slice(2, 8)}`;

function session(account: Account, over: Partial<Session> = {}): Session {
  const id = uid('ses');
  return {
    id,
    account_id: account.id,
    token_hash: `hash_${id}`,
    created_at: T0,
    last_seen_at: T0,
    expires_at: T0 + 24 * HOUR,
    auth_at: T0,
    amr: '["pwd"]',
    method: 'password',
    ip: '192.0.2.1',
    user_agent: 'test agent',
    ...over,
  };
}

function code(account: Account, over: Partial<RecoveryCode> = {}): RecoveryCode {
  const id = uid('rc');
  return {
    id,
    account_id: account.id,
    method: 'email_link',
    flow_id: uid('flow'),
    token_hash: `tok_${id}`,
    code_hash: `code_${id}`,
    expires_at: T0 + HOUR,
    failed_attempts: 0,
    resends: 0,
    used_at: null,
    target: null,
    created_at: T0,
    ...over,
  };
}

function message(over: Partial<NewOutboxRow> = {}): NewOutboxRow {
  return {
    id: uid('out'),
    channel: 'email',
    kind: 'test',
    recipient: 'someone@example.test',
    subject: 'Subject',
    body_text: 'secret link https://x.test/r/abc',
    body_html: '<p>secret</p>',
    payload: null,
    ...over,
  };
}

for (const engine of engines) {
  describe(`per-table store modules on ${engine.name}`, () => {
    let store: Store | undefined;
    let cleanup: (() => Promise<void>) | undefined;
    before(async () => {
      const opened = await engine.open();
      if (!opened) return;
      cleanup = opened.cleanup;
      store = openStore(opened.url);
      await migrate(store);
      await store.db
        .insertInto('organizations')
        .values({
          id: 'org_tables',
          slug: 'tables',
          name: 'Tables',
          display_name: 'Tables',
          support_contact: null,
          recovery_settings: '{}',
          created_at: T0,
        })
        .execute();
    });
    after(async () => {
      await store?.close();
      await cleanup?.();
    });

    const it = (name: string, fn: (s: Store) => Promise<void>) =>
      test(name, async (t) => {
        if (!store) {
          t.skip(`${engine.name} is not available`);
          return;
        }
        await fn(store);
      });

    async function newAccount(s: Store): Promise<Account> {
      const username = uid('user');
      const row = newAccountRow({
        id: uid('acc'),
        org_id: 'org_tables',
        username,
        email: `${username}@example.test`,
        status: 'active',
        password_hash: null,
        created_at: T0,
      });
      await s.db.insertInto('accounts').values(row).execute();
      return row;
    }

    const sessionRow = (s: Store, id: string) =>
      s.db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
    const outboxRow = (s: Store, id: string) =>
      s.db.selectFrom('outbox').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

    // --- sessions

    it('SES-01 a stored session is found by its token hash with its account, in one prepared read', async (s) => {
      const a = await newAccount(s);
      const ses = session(a);
      await insertSession(s.db, ses);
      const lookup = s.preparedRead(sessionLookupQuery(s.db));
      const rows = await lookup([ses.token_hash]);
      assert.equal(rows.length, 1);
      assert.deepEqual(sessionLookupRow(rows[0] as unknown[]), { session: ses, account: a });
      assert.deepEqual(await lookup(['unknown']), []);
      assert.deepEqual(await lookup([ses.id]), [], 'found by the hash only, never by the id');
      // inside a transaction too (the sign-in writes its session there)
      const inTrx = session(a);
      await s.db.transaction().execute((trx) => insertSession(trx, inTrx));
      assert.equal((await lookup([inTrx.token_hash])).length, 1);
    });

    it('SES-05 touching a session moves its last use, seen by the lookup at once', async (s) => {
      const a = await newAccount(s);
      const ses = session(a);
      await insertSession(s.db, ses);
      const lookup = s.preparedRead(sessionLookupQuery(s.db));
      await lookup([ses.token_hash]);
      await touchSession(s.db, ses.id, T0 + HOUR);
      assert.equal((await sessionRow(s, ses.id))?.last_seen_at, T0 + HOUR);
      const [row] = await lookup([ses.token_hash]);
      assert.equal(sessionLookupRow(row as unknown[]).session.last_seen_at, T0 + HOUR);
    });

    it('SES-06 a new token hash replaces the old one: the old token finds nothing', async (s) => {
      const a = await newAccount(s);
      const ses = session(a);
      await insertSession(s.db, ses);
      const lookup = s.preparedRead(sessionLookupQuery(s.db));
      await s.db.transaction().execute((trx) => setSessionTokenHash(trx, ses.id, 'rotated_hash'));
      assert.deepEqual(await lookup([ses.token_hash]), []);
      assert.equal(sessionLookupRow((await lookup(['rotated_hash']))[0] as unknown[]).session.id, ses.id);
    });

    it('SES-05 SES-08 the list holds the live sessions of one account only, last used first', async (s) => {
      const a = await newAccount(s);
      const other = await newAccount(s);
      const now = T0 + 10 * HOUR;
      const idle = 2 * HOUR;
      const older = session(a, { last_seen_at: now - HOUR });
      const newer = session(a, { last_seen_at: now - 1 });
      const expired = session(a, { last_seen_at: now - 1, expires_at: now });
      const idled = session(a, { last_seen_at: now - idle });
      for (const x of [older, expired, newer, idled, session(other, { last_seen_at: now })])
        await insertSession(s.db, x);
      const listed = await listLiveSessions(s.db, a.id, now, now - idle);
      assert.deepEqual(
        listed.map((x) => x.id),
        [newer.id, older.id],
      );
      assert.deepEqual(listed[0], newer, 'whole rows, times as numbers');
    });

    it('SES-04 SES-08 ending one session: by id, or only among the account’s own', async (s) => {
      const a = await newAccount(s);
      const b = await newAccount(s);
      const mine = session(a);
      const theirs = session(b);
      const third = session(a);
      for (const x of [mine, theirs, third]) await insertSession(s.db, x);
      assert.equal(await endAccountSession(s.db, a.id, theirs.id), false, 'another account’s session is not found');
      assert.ok(await sessionRow(s, theirs.id), 'and stays');
      assert.equal(await endAccountSession(s.db, a.id, mine.id), true);
      assert.equal(await sessionRow(s, mine.id), undefined);
      assert.equal(await endAccountSession(s.db, a.id, mine.id), false, 'already gone');
      await endSession(s.db, third.id);
      assert.equal(await sessionRow(s, third.id), undefined);
      assert.ok(await sessionRow(s, theirs.id));
    });

    it('SES-06 REC-09 ending every session of an account, but the one kept, counts them', async (s) => {
      const a = await newAccount(s);
      const b = await newAccount(s);
      const keep = session(a);
      const others = [session(a), session(a)];
      const stranger = session(b);
      for (const x of [keep, ...others, stranger]) await insertSession(s.db, x);
      const ended = await s.db.transaction().execute((trx) => endAccountSessions(trx, a.id, keep.id));
      assert.equal(ended, 2);
      assert.ok(await sessionRow(s, keep.id));
      for (const x of others) assert.equal(await sessionRow(s, x.id), undefined);
      assert.ok(await sessionRow(s, stranger.id), 'another account keeps its sessions');
      assert.equal(await endAccountSessions(s.db, a.id), 1, 'without a kept one, every session ends');
      assert.equal(await sessionRow(s, keep.id), undefined);
      assert.equal(await endAccountSessions(s.db, a.id), 0);
    });

    // --- outbox (DESIGN principle 4: every side effect leaves through it)

    it('a queued message and a queued job are pending, due at once, with no attempt yet', async (s) => {
      const msg = message();
      const job = message({
        channel: 'job',
        kind: 'some_job',
        subject: '',
        body_text: '',
        body_html: '',
        payload: '{"a":1}',
      });
      await insertOutbox(s.db, msg, T0);
      await s.db.transaction().execute((trx) => insertOutbox(trx, job, T0 + 1));
      assert.deepEqual(await outboxRow(s, msg.id), {
        ...msg,
        status: 'pending',
        attempts: 0,
        next_attempt_at: T0,
        locked_by: null,
        locked_until: null,
        last_error: null,
        created_at: T0,
        sent_at: null,
      });
      const j = await outboxRow(s, job.id);
      assert.equal(j.payload, '{"a":1}');
      assert.equal(j.next_attempt_at, T0 + 1);
      // leave the table empty for the claims below
      await finishOutbox(s.db, msg.id, 'sent', T0, null);
      await finishOutbox(s.db, job.id, 'sent', T0, null);
    });

    it('a claim leases the due rows, oldest first, at most the limit, and counts an attempt', async (s) => {
      const now = T0 + 100 * HOUR;
      // due 3, 1 and 2 ms ago
      for (const ago of [3, 1, 2]) await insertOutbox(s.db, message({ kind: `claim${ago}` }), now - ago);
      const later = message({ kind: 'later' });
      await insertOutbox(s.db, later, now + 1);
      const claim = { now, workerId: 'w1', leaseMs: 1000, limit: 2 };
      const first = await claimDueOutbox(s.db, s.engine, claim);
      assert.deepEqual(first.map((r) => r.kind).sort(), ['claim2', 'claim3'], 'the two due the longest');
      for (const r of first) {
        assert.equal(r.attempts, 1);
        assert.equal(r.locked_by, 'w1');
        assert.equal(r.locked_until, now + 1000);
        assert.equal(r.body_text, 'secret link https://x.test/r/abc', 'the whole row, to deliver');
      }
      const second = await claimDueOutbox(s.db, s.engine, { ...claim, workerId: 'w2' });
      assert.deepEqual(
        second.map((r) => r.kind),
        ['claim1'],
        'leased rows are not claimed again; a row not yet due is left',
      );
      assert.deepEqual(await claimDueOutbox(s.db, s.engine, { ...claim, workerId: 'w2' }), []);
      // a lease that ran out (its worker died) is taken over, counting another attempt
      const takeover = await claimDueOutbox(s.db, s.engine, {
        now: now + 1001,
        workerId: 'w3',
        leaseMs: 1000,
        limit: 10,
      });
      assert.deepEqual(takeover.map((r) => r.kind).sort(), ['claim1', 'claim2', 'claim3', 'later']);
      const byKind = new Map(takeover.map((r) => [r.kind, r]));
      assert.equal(byKind.get('claim3')?.attempts, 2);
      assert.equal(byKind.get('later')?.attempts, 1);
      for (const r of takeover) await finishOutbox(s.db, r.id, 'sent', now, null);
      assert.deepEqual(
        await claimDueOutbox(s.db, s.engine, { ...claim, now: now + 10 * HOUR }),
        [],
        'sent rows are never claimed',
      );
    });

    it('a retry releases the row for later, only for the worker holding it', async (s) => {
      const now = T0 + 200 * HOUR;
      const msg = message();
      await insertOutbox(s.db, msg, now);
      const [claimed] = await claimDueOutbox(s.db, s.engine, { now, workerId: 'w1', leaseMs: 1000, limit: 10 });
      assert.equal(claimed?.id, msg.id);
      await retryOutboxLater(s.db, msg.id, 'someone else', now + 5, 'nope');
      assert.equal((await outboxRow(s, msg.id)).locked_by, 'w1', 'a worker that lost the lease changes nothing');
      await retryOutboxLater(s.db, msg.id, 'w1', now + 5000, '421 try later');
      const r = await outboxRow(s, msg.id);
      assert.deepEqual(
        [r.status, r.next_attempt_at, r.locked_by, r.locked_until, r.last_error, r.attempts],
        ['pending', now + 5000, null, null, '421 try later', 1],
      );
      assert.deepEqual(
        await claimDueOutbox(s.db, s.engine, { now: now + 4999, workerId: 'w2', leaseMs: 1000, limit: 10 }),
        [],
      );
      const [again] = await claimDueOutbox(s.db, s.engine, {
        now: now + 5000,
        workerId: 'w2',
        leaseMs: 1000,
        limit: 10,
      });
      assert.equal(again?.attempts, 2);
      await finishOutbox(s.db, msg.id, 'failed', now + 5000, 'gave up');
    });

    it('a finished row is sent or failed for good, released, and scrubbed of body and payload', async (s) => {
      const now = T0 + 300 * HOUR;
      const sent = message();
      const failed = message({ channel: 'job', payload: '{"token":"x"}' });
      await insertOutbox(s.db, sent, now);
      await insertOutbox(s.db, failed, now);
      await claimDueOutbox(s.db, s.engine, { now, workerId: 'w1', leaseMs: 1000, limit: 10 });
      await finishOutbox(s.db, sent.id, 'sent', now + 7, null);
      await finishOutbox(s.db, failed.id, 'failed', now + 7, 'no transport');
      const a = await outboxRow(s, sent.id);
      assert.deepEqual(
        [a.status, a.sent_at, a.body_text, a.body_html, a.payload, a.locked_by, a.locked_until, a.last_error],
        ['sent', now + 7, '', '', null, null, null, null],
      );
      assert.equal(a.subject, 'Subject', 'the subject and recipient stay, for the record');
      const b = await outboxRow(s, failed.id);
      assert.deepEqual(
        [b.status, b.sent_at, b.body_text, b.body_html, b.payload, b.locked_by, b.last_error],
        ['failed', null, '', '', null, null, 'no transport'],
      );
    });

    it('the outbox depth counts pending rows per channel', async (s) => {
      assert.deepEqual(await pendingOutboxByChannel(s.db), {}, 'every earlier row is finished');
      const job = message({ channel: 'job' });
      const rows = [message(), message(), message({ channel: 'sms' }), job];
      for (const r of rows) await insertOutbox(s.db, r, T0);
      await finishOutbox(s.db, job.id, 'sent', T0, null);
      assert.deepEqual(await pendingOutboxByChannel(s.db), { email: 2, sms: 1 });
      for (const r of rows) await finishOutbox(s.db, r.id, 'sent', T0, null);
    });

    // --- recovery codes (REC-01..REC-09, OTP-03, OTP-04)

    const codeRow = (s: Store, id: string) =>
      s.db.selectFrom('recovery_codes').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

    it('REC-01 a stored code is found by its token hash only, and marks its flow as issued', async (s) => {
      const a = await newAccount(s);
      const c = code(a);
      await s.db.transaction().execute((trx) => insertRecoveryCode(trx, c));
      assert.deepEqual(await findCodeByTokenHash(s.db, c.token_hash as string), c, 'the whole row, times as numbers');
      assert.equal(await findCodeByTokenHash(s.db, c.code_hash as string), undefined);
      assert.equal(await findCodeByTokenHash(s.db, 'unknown'), undefined);
      assert.equal(await flowHasCode(s.db, c.flow_id), true);
      assert.equal(await flowHasCode(s.db, 'no-such-flow'), false);
      await voidAccountCodes(s.db, a.id, T0 + 1);
      assert.equal(await flowHasCode(s.db, c.flow_id), true, 'a used code still marks its flow');
    });

    it('REC-02 REC-09 superseding ends the live codes of the methods named; a password change ends all', async (s) => {
      const a = await newAccount(s);
      const b = await newAccount(s);
      const link = code(a);
      const sms = code(a, { method: 'sms_otp' });
      const phone = code(a, { method: 'phone_verify' });
      const used = code(a, { used_at: T0 - 5 });
      const theirs = code(b);
      for (const c of [link, sms, phone, used, theirs]) await insertRecoveryCode(s.db, c);
      await s.db.transaction().execute((trx) => supersedeCodes(trx, a.id, ['email_link', 'sms_otp'], T0 + 1));
      assert.equal((await codeRow(s, link.id)).used_at, T0 + 1);
      assert.equal((await codeRow(s, sms.id)).used_at, T0 + 1);
      assert.equal((await codeRow(s, phone.id)).used_at, null, 'another method keeps its code');
      assert.equal((await codeRow(s, used.id)).used_at, T0 - 5, 'a used code keeps its time');
      assert.equal((await codeRow(s, theirs.id)).used_at, null, 'another account keeps its codes');
      await s.db.transaction().execute((trx) => voidAccountCodes(trx, a.id, T0 + 2));
      assert.equal((await codeRow(s, phone.id)).used_at, T0 + 2);
      assert.equal((await codeRow(s, link.id)).used_at, T0 + 1);
      assert.equal((await codeRow(s, theirs.id)).used_at, null);
    });

    it('OTP-05 the newest live code of an account and method is found; used, expired and others are not', async (s) => {
      const a = await newAccount(s);
      const now = T0 + 10;
      const older = code(a, { method: 'phone_verify', created_at: T0 });
      const newer = code(a, { method: 'phone_verify', created_at: T0 + 1 });
      const newest = [
        code(a, { method: 'phone_verify', created_at: T0 + 2, used_at: T0 + 3 }),
        code(a, { method: 'phone_verify', created_at: T0 + 2, expires_at: now }),
        code(a, { method: 'sms_otp', created_at: T0 + 2 }),
      ];
      for (const c of [older, newer, ...newest]) await insertRecoveryCode(s.db, c);
      assert.deepEqual(await findLatestLiveCode(s.db, a.id, 'phone_verify', now), newer);
      assert.equal(await findLatestLiveCode(s.db, a.id, 'phone_verify', T0 + HOUR), undefined, 'all expired');
      assert.equal(await findLatestLiveCode(s.db, 'nobody', 'phone_verify', now), undefined);
    });

    it('OTP-03 a live code of a flow is found only among the methods named', async (s) => {
      const a = await newAccount(s);
      const c = code(a, { method: 'email_otp', token_hash: null });
      await insertRecoveryCode(s.db, c);
      assert.deepEqual(await findLiveFlowCode(s.db, c.flow_id, ['email_otp', 'sms_otp'], T0), c);
      assert.equal(await findLiveFlowCode(s.db, c.flow_id, ['sms_otp'], T0), undefined);
      assert.equal(await findLiveFlowCode(s.db, c.flow_id, ['email_otp'], c.expires_at), undefined, 'expired');
      assert.equal(await findLiveFlowCode(s.db, 'other-flow', ['email_otp'], T0), undefined);
      await consumeCode(s.db, c.id, T0, { unexpired: true });
      assert.equal(await findLiveFlowCode(s.db, c.flow_id, ['email_otp'], T0), undefined, 'used');
    });

    it('REC-06 OTP-03 a try takes one attempt from each live code it may match, never past the limit', async (s) => {
      const a = await newAccount(s);
      const now = T0 + 1;
      const link = code(a);
      const bound = code(a, { method: 'email_otp', token_hash: null });
      const linkOnly = code(a, { code_hash: null });
      const expired = code(a, { expires_at: now });
      const dead = code(a, { failed_attempts: 5 });
      const other = code(a, { method: 'phone_verify' });
      for (const c of [link, bound, linkOnly, expired, dead, other]) await insertRecoveryCode(s.db, c);
      const attempt = {
        accountId: a.id,
        now,
        maxAttempts: 5,
        methods: ['email_link', 'email_otp'],
        boundMethods: ['email_otp'],
        flow: '',
      };
      const sorted = (rows: { id: string }[]) => rows.map((r) => r.id).sort();
      const tried = await s.db.transaction().execute((trx) => takeCodeAttempts(trx, attempt));
      assert.deepEqual(tried, [{ id: link.id, code_hash: link.code_hash, method: 'email_link' }]);
      assert.deepEqual(
        sorted(await takeCodeAttempts(s.db, { ...attempt, flow: bound.flow_id })),
        sorted([link, bound]),
        'a bound code only within its own flow',
      );
      assert.deepEqual(
        await takeCodeAttempts(s.db, { ...attempt, flow: 'another-flow' }),
        [link].map((c) => ({
          id: c.id,
          code_hash: c.code_hash,
          method: 'email_link',
        })),
      );
      assert.equal((await codeRow(s, link.id)).failed_attempts, 3);
      assert.equal((await codeRow(s, bound.id)).failed_attempts, 1);
      for (const c of [linkOnly, expired, dead, other])
        assert.equal((await codeRow(s, c.id)).failed_attempts, c.failed_attempts, 'untouched');
      // Concurrent tries: no more than the limit between them.
      const burst = await Promise.all([1, 2, 3, 4].map(() => takeCodeAttempts(s.db, attempt)));
      assert.equal(burst.filter((r) => r.length === 1).length, 2, 'the link code had two tries left');
      assert.equal((await codeRow(s, link.id)).failed_attempts, 5);
      assert.deepEqual(await takeCodeAttempts(s.db, { ...attempt, accountId: '' }), [], 'no account, no row');
      // A matching try gives its attempt back.
      await returnCodeAttempt(s.db, link.id);
      assert.equal((await codeRow(s, link.id)).failed_attempts, 4);
    });

    it('OTP-04 one code’s attempts are taken one at a time, up to the limit', async (s) => {
      const a = await newAccount(s);
      const c = code(a, { method: 'phone_verify', failed_attempts: 4 });
      await insertRecoveryCode(s.db, c);
      assert.equal(await takeCodeAttempt(s.db, c.id, 5), true);
      assert.equal(await takeCodeAttempt(s.db, c.id, 5), false, 'the fifth was the last');
      assert.equal((await codeRow(s, c.id)).failed_attempts, 5);
      const used = code(a, { used_at: T0 });
      await insertRecoveryCode(s.db, used);
      assert.equal(await takeCodeAttempt(s.db, used.id, 5), false, 'a used code has no attempts');
    });

    it('REC-02 OTP-03 a code is consumed once, and not after it expired when that is asked', async (s) => {
      const a = await newAccount(s);
      const c = code(a);
      const late = code(a);
      const phone = code(a, { method: 'phone_verify' });
      for (const x of [c, late, phone]) await insertRecoveryCode(s.db, x);
      const [x, y] = await Promise.all([
        consumeCode(s.db, c.id, T0 + 1, { unexpired: true }),
        consumeCode(s.db, c.id, T0 + 2, { unexpired: true }),
      ]);
      assert.deepEqual([x, y].sort(), [false, true], 'exactly one caller wins');
      assert.equal((await codeRow(s, c.id)).used_at, x ? T0 + 1 : T0 + 2);
      assert.equal(await consumeCode(s.db, late.id, late.expires_at, { unexpired: true }), false);
      assert.equal((await codeRow(s, late.id)).used_at, null);
      assert.equal(
        await s.db.transaction().execute((trx) => consumeCode(trx, phone.id, phone.expires_at, { unexpired: false })),
        true,
      );
      assert.equal((await codeRow(s, phone.id)).used_at, phone.expires_at);
    });

    it('OTP-04 a resend replaces the code in place, counts it, keeps the failures, and wins once', async (s) => {
      const a = await newAccount(s);
      const c = code(a, { method: 'sms_otp', token_hash: null, failed_attempts: 2, target: '+15550000001' });
      await insertRecoveryCode(s.db, c);
      const fresh = { code_hash: 'new_hash', expires_at: T0 + 2 * HOUR, target: '+15550000002' };
      assert.equal(await s.db.transaction().execute((trx) => replaceCode(trx, c, fresh)), true);
      assert.deepEqual(await codeRow(s, c.id), { ...c, ...fresh, resends: 1 });
      assert.equal(await replaceCode(s.db, c, { ...fresh, code_hash: 'again' }), false, 'read before the resend');
      assert.equal((await codeRow(s, c.id)).code_hash, 'new_hash');
      await consumeCode(s.db, c.id, T0, { unexpired: true });
      assert.equal(await replaceCode(s.db, { id: c.id, resends: 1 }, fresh), false, 'a used code is not resent');
    });

    // --- the other tables

    it('the dev mailbox lists the newest messages first, at most the limit, and finds one by id', async (s) => {
      const mails = [1, 3, 2].map((i) => ({
        id: uid('mail'),
        channel: i === 2 ? 'sms' : 'email',
        recipient: `r${i}@example.test`,
        subject: `Mail ${i}`,
        body_text: `text ${i}`,
        body_html: i === 1 ? '<p>1</p>' : '',
        created_at: T0 + i,
      }));
      for (const m of mails) await insertDevMail(s.db, m);
      assert.deepEqual(
        (await listDevMail(s.db, 10)).map((m) => m.subject),
        ['Mail 3', 'Mail 2', 'Mail 1'],
      );
      assert.deepEqual(
        (await listDevMail(s.db, 2)).map((m) => m.subject),
        ['Mail 3', 'Mail 2'],
      );
      for (const m of mails) assert.deepEqual(await findDevMail(s.db, m.id), m);
      assert.equal(await findDevMail(s.db, 'nope'), undefined);
    });

    it('LOG-01 audit records are appended and read back per account, newest first, only the events asked for', async (s) => {
      const a = await newAccount(s);
      const record = (event: string, at: number, accountId: string | null = a.id) => ({
        id: uid('aud'),
        at,
        event,
        account_id: accountId,
        actor_id: null,
        ip: '192.0.2.9',
        user_agent: 'agent',
        correlation_id: 'req-1',
        details: null,
      });
      const rows = [
        record('sign_in.succeeded', T0 + 1),
        record('sign_in.failed', T0 + 3),
        record('internal.only', T0 + 4),
        record('sign_in.succeeded', T0 + 2),
        record('sign_in.succeeded', T0 + 5, null),
      ];
      for (const r of rows) await insertAuditRow(s.db, r);
      await s.db.transaction().execute((trx) => insertAuditRow(trx, record('session.ended', T0 + 6)));
      const stored = await s.db
        .selectFrom('audit_log')
        .selectAll()
        .where(
          'id',
          'in',
          rows.map((r) => r.id),
        )
        .orderBy('at')
        .execute();
      assert.deepEqual(
        stored,
        [...rows].sort((x, y) => x.at - y.at),
      );
      const events = ['sign_in.succeeded', 'sign_in.failed', 'session.ended'];
      assert.deepEqual(
        (await recentAuditEvents(s.db, a.id, events, 10)).map((r) => [r.event, r.at]),
        [
          ['session.ended', T0 + 6],
          ['sign_in.failed', T0 + 3],
          ['sign_in.succeeded', T0 + 2],
          ['sign_in.succeeded', T0 + 1],
        ],
      );
      assert.deepEqual(await recentAuditEvents(s.db, a.id, events, 1), [
        { at: T0 + 6, event: 'session.ended', ip: '192.0.2.9', user_agent: 'agent', details: null },
      ]);
    });

    it('a meta value is stored once: later initial values never replace it', async (s) => {
      assert.equal(await metaValueOrInit(s.db, 'test_key', 'first'), 'first');
      assert.equal(await metaValueOrInit(s.db, 'test_key', 'second'), 'first');
      const [x, y] = await Promise.all([metaValueOrInit(s.db, 'race', 'a'), metaValueOrInit(s.db, 'race', 'b')]);
      assert.equal(x, y, 'two starts at once agree');
    });

    it('LOG-04 completed password changes are counted per account after a time', async (s) => {
      const a = await newAccount(s);
      const b = await newAccount(s);
      for (const at of [T0 + 1, T0 + 2, T0 + 3])
        await insertPasswordChange(s.db, { id: uid('pwc'), account_id: a.id, kind: 'reset', at });
      await insertPasswordChange(s.db, { id: uid('pwc'), account_id: b.id, kind: 'change', at: T0 + 3 });
      assert.equal(await countPasswordChangesSince(s.db, a.id, T0), 3);
      assert.equal(await countPasswordChangesSince(s.db, a.id, T0 + 1), 2, 'strictly after');
      assert.equal(await countPasswordChangesSince(s.db, a.id, T0 + 3), 0);
      assert.equal(await countPasswordChangesSince(s.db, 'nobody', 0), 0);
    });

    it('BF-01 a run of sign-in failures is counted in place, read, cleared, and swept once forgotten', async (s) => {
      const [a, b, c] = [uid('a:run'), uid('i:run'), uid('i:run')];
      assert.deepEqual(await reserveFailure(s.db, a, T0, T0 - HOUR), { failures: 1, prevAt: 0 });
      const parallel = await Promise.all([1, 2, 3].map((i) => reserveFailure(s.db, a, T0 + i, T0 - HOUR)));
      assert.deepEqual(parallel.map((r) => r.failures).sort(), [2, 3, 4], 'each attempt gets its own place');
      // The run's time is the last counted attempt's, whichever of the three the database took last.
      const last = T0 + 1 + parallel.findIndex((r) => r.failures === 4);
      assert.deepEqual(await readFailures(s.db, a, T0), { failures: 4, lastAt: last });
      await reserveFailure(s.db, b, T0 + 10, T0 - HOUR);
      await reserveFailure(s.db, c, T0 + 20, T0 - HOUR);
      // Older than the memory: the run starts over (and reads as none).
      assert.deepEqual(await readFailures(s.db, a, T0 + 4), { failures: 0, lastAt: 0 });
      assert.equal(await deleteForgottenFailures(s.db, T0 + 10), 1, 'only the run last added to before the cut goes');
      const left = await s.db
        .selectFrom('sign_in_failures')
        .select('key')
        .where('key', 'in', [a, b, c])
        .orderBy('key')
        .execute();
      assert.deepEqual(
        left.map((r) => r.key),
        [b, c].sort(),
      );
      await clearFailures(s.db, b);
      assert.deepEqual(await readFailures(s.db, b, 0), { failures: 0, lastAt: 0 });
      assert.deepEqual(
        await reserveFailure(s.db, c, T0 + HOUR * 3, T0 + HOUR),
        { failures: 1, prevAt: 0 },
        'a forgotten run starts over',
      );
    });

    it('BF-04 a nonce is used once until it expires and is swept', async (s) => {
      assert.equal(await useNonce(s.db, 'test:n1', T0 + 10), true);
      assert.equal(await useNonce(s.db, 'test:n1', T0 + 99), false, 'a replay');
      assert.equal(await useNonce(s.db, 'test:n2', T0 + 20), true);
      await deleteExpiredNonces(s.db, T0 + 10);
      assert.equal(await useNonce(s.db, 'test:n1', T0 + 30), false, 'not expired before its time');
      await deleteExpiredNonces(s.db, T0 + 15);
      assert.equal(await useNonce(s.db, 'test:n1', T0 + 30), true, 'swept, then usable again');
      assert.equal(await useNonce(s.db, 'test:n2', T0 + 30), false, 'a later nonce stays');
    });
  });
}
