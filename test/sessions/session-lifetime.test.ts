import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FakeClock } from '../../src/security/clock.ts';
import { Client } from '../support/http.ts';
import { freePort, startTestServer, strongPassword, type TestServer, waitForDevMail } from '../support/server.ts';

// A deployment behind a TLS-terminating proxy: public URL https, the service itself on plain http.
// One server with a FakeClock covers the https cookie rules and the timeouts.

const PUBLIC = 'https://login.example.test';
const COOKIE = '__Host-latchkey_session';
const MIN = 60_000;

describe('session cookie over https and session lifetime', () => {
  let server: TestServer;
  let direct: string;
  const clock = new FakeClock();
  const client = () => new Client(direct, PUBLIC);
  let account: { username: string; password: string };

  before(async () => {
    const port = await freePort();
    direct = `http://127.0.0.1:${port}`;
    server = await startTestServer(
      {
        LATCHKEY_PORT: String(port),
        LATCHKEY_PUBLIC_URL: PUBLIC,
        LATCHKEY_SESSION_IDLE_TTL: '30m',
        LATCHKEY_SESSION_ABSOLUTE_TTL: '2h',
      },
      { clock },
    );
    account = { username: 'lifetime1', password: strongPassword() };
    const c = client();
    assert.equal((await c.post('/api/v1/registrations', { ...account, email: 'lifetime1@example.test' })).status, 202);
    const mail = await waitForDevMail({ base: direct }, (m) => m.to.includes('lifetime1@example.test'));
    assert.ok(mail.text.includes(`${PUBLIC}/activate?token=`), 'links use the public https URL');
    const token = /activate\?token=([A-Za-z0-9_-]+)/.exec(mail.text)?.[1];
    assert.equal((await c.post('/api/v1/activations', { token })).status, 200);
  });
  after(() => server?.close());

  async function signIn(): Promise<{ c: Client; cookie: string }> {
    const c = client();
    const res = await c.post('/api/v1/sessions', { identifier: account.username, password: account.password });
    assert.equal(res.status, 201, res.text);
    return { c, cookie: res.headers.getSetCookie().find((x) => x.startsWith(`${COOKIE}=`)) ?? '' };
  }

  test('SES-03 with an https public URL the cookie is __Host- prefixed and Secure, HttpOnly, SameSite=Lax, Path=/, no Domain', async () => {
    const { c, cookie } = await signIn();
    assert.ok(cookie, 'the __Host- cookie is set');
    const attrs = cookie.split(';').map((s) => s.trim().toLowerCase());
    for (const a of ['secure', 'httponly', 'path=/']) assert.ok(attrs.includes(a), a);
    assert.ok(attrs.includes('samesite=lax') || attrs.includes('samesite=strict'));
    assert.ok(!attrs.some((x) => x.startsWith('domain=')));
    const me = await c.get('/api/v1/sessions/current');
    assert.equal(me.status, 200);
    // the un-prefixed name is not honoured
    const plain = client();
    plain.cookies.set('latchkey_session', c.cookies.get(COOKIE) ?? '');
    assert.equal((await plain.get('/api/v1/sessions/current')).status, 401);
    const out = await c.delete('/api/v1/sessions/current');
    const cleared = out.headers.getSetCookie().find((x) => x.startsWith(`${COOKIE}=`)) ?? '';
    assert.match(cleared.toLowerCase(), /secure/);
  });

  test('WEB-02 HSTS is sent when the public URL is https; the https origin is the only one accepted', async () => {
    const res = await client().get('/login', { accept: 'text/html' });
    assert.match(res.headers.get('strict-transport-security') ?? '', /max-age=\d{7,}/);
    const httpOrigin = new Client(direct, 'http://login.example.test');
    assert.equal(
      (await httpOrigin.post('/api/v1/sessions', { identifier: account.username, password: account.password })).status,
      403,
    );
  });

  test('SES-05 a session unused for the idle timeout ends; use keeps it alive', async () => {
    const { c } = await signIn();
    clock.advance(20 * MIN);
    assert.equal((await c.get('/api/v1/sessions/current')).status, 200, 'used within the idle window');
    clock.advance(20 * MIN);
    assert.equal((await c.get('/api/v1/sessions/current')).status, 200, 'the last use restarted the idle window');
    clock.advance(30 * MIN);
    assert.equal((await c.get('/api/v1/sessions/current')).status, 401, 'idle for 30 minutes: over');
    clock.advance(-1);
    assert.equal((await c.get('/api/v1/sessions/current')).status, 401, 'an ended session stays ended');
    clock.advance(1);
  });

  test('SES-05 the absolute timeout ends even a busy session', async () => {
    const { c } = await signIn();
    for (let t = 0; t < 115; t += 25) {
      assert.equal((await c.get('/api/v1/sessions/current')).status, 200, `at ${t} min`);
      clock.advance(25 * MIN);
    }
    // now 125 minutes after sign-in, used every 25 minutes
    assert.equal((await c.get('/api/v1/sessions/current')).status, 401, 'past the 2 h absolute limit');
    const again = await signIn();
    assert.equal((await again.c.get('/api/v1/sessions/current')).status, 200, 'signing in again works');
  });

  test('SES-04 WEB-03 the session check answers the stored account and session with no-store and the API headers, and follows a change to either', async () => {
    const { c } = await signIn();
    const first = await c.get('/api/v1/sessions/current');
    assert.equal(first.status, 200);
    assert.match(first.headers.get('content-type') ?? '', /^application\/json; charset=utf-8$/);
    assert.equal(first.headers.get('cache-control'), 'no-store');
    // WEB-03 on the signed-in answer too, which this route builds and sends its own way.
    assert.match(
      first.headers.get('content-security-policy') ?? '',
      /frame-ancestors 'none'.*object-src 'none'.*base-uri 'none'/,
    );
    assert.equal(first.headers.get('x-content-type-options'), 'nosniff');
    const row = await server.deps.db
      .selectFrom('accounts')
      .selectAll()
      .where('username', '=', account.username)
      .executeTakeFirstOrThrow();
    const session = await server.deps.db
      .selectFrom('sessions')
      .select(['id', 'expires_at'])
      .where('id', '=', first.json.session.id)
      .executeTakeFirstOrThrow();
    assert.deepEqual(first.json, {
      account: {
        id: row.id,
        username: row.username,
        email: row.email,
        status: 'active',
        hasPassword: true,
        createdAt: new Date(row.created_at).toISOString(),
        language: null,
      },
      session: { id: session.id, expiresAt: new Date(session.expires_at).toISOString() },
    });
    // The same row gives the same answer, byte for byte.
    assert.equal((await c.get('/api/v1/sessions/current')).text, first.text);
    // A change to the account row shows in the next answer.
    await server.deps.db
      .updateTable('accounts')
      .set({ email: 'lifetime1.moved@example.test' })
      .where('id', '=', row.id)
      .execute();
    assert.equal((await c.get('/api/v1/sessions/current')).json.account.email, 'lifetime1.moved@example.test');
    await server.deps.db.updateTable('accounts').set({ email: row.email }).where('id', '=', row.id).execute();
    // So does a change to the session row (here its absolute end).
    await server.deps.db
      .updateTable('sessions')
      .set({ expires_at: session.expires_at - MIN })
      .where('id', '=', session.id)
      .execute();
    assert.equal(
      (await c.get('/api/v1/sessions/current')).json.session.expiresAt,
      new Date(session.expires_at - MIN).toISOString(),
    );
  });

  test('SES-05 the session list shows when each session will end', async () => {
    const { c } = await signIn();
    const list = await c.get('/api/v1/sessions');
    assert.equal(list.status, 200);
    const mine = list.json.sessions.find((s: { current: boolean }) => s.current);
    assert.equal(Date.parse(mine.expiresAt), clock.now() + 30 * MIN, 'the idle deadline comes first');
  });
});
