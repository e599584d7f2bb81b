import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../support/server.ts';

describe('client IP without LATCHKEY_TRUSTED_PROXIES', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ LATCHKEY_RATE_LIMIT_SCALE: '1', LATCHKEY_LIMIT_SIGN_IN_IP: '3/10m' });
  });
  after(async () => server?.close());

  test('BF-02 a forged X-Forwarded-For does not buy a fresh per-IP budget when no proxy is trusted', async () => {
    const statuses = [];
    for (let i = 1; i <= 5; i++) {
      const c = server.client({ headers: { 'x-forwarded-for': `203.0.113.${i}` } });
      statuses.push((await c.post('/api/v1/sessions', { identifier: 'whoever', password: 'wrong-password-x' })).status);
    }
    assert.deepEqual(statuses, [401, 401, 401, 429, 429]);
    const audit = await server.deps.db
      .selectFrom('audit_log')
      .select('ip')
      .where('event', '=', 'sign_in.failed')
      .execute();
    assert.ok(
      audit.every((a) => a.ip === '127.0.0.1'),
      'the socket address is the client IP',
    );
  });
});
