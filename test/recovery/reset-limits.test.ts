import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { withServer } from '../support/fixture.ts';
import { strongPassword } from '../support/server.ts';
import { activeAccount, isResetMail } from './helpers.ts';

// The recovery flow against the real guard at its real limits (scale 1), with a CAPTCHA that
// accepts exactly one known solution: how the flow answers a missing or forged CAPTCHA, a used-up
// mail quota and a guessing client. The CAPTCHA providers themselves are tested in test/abuse.
const GOOD = 'a-valid-solution';

describe('forgot password under the real limits', () => {
  const fx = withServer({
    smtp: true,
    env: { LATCHKEY_RATE_LIMIT_SCALE: '1', LATCHKEY_RESET_MAIL_CAP: '2/1h' },
    overrides: { captcha: () => ({ widget: { provider: 'altcha' }, verify: async (s) => s === GOOD }) },
  });

  const outboxSize = async () => (await fx.server.deps.db.selectFrom('outbox').select('id').execute()).length;
  const answer = (r: { status: number; text: string }) => `${r.status} ${r.text}`;

  test('BF-04 a missing or forged CAPTCHA is refused the same way for every account, and queues nothing', async () => {
    const a = await activeAccount(fx.server, fx.smtp, 'captchauser', { captcha: GOOD });
    const before = await outboxSize();
    const missing = [];
    const forged = [];
    for (const identifier of [a.username, 'nosuchuser']) {
      missing.push(answer(await fx.server.client().post('/api/v1/password-resets', { identifier })));
      forged.push(answer(await fx.server.client().post('/api/v1/password-resets', { identifier, captcha: 'forged' })));
    }
    assert.equal(new Set(missing).size, 1);
    assert.equal(new Set(forged).size, 1);
    assert.match(missing[0], /^400 .*captcha_required/);
    assert.match(forged[0], /^400 .*captcha_invalid/);
    assert.equal(await outboxSize(), before);
    const page = await fx.server.client().get('/forgot-password', { accept: 'text/html' });
    assert.match(page.text, /altcha-widget/);
    const ok = await fx.server.client().post('/api/v1/password-resets', { identifier: a.username, captcha: GOOD });
    assert.equal(ok.status, 202);
    await fx.smtp.waitFor(isResetMail(a.email));
  });

  test('REC-06 past the hourly mail cap the answer is the same and no mail is sent', async () => {
    const a = await activeAccount(fx.server, fx.smtp, 'capuser', { captcha: GOOD });
    const answers = [];
    for (let i = 0; i < 4; i++)
      answers.push(
        answer(await fx.server.client().post('/api/v1/password-resets', { identifier: a.email, captcha: GOOD })),
      );
    assert.equal(new Set(answers).size, 1);
    assert.match(answers[0], /^202 /);
    await fx.smtp.waitFor(() => fx.smtp.mails.filter(isResetMail(a.email)).length >= 2);
    // every job has run once the outbox is empty of pending rows
    for (let i = 0; i < 100; i++) {
      const pending = await fx.server.deps.db
        .selectFrom('outbox')
        .select('id')
        .where('status', '=', 'pending')
        .execute();
      if (pending.length === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(fx.smtp.mails.filter(isResetMail(a.email)).length, 2);
  });

  test('REC-06 guessing codes is throttled per identifier with a 429 that says nothing about the account', async () => {
    const statusesFor = async (identifier: string) => {
      const out = [];
      for (let i = 0; i < 11; i++) {
        const r = await fx.server
          .client()
          .post('/api/v1/password-resets/complete', { identifier, code: '2222-2222', password: strongPassword() });
        out.push(r);
      }
      return out;
    };
    const known = await statusesFor('capuser');
    const unknown = await statusesFor('ghostuser');
    for (const rs of [known, unknown]) {
      assert.deepEqual(
        rs.slice(0, 10).map((r) => r.json.code),
        Array(10).fill('invalid_code'),
      );
      assert.equal(rs[10].status, 429);
    }
    assert.equal(known[10].text, unknown[10].text);
  });
});
