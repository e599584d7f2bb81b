import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config/index.ts';
import { createDeps } from '../../src/deps.ts';
import { AppError } from '../../src/errors.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const ctx = (ip: string) => ({ ip, userAgent: 'test', correlationId: 'c' });

describe('the guard seam: quotas, per-subject limits, configuration', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ LATCHKEY_RATE_LIMIT_SCALE: '1' });
  });
  after(async () => server?.close());

  test('OTP-05 code messages are capped per number; past the cap nothing is sent and nothing is said', async () => {
    const g = server.deps.guard;
    const results = [];
    for (let i = 0; i < 7; i++) results.push(await g.allow('otp_message', '+15555550100'));
    assert.deepEqual(results, [true, true, true, true, true, false, false]);
    assert.equal(await g.allow('otp_message', '+15555550101'), true, 'another number has its own quota');
  });

  test('OTP-05 BF-02 code sends are limited per subject across IPs, with a Retry-After', async () => {
    const g = server.deps.guard;
    for (let i = 0; i < 5; i++) await g.limit('otp_send', ctx(`192.0.2.${i}`), 'account-1');
    await assert.rejects(g.limit('otp_send', ctx('192.0.2.99'), 'account-1'), (err: unknown) => {
      assert.ok(err instanceof AppError);
      assert.equal(err.code, 'rate_limited');
      assert.equal(err.status, 429);
      assert.ok((err.extra.retryAfter ?? 0) > 0 && (err.extra.retryAfter ?? 0) <= 3600);
      return true;
    });
    await g.limit('otp_send', ctx('192.0.2.100'), 'account-2');
  });

  test('LOG-02 a rate-limit hit is audited once, without the subject in clear', async () => {
    const audit = await server.deps.db
      .selectFrom('audit_log')
      .selectAll()
      .where('event', '=', 'rate_limited')
      .execute();
    assert.equal(audit.length, 1);
    assert.doesNotMatch(JSON.stringify(audit), /account-1/);
  });

  test('a bad limit setting or an unreachable Redis stops the start with a clear message', async () => {
    const base = { LATCHKEY_DATABASE_URL: ':memory:', LATCHKEY_LOG_LEVEL: 'silent' };
    await assert.rejects(
      async () => createDeps(loadConfig({ ...base, LATCHKEY_LIMIT_SIGN_IN_IP: 'lots' })),
      /LATCHKEY_LIMIT_SIGN_IN_IP="lots": must be N\/window/,
    );
    await assert.rejects(
      async () => createDeps(loadConfig({ ...base, LATCHKEY_RESET_MAIL_CAP: '0/1h' })),
      /LATCHKEY_RESET_MAIL_CAP/,
    );
    await assert.rejects(
      createDeps(loadConfig({ ...base, LATCHKEY_REDIS_URL: 'redis://127.0.0.1:1' })),
      /LATCHKEY_REDIS_URL: cannot connect/,
    );
    await assert.rejects(
      async () => createDeps(loadConfig({ ...base, LATCHKEY_CAPTCHA: 'hcaptcha' })),
      /LATCHKEY_CAPTCHA_SITE_KEY: required/,
    );
    const production = {
      ...base,
      LATCHKEY_ENV: 'production',
      LATCHKEY_SMTP_URL: 'smtp://127.0.0.1:1',
      LATCHKEY_SECRET: 'a-production-secret-of-at-least-32-chars',
      LATCHKEY_PUBLIC_URL: 'https://login.example.test',
    };
    await assert.rejects(
      async () => createDeps(loadConfig({ ...production, LATCHKEY_RATE_LIMIT_SCALE: '1000' })),
      /LATCHKEY_RATE_LIMIT_SCALE: must be 1/,
    );
  });
});
