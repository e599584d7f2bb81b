import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { systemContext } from '../../src/context.ts';
import { FakeClock } from '../../src/security/clock.ts';
import { signedInUser, type User } from '../phone/helpers.ts';
import type { Client, Res } from '../support/http.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const TINY_PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
const TWO_HOURS = 2 * 3600_000; // older than LATCHKEY_REAUTH_WINDOW (10m), younger than the idle timeout (12h)

/** Every route the server has, as "METHOD /path", read from Fastify's route tree. */
function routesOf(tree: string): string[] {
  const out: string[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^(.*?)[├└]── (.+?)(?: \(([^)]*)\))?$/.exec(line);
    if (!m) continue;
    const depth = [...m[1]].length / 4;
    stack.length = depth;
    const path = (depth ? stack[depth - 1] : '') + m[2];
    stack.push(path);
    for (const method of (m[3] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean))
      out.push(`${method} ${path}`);
  }
  return out;
}

const form = (c: Client, path: string, pairs: [string, string][]) =>
  c.post(path, new URLSearchParams(pairs).toString(), {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'text/html',
  });

const settingsForm = (methods: string[]): [string, string][] => [
  ...methods.map((m): [string, string] => ['methods', m]),
  ['emailLinkTtl', '3600'],
  ['emailOtpTtl', '600'],
  ['smsOtpTtl', '600'],
  ['otpLength', '6'],
  ['maxAttempts', '5'],
  ['maxResends', '3'],
];

describe('SES-07 organization admin changes need a recent sign-in (injected clock)', () => {
  let server: TestServer;
  const clock = new FakeClock(Date.now());
  let admin: User;
  let member: User;
  const methods = async () =>
    (await admin.c.get('/api/v1/organizations/default/recovery-settings')).json.methods as string[];
  const changes = async () =>
    (
      await server.deps.db
        .selectFrom('audit_log')
        .select('id')
        .where('event', '=', 'org.recovery_settings_changed')
        .execute()
    ).length;
  const signInAgain = async (u: User) => {
    const r = await u.c.post('/api/v1/sessions', { identifier: u.username, password: u.password });
    assert.equal(r.status, 201, r.text);
  };

  /**
   * Every state-changing admin route, with a request that would change something. A new admin
   * route must be added here (the first test fails until it is), so none escapes the check.
   */
  const ADMIN_CHANGES: Record<string, (c: Client, methods: string[]) => Promise<Res>> = {
    'PUT /api/v1/organizations/:slug/recovery-settings': (c, m) =>
      c.put('/api/v1/organizations/default/recovery-settings', { methods: m }),
    'POST /admin/organization': (c, m) => form(c, '/admin/organization?org=default', settingsForm(m)),
    // QR-09's per-organization switch (src/flows/qr): same gate
    'PUT /api/v1/organizations/:slug/qr-login': (c) =>
      c.put('/api/v1/organizations/default/qr-login', { enabled: false }),
    'POST /admin/organization/qr-login': (c) => form(c, '/admin/organization/qr-login', [['org', 'default']]),
    'PUT /api/v1/organizations/:slug/security-settings': (c) =>
      c.put('/api/v1/organizations/default/security-settings', { requireSecondFactor: true }),
    'POST /admin/organization/security': (c) =>
      form(c, '/admin/organization/security?org=default', [
        ['requireSecondFactor', '0'],
        ['requireSecondFactor', '1'],
      ]),
    // the brand (src/flows/brand): the same gate
    'PUT /api/v1/organizations/:slug/brand': (c) => c.put('/api/v1/organizations/default/brand', { displayName: 'X' }),
    'PUT /api/v1/organizations/:slug/logo': (c) =>
      c.put('/api/v1/organizations/default/logo', { contentType: 'image/png', data: TINY_PNG }),
    'DELETE /api/v1/organizations/:slug/logo': (c) => c.delete('/api/v1/organizations/default/logo'),
    'POST /admin/organization/brand': (c) =>
      form(c, '/admin/organization/brand?org=default', [
        ['displayName', 'X'],
        ['primaryColor', '#1f5fbf'],
        ['primaryColorDark', '#79b8ff'],
      ]),
    'POST /admin/organization/brand/logo/remove': (c) =>
      form(c, '/admin/organization/brand/logo/remove?org=default', []),
  };

  before(async () => {
    server = await startTestServer({}, { clock });
    admin = await signedInUser(server, 'reauthadmin');
    member = await signedInUser(server, 'reauthmember');
    await server.deps.organizations.addAdmin('default', 'reauthadmin', 'admin', systemContext('test'));
  });
  after(async () => {
    await server?.close();
  });

  test('SES-07 every state-changing organization admin route is one this file proves', () => {
    const routes = routesOf(server.app.printRoutes({ commonPrefix: false }));
    assert.ok(routes.includes('PUT /api/v1/organizations/:slug/recovery-settings'), routes.join('\n'));
    const admin = routes.filter(
      (r) =>
        /^(POST|PUT|PATCH|DELETE) /.test(r) &&
        // registering into an organization is public, not an admin change
        // (the staff console's routes under /admin are proven in test/staff: roles and actions tests)
        (/ \/api\/v1\/organizations\/:slug\/(?!registrations$)/.test(r) || / \/admin\/organization(\/|$)/.test(r)),
    );
    assert.deepEqual(admin.sort(), Object.keys(ADMIN_CHANGES).sort());
  });

  test('SES-07 changing organization recovery settings needs a recent sign-in (API)', async () => {
    const change = ADMIN_CHANGES['PUT /api/v1/organizations/:slug/recovery-settings'];
    assert.equal((await change(admin.c, ['email_link', 'email_otp'])).status, 200, 'a fresh sign-in may change them');
    clock.advance(TWO_HOURS);
    const n = await changes();
    const stale = await change(admin.c, ['email_link', 'sms_otp']);
    assert.equal(stale.status, 401, stale.text);
    assert.equal(stale.json.code, 'reauthentication_required');
    assert.equal(stale.headers.get('cache-control'), 'no-store');
    assert.deepEqual(await methods(), ['email_link', 'email_otp'], 'nothing changed');
    assert.equal(await changes(), n, 'no change recorded');
    // A member with an old sign-in still gets the audited 403, not an invitation to sign in again.
    const forbidden = await change(member.c, ['sms_otp']);
    assert.equal(forbidden.status, 403);
    await signInAgain(admin);
    const ok = await change(admin.c, ['email_link', 'sms_otp']);
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(await methods(), ['email_link', 'sms_otp']);
    assert.equal(await changes(), n + 1);
  });

  test('SES-07 changing organization recovery settings needs a recent sign-in (page: sign in again, come back, save)', async () => {
    const change = ADMIN_CHANGES['POST /admin/organization'];
    await signInAgain(admin);
    const fresh = await change(admin.c, ['email_link']);
    assert.equal(fresh.status, 303, fresh.text);
    assert.equal(fresh.headers.get('location'), '/admin/organization?org=default&saved=1');
    assert.equal(
      (await admin.c.get('/admin/organization', { accept: 'text/html' })).text.includes('sign in again'),
      false,
    );
    clock.advance(TWO_HOURS);
    const n = await changes();
    const page = await admin.c.get('/admin/organization', { accept: 'text/html' });
    assert.equal(page.status, 200);
    assert.match(
      page.text,
      /saving will first ask you to sign in again/,
      'the page says so before the admin fills it in',
    );

    const stale = await change(admin.c, ['email_link', 'email_otp']);
    assert.equal(stale.status, 303, stale.text);
    const login = stale.headers.get('location') as string;
    assert.equal(login, `/login?msg=reauthenticate&next=${encodeURIComponent('/admin/organization?org=default')}`);
    assert.equal(
      (await admin.c.get('/api/v1/organizations/default/recovery-settings')).status,
      401,
      'the old session ended',
    );
    assert.equal(
      (await server.deps.organizations.bySlug('default'))?.recovery.methods.join(),
      'email_link',
      'nothing changed',
    );
    assert.equal(await changes(), n);

    const loginPage = await admin.c.get(login, { accept: 'text/html' });
    assert.equal(loginPage.status, 200);
    assert.match(loginPage.text, /Please sign in again to confirm it is you/);
    assert.match(loginPage.text, /name="next" value="\/admin\/organization\?org=default"/);
    const signedIn = await form(admin.c, '/login', [
      ['identifier', admin.username],
      ['password', admin.password],
      ['next', '/admin/organization?org=default'],
    ]);
    assert.equal(signedIn.status, 303, signedIn.text);
    assert.equal(signedIn.headers.get('location'), '/admin/organization?org=default', 'back where the admin was');
    const back = await admin.c.get('/admin/organization?org=default', { accept: 'text/html' });
    assert.equal(back.status, 200);
    assert.doesNotMatch(back.text, /saving will first ask you to sign in again/);
    const saved = await change(admin.c, ['email_link', 'email_otp']);
    assert.equal(saved.headers.get('location'), '/admin/organization?org=default&saved=1');
    assert.deepEqual(await methods(), ['email_link', 'email_otp']);
    assert.equal(await changes(), n + 1);
  });

  test('SES-07 every admin change route refuses an old sign-in and changes nothing', async () => {
    for (const [route, change] of Object.entries(ADMIN_CHANGES)) {
      await signInAgain(admin);
      const before = await methods();
      const n = await changes();
      clock.advance(TWO_HOURS);
      const r = await change(admin.c, ['email_otp', 'sms_otp']);
      if (route.includes('/api/'))
        assert.equal(r.json?.code, 'reauthentication_required', `${route}: ${r.status} ${r.text}`);
      else assert.match(r.headers.get('location') ?? '', /^\/login\?msg=reauthenticate/, `${route}: ${r.status}`);
      await signInAgain(admin);
      assert.deepEqual(await methods(), before, route);
      const org = await server.deps.organizations.bySlug('default');
      assert.equal(org?.security.requireSecondFactor, false, route);
      assert.equal(await changes(), n, route);
    }
  });

  test('SES-07 the way back after signing in again stays on this site (no open redirect, EXT-07)', async () => {
    for (const next of [
      '//evil.example/x',
      'https://evil.example/',
      '/\\evil.example',
      'javascript:alert(1)',
      // over the 2048 bound of a return address (long enough for an app's forward-auth URL)
      `/${'a'.repeat(2048)}`,
    ]) {
      const c = server.client();
      const page = await c.get(`/login?msg=reauthenticate&next=${encodeURIComponent(next)}`, { accept: 'text/html' });
      assert.doesNotMatch(page.text, /name="next"/, next);
      const r = await form(c, '/login', [
        ['identifier', member.username],
        ['password', member.password],
        ['next', next],
      ]);
      assert.equal(r.status, 303, r.text);
      assert.equal(r.headers.get('location'), '/settings', next);
    }
  });
});
