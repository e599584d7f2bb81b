import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { activeAccount, signedIn, snapshot } from '../support/accounts.ts';
import type { Client } from '../support/http.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

// WEB-01, WEB-03, WEB-04 on every state-changing route the foundation serves.

const STATE_CHANGING: [method: string, path: string, form: boolean][] = [
  ['POST', '/api/v1/registrations', false],
  ['POST', '/api/v1/activations', false],
  ['POST', '/api/v1/sessions', false],
  ['DELETE', '/api/v1/sessions/current', false],
  ['DELETE', '/api/v1/sessions/SESSION_ID', false],
  ['PUT', '/api/v1/account/password', false],
  ['POST', '/register', true],
  ['POST', '/activate', true],
  ['POST', '/login', true],
  ['POST', '/logout', true],
  ['POST', '/settings/password', true],
  ['POST', '/settings/sessions/SESSION_ID/end', true],
  ['POST', '/settings/sessions/end-all', true],
];

describe('web layer', () => {
  let server: TestServer;
  let account: { username: string; email: string; password: string };
  let victim: Client;
  let sessionId: string;
  before(async () => {
    server = await startTestServer();
    account = await activeAccount(server);
    victim = await signedIn(server, account.username, account.password);
    sessionId = (await victim.get('/api/v1/sessions/current')).json.session.id;
  });
  after(() => server?.close());

  const bodyFor = (path: string): Record<string, string> => {
    if (path.includes('registrations') || path === '/register')
      return {
        username: 'csrfvictim',
        email: 'csrf@example.test',
        password: 'fresh-harbor-quantum-meadow-77',
        passwordConfirm: 'fresh-harbor-quantum-meadow-77',
      };
    if (path.includes('sessions') && !path.includes('settings'))
      return { identifier: account.username, password: account.password };
    if (path === '/login') return { identifier: account.username, password: account.password };
    if (path.includes('password'))
      return {
        currentPassword: account.password,
        newPassword: 'another-violet-quantum-meadow-9',
        newPasswordConfirm: 'another-violet-quantum-meadow-9',
      };
    return {};
  };

  async function attempt(
    c: Client,
    method: string,
    rawPath: string,
    form: boolean,
    headers: Record<string, string> = {},
  ) {
    const path = rawPath.replace('SESSION_ID', sessionId);
    const body = bodyFor(path);
    return form
      ? c.request(method, path, body, {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'text/html',
          ...headers,
        })
      : c.request(method, path, method === 'DELETE' ? undefined : body, headers);
  }

  function withVictimCookie(origin: string | null): Client {
    const c = server.client({ origin });
    for (const [k, v] of victim.cookies) c.cookies.set(k, v);
    return c;
  }

  test('WEB-01 a foreign Origin is refused on every state-changing route, sign-in included, and nothing changes', async () => {
    const snap = await snapshot(server);
    for (const [method, path, form] of STATE_CHANGING) {
      for (const origin of [
        'https://evil.example',
        'null',
        `${server.base}.evil.example`,
        server.base.replace('127.0.0.1', 'localhost'),
      ]) {
        const res = await attempt(withVictimCookie(origin), method, path, form);
        assert.equal(res.status, 403, `${method} ${path} from ${origin}`);
        assert.equal(res.headers.get('set-cookie'), null, `${method} ${path}: no cookie set`);
        if (!form) assert.equal(res.json.code, 'csrf_rejected');
      }
    }
    assert.deepEqual(await snapshot(server), snap);
    assert.equal((await victim.get('/api/v1/sessions/current')).status, 200, 'the victim is still signed in');
  });

  test('WEB-01 a request without Origin but with the session cookie is refused; cross-site Sec-Fetch-Site too', async () => {
    const snap = await snapshot(server);
    for (const [method, path, form] of STATE_CHANGING) {
      const res = await attempt(withVictimCookie(null), method, path, form);
      assert.equal(res.status, 403, `${method} ${path} without Origin`);
      const site = await attempt(server.client({ origin: null }), method, path, form, {
        'sec-fetch-site': 'cross-site',
      });
      assert.equal(site.status, 403, `${method} ${path} cross-site`);
    }
    assert.deepEqual(await snapshot(server), snap);
    assert.equal((await victim.get('/api/v1/sessions/current')).status, 200);
  });

  test('WEB-01 no state changes on GET: the activation link only shows a button', async () => {
    const page = await server.client().get('/activate?token=whatever-token-value', { accept: 'text/html' });
    assert.equal(page.status, 200);
    assert.match(page.text, /<form[^>]*method="post"/i);
  });

  test('WEB-03 CSP, nosniff, frame, referrer and resource-policy headers; no CORS origin reflected', async () => {
    for (const path of ['/login', '/register', '/api/v1/sessions/current', '/healthz', '/nope']) {
      const res = await server.client().get(path, {
        origin: 'https://evil.example',
        accept: path.startsWith('/api') ? 'application/json' : 'text/html',
      });
      const csp = res.headers.get('content-security-policy') ?? '';
      assert.match(csp, /frame-ancestors 'none'/, path);
      assert.match(csp, /object-src 'none'/, path);
      assert.match(csp, /base-uri 'none'/, path);
      // Pages may run their own scripts only; JSON under /api/ may run nothing at all.
      if (path.startsWith('/api/')) assert.match(csp, /default-src 'none'/, path);
      else assert.match(csp, /script-src 'self'(;|$)/, path);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
      if (path.startsWith('/api/')) {
        // JSON is never a document: CSP frame-ancestors forbids framing; CORP keeps other sites' pages from embedding it.
        assert.equal(res.headers.get('cross-origin-resource-policy'), 'same-origin', path);
      } else {
        assert.equal(res.headers.get('x-frame-options'), 'DENY', path);
        assert.equal(res.headers.get('referrer-policy'), 'no-referrer', path);
      }
      assert.equal(res.headers.get('access-control-allow-origin'), null, path);
      assert.equal(res.headers.get('access-control-allow-credentials'), null, path);
      assert.equal(res.headers.get('strict-transport-security'), null, 'no HSTS over plain http');
    }
    const pre = await server.client().request('OPTIONS', '/api/v1/sessions', undefined, {
      origin: 'https://evil.example',
      'access-control-request-method': 'POST',
    });
    assert.equal(pre.headers.get('access-control-allow-origin'), null);
  });

  // WEB-04: table-driven hostile bodies per route. Each must get a 4xx and change nothing.
  const MB = 'x'.repeat(1024 * 1024);
  const hostileValues: unknown[] = [
    null,
    42,
    true,
    [],
    ['a', 'b'],
    { $ne: null },
    '',
    "' OR '1'='1' --",
    "x'); DROP TABLE accounts; --",
    '<script>alert(1)</script>',
    '"><img src=x onerror=alert(1)>',
    'a\u0000b',
    '\u0007\u001b[31m\r\n',
    '\ud800',
    '../../etc/passwd',
    '%00%0d%0a',
  ];
  const jsonRoutes: [string, string, string[]][] = [
    ['POST', '/api/v1/registrations', ['username', 'email', 'password']],
    ['POST', '/api/v1/activations', ['token']],
    ['POST', '/api/v1/activations', ['identifier', 'code']],
    ['POST', '/api/v1/sessions', ['identifier', 'password']],
    ['PUT', '/api/v1/account/password', ['currentPassword', 'newPassword']],
  ];

  test('WEB-04 wrong types, missing fields, control characters and SQL/HTML payloads get a 4xx and change nothing', async () => {
    const c = server.client();
    const authed = await signedIn(server, account.username, account.password);
    const snap = await snapshot(server);
    for (const [method, path, fields] of jsonRoutes) {
      const client = path.includes('account') ? authed : c;
      const valid = {
        username: 'hostile',
        email: 'hostile@example.test',
        password: 'x',
        token: 'x',
        identifier: account.username,
        code: 'ABCD-EFGH',
        currentPassword: 'wrong-password-here',
        newPassword: 'y',
      };
      const bodies: unknown[] = [undefined, {}, [], 'not json', '{"unterminated": ', 'null', '123'];
      for (const f of fields) {
        const rest = Object.fromEntries(fields.filter((x) => x !== f).map((x) => [x, valid[x as keyof typeof valid]]));
        // a hostile string can be a perfectly good password: keep registration invalid elsewhere then
        if (path === '/api/v1/registrations' && f === 'password') rest.username = 'no spaces allowed';
        bodies.push(rest); // missing field
        for (const v of hostileValues) bodies.push({ ...rest, [f]: v });
        bodies.push({ ...rest, [f]: MB });
      }
      for (const body of bodies) {
        const headers: Record<string, string> = typeof body === 'string' ? { 'content-type': 'application/json' } : {};
        const res = await client.request(method, path, body, headers);
        const label = `${method} ${path} ${JSON.stringify(body)?.slice(0, 80)}`;
        assert.ok(res.status >= 400 && res.status < 500, `${label} → ${res.status}`);
        assert.equal(res.headers.get('content-type')?.split(';')[0], 'application/problem+json', label);
        assert.equal(typeof res.json?.code, 'string', `${label}: problem has a stable code`);
        assert.doesNotMatch(res.text, /<script>|at \w+ \(|node_modules/, `${label}: no reflection or stack`);
      }
    }
    // wrong content types and a body on GET-like deletes
    for (const ct of ['text/plain', 'application/xml', 'multipart/form-data; boundary=x']) {
      const res = await c.post('/api/v1/sessions', 'identifier=a&password=b', { 'content-type': ct });
      assert.ok(res.status >= 400 && res.status < 500, `${ct} → ${res.status}`);
    }
    // hostile path parameters
    for (const id of ["' OR 1=1 --", '%00', 'x'.repeat(300), '..%2f..%2f', '<b>']) {
      const res = await authed.delete(`/api/v1/sessions/${encodeURIComponent(id)}`);
      assert.ok(res.status >= 400 && res.status < 500, `${id} → ${res.status}`);
    }
    const after = await snapshot(server);
    assert.deepEqual(after, snap);
    assert.equal((await authed.get('/api/v1/sessions/current')).status, 200);
  });

  test('WEB-05 hostile URLs and form bodies on JSON routes get a problem document with the headers and change nothing', async () => {
    const { request } = await import('node:http');
    const u = new URL(server.base);
    // Raw requests: fetch would normalise the paths before sending them.
    const raw = (method: string, path: string, headers: Record<string, string> = {}, body?: string) =>
      new Promise<{ status: number; headers: Record<string, unknown>; text: string }>((resolve, reject) => {
        const req = request(
          { host: u.hostname, port: u.port, method, path, headers: { origin: server.base, ...headers } },
          (res) => {
            let text = '';
            res.on('data', (c) => {
              text += c;
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    const authed = await signedIn(server, account.username, account.password);
    const snap = await snapshot(server);
    const badPaths = [
      '/%',
      '/%%',
      '/%zz',
      '/api/v1/%',
      '/api/v1/sessions/%E0%A4%A',
      `/api/v1/sessions/${'x'.repeat(201)}`,
      '/login/%ff%',
      '/static/%',
    ];
    for (const path of badPaths) {
      for (const method of ['GET', 'DELETE', 'POST']) {
        const res = await raw(method, path, { cookie: victim.cookieHeader() });
        assert.ok(res.status >= 400 && res.status < 500, `${method} ${path} → ${res.status}`);
        assert.match(String(res.headers['content-type']), /^application\/problem\+json/, `${method} ${path}`);
        assert.doesNotMatch(res.text, /FST_ERR|statusCode/, `${method} ${path}: not Fastify's own answer`);
        assert.ok(!res.text.includes(path), `${method} ${path}: the path is not echoed`);
        assert.match(String(res.headers['content-security-policy']), /frame-ancestors 'none'/, `${method} ${path}`);
        assert.equal(res.headers['cache-control'], 'no-store', `${method} ${path}`);
      }
    }
    for (const [method, path] of [
      ...jsonRoutes.map(([m, p]) => [m, p] as const),
      ['POST', '/api/v1/password-resets'] as const,
      ['POST', '/api/v1/password-resets/complete'] as const,
    ]) {
      const body = bodyFor(path);
      const client = path.includes('account') ? authed : server.client();
      for (const ct of [
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=----x',
        'text/plain;charset=UTF-8',
      ]) {
        const res = await client.request(method, path, new URLSearchParams(body).toString(), { 'content-type': ct });
        assert.equal(res.status, 415, `${method} ${path} as ${ct}`);
        assert.equal(res.json?.code, 'unsupported_media_type', `${method} ${path} as ${ct}`);
      }
    }
    // The router decodes the path before matching, so the rule must follow the matched route,
    // not the path as sent.
    const form = new URLSearchParams(bodyFor('/api/v1/registrations')).toString();
    for (const path of ['/%61pi/v1/registrations', '/api/v1/%72egistrations', '/%61%70%69/v1/registrations']) {
      const res = await raw('POST', path, { 'content-type': 'application/x-www-form-urlencoded' }, form);
      assert.equal(res.status, 415, `POST ${path} as a form`);
      assert.equal(JSON.parse(res.text).code, 'unsupported_media_type', `POST ${path}`);
    }
    assert.deepEqual(await snapshot(server), snap);
    assert.equal((await victim.get('/api/v1/sessions/current')).status, 200, 'the victim is still signed in');
  });

  test('WEB-04 hostile HTML forms get a 4xx page (escaped) and change nothing', async () => {
    const c = server.client();
    const authed = await signedIn(server, account.username, account.password);
    const snap = await snapshot(server);
    const forms: [Client, string, string[]][] = [
      [c, '/register', ['username', 'email', 'password', 'passwordConfirm']],
      [c, '/activate', ['token']],
      [c, '/activate', ['identifier', 'code']],
      [c, '/login', ['identifier', 'password']],
      [authed, '/settings/password', ['currentPassword', 'newPassword', 'newPasswordConfirm']],
    ];
    const stringValues = hostileValues.filter((v): v is string => typeof v === 'string');
    for (const [client, path, fields] of forms) {
      for (const v of [...stringValues, 'x'.repeat(100_000)]) {
        const body = Object.fromEntries(fields.map((f) => [f, v]));
        const res = await client.form(path, body);
        assert.ok(res.status >= 400 && res.status < 500, `${path} ${JSON.stringify(v).slice(0, 40)} → ${res.status}`);
        // inside a quoted attribute markup is inert as long as the quote is escaped; outside, nothing may survive
        const outsideAttributes = res.text.replace(/="[^"]*"/g, '=""');
        assert.ok(!outsideAttributes.includes('<script>alert(1)</script>'), `${path}: payload is escaped`);
        assert.ok(!outsideAttributes.includes('<img src=x onerror'), `${path}: payload is escaped`);
      }
      // repeated fields (arrays) and a 1 MB form
      const dup = await client.request('POST', path, `${fields[0]}=a&${fields[0]}=b`, {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'text/html',
      });
      assert.ok(dup.status >= 400 && dup.status < 500, `${path} repeated field → ${dup.status}`);
      const big = await client.form(path, { [fields[0]]: MB });
      assert.equal(big.status, 413, `${path} 1 MB form`);
    }
    assert.deepEqual(await snapshot(server), snap);
  });

  test('WEB-04 arbitrary JSON on every API route never gets a 5xx (fast-check, bounded)', async () => {
    const authed = await signedIn(server, account.username, account.password);
    const snap = await snapshot(server);
    for (const [method, path] of jsonRoutes) {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.anything(),
            fc.dictionary(
              fc.constantFrom(
                'username',
                'email',
                'password',
                'token',
                'identifier',
                'code',
                'currentPassword',
                'newPassword',
              ),
              fc.anything(),
            ),
          ),
          async (body) => {
            const payload = JSON.stringify(body) ?? 'null';
            const res = await authed.request(method, path, payload, { 'content-type': 'application/json' });
            assert.ok(
              res.status >= 400 && res.status < 500,
              `${method} ${path} ${payload.slice(0, 200)} → ${res.status} ${res.text.slice(0, 200)}`,
            );
          },
        ),
        { numRuns: 25 },
      );
    }
    assert.deepEqual(await snapshot(server), snap);
  });

  // ID-01/ID-02: Unicode identifiers that are neither a valid username nor an address that normalises.
  const unicodeIdentifiers = [
    '\u202Eadmin', // right-to-left override
    'adm\u200Bin', // zero-width space
    '\u3164\u3164\u3164', // Hangul fillers
    '\uFEFFroot', // byte order mark
    'z\u0435duni', // Cyrillic е in a Latin name
    '\u0301\u0301\u0301', // combining marks only
    '\u{1F600}\u{1F600}\u{1F600}', // emoji
    'user@xn--zz.example', // punycode that does not decode
    `${'a'.repeat(65)}@example.com`, // local part over 64 octets
    'admin@\uFF0E\uFF0E', // full-width dots, empty labels
    '\u{E0001}tag@example.com', // language tag (invisible)
    'mi\u212Aa@10.0.0.25', // an IP address as domain
  ];

  test('WEB-04 ID-01 ID-02 hostile Unicode identifiers get a 4xx (a field error where one applies) and change nothing', async () => {
    const c = server.client();
    const snap = await snapshot(server);
    const password = 'violet-harbor-quantum-meadow-1984';
    for (const v of unicodeIdentifiers) {
      const label = JSON.stringify(v);
      for (const body of [
        { username: v, email: 'unicode-hostile@example.test', password },
        { username: 'unicodehostile', email: v, password },
      ]) {
        const res = await c.post('/api/v1/registrations', body);
        assert.equal(res.status, 400, `${label} → ${res.status} ${res.text}`);
        assert.equal(res.json.code, 'validation_failed', label);
        assert.deepEqual(
          res.json.errors.map((e: { field: string }) => e.field),
          [body.username === v ? 'username' : 'email'],
          label,
        );
      }
      assert.equal((await c.post('/api/v1/sessions', { identifier: v, password })).status, 401, label);
      assert.equal((await c.post('/api/v1/activations', { identifier: v, code: 'ABCD-EFGH' })).status, 400, label);
      const page = await c.form('/register', { username: v, email: v, password, passwordConfirm: password });
      assert.equal(page.status, 400, label);
      assert.match(page.text, /Enter a valid email address/, `${label}: the page names the field`);
    }
    assert.deepEqual(await snapshot(server), snap);
  });

  test('WEB-04 hostile query strings on pages get a 2xx/3xx/4xx, never a 5xx', async () => {
    const authed = await signedIn(server, account.username, account.password);
    for (const q of ['?done=__proto__', '?done=constructor', '?done=toString', '?done[]=a', '?done=<script>']) {
      const res = await authed.get(`/settings${q}`, { accept: 'text/html' });
      assert.equal(res.status, 200, `/settings${q}`);
      assert.ok(!res.text.includes('<script>'), `/settings${q} reflects markup`);
    }
    for (const q of [
      '?token=%00',
      '?token[]=a&token[]=b',
      `?token=${'a'.repeat(5000)}`,
      '?msg=<script>',
      '?msg=__proto__',
      '?done=%ff%fe',
    ]) {
      for (const path of ['/activate', '/login', '/register', '/settings']) {
        const res = await server.client().get(`${path}${q}`, { accept: 'text/html' });
        assert.ok(res.status < 500, `${path}${q} → ${res.status}`);
        assert.ok(!res.text.includes('<script>'), `${path}${q} reflects markup`);
      }
    }
  });
});
