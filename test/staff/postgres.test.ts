import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { type ChildServer, spawnLatchkey } from '../recovery/helpers.ts';
import { signedIn } from '../support/accounts.ts';
import { withServer } from '../support/fixture.ts';
import type { Client } from '../support/http.ts';
import { cast } from './helpers.ts';

/** A client of `to` carrying the cookies of `from` (sessions live in the database, so they work on every process). */
function sameSessionOn(to: ChildServer, from: Client): Client {
  const c = to.client();
  for (const [k, v] of from.cookies) c.cookies.set(k, v);
  return c;
}

// Two Latchkey processes on one PostgreSQL database: this test process runs one, a spawned
// `latchkey serve` child is the other.
describe('staff console on PostgreSQL, two processes', () => {
  const fx = withServer({ pg: true });
  let other: ChildServer;
  let c: Awaited<ReturnType<typeof cast>>;

  before(async () => {
    if (!fx.running) return;
    other = await spawnLatchkey({ LATCHKEY_DATABASE_URL: fx.server.databaseUrl });
    fx.onStop(() => other.kill());
    c = await cast(fx.server);
  });

  test('ADM-06 disabling on one process ends the account’s sessions on the other at once', async (t) => {
    if (!fx.ready(t)) return;
    const reason = 'account reported stolen, ticket 9';
    for (const [actOn, checkOn] of [
      ['child', 'this'],
      ['this', 'child'],
    ] as const) {
      const here = await signedIn(fx.server, c.target.username, c.target.password);
      const there = sameSessionOn(other, await signedIn(fx.server, c.target.username, c.target.password));
      assert.equal((await there.get('/api/v1/sessions/current')).status, 200);
      const admin = actOn === 'child' ? sameSessionOn(other, c.admin.client) : c.admin.client;
      const res = await admin.post(`/api/v1/admin/accounts/${c.target.id}/actions/disable`, { reason });
      assert.equal(res.status, 200, res.text);
      const probe = checkOn === 'child' ? there : here;
      assert.equal((await probe.get('/api/v1/sessions/current')).status, 401, `${checkOn} process still lets it in`);
      assert.equal((await (checkOn === 'child' ? here : there).get('/api/v1/sessions/current')).status, 401);
      const signIn = await (checkOn === 'child' ? other.client() : fx.server.client()).post('/api/v1/sessions', {
        identifier: c.target.username,
        password: c.target.password,
      });
      assert.notEqual(signIn.status, 201);
      assert.equal((await admin.post(`/api/v1/admin/accounts/${c.target.id}/actions/enable`, { reason })).status, 200);
    }
  });

  test('account search and the audit trail on PostgreSQL: prefix by LIKE with literal wildcards', async (t) => {
    if (!fx.ready(t)) return;
    const get = (q: string, exact = false) =>
      c.admin.client.get(`/api/v1/admin/accounts?q=${encodeURIComponent(q)}${exact ? '&exact=1' : ''}`);
    const prefix = await get(c.target.username.slice(0, 6).toUpperCase());
    assert.ok(prefix.json.accounts.some((a: { id: string }) => a.id === c.target.id));
    const exact = await get(c.target.email, true);
    assert.deepEqual(
      exact.json.accounts.map((a: { id: string }) => a.id),
      [c.target.id],
    );
    for (const q of ['%', '_', '\\', 'targe_', "' OR 1=1 --", '💥'])
      assert.deepEqual((await get(q)).json.accounts, [], q);
    // PostgreSQL text cannot hold NUL: refused before any query, not a 500
    assert.equal((await get('a\u0000b')).status, 400);
    assert.equal((await c.admin.client.get('/api/v1/admin/audit?actor=a%00b')).status, 400);
    assert.equal((await c.admin.client.get('/api/v1/admin/accounts/a%00b')).status, 404);
    assert.equal((await c.admin.client.get('/admin/accounts/a%00b', { accept: 'text/html' })).status, 404);
    const audit = await c.admin.client.get('/api/v1/admin/audit?event=staff.*');
    assert.ok(audit.json.records.some((r: { event: string }) => r.event === 'staff.account_disabled'));
    const csv = await c.admin.client.get('/api/v1/admin/audit/export?format=csv&event=staff.*');
    assert.equal(csv.status, 200);
    assert.match(csv.text, /staff\.account_enabled/);
  });
});
