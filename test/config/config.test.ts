import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig, parseDuration } from '../../src/config/index.ts';
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
    const c = loadConfig({ LATCHKEY_SESSION_IDLE_TTL: '15m', LATCHKEY_SESSION_ABSOLUTE_TTL: '2h', LATCHKEY_RESET_TTL: '600' });
    assert.equal(c.session.idleTtl, 900_000);
    assert.equal(c.session.absoluteTtl, 7_200_000);
    assert.equal(c.resetTtl, 600_000);
  });

  const badValues: [string, Record<string, string>, RegExp][] = [
    ['int that is not a number', { LATCHKEY_PORT: 'eighty' }, /LATCHKEY_PORT=.*whole number/],
    ['int below its minimum', { LATCHKEY_PASSWORD_MIN_LENGTH: '4' }, /LATCHKEY_PASSWORD_MIN_LENGTH=.*>= 8/],
    ['int above its maximum', { LATCHKEY_PORT: '70000' }, /LATCHKEY_PORT=.*<= 65535/],
    ['fractional int', { LATCHKEY_BODY_LIMIT: '2048.5' }, /LATCHKEY_BODY_LIMIT=.*whole number/],
    ['duration without a unit we know', { LATCHKEY_SESSION_IDLE_TTL: '3 weeks' }, /LATCHKEY_SESSION_IDLE_TTL=.*duration/],
    ['duration above its maximum', { LATCHKEY_RESET_TTL: '30d' }, /LATCHKEY_RESET_TTL=.*at most/],
    ['enum outside its values', { LATCHKEY_ENV: 'staging' }, /LATCHKEY_ENV=.*one of development, production/],
    ['url that is not absolute', { LATCHKEY_PUBLIC_URL: 'example.com/login' }, /LATCHKEY_PUBLIC_URL=.*absolute URL/],
    ['secret too short', { LATCHKEY_SECRET: 'short' }, /LATCHKEY_SECRET=.*32 characters/],
    ['unknown LATCHKEY_ name (a typo)', { LATCHKEY_SESION_IDLE_TTL: '1h' }, /LATCHKEY_SESION_IDLE_TTL: unknown setting/],
    ['idle longer than absolute', { LATCHKEY_SESSION_IDLE_TTL: '2d', LATCHKEY_SESSION_ABSOLUTE_TTL: '1d' }, /LATCHKEY_SESSION_IDLE_TTL: must not be longer/],
  ];
  for (const [what, env, expected] of badValues) {
    test(`a bad value is named: ${what}`, () => {
      const problems = problemsOf(env);
      assert.ok(problems.some((p) => expected.test(p)), `${problems.join('\n')} does not match ${expected}`);
    });
  }

  test('every bad value is reported at once, each by name', () => {
    const problems = problemsOf({ LATCHKEY_PORT: 'x', LATCHKEY_ENV: 'qa', LATCHKEY_OUTBOX_POLL: 'often' });
    for (const name of ['LATCHKEY_PORT', 'LATCHKEY_ENV', 'LATCHKEY_OUTBOX_POLL']) assert.ok(problems.some((p) => p.startsWith(name)), name);
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
    const garbage: Record<string, string> = { int: 'many', duration: 'forever', enum: 'nonsense-value', url: 'not a url', secret: 'x', bool: 'perhaps' };
    for (const s of SETTINGS) {
      const bad = garbage[s.kind];
      if (!bad) continue;
      const problems = problemsOf({ [s.env]: bad });
      assert.ok(problems.some((p) => p.startsWith(`${s.env}=`)), `${s.env} (${s.kind}) not named in ${problems.join('; ')}`);
    }
  });

  test('production without SMTP is refused with a clear message', () => {
    const problems = problemsOf({ LATCHKEY_ENV: 'production', LATCHKEY_SECRET: 'x'.repeat(40) });
    assert.ok(problems.some((p) => /^LATCHKEY_SMTP_URL: required when LATCHKEY_ENV=production/.test(p)), problems.join('\n'));
  });

  test('production without a secret is refused', () => {
    const problems = problemsOf({ LATCHKEY_ENV: 'production', LATCHKEY_SMTP_URL: 'smtp://127.0.0.1:2525' });
    assert.ok(problems.some((p) => /^LATCHKEY_SECRET: required/.test(p)), problems.join('\n'));
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
