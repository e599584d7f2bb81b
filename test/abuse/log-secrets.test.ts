import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import pino from 'pino';
import { isResetMail, secretsIn } from '../recovery/helpers.ts';
import { withServer } from '../support/fixture.ts';
import { codeIn, linkIn } from '../support/smtp.ts';

describe('no secret in logs or the audit trail', () => {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const fx = withServer({
    smtp: true,
    env: {
      LATCHKEY_LOG_LEVEL: 'debug',
      LATCHKEY_RATE_LIMIT_SCALE: '1',
      LATCHKEY_LIMIT_SIGN_IN_IP: '6/10m',
    },
    overrides: { log: pino({ level: 'debug' }, stream) },
  });

  test('LOG-02 LOG-01 the whole flow with planted secrets leaves no password, token, code or session cookie behind', async () => {
    // Planted, recognisable secrets.
    const pw1 = 'planted-Secret-Harbor-111-xyzzy';
    const pw2 = 'planted-Secret-Meadow-222-plugh';
    const pw3 = 'planted-Secret-Quartz-333-frotz';
    const wrong = 'planted-Wrong-Guess-444-grue';
    const secrets: string[] = [pw1, pw2, pw3, wrong];
    const c = fx.server.client({ headers: { 'user-agent': 'GrepTest/1.0' } });

    assert.equal(
      (await c.post('/api/v1/registrations', { username: 'grep1', email: 'grep1@example.test', password: pw1 })).status,
      202,
    );
    const activation = await fx.smtp.waitFor((m) => m.to.includes('grep1@example.test') && /Activate/.test(m.subject));
    const actToken = new URL(linkIn(activation, '/activate?token=')).searchParams.get('token') as string;
    secrets.push(actToken, codeIn(activation), codeIn(activation).replace('-', ''));
    assert.equal((await c.post('/api/v1/activations', { token: actToken })).status, 200);

    assert.equal((await c.post('/api/v1/sessions', { identifier: 'grep1', password: wrong })).status, 401);
    assert.equal((await c.post('/api/v1/sessions', { identifier: 'grep1', password: pw1 })).status, 201);
    secrets.push(...c.cookies.values());
    assert.equal((await c.put('/api/v1/account/password', { currentPassword: wrong, newPassword: pw2 })).status, 400);
    assert.equal((await c.put('/api/v1/account/password', { currentPassword: pw1, newPassword: pw2 })).status, 200);
    secrets.push(...c.cookies.values());
    assert.equal((await c.delete('/api/v1/sessions/current')).status < 300, true);

    assert.equal((await c.post('/api/v1/password-resets', { identifier: 'grep1@example.test' })).status, 202);
    const reset = secretsIn(await fx.smtp.waitFor(isResetMail('grep1@example.test')));
    secrets.push(reset.token, reset.code, reset.code.replace('-', ''));
    assert.equal(
      (await c.post('/api/v1/password-resets/complete', { identifier: 'grep1', code: 'ZZZZ-ZZZZ', password: pw3 }))
        .status,
      400,
    );
    assert.equal((await c.post('/api/v1/password-resets/complete', { token: reset.token, password: pw3 })).status, 200);
    assert.equal((await c.post('/api/v1/sessions', { identifier: 'grep1@example.test', password: pw3 })).status, 201);
    secrets.push(...c.cookies.values());
    // A lockout and a rate-limit hit on the way, with the secrets in the requests.
    for (let i = 0; i < 6; i++) await c.post('/api/v1/sessions', { identifier: 'grep1', password: wrong });

    await new Promise((r) => setTimeout(r, 300));
    const audit = await fx.server.deps.db.selectFrom('audit_log').selectAll().execute();
    const events = new Set(audit.map((a) => a.event));
    for (const e of [
      'account.registered',
      'account.activated',
      'sign_in.failed',
      'sign_in.succeeded',
      'password.changed',
      'password.reset_requested',
      'password.reset_completed',
      'rate_limited',
    ])
      assert.ok(events.has(e), `LOG-01 audited: ${e}`);
    // the actor of a success is the account signed in
    const grep1 = await fx.server.deps.db
      .selectFrom('accounts')
      .select('id')
      .where('username_key', '=', 'grep1')
      .executeTakeFirstOrThrow();
    assert.ok(audit.some((a) => a.event === 'sign_in.succeeded'));
    for (const a of audit.filter((a) => a.event === 'sign_in.succeeded')) assert.equal(a.account_id, grep1.id);
    for (const a of audit.filter((a) => a.event.startsWith('sign_in'))) {
      assert.equal(a.ip, '127.0.0.1');
      assert.equal(a.user_agent, 'GrepTest/1.0');
      assert.ok(a.correlation_id && a.at > 0);
    }
    const auditText = JSON.stringify(audit);
    const logText = lines.join('');
    assert.ok(logText.includes('audit sign_in.failed'), 'audit events are logged too');
    for (const s of new Set(secrets.filter((s) => s && s.length >= 6))) {
      assert.ok(!logText.includes(s), `a secret (${s.slice(0, 4)}…) appears in the logs`);
      assert.ok(!auditText.includes(s), `a secret (${s.slice(0, 4)}…) appears in the audit trail`);
    }
  });
});
