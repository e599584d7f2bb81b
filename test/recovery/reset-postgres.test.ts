import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { needs } from '../support/env.ts';
import { freshPostgres, postgresAvailable } from '../support/pg.ts';
import { SmtpReceiver } from '../support/smtp.ts';
import { startTestServer, strongPassword, type TestServer } from '../support/server.ts';
import { activeAccount, type ChildServer, requestReset, signIn, spawnLatchkey } from './helpers.ts';

// Two Latchkey processes on one PostgreSQL database: this test process runs one, a spawned
// `latchkey serve` child is the other.
describe('forgot password on PostgreSQL, two processes', async () => {
  const available = await postgresAvailable();
  let server: TestServer;
  let other: ChildServer;
  let pg: Awaited<ReturnType<typeof freshPostgres>>;
  const smtp = new SmtpReceiver();

  before(async () => {
    if (!available) return;
    await smtp.start();
    pg = await freshPostgres();
    server = await startTestServer({ LATCHKEY_SMTP_URL: smtp.url, LATCHKEY_DATABASE_URL: pg.url });
    other = await spawnLatchkey({ LATCHKEY_SMTP_URL: smtp.url, LATCHKEY_DATABASE_URL: pg.url });
  });
  after(async () => {
    await other?.kill();
    await server?.close();
    await pg?.drop();
    await smtp.stop();
  });

  test('REC-09 a reset requested on one process and completed on the other ends the sessions on both', async (t) => {
    if (!needs(t, 'PostgreSQL', available)) return;
    const a = await activeAccount(server, smtp, 'pgtwoproc');
    const onThis = await signIn(server, a.username, a.password);
    const onOther = await signIn(other, a.username, a.password);
    assert.equal(onThis.status, 201);
    assert.equal(onOther.status, 201);
    const { token } = await requestReset(other, smtp, a.username, a.email);
    const password = strongPassword();
    const done = await server.client().post('/api/v1/password-resets/complete', { token, password });
    assert.equal(done.status, 200, done.text);
    assert.equal((await onThis.c.get('/api/v1/sessions/current')).status, 401);
    assert.equal((await onOther.c.get('/api/v1/sessions/current')).status, 401);
    assert.equal((await signIn(other, a.username, a.password)).status, 401);
    assert.equal((await signIn(other, a.username, password)).status, 201);
    assert.equal((await signIn(server, a.username, password)).status, 201);
  });

  test('REC-02 50 concurrent completions over both processes with one token, and with one code, give exactly one success', async (t) => {
    if (!needs(t, 'PostgreSQL', available)) return;
    for (const via of ['token', 'code'] as const) {
      const a = await activeAccount(server, smtp, `pgrace${via}`);
      const { token, code } = await requestReset(server, smtp, a.username, a.email);
      const body = (p: string) => (via === 'token' ? { token, password: p } : { identifier: a.username, code, password: p });
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => (i % 2 ? other : server).client().post('/api/v1/password-resets/complete', body(strongPassword()))),
      );
      const statuses = results.map((r) => r.status);
      assert.equal(statuses.filter((s) => s === 200).length, 1, statuses.join(','));
      assert.ok(statuses.every((s) => s === 200 || (s >= 400 && s < 500)), statuses.join(','));
      const acct = await server.deps.db.selectFrom('accounts').select('id').where('username', '=', a.username).executeTakeFirstOrThrow();
      const changes = await server.deps.db.selectFrom('password_changes').select('id').where('account_id', '=', acct.id).execute();
      assert.equal(changes.length, 1);
    }
  });
});
