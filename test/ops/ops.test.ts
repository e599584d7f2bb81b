import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createMetrics } from '../../src/metrics.ts';
import { withServer } from '../support/fixture.ts';
import { strongPassword } from '../support/server.ts';

describe('operations endpoints', () => {
  // No worker: queued mail stays queued, so the outbox depth is observable.
  const fx = withServer({ overrides: { worker: false } });
  const prod = withServer({
    smtp: true,
    env: { LATCHKEY_ENV: 'production', LATCHKEY_SECRET: 'p'.repeat(48), LATCHKEY_RATE_LIMIT_SCALE: '1' },
  });

  test('/healthz answers ok', async () => {
    const res = await fx.server.client().get('/healthz');
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { status: 'ok' });
  });

  test('/readyz is 200 when the database answers and migrations are applied, 503 when one is pending', async () => {
    const ok = await fx.server.client().get('/readyz');
    assert.equal(ok.status, 200);
    assert.equal(ok.json.status, 'ready');
    const db = fx.server.deps.db as unknown as import('kysely').Kysely<{
      kysely_migration: { name: string; timestamp: string };
    }>;
    const rows = await db.selectFrom('kysely_migration').selectAll().execute();
    assert.ok(rows.length >= 1);
    await db.deleteFrom('kysely_migration').where('name', '=', rows[0].name).execute();
    try {
      const pending = await fx.server.client().get('/readyz');
      assert.equal(pending.status, 503);
      assert.equal(pending.json.status, 'not ready');
    } finally {
      await db.insertInto('kysely_migration').values(rows[0]).execute();
    }
    assert.equal((await fx.server.client().get('/readyz')).status, 200);
  });

  test('/metrics has request counts and latency by route, sign-in outcomes, outbox depth and password hashes in progress', async () => {
    const c = fx.server.client();
    await c.post('/api/v1/registrations', {
      username: 'metrics1',
      email: 'metrics1@example.test',
      password: strongPassword(),
    });
    await c.post('/api/v1/sessions', { identifier: 'nobody-here', password: strongPassword() });
    await c.get('/login', { accept: 'text/html' });
    const res = await c.get('/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const m = res.text;
    assert.match(m, /latchkey_http_requests_total\{method="POST",route="\/api\/v1\/registrations",status="202"\} 1/);
    assert.match(m, /latchkey_http_requests_total\{method="POST",route="\/api\/v1\/sessions",status="401"\} 1/);
    assert.match(m, /latchkey_http_request_duration_seconds_bucket\{le="[\d.]+",method="GET",route="\/login"\}/);
    assert.match(m, /latchkey_http_request_duration_seconds_count\{method="POST",route="\/api\/v1\/sessions"\} 1/);
    // buckets are cumulative: the +Inf bucket holds every request
    assert.match(
      m,
      /latchkey_http_request_duration_seconds_bucket\{le="\+Inf",method="POST",route="\/api\/v1\/sessions"\} 1/,
    );
    assert.match(m, /latchkey_sign_in_total\{[^}]*outcome="[a-z_]+"[^}]*\} 1/);
    assert.match(m, /latchkey_outbox_depth\{channel="email"\} [1-9]/);
    // nothing hashes between requests, and nothing waits
    assert.match(m, /latchkey_password_hashes\{state="running"\} 0/);
    assert.match(m, /latchkey_password_hashes\{state="waiting"\} 0/);
    assert.doesNotMatch(m, /metrics1@example\.test/, 'no personal data in metrics');
  });

  test('/api/openapi.json is OpenAPI 3.1 and lists the foundation routes; /docs serves', async () => {
    const res = await fx.server.client().get('/api/openapi.json');
    assert.equal(res.status, 200);
    const doc = res.json;
    assert.match(doc.openapi, /^3\.1\./);
    const expected: [string, string][] = [
      ['/api/v1/registrations', 'post'],
      ['/api/v1/activations', 'post'],
      ['/api/v1/sessions', 'post'],
      ['/api/v1/sessions', 'get'],
      ['/api/v1/sessions/current', 'get'],
      ['/api/v1/sessions/current', 'delete'],
      ['/api/v1/sessions/{id}', 'delete'],
      ['/api/v1/account/password', 'put'],
    ];
    for (const [path, method] of expected) {
      const op = doc.paths?.[path]?.[method];
      assert.ok(op, `${method.toUpperCase()} ${path} documented`);
      const statuses = Object.keys(op.responses ?? {});
      assert.ok(
        statuses.some((s) => s.startsWith('2')),
        `${method} ${path} has a success response`,
      );
      assert.ok(
        statuses.some((s) => s.startsWith('4')),
        `${method} ${path} documents its problems`,
      );
    }
    assert.ok(doc.components?.schemas?.Problem, 'the RFC 9457 Problem schema is a component');
    const docs = await fx.server.client().get('/docs', { accept: 'text/html' });
    assert.ok([200, 302].includes(docs.status), String(docs.status));
    const page =
      docs.status === 302
        ? await fx.server
            .client()
            .get(new URL(docs.headers.get('location') ?? '/docs/', fx.server.base).pathname, { accept: 'text/html' })
        : docs;
    assert.equal(page.status, 200);
    assert.match(page.text, /swagger/i);
  });

  test('RFC 9457 problems carry a stable code', async () => {
    const res = await fx.server.client().get('/api/v1/sessions/current');
    assert.equal(res.status, 401);
    assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
    assert.equal(res.json.status, 401);
    assert.equal(res.json.code, 'unauthorized');
    assert.equal(typeof res.json.type, 'string');
    assert.equal(typeof res.json.title, 'string');
    const missing = await fx.server.client().get('/api/v1/no-such-route');
    assert.equal(missing.status, 404);
    assert.equal(missing.json.code, 'not_found');
  });

  test('production mode: no /dev/mailbox, mail goes over SMTP', async () => {
    for (const path of ['/dev/mailbox', '/dev/mailbox.json', '/dev/mailbox/x.html']) {
      const res = await prod.server.client().get(path, { accept: 'text/html' });
      assert.equal(res.status, 404, path);
    }
    const reg = await prod.server.client().post('/api/v1/registrations', {
      username: 'produser',
      email: 'produser@example.test',
      password: strongPassword(),
    });
    assert.equal(reg.status, 202);
    const mail = await prod.mail('produser@example.test');
    assert.match(mail.text, /\/activate\?token=/);
  });
});

test('/metrics reports the password hashes the hasher has running and waiting', async () => {
  let load = { running: 2, waiting: 5 };
  const m = createMetrics(
    async () => ({}),
    () => load,
  );
  assert.match(await m.registry.metrics(), /latchkey_password_hashes\{state="running"\} 2\n.*\{state="waiting"\} 5/);
  load = { running: 1, waiting: 0 };
  const text = await m.registry.metrics();
  assert.match(text, /latchkey_password_hashes\{state="running"\} 1/);
  assert.match(text, /latchkey_password_hashes\{state="waiting"\} 0/);
});
