import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TwilioGateway, VonageGateway, WebhookGateway } from '../../src/delivery/sms/gateways.ts';
import type { OutboxRow } from '../../src/delivery/worker.ts';
import { signedInUser } from '../phone/helpers.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { fakeTwilio, fakeVonage, fakeWebhook } from './fake-gateways.ts';

const SID = 'AC0123456789abcdef0123456789abcdef';
const TOKEN = 'twilio-token-for-tests';
const HOOK_SECRET = 'webhook-secret-for-tests-0123456789abcdef';
const o = { from: 'Latchkey', timeoutMs: 5000 };

function row(to: string, text: string): OutboxRow {
  return {
    id: `row-${Math.random()}`,
    channel: 'sms',
    kind: 'test',
    recipient: to,
    subject: 's',
    body_text: text,
  } as OutboxRow;
}

describe('SMS gateways against local Twilio-, Vonage- and webhook-shaped servers', () => {
  const twilio = fakeTwilio(SID, TOKEN);
  const vonage = fakeVonage('vonage-key', 'vonage-secret');
  const hook = fakeWebhook(HOOK_SECRET);
  before(async () => {
    await Promise.all([twilio.start(), vonage.start(), hook.start()]);
  });
  after(async () => {
    await Promise.all([twilio.stop(), vonage.stop(), hook.stop()]);
  });

  test('Twilio: form POST to the Messages resource with basic auth', async () => {
    await new TwilioGateway(twilio.url, SID, TOKEN, o).deliver(row('+447911123456', 'hello twilio'));
    const got = await twilio.waitFor((r) => r.text === 'hello twilio');
    assert.deepEqual(got, { to: '+447911123456', from: 'Latchkey', text: 'hello twilio' });
  });

  test('Twilio: a wrong token is an error the outbox retries, not a silent success', async () => {
    await assert.rejects(
      new TwilioGateway(twilio.url, SID, 'wrong', o).deliver(row('+447911123456', 'x')),
      /Twilio answered 401/,
    );
  });

  test('Vonage: JSON POST to /sms/json with key, secret and the number without +', async () => {
    await new VonageGateway(vonage.url, 'vonage-key', 'vonage-secret', o).deliver(
      row('+4915123456789', 'hello vonage'),
    );
    const got = await vonage.waitFor((r) => r.text === 'hello vonage');
    assert.equal(got.to, '+4915123456789');
    await assert.rejects(
      new VonageGateway(vonage.url, 'vonage-key', 'nope', o).deliver(row('+4915123456789', 'x')),
      /Vonage/,
    );
  });

  test('webhook: the receiver verifies the HMAC-SHA256 signature; a wrong key is refused', async () => {
    await new WebhookGateway(hook.url, HOOK_SECRET, o).deliver(row('+33612345678', 'hello hook'));
    assert.equal((await hook.waitFor((r) => r.text === 'hello hook')).to, '+33612345678');
    await assert.rejects(
      new WebhookGateway(hook.url, 'another-secret-of-enough-length-000000', o).deliver(row('+33612345678', 'forged')),
      /401/,
    );
    assert.ok(hook.rejected.includes('auth: bad signature'));
    assert.ok(!hook.received.some((r) => r.text === 'forged'));
  });

  test('an unreachable gateway is an error (retried by the outbox)', async () => {
    await assert.rejects(
      new TwilioGateway('http://127.0.0.1:1', SID, TOKEN, o).deliver(row('+447911123456', 'x')),
      /unreachable/,
    );
  });
});

describe('SMS through the outbox to a configured gateway', () => {
  let server: TestServer;
  const twilio = fakeTwilio(SID, TOKEN);
  before(async () => {
    await twilio.start();
    server = await startTestServer({
      LATCHKEY_SMS_GATEWAY: 'twilio',
      LATCHKEY_TWILIO_BASE_URL: twilio.url,
      LATCHKEY_TWILIO_ACCOUNT_SID: SID,
      LATCHKEY_TWILIO_AUTH_TOKEN: TOKEN,
      LATCHKEY_SMS_FROM: '+15005550006',
    });
  });
  after(async () => {
    await server?.close();
    await twilio.stop();
  });

  test('a confirmation code reaches Twilio; gateway down → delivered after it comes back; body scrubbed', async () => {
    const u = await signedInUser(server, 'gwuser');
    twilio.down = true;
    const put = await u.c.put('/api/v1/account/phone', { phone: '+447911123456' });
    assert.equal(put.status, 202, put.text);
    // The worker tries, fails with 503 and schedules a retry.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = await server.deps.db.selectFrom('outbox').selectAll().where('channel', '=', 'sms').executeTakeFirst();
      if (r?.last_error) {
        assert.equal(r.status, 'pending');
        assert.match(r.last_error ?? '', /503/);
        break;
      }
      if (Date.now() > deadline) throw new Error('no failed attempt recorded');
      await new Promise((res) => setTimeout(res, 50));
    }
    twilio.down = false;
    const got = await twilio.waitFor((r) => r.to === '+447911123456');
    assert.equal(got.from, '+15005550006');
    const code = /\b(\d{6})\b/.exec(got.text)?.[1];
    assert.ok(code);
    const sent = await server.deps.db
      .selectFrom('outbox')
      .selectAll()
      .where('channel', '=', 'sms')
      .executeTakeFirstOrThrow();
    for (let i = 0; i < 50 && sent.status !== 'sent'; i++) await new Promise((res) => setTimeout(res, 50));
    const after = await server.deps.db
      .selectFrom('outbox')
      .selectAll()
      .where('id', '=', sent.id)
      .executeTakeFirstOrThrow();
    assert.equal(after.status, 'sent');
    assert.equal(after.body_text, '');
    const conf = await u.c.post('/api/v1/account/phone/confirmation', { code });
    assert.equal(conf.status, 200, conf.text);
  });
});
