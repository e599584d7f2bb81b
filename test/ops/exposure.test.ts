import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { describe, test } from 'node:test';
import pino from 'pino';
import { ConfigError, loadConfig } from '../../src/config/index.ts';
import { snapshot } from '../support/accounts.ts';
import { withServer } from '../support/fixture.ts';
import { startTestServer, strongPassword } from '../support/server.ts';

// ENUM-04 (metrics are private in production), WEB-05 (framework errors and form bodies on JSON
// routes), WEB-06 (production refuses http, warns about CAPTCHA off, keeps /docs off).

const TOKEN = 'metrics-token-'.padEnd(48, 'x');

/** A raw request, so paths reach the server exactly as written (fetch would normalise `%`). */
function raw(base: string, method: string, path: string, headers: Record<string, string> = {}) {
  const u = new URL(base);
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }>(
    (resolve, reject) => {
      const req = request({ host: u.hostname, port: u.port, method, path, headers }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      });
      req.on('error', reject);
      req.end();
    },
  );
}

function assertProblemWithHeaders(
  res: { status: number; headers: Record<string, string | string[] | undefined>; text: string },
  label: string,
) {
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/, label);
  const body = JSON.parse(res.text);
  assert.equal(body.status, res.status, label);
  assert.equal(typeof body.code, 'string', label);
  assert.equal(body.code.startsWith('FST_'), false, label);
  assert.doesNotMatch(
    res.text,
    /FST_ERR|statusCode|is not a valid url|max param length/,
    `${label}: not Fastify's own answer`,
  );
  assert.match(String(res.headers['content-security-policy']), /frame-ancestors 'none'/, `${label}: CSP`);
  assert.equal(res.headers['x-content-type-options'], 'nosniff', `${label}: nosniff`);
  assert.equal(res.headers['cache-control'], 'no-store', `${label}: no-store`);
}

describe('exposure in production', () => {
  const prodEnv = () => ({
    LATCHKEY_ENV: 'production',
    LATCHKEY_SECRET: 'p'.repeat(48),
    LATCHKEY_RATE_LIMIT_SCALE: '1',
  });
  const logLines: string[] = [];
  /** production, neither a metrics token nor address, CAPTCHA off (the test default), /docs default */
  const plain = withServer({
    smtp: true,
    env: prodEnv,
    overrides: { log: pino({ level: 'warn' }, { write: (line: string) => void logLines.push(line) }) },
  });
  /** production with LATCHKEY_METRICS_TOKEN */
  const withToken = withServer({ smtp: true, env: { ...prodEnv(), LATCHKEY_METRICS_TOKEN: TOKEN } });
  /** production with LATCHKEY_METRICS_ADDRESS and LATCHKEY_API_DOCS=on */
  const withListener = withServer({
    smtp: true,
    env: { ...prodEnv(), LATCHKEY_METRICS_ADDRESS: '127.0.0.1:0', LATCHKEY_API_DOCS: 'on' },
  });

  test('ENUM-04 /metrics in production needs the bearer token', async () => {
    // A reset request and a failed sign-in give the counters something to show.
    await withToken.server.client().post('/api/v1/password-resets', { identifier: 'nobody@example.test' });
    await withToken.server.client().post('/api/v1/sessions', { identifier: 'nobody-here', password: strongPassword() });
    const c = withToken.server.client();
    for (const authorization of [
      undefined,
      'Bearer wrong',
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.slice(0, -1)}`,
      `Basic ${TOKEN}`,
      TOKEN,
    ]) {
      const res = await c.get('/metrics', authorization ? { authorization } : {});
      assert.equal(res.status, 401, String(authorization));
      assert.equal(res.json.code, 'unauthorized');
      assert.doesNotMatch(res.text, /latchkey_/);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
    }
    const ok = await c.get('/metrics', { authorization: `Bearer ${TOKEN}` });
    assert.equal(ok.status, 200);
    assert.match(ok.text, /latchkey_sign_in_total/);
    assert.match(
      ok.text,
      /latchkey_http_requests_total\{method="POST",route="\/api\/v1\/password-resets",status="202"\} 1/,
    );
  });

  test('ENUM-04 /metrics in production on its own listener', async () => {
    assert.ok(withListener.server.metricsUrl, 'the listener is started with the server');
    const main = await withListener.server.client().get('/metrics');
    assert.equal(main.status, 404, 'the public port serves no metrics');
    assert.equal(main.json.code, 'not_found');
    const res = await fetch(`${withListener.server.metricsUrl}/metrics`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /latchkey_http_requests_total\{/);
    for (const path of ['/', '/login', '/api/v1/sessions/current', '/healthz']) {
      const other: Response = await fetch(`${withListener.server.metricsUrl}${path}`);
      assert.equal(other.status, 404, `${path} on the metrics listener`);
      assert.equal((await other.json()).code, 'not_found');
    }
  });

  test('ENUM-04 /metrics is off in production without either', async () => {
    const res = await raw(plain.server.base, 'GET', '/metrics');
    assert.equal(res.status, 404);
    assertProblemWithHeaders(res, '/metrics');
    assert.equal(JSON.parse(res.text).code, 'not_found');
    assert.equal((await plain.server.client().get('/metrics', { authorization: 'Bearer anything' })).status, 404);
  });

  test('WEB-05 a bad URL answers a problem document with security headers', async () => {
    for (const [path, accept] of [
      ['/%', '*/*'],
      ['/%', 'application/json'],
      ['/api/v1/%zz', 'application/json'],
      ['/login%', '*/*'],
      ['/%c0%af', '*/*'],
    ] as const) {
      const res = await raw(plain.server.base, 'GET', path, { accept });
      assert.equal(res.status, 400, path);
      assertProblemWithHeaders(res, path);
      assert.equal(JSON.parse(res.text).code, 'validation_failed', path);
      assert.ok(!res.text.includes(path), `${path} is not echoed`);
    }
    // A browser gets the error page, with the page headers.
    const page = await raw(plain.server.base, 'GET', '/%', { accept: 'text/html' });
    assert.equal(page.status, 400);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.equal(page.headers['x-frame-options'], 'DENY');
    assert.equal(page.headers['cache-control'], 'no-store');
    // Headers Node cannot take at all: still a problem document with the headers.
    const big = await raw(plain.server.base, 'GET', '/login', { 'x-filler': 'a'.repeat(20_000) });
    assert.equal(big.status, 431);
    assertProblemWithHeaders(big, 'oversized headers');
    assert.equal(JSON.parse(big.text).code, 'headers_too_large');
  });

  test('WEB-05 an overlong parameter answers a problem document with security headers', async () => {
    const long = 'a'.repeat(250);
    const res = await raw(plain.server.base, 'DELETE', `/api/v1/sessions/${long}`, { origin: plain.server.base });
    assert.equal(res.status, 414);
    assertProblemWithHeaders(res, 'overlong session id');
    assert.equal(JSON.parse(res.text).code, 'uri_too_long');
    assert.ok(!res.text.includes(long), 'the path is not echoed');
  });

  test('WEB-05 framework errors (404, bad JSON, body too large, wrong content type) carry the headers', async () => {
    const c = plain.server.client();
    const cases: [string, () => Promise<{ status: number; headers: Headers; text: string }>, number][] = [
      ['404', () => c.get('/no-such-page'), 404],
      ['bad JSON', () => c.post('/api/v1/sessions', '{"identifier": ', { 'content-type': 'application/json' }), 400],
      ['body too large', () => c.post('/api/v1/sessions', { identifier: 'x', password: 'y'.repeat(200_000) }), 413],
      ['text/plain', () => c.post('/api/v1/sessions', 'identifier=a', { 'content-type': 'text/plain' }), 415],
    ];
    for (const [label, send, status] of cases) {
      const res = await send();
      assert.equal(res.status, status, label);
      assertProblemWithHeaders({ status: res.status, headers: Object.fromEntries(res.headers), text: res.text }, label);
    }
  });

  test('WEB-05 JSON routes refuse form bodies with 415 and change nothing; pages keep accepting forms', async () => {
    const c = plain.server.client();
    const snap = await snapshot(plain.server);
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const password = strongPassword();
    const attempts: [string, string, string][] = [
      [
        'POST',
        '/api/v1/registrations',
        new URLSearchParams({ username: 'formsquatter', email: 'formsquatter@example.test', password }).toString(),
      ],
      ['POST', '/api/v1/sessions', new URLSearchParams({ identifier: 'formsquatter', password }).toString()],
      ['POST', '/api/v1/password-resets', new URLSearchParams({ identifier: 'formsquatter@example.test' }).toString()],
      [
        'POST',
        '/api/v1/password-resets/complete',
        new URLSearchParams({ identifier: 'formsquatter', code: 'ABCD-EFGH', password }).toString(),
      ],
      [
        'PUT',
        '/api/v1/account/password',
        new URLSearchParams({ currentPassword: password, newPassword: strongPassword() }).toString(),
      ],
    ];
    for (const [method, path, body] of attempts) {
      for (const ct of [
        'application/x-www-form-urlencoded',
        'application/x-www-form-urlencoded; charset=utf-8',
        'multipart/form-data; boundary=x',
        'text/plain',
      ]) {
        const res = await c.request(method, path, body, { 'content-type': ct });
        assert.equal(res.status, 415, `${method} ${path} as ${ct}`);
        assert.equal(res.json.code, 'unsupported_media_type');
      }
    }
    assert.equal(plain.smtp.mails.filter((m) => m.to.includes('formsquatter')).length, 0, 'no mail');
    assert.deepEqual(await snapshot(plain.server), snap, 'no account, session or reset');
    // JSON still works, with or without a charset, and so does +json.
    const json = await c.request('POST', '/api/v1/sessions', JSON.stringify({ identifier: 'nobody-here', password }), {
      'content-type': 'application/json; charset=utf-8',
    });
    assert.equal(json.status, 401);
    // The page takes its form as before.
    const page = await c.request(
      'POST',
      '/login',
      { identifier: 'nobody-here', password },
      { ...form, accept: 'text/html' },
    );
    assert.equal(page.status, 401);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  });

  test('WEB-06 production refuses an http public URL', () => {
    const env = {
      LATCHKEY_ENV: 'production',
      LATCHKEY_SMTP_URL: 'smtp://127.0.0.1:2525',
      LATCHKEY_SECRET: 's'.repeat(40),
    };
    for (const url of ['http://login.example.test', undefined]) {
      assert.throws(
        () => loadConfig({ ...env, ...(url ? { LATCHKEY_PUBLIC_URL: url } : {}) }),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.problems.some((p) => /^LATCHKEY_PUBLIC_URL=http:.*https:\/\/.*LATCHKEY_ALLOW_HTTP=true/.test(p)),
        String(url),
      );
    }
    assert.throws(
      () => loadConfig({ ...env, LATCHKEY_PUBLIC_URL: 'http://login.example.test', LATCHKEY_ALLOW_HTTP: 'false' }),
      ConfigError,
    );
    assert.equal(loadConfig({ ...env, LATCHKEY_PUBLIC_URL: 'https://login.example.test' }).https, true);
    // Development keeps its plain http default.
    assert.equal(loadConfig({}).https, false);
  });

  test('WEB-06 LATCHKEY_ALLOW_HTTP=true allows it', () => {
    const c = loadConfig({
      LATCHKEY_ENV: 'production',
      LATCHKEY_SMTP_URL: 'smtp://127.0.0.1:2525',
      LATCHKEY_SECRET: 's'.repeat(40),
      LATCHKEY_PUBLIC_URL: 'http://login.example.test',
      LATCHKEY_ALLOW_HTTP: 'true',
    });
    assert.equal(c.dev, false);
    assert.equal(c.https, false);
    assert.equal(c.publicUrl, 'http://login.example.test');
  });

  test('WEB-06 CAPTCHA off in production logs a warning', () => {
    const warnings = logLines
      .map((l) => JSON.parse(l))
      .filter((l) => l.level === 40 && /LATCHKEY_CAPTCHA=off/.test(l.msg));
    assert.equal(warnings.length, 1, logLines.join('\n'));
    assert.match(warnings[0].msg, /production/);
  });

  test('WEB-06 /docs is off in production by default', async () => {
    for (const path of ['/docs', '/docs/', '/docs/static/index.html', '/docs/json']) {
      const res = await plain.server.client().get(path);
      assert.equal(res.status, 404, path);
      assert.equal(res.json.code, 'not_found', path);
    }
    // The machine-readable spec stays.
    const spec = await plain.server.client().get('/api/openapi.json');
    assert.equal(spec.status, 200);
    assert.match(spec.json.openapi, /^3\.1\./);
  });

  test('WEB-06 /docs served keeps the site CSP on other pages', async () => {
    const c = withListener.server.client();
    const docs = await c.get('/docs/', { accept: 'text/html' });
    assert.equal(docs.status, 200);
    assert.match(docs.text, /swagger-ui/);
    const docsCsp = docs.headers.get('content-security-policy') ?? '';
    // Swagger UI's own page is held to the site's rules: no framing, no foreign styles or fonts.
    for (const directive of [
      "frame-ancestors 'none'",
      "base-uri 'none'",
      "object-src 'none'",
      "script-src 'self';",
      "style-src 'self';",
    ])
      assert.ok(docsCsp.includes(directive), `/docs CSP has ${directive}: ${docsCsp}`);
    assert.doesNotMatch(docsCsp, /https:|unsafe-inline|unsafe-eval|validator\.swagger\.io/);
    const site = (await c.get('/login', { accept: 'text/html' })).headers.get('content-security-policy') ?? '';
    for (const path of ['/login', '/register', '/forgot-password', '/no-such-page', '/docs-not-really']) {
      const res = await c.get(path, { accept: 'text/html' });
      assert.equal(res.headers.get('content-security-policy'), site, path);
      assert.equal(res.headers.get('x-frame-options'), 'DENY', path);
    }
    assert.match(site, /frame-ancestors 'none'/);
    assert.equal(
      (await c.get('/api/v1/sessions/current')).headers.get('content-security-policy'),
      "default-src 'none'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'",
    );
  });

  test('ENUM-04 the metrics listener closes with the server', async () => {
    const s = await startTestServer({
      ...prodEnv(),
      LATCHKEY_SMTP_URL: plain.smtp.url,
      LATCHKEY_METRICS_ADDRESS: '127.0.0.1:0',
    });
    const url = new URL(s.metricsUrl as string);
    assert.equal((await fetch(`${url.origin}/metrics`)).status, 200);
    await s.close();
    const refused = await new Promise<boolean>((resolve) => {
      const sock = connect(Number(url.port), url.hostname);
      sock.once('connect', () => {
        sock.destroy();
        resolve(false);
      });
      sock.once('error', () => resolve(true));
    });
    assert.ok(refused, 'nothing listens on the metrics address after close');
  });
});

test('ENUM-04 LATCHKEY_METRICS_ADDRESS must be host:port', () => {
  assert.deepEqual(loadConfig({ LATCHKEY_METRICS_ADDRESS: '[::1]:9464' }).metrics.address, { host: '::1', port: 9464 });
  assert.deepEqual(loadConfig({ LATCHKEY_METRICS_ADDRESS: '127.0.0.1:9464' }).metrics.address, {
    host: '127.0.0.1',
    port: 9464,
  });
  for (const bad of ['9464', '127.0.0.1', 'http://127.0.0.1:9464', '127.0.0.1:99999', '::1:9464'])
    assert.throws(() => loadConfig({ LATCHKEY_METRICS_ADDRESS: bad }), /LATCHKEY_METRICS_ADDRESS=.*host:port/, bad);
});
