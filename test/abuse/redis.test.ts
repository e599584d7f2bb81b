import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { needs, REDIS_URL } from '../support/env.ts';
import { freshPostgres, postgresAvailable } from '../support/pg.ts';
import { redisAvailable } from '../support/redis.ts';
import { startTestServer, strongPassword, type TestServer } from '../support/server.ts';
import { createAccounts } from './helpers.ts';

describe('limits shared across two Latchkey processes through Redis', () => {
  let a: TestServer | undefined;
  let b: TestServer | undefined;
  let available = false;
  let pg: { url: string; drop(): Promise<void> } | undefined;
  // A unique prefix per run, so parallel runs and earlier runs never share counters.
  const prefix = `latchkey-test-${randomBytes(6).toString('hex')}`;
  const password = strongPassword();
  before(async () => {
    available = (await redisAvailable()) && (await postgresAvailable());
    if (!available) return;
    // Two processes on one PostgreSQL database and one Redis: the deployment this is for.
    pg = await freshPostgres();
    const env = {
      LATCHKEY_REDIS_URL: REDIS_URL,
      LATCHKEY_REDIS_PREFIX: prefix,
      LATCHKEY_RATE_LIMIT_SCALE: '1',
      LATCHKEY_TRUSTED_PROXIES: '127.0.0.1',
      LATCHKEY_LIMIT_SIGN_IN_IP: '4/10m',
      LATCHKEY_DATABASE_URL: pg.url,
    };
    a = await startTestServer(env);
    b = await startTestServer(env);
    await createAccounts(a, ['shared1'], password);
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await pg?.drop();
    if (!available) return;
    const r = new Redis(REDIS_URL);
    const keys = await r.keys(`${prefix}:*`);
    if (keys.length) await r.del(...keys);
    r.disconnect();
  });

  test('BF-02 per-IP limit: attempts on either process count against one budget', async (t) => {
    if (!needs(t, 'Redis and PostgreSQL', available) || !a || !b) return;
    const ip = { 'x-forwarded-for': '203.0.113.77' };
    for (const s of [a, b, a, b])
      assert.equal(
        (await s.client({ headers: ip }).post('/api/v1/sessions', { identifier: 'x-nobody', password: 'wrong-1' }))
          .status,
        401,
      );
    const fifthOnA = await a
      .client({ headers: ip })
      .post('/api/v1/sessions', { identifier: 'x-nobody', password: 'wrong-1' });
    const sixthOnB = await b
      .client({ headers: ip })
      .post('/api/v1/sessions', { identifier: 'x-nobody', password: 'wrong-1' });
    assert.equal(fifthOnA.status, 429);
    assert.equal(sixthOnB.status, 429);
    assert.ok(Number(sixthOnB.headers.get('retry-after')) > 0);
  });

  test('BF-01 lockout: failures on one process lock the account on the other', async (t) => {
    if (!needs(t, 'Redis and PostgreSQL', available) || !a || !b) return;
    let n = 0;
    const attempt = (s: TestServer, identifier: string, pw: string) =>
      s
        .client({ headers: { 'x-forwarded-for': `198.18.0.${++n}` } })
        .post('/api/v1/sessions', { identifier, password: pw });
    // Alternate processes and identifiers (username, email): one account, one count.
    for (let i = 0; i < 10; i++)
      assert.equal((await attempt(i % 2 ? a : b, i % 3 ? 'shared1' : 'shared1@example.test', 'wrong-2')).status, 401);
    const right = await attempt(a, 'shared1', password);
    const wrong = await attempt(b, 'shared1', 'wrong-3');
    assert.equal(right.status, 401, 'locked on process A after failures spread over both');
    assert.equal(right.text, wrong.text);
    await Promise.all([a.deps.guard.settled?.(), b.deps.guard.settled?.()]);
    const notices = await a.deps.db
      .selectFrom('audit_log')
      .select('event')
      .where('event', '=', 'sign_in.locked')
      .execute();
    assert.equal(notices.length, 1, 'one lockout, however the attempts were spread');
  });
});
