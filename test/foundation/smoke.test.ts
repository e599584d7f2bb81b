import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SmtpReceiver, codeIn, linkIn } from '../support/smtp.ts';
import { startTestServer, strongPassword, type TestServer } from '../support/server.ts';

describe('registration → activation → sign-in over real HTTP and SMTP', () => {
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

  test('a new user registers, activates with the mailed link, and signs in', async () => {
    const c = server.client();
    const password = strongPassword();
    const reg = await c.post('/api/v1/registrations', { username: 'smoke1', email: 'smoke1@example.test', password });
    assert.equal(reg.status, 202);
    const mail = await smtp.waitFor((m) => m.to.includes('smoke1@example.test'));
    const link = linkIn(mail, '/activate?token=');
    assert.ok(link.startsWith(server.base));
    assert.match(codeIn(mail), /^[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    const token = new URL(link).searchParams.get('token');
    const act = await c.post('/api/v1/activations', { token });
    assert.equal(act.status, 200);
    const signIn = await c.post('/api/v1/sessions', { identifier: 'smoke1', password });
    assert.equal(signIn.status, 201);
    const me = await c.get('/api/v1/sessions/current');
    assert.equal(me.status, 200);
    assert.equal(me.json.account.username, 'smoke1');
  });
});
