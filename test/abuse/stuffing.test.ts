import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { isResetMail, secretsIn } from '../recovery/helpers.ts';
import { withServer } from '../support/fixture.ts';
import { strongPassword } from '../support/server.ts';
import { createAccounts } from './helpers.ts';

/** Runs `fn` over `items` with at most `width` in flight. */
async function pool<T, R>(items: T[], width: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

const ipOf = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

describe('credential-stuffing simulation (bounded, loopback)', () => {
  // Real defaults; the proxy in front is trusted, so every request carries a different client IP.
  const fx = withServer({
    smtp: true,
    env: {
      LATCHKEY_RATE_LIMIT_SCALE: '1',
      LATCHKEY_TRUSTED_PROXIES: '127.0.0.1',
    },
  });
  const password = strongPassword();
  const names = Array.from({ length: 100 }, (_, i) => `victim${String(i).padStart(3, '0')}`);
  before(async () => {
    await createAccounts(fx.server, names, password);
  });

  test('BF-01 BF-03 ENUM-01 1,000 wrong passwords over 100 accounts from rotating IPs: accounts lock, owners still recover, answers reveal nothing', async () => {
    const attempts = Array.from({ length: 1000 }, (_, i) => ({
      identifier: names[i % 100],
      password: `leaked-password-${i}`,
    }));
    const t0 = performance.now();
    const answers = await pool(attempts, 8, (a, i) =>
      fx.server.client({ headers: { 'x-forwarded-for': ipOf(i + 1) } }).post('/api/v1/sessions', a),
    );
    const ms = performance.now() - t0;
    console.log(`# stuffing: 1000 sign-in attempts in ${Math.round(ms)} ms (${Math.round(1000 / (ms / 1000))}/s)`);
    assert.ok(
      answers.every((r) => r.status === 401 && r.text === answers[0].text),
      'every attempt got the same 401',
    );

    // Every account is now locked: its owner's right password fails exactly like a wrong one,
    // and exactly like an account that does not exist.
    const owner = await fx.server
      .client({ headers: { 'x-forwarded-for': '172.16.0.1' } })
      .post('/api/v1/sessions', { identifier: 'victim042', password });
    const unknown = await fx.server
      .client({ headers: { 'x-forwarded-for': '172.16.0.2' } })
      .post('/api/v1/sessions', { identifier: 'victim999', password });
    assert.equal(owner.status, 401);
    assert.equal(owner.text, answers[0].text);
    assert.equal(unknown.text, answers[0].text);
    const gates = await Promise.all(
      names.map((n) => fx.server.deps.guard.signInGate(n, { ip: '172.16.9.9', userAgent: '', correlationId: 'x' })),
    );
    assert.equal(gates.filter((g) => g.locked).length, 100, 'all 100 accounts are throttled');

    await fx.server.deps.guard.settled?.();
    const locks = await fx.server.deps.db
      .selectFrom('audit_log')
      .select('account_id')
      .where('event', '=', 'sign_in.locked')
      .execute();
    assert.equal(locks.length, 100, 'each lockout audited once');
    const notices = await fx.server.deps.db
      .selectFrom('outbox')
      .select('id')
      .where('kind', '=', 'lockout_notice')
      .execute();
    assert.equal(notices.length, 100, 'each owner is told once');

    // The legitimate owner recovers by mail and signs in with the new password (BF-03).
    const c = fx.server.client({ headers: { 'x-forwarded-for': '172.16.0.3' } });
    assert.equal((await c.post('/api/v1/password-resets', { identifier: 'victim042' })).status, 202);
    const { token } = secretsIn(await fx.smtp.waitFor(isResetMail('victim042@example.test'), 30_000));
    const fresh = strongPassword();
    assert.equal((await c.post('/api/v1/password-resets/complete', { token, password: fresh })).status, 200);
    assert.equal((await c.post('/api/v1/sessions', { identifier: 'victim042', password: fresh })).status, 201);
    // Others stay locked.
    assert.equal((await c.post('/api/v1/sessions', { identifier: 'victim043', password })).status, 401);
  });
});
