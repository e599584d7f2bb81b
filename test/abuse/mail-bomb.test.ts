import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { isResetMail } from '../recovery/helpers.ts';
import { withServer } from '../support/fixture.ts';
import { strongPassword } from '../support/server.ts';
import { createAccounts } from './helpers.ts';

describe('mail bombing through forgot-password', () => {
  const fx = withServer({
    smtp: true,
    env: {
      LATCHKEY_RATE_LIMIT_SCALE: '1',
      LATCHKEY_TRUSTED_PROXIES: '127.0.0.1',
    },
  });
  before(async () => {
    await createAccounts(fx.server, ['bombed'], strongPassword());
  });

  test('REC-06 ENUM-02 50 reset requests for one account in a minute: identical 202s, at most 5 mails', async () => {
    const answers: { status: number; text: string }[] = [];
    for (let i = 0; i < 50; i++) {
      const c = fx.server.client({ headers: { 'x-forwarded-for': `100.64.0.${i + 1}` } });
      answers.push(await c.post('/api/v1/password-resets', { identifier: i % 2 ? 'bombed' : 'bombed@example.test' }));
    }
    assert.ok(
      answers.every((r) => r.status === 202 && r.text === answers[0].text),
      'all 202 with the same body',
    );
    // An unknown identifier gets the very same answer.
    const unknown = await fx.server
      .client({ headers: { 'x-forwarded-for': '100.64.1.1' } })
      .post('/api/v1/password-resets', { identifier: 'nobody-home' });
    assert.equal(unknown.status, 202);
    assert.equal(unknown.text, answers[0].text);

    // Wait until the worker has run every request job, then count what was delivered.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const pending = await fx.server.deps.db
        .selectFrom('outbox')
        .select('id')
        .where('status', '=', 'pending')
        .execute();
      if (pending.length === 0) break;
      assert.ok(Date.now() < deadline, 'the outbox drains');
      await new Promise((r) => setTimeout(r, 200));
    }
    await fx.smtp.waitFor(isResetMail('bombed@example.test'));
    await new Promise((r) => setTimeout(r, 500));
    const delivered = fx.smtp.mails.filter(isResetMail('bombed@example.test')).length;
    assert.equal(delivered, 5, 'exactly the hourly cap of mails is delivered');
    const capped = await fx.server.deps.db
      .selectFrom('audit_log')
      .select('details')
      .where('event', '=', 'password.reset_requested')
      .execute();
    assert.equal(
      capped.filter((a) => /mail_cap/.test(a.details ?? '')).length,
      50 - delivered,
      'the rest were recorded as capped',
    );
  });
});
