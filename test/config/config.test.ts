import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig, parseDuration } from '../../src/config/index.ts';
import type { Settings } from '../../src/config/load.ts';
import { SETTINGS } from '../../src/config/schema.ts';

/** The ConfigError thrown for env, or fails. */
function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
    return err.problems;
  }
  assert.fail(`configuration ${JSON.stringify(env)} was accepted`);
}

describe('one config schema validated at start', () => {
  test('defaults load without any setting', () => {
    const c = loadConfig({});
    assert.equal(c.env, 'development');
    assert.equal(c.port, 3000);
    assert.equal(c.password.minLength, 8);
    assert.equal(c.password.maxLength, 256);
    assert.equal(c.session.idleTtl, 12 * 3_600_000);
    assert.equal(c.session.absoluteTtl, 7 * 86_400_000);
    assert.deepEqual(c.argon2, { memoryCost: 19456, timeCost: 2, parallelism: 1 });
    assert.equal(c.publicUrl, 'http://localhost:3000');
    assert.equal(c.https, false);
  });

  test('durations are parsed to milliseconds', () => {
    assert.equal(parseDuration('90'), 90_000);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('10s'), 10_000);
    assert.equal(parseDuration('30m'), 1_800_000);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('7d'), 604_800_000);
    assert.equal(parseDuration('1.5h'), 5_400_000);
    for (const bad of ['', 'soon', '10 minutes', '-5s', '1w', '5s5']) assert.equal(parseDuration(bad), undefined, bad);
    const c = loadConfig({
      LATCHKEY_SESSION_IDLE_TTL: '15m',
      LATCHKEY_SESSION_ABSOLUTE_TTL: '2h',
      LATCHKEY_RESET_TTL: '600',
    });
    assert.equal(c.session.idleTtl, 900_000);
    assert.equal(c.session.absoluteTtl, 7_200_000);
    assert.equal(c.resetTtl, 600_000);
  });

  const badValues: [string, Record<string, string>, RegExp][] = [
    ['int that is not a number', { LATCHKEY_PORT: 'eighty' }, /LATCHKEY_PORT=.*whole number/],
    ['int below its minimum', { LATCHKEY_PASSWORD_MIN_LENGTH: '4' }, /LATCHKEY_PASSWORD_MIN_LENGTH=.*>= 8/],
    ['int above its maximum', { LATCHKEY_PORT: '70000' }, /LATCHKEY_PORT=.*<= 65535/],
    ['fractional int', { LATCHKEY_BODY_LIMIT: '2048.5' }, /LATCHKEY_BODY_LIMIT=.*whole number/],
    [
      'duration without a unit we know',
      { LATCHKEY_SESSION_IDLE_TTL: '3 weeks' },
      /LATCHKEY_SESSION_IDLE_TTL=.*duration/,
    ],
    ['duration above its maximum', { LATCHKEY_RESET_TTL: '30d' }, /LATCHKEY_RESET_TTL=.*at most/],
    ['enum outside its values', { LATCHKEY_ENV: 'staging' }, /LATCHKEY_ENV=.*one of development, production/],
    ['url that is not absolute', { LATCHKEY_PUBLIC_URL: 'example.com/login' }, /LATCHKEY_PUBLIC_URL=.*absolute URL/],
    ['secret too short', { LATCHKEY_SECRET: 'short' }, /LATCHKEY_SECRET=.*32 characters/],
    [
      'unknown LATCHKEY_ name (a typo)',
      { LATCHKEY_SESION_IDLE_TTL: '1h' },
      /LATCHKEY_SESION_IDLE_TTL: unknown setting/,
    ],
    [
      'idle longer than absolute',
      { LATCHKEY_SESSION_IDLE_TTL: '2d', LATCHKEY_SESSION_ABSOLUTE_TTL: '1d' },
      /LATCHKEY_SESSION_IDLE_TTL: must not be longer/,
    ],
  ];
  for (const [what, env, expected] of badValues) {
    test(`a bad value is named: ${what}`, () => {
      const problems = problemsOf(env);
      assert.ok(
        problems.some((p) => expected.test(p)),
        `${problems.join('\n')} does not match ${expected}`,
      );
    });
  }

  test('every bad value is reported at once, each by name', () => {
    const problems = problemsOf({ LATCHKEY_PORT: 'x', LATCHKEY_ENV: 'qa', LATCHKEY_OUTBOX_POLL: 'often' });
    for (const name of ['LATCHKEY_PORT', 'LATCHKEY_ENV', 'LATCHKEY_OUTBOX_POLL'])
      assert.ok(
        problems.some((p) => p.startsWith(name)),
        name,
      );
    const err = (() => {
      try {
        loadConfig({ LATCHKEY_PORT: 'x' });
      } catch (e) {
        return e as Error;
      }
    })();
    assert.match(err?.message ?? '', /Invalid configuration:\n {2}- LATCHKEY_PORT/);
  });

  test('every setting of every kind rejects garbage by name', () => {
    const garbage: Record<string, string> = {
      int: 'many',
      duration: 'forever',
      enum: 'nonsense-value',
      url: 'not a url',
      secret: 'x',
      bool: 'perhaps',
      rate: 'lots',
    };
    for (const s of SETTINGS) {
      const bad = garbage[s.kind];
      if (!bad) continue;
      const problems = problemsOf({ [s.env]: bad });
      assert.ok(
        problems.some((p) => p.startsWith(`${s.env}=`)),
        `${s.env} (${s.kind}) not named in ${problems.join('; ')}`,
      );
    }
  });

  test('production without SMTP is refused with a clear message', () => {
    const problems = problemsOf({ LATCHKEY_ENV: 'production', LATCHKEY_SECRET: 'x'.repeat(40) });
    assert.ok(
      problems.some((p) => /^LATCHKEY_SMTP_URL: required when LATCHKEY_ENV=production/.test(p)),
      problems.join('\n'),
    );
  });

  test('production without a secret is refused', () => {
    const problems = problemsOf({ LATCHKEY_ENV: 'production', LATCHKEY_SMTP_URL: 'smtp://127.0.0.1:2525' });
    assert.ok(
      problems.some((p) => /^LATCHKEY_SECRET: required/.test(p)),
      problems.join('\n'),
    );
  });

  test('production with SMTP and a secret loads; https public URL is detected', () => {
    const c = loadConfig({
      LATCHKEY_ENV: 'production',
      LATCHKEY_SMTP_URL: 'smtp://127.0.0.1:2525',
      LATCHKEY_SECRET: 'y'.repeat(40),
      LATCHKEY_PUBLIC_URL: 'https://login.example.test/',
    });
    assert.equal(c.dev, false);
    assert.equal(c.https, true);
    assert.equal(c.publicUrl, 'https://login.example.test');
    assert.equal(c.publicOrigin, 'https://login.example.test');
  });

  test('the config file supplies values, the environment wins, and a bad file value is named', () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-cfg-'));
    try {
      const file = join(dir, 'latchkey.json');
      writeFileSync(file, JSON.stringify({ LATCHKEY_PORT: 4100, LATCHKEY_PRODUCT_NAME: 'Acme Login' }));
      const c = loadConfig({ LATCHKEY_CONFIG_FILE: file, LATCHKEY_PRODUCT_NAME: 'From Env' });
      assert.equal(c.port, 4100);
      assert.equal(c.productName, 'From Env');
      writeFileSync(file, JSON.stringify({ LATCHKEY_ARGON2_TIME: 1 }));
      assert.ok(problemsOf({ LATCHKEY_CONFIG_FILE: file }).some((p) => p.startsWith('LATCHKEY_ARGON2_TIME=')));
      writeFileSync(file, '{not json');
      assert.ok(problemsOf({ LATCHKEY_CONFIG_FILE: file }).some((p) => p.startsWith('LATCHKEY_CONFIG_FILE=')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('typed settings and sections, from the one schema', () => {
  test('every setting has the type its kind says, and its schema default without any code repeating it', () => {
    const c = loadConfig({});
    const typeOf: Record<string, string> = {
      int: 'number',
      duration: 'number',
      bool: 'boolean',
      list: 'object',
      rate: 'object',
      enum: 'string',
      string: 'string',
      url: 'string',
      secret: 'string',
    };
    for (const s of SETTINGS) {
      const v = c.settings[s.env as keyof Settings];
      if (s.default === undefined) assert.equal(v, undefined, s.env);
      else assert.equal(typeof v, typeOf[s.kind], s.env);
    }
    // compile-time: no cast is needed (tsc checks these assignments)
    const lockAfter: number = c.settings.LATCHKEY_LOCKOUT_AFTER;
    const gateway: 'none' | 'twilio' | 'vonage' | 'webhook' = c.settings.LATCHKEY_SMS_GATEWAY;
    const proxies: string[] | undefined = c.settings.LATCHKEY_TRUSTED_PROXIES;
    assert.deepEqual([lockAfter, gateway, proxies], [10, 'none', undefined]);
    assert.deepEqual(c.settings.LATCHKEY_LIMIT_SIGN_IN_IP, { points: 100, windowMs: 600_000, text: '100/10m' });
  });

  test('sections carry the parsed values: limits, captcha, SMS, external', () => {
    const c = loadConfig({
      LATCHKEY_LIMIT_OTP_SEND_ID: '7/30m',
      LATCHKEY_SMS_ALLOWED_COUNTRIES: '+44, 49',
      LATCHKEY_RETURN_URL_ALLOWLIST: 'https://app.example.com/x',
    });
    assert.deepEqual(c.limits.perSubject.otp_send, { points: 7, windowMs: 1_800_000, text: '7/30m' });
    assert.equal(c.limits.perSubject.sign_in, undefined, 'sign-in is limited per account by the lockout, not a rate');
    assert.deepEqual(c.limits.quotas.lockout_notice, { points: 1, windowMs: 3_600_000 });
    assert.deepEqual(c.limits.flagResets, { points: 3, windowMs: 86_400_000, text: '3/24h' });
    assert.deepEqual(c.captcha, {
      provider: 'altcha',
      altcha: { maxNumber: 50_000, ttlMs: 600_000, noJsWaitMs: 15_000 },
    });
    assert.deepEqual(c.sms.gateway, { kind: 'none' });
    assert.deepEqual([c.sms.from, c.sms.timeoutMs, c.sms.allowedCallingCodes], ['Latchkey', 10_000, ['44', '49']]);
    assert.deepEqual(c.external.returnOrigins, ['https://app.example.com']);
    assert.equal(c.external.timeoutMs, 10_000);
  });

  test('a rate is parsed at load; a bad one is named with the N/window message', () => {
    for (const env of ['LATCHKEY_FLAG_RESETS', 'LATCHKEY_LIMIT_SIGN_IN_IP', 'LATCHKEY_SMS_BUDGET']) {
      const problems = problemsOf({ [env]: '0/1h' });
      assert.ok(
        problems.includes(`${env}="0/1h": must be N/window with N >= 1, like 10/1h or 5/30m`),
        problems.join('\n'),
      );
    }
    assert.ok(
      problemsOf({ LATCHKEY_OTP_MESSAGE_CAP: '5/fortnight' }).some((p) =>
        p.startsWith('LATCHKEY_OTP_MESSAGE_CAP="5/fortnight": must be N/window'),
      ),
    );
  });

  test('an empty value counts as unset: the default applies', () => {
    const c = loadConfig({
      LATCHKEY_SMS_TIMEOUT: '',
      LATCHKEY_CAPTCHA: '',
      LATCHKEY_REDIS_PREFIX: '',
      LATCHKEY_FLAG_RESETS: '',
    });
    assert.equal(c.sms.timeoutMs, 10_000);
    assert.equal(c.captcha.provider, 'altcha');
    assert.equal(c.limits.redisPrefix, 'latchkey');
    assert.equal(c.limits.flagResets.points, 3);
  });

  test('OTP-05 a chosen SMS gateway without its settings is a ConfigError naming each missing one', () => {
    const twilio = problemsOf({ LATCHKEY_SMS_GATEWAY: 'twilio' });
    assert.ok(
      twilio.includes('LATCHKEY_TWILIO_ACCOUNT_SID: required when LATCHKEY_SMS_GATEWAY=twilio'),
      twilio.join('\n'),
    );
    assert.ok(
      twilio.includes('LATCHKEY_TWILIO_AUTH_TOKEN: required when LATCHKEY_SMS_GATEWAY=twilio'),
      twilio.join('\n'),
    );
    const vonage = problemsOf({ LATCHKEY_SMS_GATEWAY: 'vonage', LATCHKEY_VONAGE_API_KEY: 'k' });
    assert.deepEqual(vonage, ['LATCHKEY_VONAGE_API_SECRET: required when LATCHKEY_SMS_GATEWAY=vonage']);
    const webhook = problemsOf({
      LATCHKEY_SMS_GATEWAY: 'webhook',
      LATCHKEY_SMS_WEBHOOK_URL: 'https://sms.example',
      LATCHKEY_SMS_WEBHOOK_SECRET: 'short',
    });
    assert.deepEqual(webhook, ['LATCHKEY_SMS_WEBHOOK_SECRET: must be at least 32 characters']);
    const ok = loadConfig({
      LATCHKEY_SMS_GATEWAY: 'twilio',
      LATCHKEY_TWILIO_ACCOUNT_SID: 'AC1',
      LATCHKEY_TWILIO_AUTH_TOKEN: 't',
    });
    assert.deepEqual(ok.sms.gateway, {
      kind: 'twilio',
      baseUrl: 'https://api.twilio.com/',
      accountSid: 'AC1',
      authToken: 't',
    });
  });

  test('a bad SMS setting stops `latchkey serve` with the configuration message, not a stack trace', () => {
    const root = join(import.meta.dirname, '..', '..');
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LATCHKEY_')));
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/main.ts'), 'serve'], {
      env: { ...env, LATCHKEY_SMS_GATEWAY: 'twilio', LATCHKEY_DATABASE_URL: ':memory:', LATCHKEY_LOG_LEVEL: 'silent' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      r.stderr,
      /^Invalid configuration:\n {2}- LATCHKEY_TWILIO_ACCOUNT_SID: required when LATCHKEY_SMS_GATEWAY=twilio\n/,
    );
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });
});
