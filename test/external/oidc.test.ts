import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FakeClock } from '../../src/security/clock.ts';
import { Agent, OidcProvider } from '../support/oauth-providers.ts';
import { freePort, startTestServer, strongPassword, type TestServer, waitForDevMail } from '../support/server.ts';

// A real OpenID provider (oidc-provider) plays Google, Microsoft (an Azure AD tenant via the
// issuer override), LinkedIn and a generic "Acme" provider; a second instance plays "Okta".

describe('external accounts with OpenID Connect providers', () => {
  let server: TestServer;
  let base: string;
  const clock = new FakeClock(Date.now());
  const idp = new OidcProvider('latchkey-client', 'latchkey-secret-0123456789');
  const okta = new OidcProvider('okta-client', 'okta-secret-0123456789');

  before(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    await idp.start(() => ['google', 'microsoft', 'linkedin', 'oidc-acme'].map((p) => `${base}/auth/${p}/callback`));
    await okta.start(() => [`${base}/auth/oidc-okta/callback`]);
    const creds = (p: string, o: OidcProvider) => ({
      [`LATCHKEY_${p}_CLIENT_ID`]: o.clientId,
      [`LATCHKEY_${p}_CLIENT_SECRET`]: o.clientSecret,
      [`LATCHKEY_${p}_ISSUER`]: o.url,
    });
    server = await startTestServer(
      {
        LATCHKEY_PORT: String(port),
        ...creds('GOOGLE', idp),
        ...creds('MICROSOFT', idp),
        LATCHKEY_MICROSOFT_DISPLAY_NAME: 'Contoso (Azure AD)',
        ...creds('LINKEDIN', idp),
        ...creds('OIDC_ACME', idp),
        LATCHKEY_OIDC_ACME_DISPLAY_NAME: 'Acme SSO',
        ...creds('OIDC_OKTA', okta),
      },
      { clock },
    );
  });
  after(async () => {
    await server?.close();
    await idp.stop();
    await okta.stop();
  });

  const currentAccount = async (a: Agent) => {
    const res = await fetch(`${base}/api/v1/sessions/current`, { headers: { cookie: cookieHeader(a) } });
    return res.status === 200
      ? ((await res.json()) as { account: { id: string; username: string; email: string | null } }).account
      : null;
  };
  const cookieHeader = (a: Agent) =>
    [...(a.jars.get(new URL(base).host) ?? new Map())].map(([k, v]) => `${k}=${v}`).join('; ');

  async function passwordAccount(username: string, email: string) {
    const password = strongPassword();
    const c = server.client();
    assert.equal((await c.post('/api/v1/registrations', { username, email, password })).status, 202);
    const mail = await waitForDevMail(server, (m) => m.to.includes(email) && /activat/i.test(m.subject));
    const token = /activate\?token=([A-Za-z0-9_-]+)/.exec(mail.text)?.[1];
    assert.equal((await c.post('/api/v1/activations', { token })).status, 200);
    return password;
  }

  async function signInWithPassword(a: Agent, identifier: string, password: string) {
    const res = await a.form(`${base}/login`, { identifier, password });
    assert.equal(new URL(res.url).pathname, '/settings');
  }

  test('the provider list and the /login buttons show every enabled provider', async () => {
    const res = await fetch(`${base}/api/v1/providers`);
    assert.equal(res.status, 200);
    const { providers } = (await res.json()) as { providers: { id: string; name: string; startUrl: string }[] };
    assert.deepEqual(
      providers.map((p) => p.id),
      ['google', 'microsoft', 'linkedin', 'oidc-acme', 'oidc-okta'],
    );
    assert.equal(providers.find((p) => p.id === 'oidc-acme')?.name, 'Acme SSO');
    assert.equal(providers.find((p) => p.id === 'microsoft')?.name, 'Contoso (Azure AD)');
    const login = await (await fetch(`${base}/login`)).text();
    for (const p of providers) assert.ok(login.includes(`href="/auth/${p.id}/start"`), p.id);
    assert.ok(login.includes('Continue with Acme SSO'));
  });

  test('EXT-03 first Google sign-in creates an account, welcome step renames it, the next sign-in lands in the same account', async () => {
    idp.nextUser = {
      sub: 'g-100',
      email: 'Grace@Example.test',
      email_verified: true,
      name: 'Grace Hopper',
      preferred_username: 'grace',
    };
    const a = new Agent();
    const first = await a.get(`${base}/auth/google/start`);
    assert.equal(new URL(first.url).pathname, '/auth/welcome', first.text.slice(0, 500));
    assert.match(first.text, /Google profile/);
    const created = await currentAccount(a);
    assert.ok(created);
    assert.equal(created.username, 'grace');
    assert.equal(created.email, 'grace@example.test', 'normalised like a typed address (ID-01)');
    const renamed = await a.form(`${base}/auth/welcome`, { username: 'amazing-grace' });
    assert.equal(new URL(renamed.url).pathname, '/settings');
    assert.match(renamed.text, /Linked accounts/);
    assert.match(renamed.text, /Google/);
    assert.equal((await currentAccount(a))?.username, 'amazing-grace');

    await a.form(`${base}/logout`, {});
    assert.equal(await currentAccount(a), null);
    // Another browser, same Google identity (the provider remembers nothing of the first).
    const b = new Agent();
    const again = await b.get(`${base}/auth/google/start`);
    assert.equal(new URL(again.url).pathname, '/settings');
    assert.equal((await currentAccount(b))?.id, created.id);
  });

  test('EXT-03 identities are keyed by provider and subject: the same subject at another provider is another account', async () => {
    idp.nextUser = { sub: 'shared-sub', name: 'Same Sub' };
    const a = new Agent();
    await a.get(`${base}/auth/linkedin/start`);
    const viaLinkedIn = await currentAccount(a);
    const b = new Agent();
    await b.get(`${base}/auth/microsoft/start`);
    const viaMicrosoft = await currentAccount(b);
    assert.ok(viaLinkedIn && viaMicrosoft);
    assert.notEqual(viaLinkedIn.id, viaMicrosoft.id);
  });

  test('a generic OpenID provider (discovery) signs in; an unverified email is not put on the account', async () => {
    okta.nextUser = { sub: 'okta-7', email: 'unverified@example.test', email_verified: false, name: 'Olga Okta' };
    const a = new Agent();
    const res = await a.get(`${base}/auth/oidc-okta/start`);
    assert.equal(new URL(res.url).pathname, '/auth/welcome');
    const acct = await currentAccount(a);
    assert.equal(acct?.email, null);
    assert.equal(acct?.username, 'olga.okta');
  });

  test('EXT-04 a verified provider email that matches an existing account never merges', async () => {
    const password = await passwordAccount('victim1', 'victim1@example.test');
    idp.nextUser = { sub: 'attacker-1', email: 'victim1@example.test', email_verified: true, name: 'Not Victim' };
    const a = new Agent();
    const res = await a.get(`${base}/auth/google/start`);
    assert.equal(res.status, 409);
    assert.match(res.text, /already exists/);
    assert.match(res.text, /href="\/login"/);
    assert.equal(await currentAccount(a), null);
    // The victim's account has no linked identity and still signs in with the password only.
    const v = new Agent();
    await signInWithPassword(v, 'victim1', password);
    const ids = await fetch(`${base}/api/v1/account/identities`, { headers: { cookie: cookieHeader(v) } });
    assert.deepEqual(((await ids.json()) as { identities: unknown[] }).identities, []);
  });

  test('EXT-04 EXT-05 a pre-registered, never activated account with the same email is neither merged nor usable', async () => {
    // The attacker registers the victim's address first and never activates it.
    const c = server.client();
    assert.equal(
      (
        await c.post('/api/v1/registrations', {
          username: 'squatter',
          email: 'early@example.test',
          password: strongPassword(),
        })
      ).status,
      202,
    );
    idp.nextUser = { sub: 'real-owner', email: 'early@example.test', email_verified: true, name: 'Real Owner' };
    const a = new Agent();
    const res = await a.get(`${base}/auth/google/start`);
    assert.equal(res.status, 409);
    assert.equal(await currentAccount(a), null);
    const { db } = server.deps;
    const row = await db
      .selectFrom('external_identities')
      .select('id')
      .where('subject', '=', 'real-owner')
      .executeTakeFirst();
    assert.equal(row, undefined);
  });

  test('EXT-06 LOG-03 linking from settings needs a signed-in account, sends a notice, and the provider then signs in to it', async () => {
    const password = await passwordAccount('linker1', 'linker1@example.test');
    const a = new Agent();
    await signInWithPassword(a, 'linker1', password);
    const account = await currentAccount(a);
    idp.nextUser = {
      sub: 'acme-linker',
      email: 'someone-else@example.test',
      email_verified: true,
      name: 'Linker at Acme',
    };
    const linked = await a.form(`${base}/settings/identities/link/oidc-acme`, {});
    assert.equal(new URL(linked.url).pathname, '/settings');
    assert.match(linked.text, /The account was linked/);
    const mail = await waitForDevMail(
      server,
      (m) => m.to.includes('linker1@example.test') && /Acme SSO account linked/.test(m.subject),
    );
    assert.match(mail.text, /linker1/);

    await a.form(`${base}/logout`, {});
    const b = new Agent();
    const res = await b.get(`${base}/auth/oidc-acme/start`);
    assert.equal(new URL(res.url).pathname, '/settings');
    assert.equal((await currentAccount(b))?.id, account?.id);

    // Unlink works while a password remains, and notifies.
    const list = await fetch(`${base}/api/v1/account/identities`, { headers: { cookie: cookieHeader(b) } });
    const [identity] = ((await list.json()) as { identities: { id: string; provider: string }[] }).identities;
    assert.equal(identity.provider, 'oidc-acme');
    const del = await fetch(`${base}/api/v1/account/identities/${identity.id}`, {
      method: 'DELETE',
      headers: { cookie: cookieHeader(b), origin: base },
    });
    assert.equal(del.status, 204);
    await waitForDevMail(server, (m) => m.to.includes('linker1@example.test') && /unlinked/.test(m.subject));

    // LOG-01: both are audited with who, from where, and which provider (no secrets).
    const events = await server.deps.db
      .selectFrom('audit_log')
      .selectAll()
      .where('account_id', '=', account?.id as string)
      .where('event', 'in', ['external.linked', 'external.unlinked'])
      .execute();
    assert.deepEqual(events.map((e) => e.event).sort(), ['external.linked', 'external.unlinked']);
    for (const e of events) assert.match(String(e.details), /oidc-acme/);
  });

  test('EXT-06 the last way to sign in cannot be unlinked', async () => {
    idp.nextUser = { sub: 'only-google', name: 'Only Google' };
    const a = new Agent();
    await a.get(`${base}/auth/google/start`);
    const list = await fetch(`${base}/api/v1/account/identities`, { headers: { cookie: cookieHeader(a) } });
    const [identity] = ((await list.json()) as { identities: { id: string }[] }).identities;
    const del = await fetch(`${base}/api/v1/account/identities/${identity.id}`, {
      method: 'DELETE',
      headers: { cookie: cookieHeader(a), origin: base },
    });
    assert.equal(del.status, 409);
    assert.equal(((await del.json()) as { code: string }).code, 'last_sign_in_method');
    const page = await a.form(`${base}/settings/identities/${identity.id}/unlink`, {});
    assert.equal(page.status, 409);
    assert.match(page.text, /only way to sign in/);
    const still = await fetch(`${base}/api/v1/account/identities`, { headers: { cookie: cookieHeader(a) } });
    assert.equal(((await still.json()) as { identities: unknown[] }).identities.length, 1);
  });

  test('EXT-06 an account without a password unlinks its last external account when it has a passkey', async () => {
    idp.nextUser = { sub: 'google-and-passkey', name: 'Google And Passkey' };
    const a = new Agent();
    await a.get(`${base}/auth/google/start`);
    const account = await currentAccount(a);
    assert.ok(account);
    const list = await fetch(`${base}/api/v1/account/identities`, { headers: { cookie: cookieHeader(a) } });
    const [identity] = ((await list.json()) as { identities: { id: string }[] }).identities;
    const unlink = () =>
      fetch(`${base}/api/v1/account/identities/${identity.id}`, {
        method: 'DELETE',
        headers: { cookie: cookieHeader(a), origin: base },
      });
    const now = clock.now();
    const passkey = {
      id: `pk-${account.id}`,
      account_id: account.id,
      kind: 'passkey',
      name: 'Phone',
      created_at: now,
      confirmed_at: now,
      last_used_at: null,
      secret_enc: null,
      last_step: null,
      credential_id: `cred-${account.id}`,
      public_key: 'x',
      sign_count: 0,
      transports: null,
      // A flagged passkey no longer signs in (MFA-04), so it does not count.
      flagged_at: now,
    };
    await server.deps.db.insertInto('second_factors').values(passkey).execute();
    const flagged = await unlink();
    assert.equal(flagged.status, 409);
    assert.equal(((await flagged.json()) as { code: string }).code, 'last_sign_in_method');
    await server.deps.db.updateTable('second_factors').set({ flagged_at: null }).where('id', '=', passkey.id).execute();
    assert.equal((await unlink()).status, 204);
    const left = await fetch(`${base}/api/v1/account/identities`, { headers: { cookie: cookieHeader(a) } });
    assert.equal(((await left.json()) as { identities: unknown[] }).identities.length, 0);
  });

  test('SES-07 EXT-06 linking and unlinking after the re-authentication window asks to sign in again', async () => {
    const password = await passwordAccount('stale1', 'stale1@example.test');
    const a = new Agent();
    await signInWithPassword(a, 'stale1', password);
    clock.advance(11 * 60_000);
    const res = await a.form(`${base}/settings/identities/link/google`, {}, false);
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/login?msg=session_ended');
    assert.equal(await currentAccount(a), null);
    // The API answers with the problem code instead.
    await signInWithPassword(a, 'stale1', password);
    idp.nextUser = { sub: 'stale-google', name: 'Stale' };
    await a.form(`${base}/settings/identities/link/google`, {});
    const list = await fetch(`${base}/api/v1/account/identities`, { headers: { cookie: cookieHeader(a) } });
    const [identity] = ((await list.json()) as { identities: { id: string }[] }).identities;
    clock.advance(11 * 60_000);
    const del = await fetch(`${base}/api/v1/account/identities/${identity.id}`, {
      method: 'DELETE',
      headers: { cookie: cookieHeader(a), origin: base },
    });
    assert.equal(del.status, 401);
    assert.equal(((await del.json()) as { code: string }).code, 'reauthentication_required');
  });

  test('a user who cancels at the provider gets a clear page with a way back', async () => {
    idp.cancel = true;
    try {
      const a = new Agent();
      const res = await a.get(`${base}/auth/google/start`);
      assert.equal(res.status, 400);
      assert.match(res.text, /cancelled or refused/);
      assert.match(res.text, /href="\/login"/);
      assert.equal(await currentAccount(a), null);
    } finally {
      idp.cancel = false;
    }
  });

  test('an unknown provider is a 404 page, not an error', async () => {
    const res = await fetch(`${base}/auth/nope/start`);
    assert.equal(res.status, 404);
    const cb = await fetch(`${base}/auth/nope/callback?code=x&state=y`);
    assert.equal(cb.status, 404);
  });
});
