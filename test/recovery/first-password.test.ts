import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SmtpReceiver, linkIn } from '../support/smtp.ts';
import { startTestServer, strongPassword, type TestServer } from '../support/server.ts';
import { activeAccount } from './helpers.ts';

// Issue 5: an account created from an external sign-in has no password; "Forgot password" sets
// its first one, and the mail says so.
describe('forgot password on an account without a password', () => {
  let server: TestServer;
  const smtp = new SmtpReceiver();
  before(async () => {
    await smtp.start();
    server = await startTestServer({ LATCHKEY_SMTP_URL: smtp.url });
  });
  after(async () => {
    await server?.close();
    await smtp.stop();
  });

  test('the mail offers a first password, and the link sets it', async () => {
    const acct = await activeAccount(server, smtp, 'nopass1');
    // what an external sign-in leaves behind: an active account with no password hash
    await server.deps.db.updateTable('accounts').set({ password_hash: null }).where('username_key', '=', 'nopass1').execute();
    const c = server.client();
    assert.equal((await c.post('/api/v1/password-resets', { identifier: acct.email })).status, 202);
    const mail = await smtp.waitFor((m) => m.to.includes(acct.email) && /Set a password/.test(m.subject));
    assert.match(mail.text, /has none yet/);
    const token = new URL(linkIn(mail, '/auth/reset/code?token=')).searchParams.get('token');
    const password = strongPassword();
    const done = await c.post('/api/v1/password-resets/complete', { token, password });
    assert.equal(done.status, 200, done.text);
    assert.equal((await c.post('/api/v1/sessions', { identifier: acct.username, password })).status, 201);
  });
});
