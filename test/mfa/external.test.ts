import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Agent, OidcProvider } from '../support/oauth-providers.ts';
import { freePort, startTestServer, type TestServer } from '../support/server.ts';
import { enrolTotpDirect, ShiftClock, totpCode } from './helpers.ts';

// BF-05 on the external-account path: a provider's sign-in proves one factor; an account with a
// second factor goes through /login/second-factor like a password sign-in, keeping return_to.

describe('BF-05 external-account sign-in and the second factor', () => {
  let server: TestServer;
  let base: string;
  const clock = new ShiftClock();
  const idp = new OidcProvider('latchkey-client', 'latchkey-secret-0123456789');

  before(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    await idp.start(() => [`${base}/auth/google/callback`]);
    server = await startTestServer(
      {
        LATCHKEY_PORT: String(port),
        LATCHKEY_GOOGLE_CLIENT_ID: idp.clientId,
        LATCHKEY_GOOGLE_CLIENT_SECRET: idp.clientSecret,
        LATCHKEY_GOOGLE_ISSUER: idp.url,
      },
      { clock },
    );
  });
  after(async () => {
    await server?.close();
    await idp.stop();
  });

  const cookies = (a: Agent) => a.jars.get(new URL(base).host) ?? new Map<string, string>();
  const current = async (a: Agent) =>
    (
      await fetch(`${base}/api/v1/sessions/current`, {
        headers: { cookie: [...cookies(a)].map(([k, v]) => `${k}=${v}`).join('; ') },
      })
    ).status;

  test('BF-05 an external sign-in of an account with a factor lands on /login/second-factor, not in a session', async () => {
    idp.nextUser = { sub: 'g-mfa-1', email: 'ext-mfa@example.test', email_verified: true, name: 'Ext Mfa' };
    const first = await new Agent().get(`${base}/auth/google/start`);
    assert.equal(new URL(first.url).pathname, '/auth/welcome');
    const row = await server.deps.db
      .selectFrom('accounts')
      .select('username')
      .where('email', '=', 'ext-mfa@example.test')
      .executeTakeFirstOrThrow();
    const { secret } = await enrolTotpDirect(server, clock, row.username);

    const a = new Agent();
    const step = await a.get(`${base}/auth/google/start?return_to=${encodeURIComponent('/settings#sessions')}`);
    assert.equal(new URL(step.url).pathname, '/login/second-factor', step.trail?.join(' → '));
    assert.match(step.text, /authenticator app/);
    assert.equal(await current(a), 401, 'no session before the second factor');
    assert.ok(!cookies(a).has('latchkey_session'));
    const done = await a.form(`${base}/login/second-factor`, { code: totpCode(secret, clock.now()) });
    assert.equal(new URL(done.url).pathname, '/settings');
    assert.equal(await current(a), 200);
    const s = await server.deps.db
      .selectFrom('sessions')
      .select(['amr', 'method'])
      .orderBy('created_at', 'desc')
      .executeTakeFirstOrThrow();
    assert.equal(s.method, 'external:google');
    assert.deepEqual(JSON.parse(s.amr).sort(), ['fed', 'mfa', 'otp']);
  });
});
