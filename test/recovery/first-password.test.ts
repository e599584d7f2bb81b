import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { withServer } from '../support/fixture.ts';
import { strongPassword } from '../support/server.ts';
import { linkIn } from '../support/smtp.ts';
import { activeAccount } from './helpers.ts';

// Issue 5: an account created from an external sign-in has no password; "Forgot password" sets
// its first one, and the mail says so.
describe('forgot password on an account without a password', () => {
  const fx = withServer({ smtp: true });

  test('the mail offers a first password, and the link sets it', async () => {
    const acct = await activeAccount(fx.server, fx.smtp, 'nopass1');
    // what an external sign-in leaves behind: an active account with no password hash
    await fx.server.deps.db
      .updateTable('accounts')
      .set({ password_hash: null })
      .where('username_key', '=', 'nopass1')
      .execute();
    const c = fx.server.client();
    assert.equal((await c.post('/api/v1/password-resets', { identifier: acct.email })).status, 202);
    const mail = await fx.mail(acct.email, /Set a password/);
    assert.match(mail.text, /has none yet/);
    const token = new URL(linkIn(mail, '/auth/reset/code?token=')).searchParams.get('token');
    const password = strongPassword();
    const done = await c.post('/api/v1/password-resets/complete', { token, password });
    assert.equal(done.status, 200, done.text);
    assert.equal((await c.post('/api/v1/sessions', { identifier: acct.username, password })).status, 201);
  });
});
