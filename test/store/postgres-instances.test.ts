import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { withServer } from '../support/fixture.ts';
import { Client } from '../support/http.ts';
import { strongPassword, type TestServer } from '../support/server.ts';
import { codeIn, linkIn } from '../support/smtp.ts';

// The foundation flows on PostgreSQL, with two service processes (two pools, two workers) on one
// database behind one public origin, as a load-balanced deployment runs them.

describe('the core flows on PostgreSQL with two instances', () => {
  const PUBLIC = 'http://login.example.test';
  const fx = withServer({ smtp: true, pg: true, twin: true, env: { LATCHKEY_PUBLIC_URL: PUBLIC } });
  const via = (s: TestServer | undefined) => new Client(`http://127.0.0.1:${s?.deps.config.port}`, PUBLIC);

  test('register on one instance, activate and sign in on the other; sessions are shared and end everywhere', async (t) => {
    if (!fx.ready(t)) return;
    const { server: a, twin: b, smtp } = fx;
    assert.equal(a.deps.engine, 'postgres');
    const password = strongPassword();
    assert.equal(
      (await via(a).post('/api/v1/registrations', { username: 'PgUser', email: 'pguser@example.test', password }))
        .status,
      202,
    );
    const mail = await smtp.waitFor((m) => m.to.includes('pguser@example.test'));
    assert.ok(codeIn(mail));
    const token = new URL(linkIn(mail, '/activate?token=')).searchParams.get('token');
    assert.equal((await via(b).post('/api/v1/activations', { token })).status, 200);
    assert.equal((await via(a).post('/api/v1/activations', { token })).status, 400, 'single use across instances');

    const ca = via(a);
    assert.equal((await ca.post('/api/v1/sessions', { identifier: 'pguser', password })).status, 201);
    const cb = via(b);
    for (const [k, v] of ca.cookies) cb.cookies.set(k, v);
    const me = await cb.get('/api/v1/sessions/current');
    assert.equal(me.status, 200, 'a session from instance A works on instance B');
    assert.equal(me.json.account.username, 'PgUser');
    assert.equal(typeof Date.parse(me.json.session.expiresAt), 'number');

    const other = via(b);
    assert.equal((await other.post('/api/v1/sessions', { identifier: 'pguser@example.test', password })).status, 201);
    const list = await ca.get('/api/v1/sessions');
    assert.equal(list.json.sessions.length, 2);

    const newPassword = strongPassword();
    const change = await cb.put('/api/v1/account/password', { currentPassword: password, newPassword });
    assert.equal(change.status, 200, change.text);
    assert.equal((await other.get('/api/v1/sessions/current')).status, 401, 'other sessions ended');
    await smtp.waitFor((m) => m.to.includes('pguser@example.test') && /password/i.test(m.subject));

    assert.equal((await cb.delete('/api/v1/sessions/current')).status, 204);
    const stale = via(a);
    for (const [k, v] of ca.cookies) stale.cookies.set(k, v);
    assert.equal((await stale.get('/api/v1/sessions/current')).status, 401, 'signed out everywhere');
    assert.equal((await via(a).post('/api/v1/sessions', { identifier: 'pguser', password: newPassword })).status, 201);
  });

  test('mail queued by both instances is delivered exactly once', async (t) => {
    if (!fx.ready(t)) return;
    const { server: a, twin: b, smtp } = fx;
    const names = Array.from({ length: 10 }, (_, i) => `pgmass${i}`);
    await Promise.all(
      names.map((n, i) =>
        via(i % 2 ? a : b).post('/api/v1/registrations', {
          username: n,
          email: `${n}@example.test`,
          password: strongPassword(),
        }),
      ),
    );
    for (const n of names) await smtp.waitFor((m) => m.to.includes(`${n}@example.test`));
    await new Promise((r) => setTimeout(r, 500));
    for (const n of names) assert.equal(smtp.mails.filter((m) => m.to.includes(`${n}@example.test`)).length, 1, n);
  });
});
