import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { systemContext } from '../../src/context.ts';
import { countMail, nextCode, signedInUser, smsTo, verifiedPhone } from '../phone/helpers.ts';
import { withServer } from '../support/fixture.ts';
import { strongPassword } from '../support/server.ts';

// The same organization, phone and code queries on the second engine.
describe('organizations, mobile numbers and SMS codes on PostgreSQL', () => {
  const fx = withServer({ pg: true });

  test('ADM-05 admin upsert, settings change, member refusal; OTP-03 an SMS code resets once', async (t) => {
    if (!fx.ready(t)) return;
    const admin = await signedInUser(fx.server, 'pgadmin');
    const member = await signedInUser(fx.server, 'pgmember');
    await fx.server.deps.organizations.addAdmin('default', 'pgadmin', 'admin', systemContext('test'));
    await fx.server.deps.organizations.addAdmin('default', 'pgadmin', 'owner', systemContext('test'));
    assert.equal(
      (await member.c.put('/api/v1/organizations/default/recovery-settings', { methods: ['sms_otp'] })).status,
      403,
    );
    const ok = await admin.c.put('/api/v1/organizations/default/recovery-settings', {
      methods: ['email_link', 'sms_otp'],
      maxAttempts: 3,
    });
    assert.equal(ok.status, 200, ok.text);

    await verifiedPhone(fx.server, member, '+33612345678');
    const seen = await countMail(fx.server, smsTo('+33612345678'));
    const r = await fx.server.client().post('/api/v1/password-resets', { identifier: member.email, method: 'sms_otp' });
    assert.equal(r.status, 202);
    const code = await nextCode(fx.server, smsTo('+33612345678'), seen);
    // maxAttempts 3: two wrong tries leave one
    for (let i = 0; i < 2; i++)
      assert.equal(
        (
          await fx.server.client().post('/api/v1/password-resets/complete', {
            identifier: member.email,
            code: '0000000',
            flow: r.json.flow,
            password: strongPassword(),
          })
        ).status,
        400,
      );
    const done = await fx.server.client().post('/api/v1/password-resets/complete', {
      identifier: member.email,
      code,
      flow: r.json.flow,
      password: strongPassword(),
    });
    assert.equal(done.status, 200, done.text);
    const again = await fx.server.client().post('/api/v1/password-resets/complete', {
      identifier: member.email,
      code,
      flow: r.json.flow,
      password: strongPassword(),
    });
    assert.equal(again.json.code, 'invalid_code');
  });
});
