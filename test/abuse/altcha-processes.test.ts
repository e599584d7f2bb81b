import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { needs } from '../support/env.ts';
import { freshPostgres, postgresAvailable } from '../support/pg.ts';
import { startTestServer, strongPassword, type TestServer } from '../support/server.ts';
import { solveAltcha } from './helpers.ts';

describe('ALTCHA across two processes on one PostgreSQL database', () => {
  let a: TestServer | undefined;
  let b: TestServer | undefined;
  let pg: { url: string; drop(): Promise<void> } | undefined;
  let available = false;
  before(async () => {
    available = await postgresAvailable();
    if (!available) return;
    pg = await freshPostgres();
    a = await startTestServer({ LATCHKEY_CAPTCHA: 'altcha', LATCHKEY_DATABASE_URL: pg.url });
    b = await startTestServer({ LATCHKEY_CAPTCHA: 'altcha', LATCHKEY_DATABASE_URL: pg.url });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await pg?.drop();
  });

  test('BF-04 a challenge from one process verifies on the other, and is used up on both', async (t) => {
    if (!needs(t, 'PostgreSQL', available) || !a || !b) return;
    const payload = await solveAltcha(a.base);
    const reg = (n: number) => ({
      username: `multi${n}`,
      email: `multi${n}@example.test`,
      password: strongPassword(),
      captcha: payload,
    });
    assert.equal(
      (await b.client().post('/api/v1/registrations', reg(1))).status,
      202,
      'signed with the shared server key',
    );
    const replayA = await a.client().post('/api/v1/registrations', reg(2));
    const replayB = await b.client().post('/api/v1/registrations', reg(3));
    assert.equal(replayA.json.code, 'captcha_invalid');
    assert.equal(replayB.json.code, 'captcha_invalid');
  });

  test('BF-04 concurrent submissions of one payload: exactly one wins', async (t) => {
    if (!needs(t, 'PostgreSQL', available) || !a || !b) return;
    const payload = await solveAltcha(b.base);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 ? a : b)?.client().post('/api/v1/registrations', {
          username: `race${i}`,
          email: `race${i}@example.test`,
          password: strongPassword(),
          captcha: payload,
        }),
      ),
    );
    assert.equal(results.filter((r) => r?.status === 202).length, 1);
    assert.ok(results.every((r) => r?.status === 202 || r?.json.code === 'captcha_invalid'));
  });
});
