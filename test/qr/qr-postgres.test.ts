import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { activeAccount, type ChildServer, signIn, spawnLatchkey } from '../recovery/helpers.ts';
import { withServer } from '../support/fixture.ts';
import { Client } from '../support/http.ts';
import { secretOf, startQr } from './helpers.ts';

/** The same browser (same cookies) talking to another process behind the load balancer. */
function sameBrowser(c: Client, base: string): Client {
  const twin = new Client(base, base);
  for (const [k, v] of c.cookies) twin.cookies.set(k, v);
  return twin;
}

// Two Latchkey processes on one PostgreSQL database: this test process runs one, a spawned
// `latchkey serve` child is the other.
describe('QR sign-in on PostgreSQL, two processes', () => {
  const fx = withServer({ smtp: true, pg: true });
  let other: ChildServer;

  before(async () => {
    if (!fx.running) return;
    other = await spawnLatchkey({ LATCHKEY_SMTP_URL: fx.smtp.url, LATCHKEY_DATABASE_URL: fx.server.databaseUrl });
    fx.onStop(() => other.kill());
  });

  test('QR-01 QR-02 approved on one process, redeemed on the other; racing polls on both redeem it exactly once', async (t) => {
    if (!fx.ready(t)) return;
    const a = await activeAccount(fx.server, fx.smtp, 'pgqrphone');
    const phone = await signIn(other, a.username, a.password);
    assert.equal(phone.status, 201);
    const desktop = fx.server.client();
    const s = await startQr(desktop);
    const ok = await phone.c.post(`/api/v1/qr-logins/${s.id}/approve`, {
      secret: secretOf(s),
      number: s.number,
      password: a.password,
    });
    assert.equal(ok.status, 204, ok.text);
    const onOther = sameBrowser(desktop, other.base);
    const polls = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? onOther : sameBrowser(desktop, fx.server.base)).get(`/api/v1/qr-logins/${s.id}`),
      ),
    );
    const statuses = polls.map((p) => p.json?.status);
    assert.equal(statuses.filter((x) => x === 'approved').length, 1, statuses.join(','));
    assert.ok(
      statuses.every((x) => x === 'approved' || x === 'expired' || x === 'slow_down'),
      statuses.join(','),
    );
    const sessions = await fx.server.deps.db.selectFrom('sessions').select('id').where('method', '=', 'qr').execute();
    assert.equal(sessions.length, 1);
  });

  test('QR-09 "This wasn\'t me" on one process ends the QR session on every process', async (t) => {
    if (!fx.ready(t)) return;
    const a = await activeAccount(fx.server, fx.smtp, 'pgqrreport');
    const phone = await signIn(fx.server, a.username, a.password);
    const desktop = other.client();
    const s = await startQr(desktop);
    assert.equal(
      (
        await phone.c.post(`/api/v1/qr-logins/${s.id}/approve`, {
          secret: secretOf(s),
          number: s.number,
          password: a.password,
        })
      ).status,
      204,
    );
    assert.equal((await desktop.get(`/api/v1/qr-logins/${s.id}`)).json.status, 'approved');
    const here = sameBrowser(desktop, fx.server.base);
    assert.equal((await desktop.get('/api/v1/sessions/current')).status, 200);
    assert.equal((await here.get('/api/v1/sessions/current')).status, 200);
    const mail = await fx.mail(a.email, /New sign-in by QR code/);
    const link = /\/qr\/report\/[A-Za-z0-9_-]{43}/.exec(mail.text)?.[0];
    assert.ok(link, mail.text);
    const r = await fx.server.client().form(link, {});
    assert.equal(r.status, 200, r.text);
    assert.equal((await desktop.get('/api/v1/sessions/current')).status, 401, 'ended on the other process');
    assert.equal((await here.get('/api/v1/sessions/current')).status, 401, 'ended on this process');
    assert.equal((await phone.c.get('/api/v1/sessions/current')).status, 200);
    const flagged = await fx.server.deps.db
      .selectFrom('accounts')
      .select('flagged_at')
      .where('username', '=', a.username)
      .executeTakeFirstOrThrow();
    assert.ok(flagged.flagged_at);
  });
});
