import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { signedInUser, type User } from '../phone/helpers.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { secretOf, startQr } from './helpers.ts';

const MB = 'x'.repeat(1024 * 1024);
const HOSTILE: unknown[] = [
  null,
  42,
  true,
  [],
  { $ne: null },
  '',
  "' OR '1'='1' --",
  '<script>alert(1)</script>',
  'a\u0000b',
  '\u0007\u001b[31m\r\n',
  '\ud800',
  '../../etc/passwd',
  '%00%0d%0a',
  '__proto__',
];

/** Every QR row's id and status, to prove a request changed nothing. */
async function states(server: TestServer): Promise<string> {
  const rows = await server.deps.db
    .selectFrom('qr_logins')
    .select(['id', 'status', 'account_id'])
    .orderBy('id')
    .execute();
  const sessions = await server.deps.db.selectFrom('sessions').select('id').orderBy('id').execute();
  return JSON.stringify([rows, sessions.length]);
}

describe('QR sign-in: hostile inputs on every route', () => {
  let server: TestServer;
  let phone: User;
  before(async () => {
    server = await startTestServer();
    phone = await signedInUser(server, 'qrhostile');
  });
  after(async () => {
    await server?.close();
  });

  test('WEB-04 QR-03 hostile JSON bodies, ids and secrets get a 4xx problem and change nothing', async () => {
    const desktop = server.client();
    const s = await startQr(desktop);
    const secret = secretOf(s);
    const before = await states(server);
    const cases: [string, string, unknown][] = [];
    const ids = ['x', '..%2F..', '%00', 'a'.repeat(65), encodeURIComponent('<script>'), s.id.toUpperCase()];
    for (const v of [...HOSTILE, MB]) {
      cases.push(['POST', '/api/v1/qr-logins', { replaces: v }]);
      cases.push([
        'POST',
        `/api/v1/qr-logins/${s.id}/approve`,
        { secret: v, number: s.number, password: phone.password },
      ]);
      cases.push([
        'POST',
        `/api/v1/qr-logins/${s.id}/approve`,
        { secret, number: v === 42 ? 420 : v, password: phone.password },
      ]);
      cases.push(['POST', `/api/v1/qr-logins/${s.id}/approve`, { secret, number: s.number, password: v }]);
      cases.push(['POST', `/api/v1/qr-logins/${s.id}/decline`, { secret: v }]);
      cases.push(['PUT', '/api/v1/organizations/default/qr-login', { enabled: v }]);
    }
    for (const body of [
      undefined,
      [],
      'not json',
      '{"a":',
      'null',
      { secret, number: s.number, password: phone.password, extra: 1 },
    ])
      cases.push(['POST', `/api/v1/qr-logins/${s.id}/approve`, body]);
    for (const id of ids) {
      cases.push(['GET', `/api/v1/qr-logins/${id}`, undefined]);
      cases.push(['GET', `/api/v1/qr-logins/${id}/details?secret=${encodeURIComponent(secret)}`, undefined]);
      cases.push(['POST', `/api/v1/qr-logins/${id}/approve`, { secret, number: s.number, password: phone.password }]);
      cases.push(['POST', `/api/v1/qr-logins/${id}/decline`, { secret }]);
    }
    for (const q of [
      '',
      '?secret=',
      '?secret[]=a',
      `?secret=${'A'.repeat(65)}`,
      '?secret=%3Cscript%3E',
      '?secret=a&secret=b',
    ])
      cases.push(['GET', `/api/v1/qr-logins/${s.id}/details${q}`, undefined]);
    for (const [method, path, body] of cases) {
      const headers: Record<string, string> = typeof body === 'string' ? { 'content-type': 'application/json' } : {};
      const res = await phone.c.request(method, path, body, headers);
      const label = `${method} ${path.slice(0, 80)} ${JSON.stringify(body)?.slice(0, 60)}`;
      if (method === 'POST' && path === '/api/v1/qr-logins' && res.status === 201) continue; // a harmless new request
      assert.ok(res.status >= 400 && res.status < 500, `${label} → ${res.status} ${res.text.slice(0, 200)}`);
      assert.equal(res.headers.get('content-type')?.split(';')[0], 'application/problem+json', label);
      assert.doesNotMatch(res.text, /<script>|at \w+ \(|node_modules/, label);
    }
    const after = JSON.parse(await states(server));
    const was = JSON.parse(before);
    for (const r of was[0])
      assert.deepEqual(
        after[0].find((x: { id: string }) => x.id === r.id),
        r,
        `nothing changed: ${JSON.stringify(r)}`,
      );
    assert.equal(after[1], was[1], 'no session issued');
  });

  test('WEB-04 hostile form posts and paths on the QR pages answer 4xx pages and change nothing', async () => {
    const desktop = server.client();
    const s = await startQr(desktop);
    const before = await states(server);
    const pages: [string, Record<string, string> | undefined][] = [
      [
        '/qr/decide',
        { id: s.id, secret: '<script>alert(1)</script>', decision: 'approve', number: String(s.number), password: 'x' },
      ],
      [
        '/qr/decide',
        { id: '../../x', secret: secretOf(s), decision: 'approve', number: String(s.number), password: phone.password },
      ],
      ['/qr/decide', { id: s.id, secret: 'A'.repeat(43), decision: 'decline' }],
      ['/qr', { code: '<script>alert(1)</script>' }],
      ['/qr', { code: '' }],
      ['/qr/report/x', {}],
      [`/qr/report/${'A'.repeat(43)}`, {}],
      ['/admin/organization/qr-login', { org: '<script>', qrLogin: 'on' }],
    ];
    for (const [path, fields] of pages) {
      const r = await phone.c.form(path, fields ?? {});
      assert.ok(r.status >= 400 && r.status < 500, `${path} ${JSON.stringify(fields)} → ${r.status}`);
      assert.doesNotMatch(r.text, /<script>alert|at \w+ \(|node_modules/, path);
    }
    for (const path of ['/qr/%3Cscript%3E', `/qr/${'A'.repeat(43)}`, '/qr/..%2F..%2Fetc', '/qr/report/%00']) {
      const r = await phone.c.get(path, { accept: 'text/html' });
      assert.ok(r.status < 500, `${path} → ${r.status}`);
      assert.doesNotMatch(r.text, /<script>alert/, path);
    }
    const anon = server.client();
    for (const fields of [
      { action: 'continue', id: s.id },
      { action: 'continue', id: '<x>' },
      { action: '__proto__', id: '' },
    ]) {
      const r = await anon.form('/login/qr', fields);
      assert.ok(r.status < 500, `${JSON.stringify(fields)} → ${r.status}`);
      assert.equal(anon.cookies.has('latchkey_session'), false);
    }
    const after = JSON.parse(await states(server));
    const was = JSON.parse(before);
    for (const r of was[0])
      assert.deepEqual(
        after[0].find((x: { id: string }) => x.id === r.id),
        r,
        `nothing changed: ${JSON.stringify(r)}`,
      );
    assert.equal(after[1], was[1]);
  });

  test('WEB-01 a cross-site approval is refused', async () => {
    const s = await startQr(server.client());
    const evil = await phone.c.request(
      'POST',
      `/api/v1/qr-logins/${s.id}/approve`,
      { secret: secretOf(s), number: s.number, password: phone.password },
      { origin: 'https://evil.example' },
    );
    assert.equal(evil.status, 403);
    assert.equal(
      (await server.deps.db.selectFrom('qr_logins').select('status').where('id', '=', s.id).executeTakeFirstOrThrow())
        .status,
      'pending',
    );
  });
});

describe('QR-05 rate limits answer 429 without revealing the account', () => {
  let server: TestServer;
  let a: User;
  let b: User;
  before(async () => {
    server = await startTestServer({
      LATCHKEY_RATE_LIMIT_SCALE: '1',
      LATCHKEY_LIMIT_QR_CREATE_IP: '3/10m',
      LATCHKEY_LIMIT_QR_APPROVE_IP: '8/10m',
      LATCHKEY_LIMIT_QR_APPROVE_ID: '3/10m',
    });
    a = await signedInUser(server, 'qrlimita');
    b = await signedInUser(server, 'qrlimitb');
  });
  after(async () => {
    await server?.close();
  });

  test('QR-05 creation is limited per IP', async () => {
    const c = server.client();
    for (let i = 0; i < 3; i++) assert.equal((await c.post('/api/v1/qr-logins', {})).status, 201);
    const r = await c.post('/api/v1/qr-logins', {});
    assert.equal(r.status, 429);
    assert.equal(r.json.code, 'rate_limited');
    assert.ok(Number(r.headers.get('retry-after')) > 0);
    const page = await server.client().form('/login/qr', { action: 'start' });
    assert.equal(page.status, 429);
  });

  test('QR-05 approval is limited per account, then per IP, with the same answer', async () => {
    const secret = 'A'.repeat(43);
    const tryA = () => a.c.post('/api/v1/qr-logins/x/approve', { secret, number: 10, password: a.password });
    for (let i = 0; i < 3; i++) assert.equal((await tryA()).status, 400);
    const perAccount = await tryA();
    assert.equal(perAccount.status, 429);
    // Another account from the same address still gets through until the address's budget ends.
    const tryB = () => b.c.get(`/api/v1/qr-logins/x/details?secret=${secret}`);
    let perIp: Awaited<ReturnType<typeof tryB>> | undefined;
    for (let i = 0; i < 6; i++) {
      const r = await tryB();
      if (r.status === 429) {
        perIp = r;
        break;
      }
      assert.equal(r.status, 400);
    }
    assert.ok(perIp, 'the IP limit is reached');
    const strip = (t: string) => JSON.parse(t);
    assert.deepEqual(strip(perAccount.text), strip(perIp.text), 'the same problem whichever limit, whichever account');
    assert.doesNotMatch(perAccount.text + perIp.text, /qrlimit|account|identifier/i);
  });
});

describe('LATCHKEY_QR_LOGIN=off hides QR sign-in everywhere', () => {
  let server: TestServer;
  let u: User;
  before(async () => {
    server = await startTestServer({ LATCHKEY_QR_LOGIN: 'off' });
    u = await signedInUser(server, 'qroff');
  });
  after(async () => {
    await server?.close();
  });

  test('QR-09 no link, no pages, no API', async () => {
    const anon = server.client();
    assert.doesNotMatch((await anon.get('/login', { accept: 'text/html' })).text, /Sign in with your phone/);
    assert.doesNotMatch((await u.c.get('/settings', { accept: 'text/html' })).text, /Sign in on another device/);
    assert.equal((await anon.get('/login/qr', { accept: 'text/html' })).status, 404);
    assert.equal((await anon.post('/api/v1/qr-logins', {})).status, 404);
    assert.equal((await anon.get('/api/v1/qr-logins/abc')).status, 404);
    assert.equal((await u.c.get('/qr', { accept: 'text/html' })).status, 404);
    assert.equal((await u.c.get(`/qr/${'A'.repeat(43)}`, { accept: 'text/html' })).status, 404);
    assert.equal(
      (await u.c.post('/api/v1/qr-logins/abc/approve', { secret: 'x', number: 10, password: 'x' })).status,
      404,
    );
    assert.equal(
      await server.deps.db
        .selectFrom('qr_logins')
        .select('id')
        .execute()
        .then((r) => r.length),
      0,
    );
  });
});
