import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { SignInService } from '../../src/flows/signin/service.ts';
import { openStore } from '../../src/store/db.ts';
import { type ChildServer, spawnLatchkey } from '../recovery/helpers.ts';
import { activeAccount } from '../support/accounts.ts';
import { withServer } from '../support/fixture.ts';
import type { Client } from '../support/http.ts';
import { enrolTotpDirect, ShiftClock, totpCode } from './helpers.ts';

// Two Latchkey processes on one PostgreSQL database (this one and a spawned `latchkey serve`):
// a TOTP step used on one is refused on the other (MFA-02), the per-account attempt limit counts
// attempts on both (MFA-03), a half-finished sign-in started on one finishes on the other, and
// the sweeps that record abandoned ones (LOG-01) never record one twice.

describe('second factors on PostgreSQL, two processes', () => {
  const fx = withServer({ pg: true });
  let other: ChildServer;

  before(async () => {
    if (!fx.running) return;
    other = await spawnLatchkey({ LATCHKEY_DATABASE_URL: fx.server.databaseUrl });
    fx.onStop(() => other.kill());
  });

  async function pendingOn(server: { client(): Client }, u: { username: string; password: string }) {
    const c = server.client();
    const r = await c.post('/api/v1/sessions', { identifier: u.username, password: u.password });
    assert.equal(r.json?.status, 'second_factor_required', r.text);
    return c;
  }

  test('MFA-02 a TOTP code used on one process is refused on the other, even when both race', async (t) => {
    if (!fx.ready(t)) return;
    const u = await activeAccount(fx.server);
    const { secret } = await enrolTotpDirect(fx.server, new ShiftClock(), u.username);
    const code = totpCode(secret, Date.now() + 30_000);
    const onThis = await pendingOn(fx.server, u);
    const onOther = await pendingOn(other, u);
    const [a, b] = await Promise.all([
      onThis.post('/api/v1/sessions/second-factor', { code }),
      onOther.post('/api/v1/sessions/second-factor', { code }),
    ]);
    assert.deepEqual([a.status, b.status].sort(), [201, 400], `${a.text} ${b.text}`);
    // Sequentially too: the loser is still refused.
    const later = await pendingOn(other, u);
    assert.equal((await later.post('/api/v1/sessions/second-factor', { code })).status, 400);
  });

  test('MFA-03 the per-account attempt limit is shared: failures on both processes add up', async (t) => {
    if (!fx.ready(t)) return;
    const u = await activeAccount(fx.server);
    const { secret } = await enrolTotpDirect(fx.server, new ShiftClock(), u.username);
    for (let i = 0; i < 5; i++) {
      const c = await pendingOn(i % 2 ? other : fx.server, u);
      assert.equal((await c.post('/api/v1/sessions/second-factor', { code: '000000' })).status, 400);
    }
    for (const server of [fx.server, other]) {
      const c = await pendingOn(server, u);
      const r = await c.post('/api/v1/sessions/second-factor', { code: totpCode(secret, Date.now() + 30_000) });
      assert.equal(r.status, 429, r.text);
    }
  });

  test('MFA-07 a half-finished sign-in started on one process finishes on the other', async (t) => {
    if (!fx.ready(t)) return;
    const u = await activeAccount(fx.server);
    const { codes } = await enrolTotpDirect(fx.server, new ShiftClock(), u.username);
    const c = await pendingOn(fx.server, u);
    const moved = other.client();
    for (const [k, v] of c.cookies) moved.cookies.set(k, v);
    const r = await moved.post('/api/v1/sessions/second-factor', { recoveryCode: codes[0] });
    assert.equal(r.status, 201, r.text);
    assert.equal((await moved.get('/api/v1/sessions/current')).status, 200);
  });

  test('LOG-01 sweeps racing on separate connections record each abandoned sign-in once', async (t) => {
    if (!fx.ready(t)) return;
    const d = fx.server.deps;
    const accountIds: string[] = [];
    for (let i = 0; i < 3; i++) {
      const u = await activeAccount(fx.server);
      accountIds.push((await enrolTotpDirect(fx.server, new ShiftClock(), u.username)).accountId);
      await pendingOn(fx.server, u);
      await pendingOn(other, u);
    }
    const abandoned = async () =>
      d.db
        .selectFrom('audit_log')
        .select(['account_id'])
        .where('event', '=', 'sign_in.second_factor_abandoned')
        .execute();
    assert.deepEqual(await abandoned(), []);
    // Each sweeper has a pool of its own, as each process does; their clock is past every
    // half-finished sign-in's five minutes, this file's earlier ones included.
    const later = { now: () => Date.now() + 6 * 60_000 };
    const stores = [0, 1, 2, 3].map(() => openStore(fx.server.databaseUrl));
    try {
      const sweepers = stores.map((s) => new SignInService({ ...d, db: s.db, store: s, clock: later }));
      const claimed = await Promise.all(sweepers.map((s) => s.sweep()));
      const rows = await abandoned();
      assert.equal(
        claimed.reduce((a, b) => a + b, 0),
        rows.length,
      );
      for (const id of accountIds)
        assert.equal(rows.filter((r) => r.account_id === id).length, 2, `two half-finished sign-ins of ${id}`);
      // Swept again: nothing left to record.
      assert.deepEqual(await Promise.all(sweepers.map((s) => s.sweep())), [0, 0, 0, 0]);
      assert.equal((await abandoned()).length, rows.length);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });
});
