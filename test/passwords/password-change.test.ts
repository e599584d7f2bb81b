import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { activeAccount, signedIn } from '../support/accounts.ts';
import { withServer } from '../support/fixture.ts';
import { strongPassword, waitForDevMail } from '../support/server.ts';

describe('changing the password while signed in', () => {
  // the real per-account limit on current-password checks (5 per 10 minutes), not the test scale
  const fx = withServer({ env: { LATCHKEY_RATE_LIMIT_SCALE: '1' } });

  test('PWD-05 the current password is required, and wrong tries are throttled', async () => {
    const acct = await activeAccount(fx.server);
    const c = await signedIn(fx.server, acct.username, acct.password);
    const hashBefore = await fx.server.deps.db
      .selectFrom('accounts')
      .select('password_hash')
      .where('username_key', '=', acct.username)
      .executeTakeFirstOrThrow();
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      const res = await c.put('/api/v1/account/password', {
        currentPassword: `wrong-${i}-${acct.password}`,
        newPassword: strongPassword(),
      });
      statuses.push(res.status);
      if (res.status === 400) assert.equal(res.json.code, 'current_password_wrong');
    }
    assert.deepEqual(statuses.slice(0, 5), [400, 400, 400, 400, 400]);
    assert.equal(statuses[6], 429, `wrong current passwords are throttled: ${statuses.join(',')}`);
    const hashAfter = await fx.server.deps.db
      .selectFrom('accounts')
      .select('password_hash')
      .where('username_key', '=', acct.username)
      .executeTakeFirstOrThrow();
    assert.equal(hashAfter.password_hash, hashBefore.password_hash, 'nothing changed');
    // the right current password is refused too while throttled: guessing gains nothing
    const right = await c.put('/api/v1/account/password', {
      currentPassword: acct.password,
      newPassword: strongPassword(),
    });
    assert.equal(right.status, 429);
    assert.ok(Number(right.headers.get('retry-after')) > 0);
  });

  test('BF-01 BF-06 a locked account gets no real current-password check: the right one is refused like a wrong one', async () => {
    const acct = await activeAccount(fx.server);
    const c = await signedIn(fx.server, acct.username, acct.password);
    const d = fx.server.deps;
    const row = await d.db
      .selectFrom('accounts')
      .select(['id', 'password_hash'])
      .where('username_key', '=', acct.username)
      .executeTakeFirstOrThrow();
    // A run of failures up to the hard cap (scale 1 here): the account stays locked.
    const ctx = { ip: '192.0.2.77', userAgent: 'test', correlationId: 'lock' };
    for (let i = 0; i < d.config.limits.hardCap; i++) await d.guard.signInReserve(`account:${row.id}`, row.id, ctx);
    const before = { ...d.hasher.hashesRun };
    const newPassword = strongPassword();
    const wrong = await c.put('/api/v1/account/password', { currentPassword: `wrong-${acct.password}`, newPassword });
    const right = await c.put('/api/v1/account/password', { currentPassword: acct.password, newPassword });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.json.code, 'current_password_wrong');
    assert.equal(right.status, wrong.status, 'the right current password fails like a wrong one');
    assert.equal(right.text, wrong.text);
    assert.equal(d.hasher.hashesRun.verify, before.verify, 'no real password check while locked');
    assert.equal(d.hasher.hashesRun.burn, before.burn + 2, 'the dummy hash is spent instead');
    const after = await d.db
      .selectFrom('accounts')
      .select('password_hash')
      .where('id', '=', row.id)
      .executeTakeFirstOrThrow();
    assert.equal(after.password_hash, row.password_hash, 'the password did not change');
  });

  test('PWD-06 password fields are type=password, allow paste, and no page asks for a hint or security question', async () => {
    const acct = await activeAccount(fx.server);
    const c = await signedIn(fx.server, acct.username, acct.password);
    const anon = fx.server.client();
    assert.equal((await anon.post('/api/v1/password-resets', { identifier: acct.email })).status, 202);
    const mail = await waitForDevMail(fx.server, (m) => m.to.includes(acct.email) && /reset/i.test(m.subject));
    const resetPath = /\/auth\/reset\/code\?token=[A-Za-z0-9_-]+/.exec(mail.text)?.[0];
    assert.ok(resetPath, 'reset link in the mail');
    const pages = [
      await anon.get('/register', { accept: 'text/html' }),
      await anon.get('/login', { accept: 'text/html' }),
      await anon.get('/change-password', { accept: 'text/html' }),
      await anon.get(resetPath, { accept: 'text/html' }),
      await c.get('/settings', { accept: 'text/html' }),
    ];
    for (const page of pages) {
      assert.equal(page.status, 200);
      const inputs = page.text.match(/<input[^>]*name="[^"]*[pP]assword[^"]*"[^>]*>/g) ?? [];
      assert.ok(inputs.length > 0, 'the page has password fields');
      for (const input of inputs) {
        assert.match(input, /type="password"/, input);
        assert.doesNotMatch(input, /onpaste|autocomplete="off"/, input);
      }
      assert.doesNotMatch(page.text, /security question|password hint/i);
    }
  });
});
