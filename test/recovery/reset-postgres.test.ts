import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { withServer } from '../support/fixture.ts';
import { strongPassword } from '../support/server.ts';
import { activeAccount, type ChildServer, requestReset, signIn, spawnLatchkey } from './helpers.ts';

// Two Latchkey processes on one PostgreSQL database: this test process runs one, a spawned
// `latchkey serve` child is the other.
describe('forgot password on PostgreSQL, two processes', () => {
  const fx = withServer({ smtp: true, pg: true });
  let other: ChildServer;

  before(async () => {
    if (!fx.running) return;
    other = await spawnLatchkey({ LATCHKEY_SMTP_URL: fx.smtp.url, LATCHKEY_DATABASE_URL: fx.server.databaseUrl });
    fx.onStop(() => other.kill());
  });

  test('REC-09 a reset requested on one process and completed on the other ends the sessions on both', async (t) => {
    if (!fx.ready(t)) return;
    const a = await activeAccount(fx.server, fx.smtp, 'pgtwoproc');
    const onThis = await signIn(fx.server, a.username, a.password);
    const onOther = await signIn(other, a.username, a.password);
    assert.equal(onThis.status, 201);
    assert.equal(onOther.status, 201);
    const { token } = await requestReset(other, fx.smtp, a.username, a.email);
    const password = strongPassword();
    const done = await fx.server.client().post('/api/v1/password-resets/complete', { token, password });
    assert.equal(done.status, 200, done.text);
    assert.equal((await onThis.c.get('/api/v1/sessions/current')).status, 401);
    assert.equal((await onOther.c.get('/api/v1/sessions/current')).status, 401);
    assert.equal((await signIn(other, a.username, a.password)).status, 401);
    assert.equal((await signIn(other, a.username, password)).status, 201);
    assert.equal((await signIn(fx.server, a.username, password)).status, 201);
  });

  test('REC-02 50 concurrent completions over both processes with one token, and with one code, give exactly one success', async (t) => {
    if (!fx.ready(t)) return;
    for (const via of ['token', 'code'] as const) {
      const a = await activeAccount(fx.server, fx.smtp, `pgrace${via}`);
      const { token, code } = await requestReset(fx.server, fx.smtp, a.username, a.email);
      const body = (p: string) =>
        via === 'token' ? { token, password: p } : { identifier: a.username, code, password: p };
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          (i % 2 ? other : fx.server).client().post('/api/v1/password-resets/complete', body(strongPassword())),
        ),
      );
      const statuses = results.map((r) => r.status);
      assert.equal(statuses.filter((s) => s === 200).length, 1, statuses.join(','));
      assert.ok(
        statuses.every((s) => s === 200 || (s >= 400 && s < 500)),
        statuses.join(','),
      );
      const acct = await fx.server.deps.db
        .selectFrom('accounts')
        .select('id')
        .where('username', '=', a.username)
        .executeTakeFirstOrThrow();
      const changes = await fx.server.deps.db
        .selectFrom('password_changes')
        .select('id')
        .where('account_id', '=', acct.id)
        .execute();
      assert.equal(changes.length, 1);
    }
  });
});
