import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { withServer } from '../support/fixture.ts';
import { strongPassword } from '../support/server.ts';
import { codeIn, linkIn } from '../support/smtp.ts';

describe('registration → activation → sign-in over real HTTP and SMTP', () => {
  const fx = withServer({ smtp: true });

  test('a new user registers, activates with the mailed link, and signs in', async () => {
    const c = fx.server.client();
    const password = strongPassword();
    const reg = await c.post('/api/v1/registrations', { username: 'smoke1', email: 'smoke1@example.test', password });
    assert.equal(reg.status, 202);
    const mail = await fx.mail('smoke1@example.test');
    const link = linkIn(mail, '/activate?token=');
    assert.ok(link.startsWith(fx.server.base));
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
