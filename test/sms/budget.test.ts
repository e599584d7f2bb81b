import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createAccounts } from '../abuse/helpers.ts';
import { outboxIdle } from '../phone/helpers.ts';
import { withServer } from '../support/fixture.ts';
import type { Client, Res } from '../support/http.ts';
import { startTestServer, strongPassword, type TestServer } from '../support/server.ts';
import { fakeTwilio } from './fake-gateways.ts';

const SID = 'AC0123456789abcdef0123456789abcdefbb';
const TOKEN = 'twilio-token-for-budget-tests';
const twilio = fakeTwilio(SID, TOKEN);
const gatewayEnv = () => ({
  LATCHKEY_SMS_GATEWAY: 'twilio',
  LATCHKEY_TWILIO_BASE_URL: twilio.url,
  LATCHKEY_TWILIO_ACCOUNT_SID: SID,
  LATCHKEY_TWILIO_AUTH_TOKEN: TOKEN,
  LATCHKEY_SMS_FROM: '+15005550006',
});

/** Accounts written straight into the store and signed in on `server`: no SMS spent on set-up. */
async function signedInClients(server: TestServer, names: string[]): Promise<Client[]> {
  const password = strongPassword();
  await createAccounts(server, names, password);
  return Promise.all(
    names.map(async (identifier) => {
      const c = server.client();
      const r = await c.post('/api/v1/sessions', { identifier, password });
      assert.equal(r.status, 201, r.text);
      return c;
    }),
  );
}

const exhaustedMetric = async (server: TestServer) => {
  const text = await server.deps.metrics.registry.getSingleMetricAsString('latchkey_sms_budget_exhausted_total');
  return Number(/^latchkey_sms_budget_exhausted_total (\d+)$/m.exec(text)?.[1]);
};
const audits = (server: TestServer, event: string) =>
  server.deps.db.selectFrom('audit_log').selectAll().where('event', '=', event).execute();
/** What a client can see of an answer: status, body shape and message (the masked number is its own). */
const shape = (r: Res) => ({
  status: r.status,
  keys: Object.keys(r.json ?? {}).sort(),
  message: r.json?.message,
  cache: r.headers.get('cache-control'),
});
const received = (numbers: string[]) => twilio.received.filter((m) => numbers.includes(m.to));

before(async () => {
  await twilio.start();
});
after(async () => {
  await twilio.stop();
});

describe('OTP-05 the install-wide SMS budget, one process', () => {
  const fx = withServer({ env: () => ({ ...gatewayEnv(), LATCHKEY_SMS_BUDGET: '3/1h' }) });

  test('OTP-05 the global SMS budget stops sending past N per hour, answers the same, counts a metric and audits once', async () => {
    const clients = await signedInClients(fx.server, ['budget1', 'budget2', 'budget3']);
    const numbers = Array.from({ length: 7 }, (_, i) => `+4479110001${String(i).padStart(2, '0')}`);
    const answers: Res[] = [];
    // Different accounts and numbers: the per-number and per-account caps never come into play.
    for (const [i, phone] of numbers.entries())
      answers.push(await clients[i % clients.length].put('/api/v1/account/phone', { phone }));
    for (const [i, r] of answers.entries()) {
      assert.deepEqual(shape(r), shape(answers[0]), `answer ${i + 1} looks like the first`);
      assert.equal(r.status, 202, r.text);
      assert.match(r.json.pending, new RegExp(`${numbers[i].slice(-2)}$`));
    }
    await outboxIdle(fx.server);
    assert.deepEqual(
      received(numbers).map((m) => m.to),
      numbers.slice(0, 3),
      'the first three reached the gateway, nothing after',
    );
    assert.equal(
      (await fx.server.deps.db.selectFrom('outbox').select('id').where('channel', '=', 'sms').execute()).length,
      3,
      'nothing more was queued',
    );
    assert.equal(await exhaustedMetric(fx.server), 4, 'each withheld SMS counted');
    const exhausted = await audits(fx.server, 'sms.budget_exhausted');
    assert.equal(exhausted.length, 1, 'audited once for the window, not per request');
    assert.equal(JSON.parse(exhausted[0].details ?? '{}').budget, '3/1h');
    const sent = (await audits(fx.server, 'phone.verification_sent')).map(
      (a) => JSON.parse(a.details ?? '{}').delivered,
    );
    assert.deepEqual(sent, [true, true, true, false, false, false, false]);

    // A reset code by SMS for an account with a confirmed number: the same answer as for no account, no SMS.
    await fx.server.deps.db
      .updateTable('organizations')
      .set({ recovery_settings: JSON.stringify({ methods: ['email_link', 'sms_otp'] }) })
      .where('slug', '=', 'default')
      .execute();
    await fx.server.deps.db
      .updateTable('accounts')
      .set({ phone: '+447911000199', phone_verified_at: Date.now() })
      .where('username', '=', 'budget1')
      .execute();
    const real = await fx.server.client().post('/api/v1/password-resets', { identifier: 'budget1', method: 'sms_otp' });
    const nobody = await fx.server
      .client()
      .post('/api/v1/password-resets', { identifier: 'nobody-here', method: 'sms_otp' });
    assert.equal(real.status, 202);
    assert.deepEqual(shape(real), shape(nobody));
    await outboxIdle(fx.server);
    assert.equal(received(['+447911000199']).length, 0, 'no reset code past the budget');
    assert.equal(await exhaustedMetric(fx.server), 5);
    assert.equal((await audits(fx.server, 'sms.budget_exhausted')).length, 1);
  });

  test('OTP-05 a malformed LATCHKEY_SMS_BUDGET stops the start with a message naming it', async () => {
    await assert.rejects(startTestServer({ LATCHKEY_SMS_BUDGET: 'lots' }), /LATCHKEY_SMS_BUDGET.*N\/window/);
  });
});

describe('OTP-05 the install-wide SMS budget, two servers sharing Redis', () => {
  // Redis under a prefix unique to this run, so parallel and earlier runs never share counters.
  const fx = withServer({ redis: true, twin: true, env: () => ({ ...gatewayEnv(), LATCHKEY_SMS_BUDGET: '4/1h' }) });

  test('OTP-05 the global SMS budget stops sending past N per hour across two servers, answers the same, counts a metric and audits once', async (t) => {
    if (!fx.ready(t)) return;
    const { server: a, twin: b } = fx;
    const onA = await signedInClients(a, ['shared1', 'shared2']);
    const onB = await signedInClients(b, ['shared3', 'shared4']);
    const numbers = Array.from({ length: 10 }, (_, i) => `+4479110002${String(i).padStart(2, '0')}`);
    const answers: Res[] = [];
    // Alternating servers, so neither process alone reaches the budget of 4.
    for (const [i, phone] of numbers.entries()) {
      const c = i % 2 ? onB[(i >> 1) % 2] : onA[(i >> 1) % 2];
      answers.push(await c.put('/api/v1/account/phone', { phone }));
    }
    for (const r of answers) assert.deepEqual(shape(r), shape(answers[0]));
    await outboxIdle(a);
    assert.deepEqual(
      received(numbers).map((m) => m.to),
      numbers.slice(0, 4),
      'four SMS for the whole install, not four per server',
    );
    assert.equal((await exhaustedMetric(a)) + (await exhaustedMetric(b)), 6);
    assert.ok((await exhaustedMetric(a)) > 0 && (await exhaustedMetric(b)) > 0, 'both servers withheld some');
    assert.equal((await audits(a, 'sms.budget_exhausted')).length, 1, 'one audit entry for the install');
  });
});
