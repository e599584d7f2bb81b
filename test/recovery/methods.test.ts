import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { RECOVERY_METHODS } from '../../src/deps.ts';
import { type RecoveryMethod, recoveryCodeHash } from '../../src/flows/recovery/method.ts';
import { newId } from '../../src/security/random.ts';
import { withServer } from '../support/fixture.ts';
import { strongPassword } from '../support/server.ts';
import { activeAccount, isResetMail } from './helpers.ts';

// The method seam that email/SMS OTP plug into: a method only writes its hashed secret and
// queues its message; the flow does everything else, identically for every method.
describe('recovery methods plug into one flow', () => {
  const FIXED_CODE = '98765432';
  const probe: RecoveryMethod = {
    id: 'probe_code',
    label: 'Probe me a code',
    byDefault: true,
    page: { intro: 'Enter your username or email address. We will probe you.' },
    canDeliver: (account) => account.username.startsWith('probe'),
    async issue(d, trx, account, flowId) {
      const now = d.clock.now();
      await trx
        .insertInto('recovery_codes')
        .values({
          id: newId(d.random),
          account_id: account.id,
          method: 'probe_code',
          flow_id: flowId,
          token_hash: null,
          code_hash: recoveryCodeHash(d, account.id, FIXED_CODE),
          expires_at: now + 60_000,
          failed_attempts: 0,
          resends: 0,
          used_at: null,
          target: null,
          created_at: now,
        })
        .execute();
    },
  };

  // The probe is one more method in this server's registry, enabled and used by default next
  // to the email link.
  const fx = withServer({ smtp: true, overrides: { recoveryMethods: [...RECOVERY_METHODS, probe] } });
  before(async () => {
    await fx.server.deps.db
      .updateTable('organizations')
      .set({ recovery_settings: JSON.stringify({ methods: ['email_link', 'probe_code'] }) })
      .where('slug', '=', 'default')
      .execute();
  });

  test("REC-02 a selected method issues in the same flow; its code completes the reset and ends the other method's link", async () => {
    const a = await activeAccount(fx.server, fx.smtp, 'probeuser');
    const res = await fx.server.client().post('/api/v1/password-resets', { identifier: a.username });
    assert.equal(res.status, 202);
    await fx.smtp.waitFor(isResetMail(a.email));
    const db = fx.server.deps.db;
    const acct = await db
      .selectFrom('accounts')
      .select('id')
      .where('username', '=', a.username)
      .executeTakeFirstOrThrow();
    const rows = await db.selectFrom('recovery_codes').selectAll().where('account_id', '=', acct.id).execute();
    assert.deepEqual(rows.map((r) => r.method).sort(), ['email_link', 'probe_code']);
    assert.equal(new Set(rows.map((r) => r.flow_id)).size, 1, 'one flow');
    const done = await fx.server.client().post('/api/v1/password-resets/complete', {
      identifier: a.username,
      code: FIXED_CODE,
      password: strongPassword(),
    });
    assert.equal(done.status, 200, done.text);
    const live = await db
      .selectFrom('recovery_codes')
      .select('id')
      .where('account_id', '=', acct.id)
      .where('used_at', 'is', null)
      .execute();
    assert.equal(live.length, 0);
  });

  test('a method that cannot reach the account is never used, whatever the organization enables', async () => {
    const a = await activeAccount(fx.server, fx.smtp, 'plainuser');
    await fx.server.client().post('/api/v1/password-resets', { identifier: a.username });
    await fx.smtp.waitFor(isResetMail(a.email));
    const db = fx.server.deps.db;
    const acct = await db
      .selectFrom('accounts')
      .select('id')
      .where('username', '=', a.username)
      .executeTakeFirstOrThrow();
    const rows = await db.selectFrom('recovery_codes').select('method').where('account_id', '=', acct.id).execute();
    assert.deepEqual(
      rows.map((r) => r.method),
      ['email_link'],
    );
  });
});
