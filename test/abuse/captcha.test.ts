import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import type { Deps } from '../../src/deps.ts';
import { SiteverifyCaptcha } from '../../src/security/captcha/siteverify.ts';
import { startTestServer, strongPassword, type TestServer } from '../support/server.ts';
import { FakeSiteverify } from './fake-siteverify.ts';
import { solveAltcha } from './helpers.ts';

// Real provider secrets are 35-42 characters; the setting insists on at least 32.
const SECRET = '0x4AAAAAAAtestsecret000000000000000AA';
const ctx = { ip: '203.0.113.9', userAgent: 'test', correlationId: 'c1' };
let n = 0;
const registration = (captcha?: string) => {
  n++;
  return {
    username: `cap${n}`,
    email: `cap${n}@example.test`,
    password: strongPassword(),
    ...(captcha === undefined ? {} : { captcha }),
  };
};

describe('ALTCHA (self-hosted proof of work) over the API', () => {
  let server: TestServer;
  // The wall clock, moved ahead only by the expiry test: a challenge's lifetime is long enough
  // that solving on a loaded machine never outlasts it, and expiry needs no waiting.
  let ahead = 0;
  const clock = { now: () => Date.now() + ahead };
  before(async () => {
    server = await startTestServer({ LATCHKEY_CAPTCHA: 'altcha', LATCHKEY_CAPTCHA_TTL: '120s' }, { clock });
  });
  after(async () => server?.close());

  test('BF-04 a solved challenge lets registration through, once; a replay is rejected', async () => {
    const c = server.client();
    const payload = await solveAltcha(server.base);
    const ok = await c.post('/api/v1/registrations', registration(payload));
    assert.equal(ok.status, 202);
    const replay = await c.post('/api/v1/registrations', registration(payload));
    assert.equal(replay.status, 400);
    assert.equal(replay.json.code, 'captcha_invalid');
  });

  test('BF-04 missing, forged and tampered payloads are rejected the same way for every account', async () => {
    const c = server.client();
    const missing = await c.post('/api/v1/registrations', registration());
    assert.equal(missing.status, 400);
    assert.equal(missing.json.code, 'captcha_required');

    const good = JSON.parse(Buffer.from(await solveAltcha(server.base), 'base64').toString());
    const tampered = structuredClone(good);
    tampered.solution.derivedKey = tampered.solution.derivedKey.replace(/^./, (ch: string) => (ch === '0' ? '1' : '0'));
    const resigned = structuredClone(good);
    resigned.challenge.parameters.expiresAt += 3600; // signature no longer matches
    const forged = [
      'not base64 at all',
      Buffer.from('{"challenge":{}}').toString('base64'),
      Buffer.from(JSON.stringify(tampered)).toString('base64'),
      Buffer.from(JSON.stringify(resigned)).toString('base64'),
    ];
    const answers: [number, string][] = [];
    for (const f of forged) {
      const r = await c.post('/api/v1/registrations', registration(f));
      answers.push([r.status, r.text]);
    }
    for (const a of answers) assert.deepEqual(a, [400, answers[0][1]]);
    assert.equal(JSON.parse(answers[0][1]).code, 'captcha_invalid');
    // The untampered payload was never consumed by the failures above.
    assert.equal(
      (await c.post('/api/v1/registrations', registration(Buffer.from(JSON.stringify(good)).toString('base64'))))
        .status,
      202,
    );
  });

  test('BF-04 an expired challenge is rejected', async () => {
    const payload = await solveAltcha(server.base);
    ahead = 121_000;
    try {
      const r = await server.client().post('/api/v1/registrations', registration(payload));
      assert.equal(r.status, 400);
      assert.equal(r.json.code, 'captcha_invalid');
    } finally {
      ahead = 0;
    }
    // Within its lifetime the same kind of payload is accepted: the refusal above was the expiry.
    const fresh = await solveAltcha(server.base);
    ahead = 60_000;
    try {
      assert.equal((await server.client().post('/api/v1/registrations', registration(fresh))).status, 202);
    } finally {
      ahead = 0;
    }
  });

  test('the challenge is never cached and the widget is served from our origin', async () => {
    const res = await fetch(`${server.base}/api/v1/captcha/challenge`);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const body = await res.json();
    assert.equal(body.parameters.algorithm, 'SHA-256');
    assert.ok(body.signature);
    for (const path of ['/static/altcha/altcha.js', '/static/altcha/worker-sha.js', '/static/altcha/altcha.css']) {
      const r = await fetch(server.base + path);
      assert.equal(r.status, 200, path);
    }
    const page = await (await fetch(`${server.base}/register`)).text();
    assert.match(page, /<altcha-widget challenge="\/api\/v1\/captcha\/challenge"/);
    assert.match(page, /<script src="\/static\/altcha\/altcha.js"/);
    assert.match(page, /contact support/);
  });
});

describe('siteverify providers against a local server shaped like theirs', () => {
  const fake = new FakeSiteverify(SECRET);
  let server: TestServer;
  before(async () => {
    await fake.start();
    server = await startTestServer({
      LATCHKEY_CAPTCHA: 'turnstile',
      LATCHKEY_CAPTCHA_SITE_KEY: 'site-key-1',
      LATCHKEY_CAPTCHA_SECRET: SECRET,
      LATCHKEY_CAPTCHA_VERIFY_URL: fake.url,
      LATCHKEY_CAPTCHA_TIMEOUT: '1s',
    });
  });
  after(async () => {
    await server?.close();
    await fake.stop();
  });

  test('BF-04 Turnstile: success passes, failure and timeout fail closed', async () => {
    const c = server.client();
    assert.equal((await c.post('/api/v1/registrations', registration('good'))).status, 202);
    const sent = fake.requests.at(-1);
    assert.equal(sent?.secret, SECRET);
    assert.equal(sent?.response, 'good');
    assert.equal(sent?.remoteip, '127.0.0.1');
    const bad = await c.post('/api/v1/registrations', registration('bad'));
    assert.equal(bad.status, 400);
    assert.equal(bad.json.code, 'captcha_invalid');
    const slow = await c.post('/api/v1/registrations', registration('slow'));
    assert.equal(slow.status, 400);
    assert.equal(slow.json.code, 'captcha_invalid');
  });

  test('BF-04 the Turnstile widget field of a plain form post is verified', async () => {
    const c = server.client();
    const page = await (await fetch(`${server.base}/register`)).text();
    assert.match(page, /class="cf-turnstile" data-sitekey="site-key-1"/);
    const reg = registration();
    const r = await c.form('/register', { ...reg, passwordConfirm: reg.password, 'cf-turnstile-response': 'good' });
    assert.equal(r.status, 200);
    assert.equal(fake.requests.at(-1)?.response, 'good');
    const refused = registration();
    const r2 = await c.form('/register', {
      ...refused,
      passwordConfirm: refused.password,
      'cf-turnstile-response': 'bad',
    });
    assert.equal(r2.status, 400);
  });

  const verifier = (provider: 'hcaptcha' | 'recaptcha', extra: { action?: string } = {}) =>
    new SiteverifyCaptcha({ log: pino({ level: 'silent' }) } as unknown as Deps, provider, {
      siteKey: 'site-key-1',
      secret: SECRET,
      verifyUrl: fake.url,
      timeoutMs: 1000,
      minScore: 0.5,
      ...extra,
    });

  test('BF-04 hCaptcha: success, failure, timeout; the site key is sent along', async () => {
    const h = verifier('hcaptcha');
    assert.equal(await h.verify('good', ctx), true);
    assert.equal(fake.requests.at(-1)?.sitekey, 'site-key-1');
    assert.equal(fake.requests.at(-1)?.remoteip, ctx.ip);
    assert.equal(await h.verify('bad', ctx), false);
    assert.equal(await h.verify('slow', ctx), false);
    assert.equal(await h.verify(undefined, ctx), false);
    assert.equal(await h.verify('', ctx), false);
  });

  test('BF-04 reCAPTCHA: v2 success passes; v3 needs the minimum score and the expected action', async () => {
    const r = verifier('recaptcha');
    assert.equal(await r.verify('good', ctx), true);
    assert.equal(await r.verify('v3-high', ctx), true);
    assert.equal(await r.verify('v3-low', ctx), false);
    assert.equal(await r.verify('bad', ctx), false);
    assert.equal(await r.verify('slow', ctx), false);
    assert.equal(await verifier('recaptcha', { action: 'login' }).verify('v3-high', ctx), true);
    assert.equal(await verifier('recaptcha', { action: 'register' }).verify('v3-high', ctx), false);
  });

  test('a wrong secret or an unreachable endpoint fails closed', async () => {
    const wrong = new SiteverifyCaptcha({ log: pino({ level: 'silent' }) } as unknown as Deps, 'turnstile', {
      siteKey: 'k',
      secret: 'not-the-secret',
      verifyUrl: fake.url,
      timeoutMs: 1000,
      minScore: 0.5,
    });
    assert.equal(await wrong.verify('good', ctx), false);
    const down = new SiteverifyCaptcha({ log: pino({ level: 'silent' }) } as unknown as Deps, 'turnstile', {
      siteKey: 'k',
      secret: SECRET,
      verifyUrl: 'http://127.0.0.1:1/siteverify',
      timeoutMs: 1000,
      minScore: 0.5,
    });
    assert.equal(await down.verify('good', ctx), false);
  });
});
