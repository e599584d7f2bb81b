import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { openReviewItem } from '../../src/store/review-items.ts';
import { seedSupportRequest } from '../review/helpers.ts';
import { withServer } from '../support/fixture.ts';
import type { Res } from '../support/http.ts';
import { cast, collectSecrets, enrolFactor, forbiddenCount, WHO, type Who } from './helpers.ts';

type Cast = Awaited<ReturnType<typeof cast>>;

/**
 * One row per admin route (and per action of the action routes): what each role gets. 303 for a
 * page means the redirect to /login (anonymous) or the action's success redirect; 403 is always
 * a refusal, audited. `+` marks an allowed call whose answer is not 2xx only because of the
 * account's state (enable on an active account: 409), so the role check is what is tested.
 */
interface Row {
  method: 'GET' | 'POST';
  route: string;
  path: (c: Cast) => string;
  body?: Record<string, string | string[]>;
  form?: boolean;
  label?: string;
  expect: Record<Who, number>;
}

const reason = 'ticket 42: user called support';
/** Review queue items about the target (sup20): one worked through the pages, one through the API, and a support request for replies. */
const items = { page: '', api: '', request: '' };
/** an OpenID Provider client the client rows act on */
const ROLE_CLIENT = 'role-test-client';
const page = (anon: number, member: number, other: number, own: number, support: number, admin: number) => ({
  anonymous: anon,
  member,
  otherOrgAdmin: other,
  ownOrgAdmin: own,
  support,
  admin,
});

const ROWS: Row[] = [
  // pages
  {
    method: 'GET',
    route: '/admin/accounts',
    path: () => '/admin/accounts?q=target',
    expect: page(303, 403, 200, 200, 200, 200),
  },
  {
    method: 'GET',
    route: '/admin/accounts/:id',
    path: (c) => `/admin/accounts/${c.target.id}`,
    expect: page(303, 403, 403, 200, 200, 200),
  },
  {
    method: 'POST',
    route: '/admin/accounts/:id/act',
    path: (c) => `/admin/accounts/${c.target.id}/act`,
    form: true,
    body: { action: 'unlock', reason },
    expect: page(303, 403, 403, 303, 303, 303),
  },
  {
    method: 'POST',
    route: '/admin/accounts/:id/act',
    path: (c) => `/admin/accounts/${c.target.id}/act`,
    form: true,
    body: { action: 'enable', reason },
    expect: page(303, 403, 403, 403, 403, 409),
  },
  { method: 'GET', route: '/admin/audit', path: () => '/admin/audit', expect: page(303, 403, 403, 403, 200, 200) },
  {
    method: 'GET',
    route: '/admin/audit/export',
    path: () => '/admin/audit/export?format=csv',
    expect: page(303, 403, 403, 403, 200, 200),
  },
  // the organization's own settings page (not the staff console): its owners and admins only
  {
    method: 'GET',
    route: '/admin/organization',
    path: () => '/admin/organization?org=acme',
    expect: page(303, 403, 403, 200, 403, 403),
  },
  {
    method: 'POST',
    route: '/admin/organization',
    path: () => '/admin/organization?org=acme',
    form: true,
    body: { methods: 'email_link' },
    expect: page(303, 403, 403, 400, 403, 403),
  },
  // the organization's second-factor requirement (f18), the same owners and admins
  {
    method: 'POST',
    route: '/admin/organization/security',
    path: () => '/admin/organization/security?org=acme',
    form: true,
    body: { requireSecondFactor: '0' },
    expect: page(303, 403, 403, 303, 403, 403),
  },
  // the organization's brand page (its owners and admins)
  {
    method: 'GET',
    route: '/admin/organization/brand',
    path: () => '/admin/organization/brand?org=acme',
    expect: page(303, 403, 403, 200, 403, 403),
  },
  {
    method: 'POST',
    route: '/admin/organization/brand',
    path: () => '/admin/organization/brand?org=acme',
    form: true,
    body: {},
    expect: page(303, 403, 403, 400, 403, 403),
  },
  {
    method: 'POST',
    route: '/admin/organization/brand/logo/remove',
    path: () => '/admin/organization/brand/logo/remove?org=acme',
    form: true,
    body: {},
    expect: page(303, 403, 403, 303, 403, 403),
  },
  // the organization's QR sign-in switch (qr19), the same owners and admins; the org is in the body
  {
    method: 'POST',
    route: '/admin/organization/qr-login',
    path: () => '/admin/organization/qr-login',
    form: true,
    body: { org: 'acme', qrLogin: 'on' },
    expect: page(303, 403, 403, 303, 403, 403),
  },
  // the review queue (sup20)
  { method: 'GET', route: '/admin', path: () => '/admin', expect: page(303, 403, 200, 200, 200, 200) },
  {
    method: 'GET',
    route: '/admin/requests',
    path: () => '/admin/requests',
    expect: page(303, 403, 200, 200, 200, 200),
  },
  {
    method: 'GET',
    route: '/admin/queue/:id',
    path: () => `/admin/queue/${items.page}`,
    expect: page(303, 403, 403, 200, 200, 200),
  },
  ...(
    [
      ['assign', () => items.page, {}],
      ['notes', () => items.page, { body: 'checked the ID card' }],
      ['reply', () => items.request, { body: 'We are looking into it.' }],
    ] as const
  ).map(
    ([name, item, body]): Row => ({
      method: 'POST',
      route: `/admin/queue/:id/${name}`,
      path: () => `/admin/queue/${item()}/${name}`,
      form: true,
      body,
      expect: page(303, 403, 403, 303, 303, 303),
    }),
  ),
  // the first allowed role resolves it; the next find it resolved (409)
  {
    method: 'POST',
    route: '/admin/queue/:id/resolve',
    path: () => `/admin/queue/${items.page}/resolve`,
    form: true,
    body: { outcome: 'legitimate', reason },
    expect: page(303, 403, 403, 303, 409, 409),
  },
  {
    method: 'GET',
    route: '/api/v1/admin/queue',
    path: () => '/api/v1/admin/queue',
    expect: page(401, 403, 200, 200, 200, 200),
  },
  {
    method: 'GET',
    route: '/api/v1/admin/queue/:id',
    path: () => `/api/v1/admin/queue/${items.api}`,
    expect: page(401, 403, 403, 200, 200, 200),
  },
  ...(
    [
      ['assign', () => items.api, {}, 200],
      ['notes', () => items.api, { body: 'checked the ID card' }, 201],
      ['reply', () => items.request, { body: 'We are looking into it.' }, 202],
    ] as const
  ).map(
    ([name, item, body, ok]): Row => ({
      method: 'POST',
      route: `/api/v1/admin/queue/:id/${name}`,
      path: () => `/api/v1/admin/queue/${item()}/${name}`,
      body,
      expect: page(401, 403, 403, ok, ok, ok),
    }),
  ),
  {
    method: 'POST',
    route: '/api/v1/admin/queue/:id/resolve',
    path: () => `/api/v1/admin/queue/${items.api}/resolve`,
    body: { outcome: 'secured', reason },
    expect: page(401, 403, 403, 200, 409, 409),
  },
  // API
  {
    method: 'GET',
    route: '/api/v1/admin/accounts',
    path: () => '/api/v1/admin/accounts?q=target',
    expect: page(401, 403, 200, 200, 200, 200),
  },
  {
    method: 'GET',
    route: '/api/v1/admin/accounts/:id',
    path: (c) => `/api/v1/admin/accounts/${c.target.id}`,
    expect: page(401, 403, 403, 200, 200, 200),
  },
  ...(
    [
      ['reset', page(401, 403, 403, 200, 200, 200)],
      ['end_sessions', page(401, 403, 403, 200, 200, 200)],
      ['unlock', page(401, 403, 403, 200, 200, 200)],
      ['resend_activation', page(401, 403, 403, 409, 409, 409)],
      ['clear_flag', page(401, 403, 403, 409, 409, 409)],
      ['enable', page(401, 403, 403, 403, 403, 409)],
      ['disable', page(401, 403, 403, 403, 403, 200)],
      ['enable', page(401, 403, 403, 403, 403, 200)],
      ['remove_second_factors', page(401, 403, 403, 403, 403, 200)],
    ] as const
  ).map(
    ([action, expect]): Row => ({
      method: 'POST',
      route: '/api/v1/admin/accounts/:id/actions/:action',
      path: (c) => `/api/v1/admin/accounts/${c.target.id}/actions/${action}`,
      label: action,
      body: {
        reason,
        ...(action === 'remove_second_factors' ? { identityCheck: 'video call, photo ID matched' } : {}),
      },
      expect,
    }),
  ),
  // OpenID Provider clients (op21): admin staff only
  { method: 'GET', route: '/admin/clients', path: () => '/admin/clients', expect: page(303, 403, 403, 403, 403, 200) },
  {
    method: 'POST',
    route: '/admin/clients',
    path: () => '/admin/clients',
    form: true,
    body: { name: 'Role test app', redirectUris: 'https://app.example.com/cb', reason },
    expect: page(303, 403, 403, 403, 403, 200),
  },
  {
    method: 'POST',
    route: '/admin/clients/:id',
    path: () => `/admin/clients/${ROLE_CLIENT}`,
    form: true,
    body: { action: 'save', name: 'Role test', redirectUris: 'https://app.example.com/cb', reason },
    expect: page(303, 403, 403, 403, 403, 303),
  },
  {
    method: 'GET',
    route: '/api/v1/admin/clients',
    path: () => '/api/v1/admin/clients',
    expect: page(401, 403, 403, 403, 403, 200),
  },
  {
    method: 'POST',
    route: '/api/v1/admin/clients',
    path: () => '/api/v1/admin/clients',
    body: { name: 'Role test API app', redirectUris: ['https://app.example.com/cb'], reason },
    expect: page(401, 403, 403, 403, 403, 201),
  },
  {
    method: 'POST',
    route: '/api/v1/admin/clients/:id',
    path: () => `/api/v1/admin/clients/${ROLE_CLIENT}`,
    body: { name: 'Role test renamed', reason },
    expect: page(401, 403, 403, 403, 403, 200),
  },
  {
    method: 'POST',
    route: '/api/v1/admin/clients/:id/actions/:action',
    path: () => `/api/v1/admin/clients/${ROLE_CLIENT}/actions/rotate_secret`,
    label: 'rotate_secret',
    body: { reason },
    expect: page(401, 403, 403, 403, 403, 200),
  },
  {
    method: 'GET',
    route: '/api/v1/admin/audit',
    path: () => '/api/v1/admin/audit',
    expect: page(401, 403, 403, 403, 200, 200),
  },
  {
    method: 'GET',
    route: '/api/v1/admin/audit/export',
    path: () => '/api/v1/admin/audit/export',
    expect: page(401, 403, 403, 403, 200, 200),
  },
];

/** Every route the server registered under /admin and /api/v1/admin, as "METHOD path", from printRoutes' tree. */
function adminRoutes(printed: string): Set<string> {
  const out = new Set<string>();
  const stack: string[] = [];
  for (const line of printed.split('\n')) {
    const m = /^(.*?)[├└]── (\S+)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1].length / 4;
    const path = (depth > 0 ? stack[depth - 1] : '') + m[2];
    stack[depth] = path;
    stack.length = depth + 1;
    if (!m[3] || !/^\/(admin|api\/v1\/admin)(\/|$)/.test(path)) continue;
    for (const method of m[3].split(',').map((x) => x.trim()))
      if (method !== 'HEAD' && method !== 'OPTIONS') out.add(`${method} ${path}`);
  }
  return out;
}

async function call(c: Cast, who: Who, row: Row): Promise<Res> {
  const client = c.clients[who];
  const path = row.path(c);
  if (row.method === 'GET') return client.get(path, path.startsWith('/api/') ? {} : { accept: 'text/html' });
  if (row.form) return client.form(path, (row.body ?? {}) as Record<string, string>);
  return client.post(path, row.body ?? {});
}

describe('ADM-05 every admin route and page checks the role; refusals are 403 and audited', () => {
  const fx = withServer();
  let c: Cast;
  const answers: string[] = [];
  const secrets = new Set<string>();
  before(async () => {
    c = await cast(fx.server);
    // the target has a second factor, recovery codes and a live session, so its page shows them all
    await enrolFactor(fx.server, c.target.id);
    await fx.server.deps.db
      .insertInto('mfa_recovery_codes')
      .values({
        id: 'rc-1',
        account_id: c.target.id,
        code_hash: 'mfa-code-hash-never-shown',
        created_at: Date.now(),
        used_at: null,
      })
      .execute();
    items.page = (await openReviewItem(fx.server.deps, {
      kind: 'qr_reported',
      accountId: c.target.id,
      reason: 'This was not me',
    })) as string;
    items.api = (await openReviewItem(fx.server.deps, {
      kind: 'passkey_counter',
      accountId: c.target.id,
      reason: 'Counter went backwards',
    })) as string;
    items.request = await seedSupportRequest(fx.server, c.target.id);
    const app = await fx.server.deps.apps.clients.add({
      name: 'Role test',
      redirectUris: ['https://app.example.com/cb'],
    });
    await fx.server.deps.db
      .updateTable('oidc_clients')
      .set({ id: ROLE_CLIENT })
      .where('id', '=', app.client.id)
      .execute();
    await collectSecrets(fx.server, secrets);
  });

  test('ADM-05 the table lists every route registered under /admin and /api/v1/admin', () => {
    const registered = adminRoutes(fx.server.app.printRoutes({ commonPrefix: false }));
    assert.ok(registered.size >= 8, [...registered].join('\n'));
    const listed = new Set(ROWS.map((r) => `${r.method} ${r.route}`));
    const missing = [...registered].filter((r) => !listed.has(r));
    assert.deepEqual(missing, [], 'every admin route needs a row in ROWS');
  });

  for (const [i, row] of ROWS.entries()) {
    const what = row.label ?? row.body?.action;
    test(`ADM-05 ${row.method} ${row.route}${what ? ` (${what}, #${i})` : ''}: ${WHO.map((w) => `${w} ${row.expect[w]}`).join(', ')}`, async () => {
      for (const who of WHO) {
        const actor = c.ids[who];
        const before = actor ? await forbiddenCount(fx.server, actor) : 0;
        const res = await call(c, who, row);
        answers.push(`${row.method} ${row.path(c)} ${who}\n${res.text}`);
        assert.equal(res.status, row.expect[who], `${who}: ${res.status} ${res.text.slice(0, 300)}`);
        if (res.status === 303 && who === 'anonymous') assert.match(res.headers.get('location') ?? '', /^\/login/);
        if (res.status === 303 && who !== 'anonymous')
          assert.doesNotMatch(res.headers.get('location') ?? '', /^\/login/, `${who} was sent to sign in`);
        if (res.status === 403 && actor)
          assert.equal(await forbiddenCount(fx.server, actor), before + 1, `${who}'s refusal is audited`);
      }
    });
  }

  test('no answer of any admin route or page carries a password hash, token or code hash, secret or session id', async () => {
    await collectSecrets(fx.server, secrets);
    assert.ok(secrets.size > 10, 'secrets were collected');
    assert.ok(answers.length >= ROWS.length * WHO.length);
    for (const text of answers)
      for (const secret of secrets) assert.ok(!text.includes(secret), `a secret leaked in ${text.slice(0, 200)}`);
  });
});
