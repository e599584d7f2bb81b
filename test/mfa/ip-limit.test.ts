import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { withServer } from '../support/fixture.ts';

// MFA-03, per IP: second-factor attempts from one client are limited whatever account or
// half-finished sign-in they name (counted before anything is looked up).

describe('second-factor attempts per IP', () => {
  const fx = withServer({ env: { LATCHKEY_LIMIT_SECOND_FACTOR_IP: '3/10m', LATCHKEY_RATE_LIMIT_SCALE: '1' } });

  test('MFA-03 the fourth attempt from one IP within the window gets 429 with Retry-After', async () => {
    const statuses: number[] = [];
    let last: Headers | undefined;
    for (let i = 0; i < 4; i++) {
      const c = fx.server.client();
      c.cookies.set('latchkey_pending', `made-up-${i}`);
      const r = await c.post('/api/v1/sessions/second-factor', { code: '123456' });
      statuses.push(r.status);
      last = r.headers;
    }
    assert.deepEqual(statuses, [401, 401, 401, 429]);
    assert.ok(Number(last?.get('retry-after')) > 0);
  });
});
