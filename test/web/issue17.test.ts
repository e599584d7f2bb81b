import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as si from 'simple-icons';
import { systemContext } from '../../src/context.ts';
import { PHONE_EXAMPLE, parseMobile } from '../../src/flows/phone/numbers.ts';
import { ACTIVATION_MAILS_CAP } from '../../src/flows/registration/service.ts';
import { providerLogo } from '../../src/methods/external/logos.tsx';
import { deviceName } from '../../src/web/device.tsx';
import { solveAltcha } from '../abuse/helpers.ts';
import { outboxIdle, signedInUser } from '../phone/helpers.ts';
import { activeAccount, uniqueName } from '../support/accounts.ts';
import { withServer } from '../support/fixture.ts';
import { devMailbox, strongPassword, waitForDevMail } from '../support/server.ts';

const html = { accept: 'text/html' };
const titleOf = (page: string) => /<title>([^<]*)<\/title>/.exec(page)?.[1];
const decode = (s: string) =>
  s
    .replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');

// Issue 17's page defects, over HTTP (the browser half is test/browser/pages17.test.ts).

describe('issue 17 page defects over HTTP', () => {
  const fx = withServer({ env: { LATCHKEY_RETURN_URL_ALLOWLIST: 'https://app.example.test' } });
  before(async () => {
    await fx.server.deps.organizations.create(
      { slug: 'acme', name: 'Acme', displayName: 'Acme Sign-in' },
      systemContext(),
    );
  });

  test('17-4 phone example: every example shown (hint, OpenAPI, error) passes the validator', async () => {
    const examples = new Set<string>([PHONE_EXAMPLE]);
    const collect = (text: string) => {
      for (const m of text.matchAll(/for example (\+[\d ]+\d)|e\.g\. (\+\d+)/g)) examples.add(m[1] ?? m[2]);
    };
    const u = await signedInUser(fx.server, 'phoneex');
    collect((await u.c.get('/settings', { accept: 'text/html' })).text);
    const api = await fx.server.client().get('/api/openapi.json');
    const op = api.json.paths['/api/v1/account/phone'].put;
    const phoneSchema = op.requestBody.content['application/json'].schema.properties.phone;
    collect(phoneSchema.description);
    for (const e of phoneSchema.examples ?? []) examples.add(e);
    const bad = await u.c.put('/api/v1/account/phone', { phone: '12' });
    assert.equal(bad.status, 400);
    collect(JSON.stringify(bad.json));
    const page = await u.c.form('/settings/phone', { phone: 'nonsense' });
    collect(page.text);
    assert.ok(examples.size >= 2, `examples found: ${[...examples]}`);
    for (const e of examples) assert.doesNotThrow(() => parseMobile(e), `example ${e} is refused by the validator`);
  });

  test('17-2 stuck before activation: "Didn\'t get the activation mail?" on /login, the done page and /activate; POST /api/v1/activations/resend answers alike for every identifier and is capped', async () => {
    const c = fx.server.client();
    for (const path of ['/login', '/activate', '/o/acme/login'])
      assert.match(
        decode((await c.get(path, html)).text),
        /href="[^"]*\/activate\/resend"[^>]*>Didn't get the activation mail\?/,
        path,
      );
    const username = uniqueName('pend');
    const email = `${username}@example.test`;
    const done = await c.form('/register', {
      username,
      email,
      password: strongPassword(),
      passwordConfirm: '',
    });
    assert.equal(done.status, 400, 'mismatch first');
    const password = strongPassword();
    const ok = await c.form('/register', { username, email, password, passwordConfirm: password });
    assert.equal(ok.status, 200);
    assert.match(decode(ok.text), /href="\/activate\/resend"/);
    await waitForDevMail(fx.server, (m) => m.to === email && /activat/i.test(m.subject));
    const active = await activeAccount(fx.server);

    const answers = [];
    for (const identifier of [username, email, active.username, 'nobody-here-at-all'])
      answers.push(await c.post('/api/v1/activations/resend', { identifier }));
    for (const a of answers) {
      assert.equal(a.status, 202, a.text);
      assert.deepEqual(a.json, answers[0].json);
    }
    await outboxIdle(fx.server);
    const toPending = (await devMailbox(fx.server)).filter((m) => m.to === email && /activat/i.test(m.subject));
    assert.equal(toPending.length, ACTIVATION_MAILS_CAP, 'registration + 2 resends, then the cap');
    const toActive = (await devMailbox(fx.server)).filter((m) => m.to === active.email && /activat/i.test(m.subject));
    assert.equal(toActive.length, 1, 'an active account gets nothing more');
    // the newest link works, the page form answers the same
    const page = await c.form('/activate/resend', { identifier: username });
    assert.equal(page.status, 200);
    assert.match(decode(page.text), /If an account with this username or email address is waiting for activation/);
    const token = /\/activate\?token=([A-Za-z0-9_-]+)/.exec(toPending[0].text)?.[1];
    assert.equal((await c.post('/api/v1/activations', { token })).status, 200);
  });

  test('17-3 organization context: /o/{slug}/login posts to its own route, errors, code pages, "Password changed" and activation mail keep the organization', async () => {
    const c = fx.server.client();
    const login = await c.get('/o/acme/login', html);
    assert.match(login.text, /action="\/o\/acme\/login"/);
    const wrong = await c.form('/o/acme/login', { identifier: 'nobody', password: 'wrong-password-1' });
    assert.equal(wrong.status, 401);
    assert.equal(titleOf(wrong.text), 'Sign in · Acme Sign-in');
    assert.match(wrong.text, /action="\/o\/acme\/login"/);

    const forgot = await c.get('/o/acme/forgot-password', html);
    assert.match(forgot.text, /href="\/o\/acme\/change-password"/);
    assert.match(forgot.text, /href="\/o\/acme\/login"[^>]*>Back to sign in/);
    assert.doesNotMatch(
      forgot.text,
      /href="\/(login|change-password|forgot-password)"/,
      'no link leaves the organization',
    );
    const code = await c.get('/o/acme/change-password', html);
    assert.equal(code.status, 200);
    assert.equal(titleOf(code.text), 'Change password with a code · Acme Sign-in');
    assert.match(code.text, /action="\/o\/acme\/change-password"/);
    const bad = await c.form('/o/acme/change-password', {
      identifier: 'x',
      code: 'AAAA-BBBB',
      password: 'p',
      passwordConfirm: 'p',
    });
    assert.equal(titleOf(bad.text), 'Change password with a code · Acme Sign-in');

    const username = uniqueName('acm');
    const email = `${username}@example.test`;
    const password = strongPassword();
    const reg = await c.form('/o/acme/register', { username, email, password, passwordConfirm: password });
    assert.equal(reg.status, 200);
    assert.match(reg.text, /href="\/o\/acme\/activate"/);
    const mail = await waitForDevMail(fx.server, (m) => m.to === email && /activat/i.test(m.subject));
    assert.match(mail.subject, /Acme Sign-in/);
    assert.match(mail.text, /Welcome to Acme Sign-in/);
    assert.doesNotMatch(mail.text, /Latchkey/);
    const link = /(\/o\/acme\/activate\?token=[A-Za-z0-9_-]+)/.exec(mail.text)?.[1];
    assert.ok(link, "the link opens the organization's activation page");
    const act = await c.get(link, html);
    assert.equal(titleOf(act.text), 'Activate your account · Acme Sign-in');
    const token = /token=([A-Za-z0-9_-]+)/.exec(link)?.[1] ?? '';
    const posted = await c.form('/o/acme/activate', { token });
    assert.equal(posted.status, 303);
    assert.equal(posted.headers.get('location'), '/o/acme/login?msg=activated');

    const unknown = await c.get('/o/no-such-org/login', html);
    assert.equal(unknown.status, 404);
    assert.match(titleOf(unknown.text) ?? '', /^Organization not found/);
  });

  test('17-8 burned code: tries left are shown, a used-up code says so and offers a new one; a rejected password keeps the code and identifier', async () => {
    const c = fx.server.client();
    let tries = '0';
    let page = '';
    for (let i = 1; i <= 5; i++) {
      const password = strongPassword();
      const r = await c.form('/change-password', {
        identifier: 'someone',
        code: 'WXYZ-2345',
        password,
        passwordConfirm: password,
        tries,
      });
      page = decode(r.text);
      tries = /name="tries" value="(\d)"/.exec(page)?.[1] ?? '';
      assert.equal(tries, String(i));
      if (i < 5) assert.match(page, new RegExp(`${5 - i} tr(y|ies) left`));
    }
    assert.match(page, /This code is used up/);
    assert.match(page, /href="\/forgot-password"[^>]*>Send a new code/);

    // only the new password is refused: code and identifier stay, focus goes to the password
    const kept = await c.form('/change-password', {
      identifier: 'someone',
      code: 'WXYZ-2345',
      password: 'short',
      passwordConfirm: 'other',
    });
    assert.equal(kept.status, 400);
    assert.match(kept.text, /name="identifier"[^>]*value="someone"/);
    assert.match(kept.text, /name="code"[^>]*value="WXYZ-2345"/);
    assert.match(kept.text, /name="password"[^>]*autofocus/);
  });

  test('17-10 wording, titles, favicon, /docs, mail head, short password rules and a complete OpenAPI', async () => {
    const c = fx.server.client();
    const settings = await c.get('/settings', html);
    assert.equal(settings.status, 303);
    assert.match(settings.headers.get('location') ?? '', /^\/login\?msg=sign_in_required&next=%2Fsettings$/);
    const login = await c.get(settings.headers.get('location') as string, html);
    assert.match(login.text, /Please sign in to continue\./);
    assert.doesNotMatch(login.text, /session has ended/);
    assert.match(login.text, /<a class="skip" href="#main">/);
    assert.match(login.text, /<link rel="icon" href="\/static\/favicon.svg"/);
    assert.equal((await c.get('/static/favicon.svg')).status, 200);
    assert.equal((await c.get('/favicon.ico')).status, 301);
    const forgot = await c.get('/forgot-password', html);
    assert.doesNotMatch(forgot.text, /Request Password Reset|Login again/);
    const docs = await c.get('/docs/', html);
    assert.match(docs.text, /<title>Latchkey API<\/title>/);
    assert.doesNotMatch(docs.text, /Swagger UI<\/title>/);

    const weak = await c.post('/api/v1/password-checks', { password: 'qwertyuiopasdf' });
    for (const r of weak.json.reasons) {
      const sentences = r.message.split(/(?<=[.!?])\s+/).filter(Boolean);
      assert.ok(sentences.length <= 3, `${r.code}: ${r.message}`);
    }

    const api = (await c.get('/api/openapi.json')).json;
    const missing: string[] = [];
    for (const [path, ops] of Object.entries<Record<string, any>>(api.paths))
      for (const [method, op] of Object.entries<any>(ops)) {
        const name = `${method.toUpperCase()} ${path}`;
        if (!op.description) missing.push(`${name}: description`);
        if (op.responses?.['401'] && !/^\/api\/v1\/sessions$/.test(path) && !op.security)
          missing.push(`${name}: security`);
        const body = op.requestBody?.content?.['application/json']?.schema;
        if (body?.properties?.captcha && body.properties.captcha.examples?.[0] === undefined)
          missing.push(`${name}: captcha example`);
      }
    assert.deepEqual(missing, []);
    for (const [path, method] of [
      ['/api/v1/registrations', 'post'],
      ['/api/v1/sessions', 'post'],
      ['/api/v1/password-resets', 'post'],
      ['/api/v1/activations/resend', 'post'],
    ]) {
      const media = api.paths[path][method].requestBody.content['application/json'];
      assert.ok(media.example ?? media.examples, `${path}: a request example for Try it out`);
    }
  });

  test('17-11 org add-admin explains that the admin must first register at /o/<slug>/register', async () => {
    const outsider = await activeAccount(fx.server);
    const ctx = systemContext('test');
    await assert.rejects(fx.server.deps.organizations.addAdmin('acme', outsider.username, 'admin', ctx), (err: Error) =>
      /belongs to another organization.*register an account at http:\/\/127\.0\.0\.1:\d+\/o\/acme\/register/.test(
        err.message,
      ),
    );
    await assert.rejects(fx.server.deps.organizations.addAdmin('acme', 'nobody-such', 'admin', ctx), (err: Error) =>
      /must first register at .*\/o\/acme\/register/.test(err.message),
    );
  });

  test('17-7 the admin form keeps what was typed beside the error', async () => {
    const u = await signedInUser(fx.server, 'boss17');
    await fx.server.deps.organizations.addAdmin('default', u.username, 'owner', systemContext('test'));
    const page = await u.c.get('/admin/organization', html);
    const numbers = [...page.text.matchAll(/<input id="f-([A-Za-z]+)" name="\1" type="number"/g)].map((m) => m[1]);
    assert.ok(numbers.length, 'number settings on the page');
    const body = new URLSearchParams([
      ['methods', 'email_link'],
      ['methods', 'email_otp'],
      ...numbers.map((n) => [n, '987654'] as [string, string]),
    ]).toString();
    const res = await u.c.request('POST', '/admin/organization?org=default', body, {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'text/html',
    });
    assert.equal(res.status, 400, res.text.slice(0, 300));
    assert.match(res.text, /class="notice error"/);
    assert.match(res.text, /value="987654"/);
    assert.match(res.text, /id="m-email_otp"[^>]*checked/);
  });

  test('polish: "Remember me" chooses between a browser-session cookie and the session lifetime (page and API)', async () => {
    const a = await activeAccount(fx.server);
    const cookieOf = (r: { headers: Headers }) =>
      r.headers.getSetCookie().find((c) => c.startsWith('latchkey_session=')) ?? '';
    const page = await fx.server.client().get('/login', html);
    assert.match(
      page.text,
      /<input type="checkbox" id="f-remember" name="remember" value="1"\/><label for="f-remember">/,
    );
    const plain = await fx.server.client().form('/login', { identifier: a.username, password: a.password });
    assert.equal(plain.status, 303);
    assert.doesNotMatch(cookieOf(plain), /Max-Age|Expires/i, 'a browser-session cookie');
    const kept = await fx.server
      .client()
      .form('/login', { identifier: a.username, password: a.password, remember: '1' });
    assert.match(cookieOf(kept), /Max-Age=604800/i, 'the configured lifetime (7d)');
    const api = await fx.server
      .client()
      .post('/api/v1/sessions', { identifier: a.username, password: a.password, remember: true });
    assert.equal(api.status, 201);
    assert.match(cookieOf(api), /Max-Age=604800/i);
    const apiPlain = await fx.server
      .client()
      .post('/api/v1/sessions', { identifier: a.username, password: a.password });
    assert.doesNotMatch(cookieOf(apiPlain), /Max-Age/i);
  });

  test('polish: /login?return_to= is limited to this origin and LATCHKEY_RETURN_URL_ALLOWLIST, and kept through registration and activation', async () => {
    const c = fx.server.client();
    const evil = await c.get(`/login?return_to=${encodeURIComponent('https://evil.example/x')}`, html);
    assert.match(evil.text, /This return address is not allowed\./);
    assert.doesNotMatch(evil.text, /name="return_to"/);
    for (const target of ['/settings?tab=1', 'https://app.example.test/after']) {
      const page = await c.get(`/login?return_to=${encodeURIComponent(target)}`, html);
      assert.match(decode(page.text), new RegExp(`name="return_to" value="${target.replace(/[?.]/g, '\\$&')}"`));
      assert.match(decode(page.text), /href="\/register\?return_to=/);
    }
    const a = await activeAccount(fx.server);
    const ok = await c.form('/login', {
      identifier: a.username,
      password: a.password,
      return_to: 'https://app.example.test/after',
    });
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.get('location'), 'https://app.example.test/after');
    const forged = await fx.server
      .client()
      .form('/login', { identifier: a.username, password: a.password, return_to: '//evil.example' });
    assert.equal(forged.headers.get('location'), '/settings', 'a forged address is dropped');

    // registration → code activation → sign-in keeps it
    const target = 'https://app.example.test/welcome';
    const reg = await c.get(`/register?return_to=${encodeURIComponent(target)}`, html);
    assert.match(reg.text, /name="return_to"/);
    const username = uniqueName('ret');
    const email = `${username}@example.test`;
    const password = strongPassword();
    const done = await c.form('/register', { username, email, password, passwordConfirm: password, return_to: target });
    assert.equal(done.status, 200);
    assert.match(decode(done.text), /href="\/activate\?return_to=https%3A%2F%2Fapp.example.test%2Fwelcome"/);
    const mail = await waitForDevMail(fx.server, (m) => m.to === email && /activat/i.test(m.subject));
    const code = /\b([0-9A-Z]{4}-[0-9A-Z]{4})\b/.exec(mail.text)?.[1] ?? '';
    const act = await c.form('/activate', { identifier: username, code, return_to: target });
    assert.equal(act.status, 303);
    assert.equal(act.headers.get('location'), `/login?msg=activated&return_to=${encodeURIComponent(target)}`);
  });
});

describe('issue 17 page defects with a CAPTCHA on', () => {
  const fx = withServer({
    env: {
      LATCHKEY_CAPTCHA: 'altcha',
      LATCHKEY_TRUSTED_PROXIES: '127.0.0.1',
      LATCHKEY_RATE_LIMIT_SCALE: '1',
      LATCHKEY_CAPTCHA_NOJS_WAIT: '4s',
    },
  });

  test('17-1 surprise CAPTCHA: /login shows the CAPTCHA on GET when the next attempt needs it, keeps the identifier and focuses the password; the API documents the round trip', async () => {
    const c = fx.server.client({ headers: { 'x-forwarded-for': '198.51.100.7' } });
    const fresh = await c.get('/login', html);
    assert.doesNotMatch(fresh.text, /altcha-widget/, 'no CAPTCHA before any failure');
    let last = '';
    for (let i = 0; i < 3; i++) {
      const r = await c.form('/login', { identifier: `someone${i}`, password: 'wrong-password-1' });
      assert.equal(r.status, 401);
      last = r.text;
    }
    assert.match(last, /name="identifier"[^>]*value="someone2"/);
    assert.match(last, /name="password"[^>]*autofocus/);
    assert.doesNotMatch(last, /name="identifier"[^>]*autofocus/);
    assert.doesNotMatch(last, /wrong-password-1/, 'never the password in HTML');
    const again = await c.get('/login', html);
    assert.match(again.text, /<altcha-widget/, 'a fresh /login from this IP shows the CAPTCHA up front');
    const other = await fx.server.client({ headers: { 'x-forwarded-for': '198.51.100.8' } }).get('/login', html);
    assert.doesNotMatch(other.text, /altcha-widget/);

    const api = (await c.get('/api/openapi.json')).json;
    const op = api.paths['/api/v1/sessions'].post;
    assert.match(op.description, /captcha_required/);
    assert.match(op.description, /\/api\/v1\/captcha\/challenge/);
    const captcha = op.requestBody.content['application/json'].schema.properties.captcha;
    assert.match(captcha.description, /\/api\/v1\/captcha\/challenge/);
    assert.notEqual(captcha.examples?.[0] ?? 'string', 'string');
    // the documented round trip works
    const ok = await c.post('/api/v1/sessions', {
      identifier: 'someone0',
      password: 'wrong-password-1',
      captcha: await solveAltcha(fx.server.base),
    });
    assert.equal(ok.json.code, 'invalid_credentials', 'the CAPTCHA was accepted; only the password is wrong');
  });

  test('17-9 no JavaScript, no register or reset: the ALTCHA forms carry a no-JS ticket, accepted once after the stated wait', async () => {
    const c = fx.server.client({ headers: { 'x-forwarded-for': '198.51.100.20' } });
    const ticketOf = (page: string) => /<noscript>.*name="altcha_nojs" value="([^"]+)"/s.exec(page)?.[1];
    for (const path of ['/register', '/forgot-password']) {
      const page = await c.get(path, html);
      assert.ok(ticketOf(page.text), `${path} offers the no-JS ticket`);
      assert.match(page.text, /Without JavaScript, this check is a short wait: send the form at least 4 seconds after/);
    }
    const ticket = ticketOf((await c.get('/register', html)).text) as string;
    const username = uniqueName('nojs');
    const password = strongPassword();
    const fields = {
      username,
      email: `${username}@example.test`,
      password,
      passwordConfirm: password,
      altcha_nojs: ticket,
    };
    const early = await c.form('/register', fields);
    assert.equal(early.status, 400, 'too soon');
    assert.match(early.text, /CAPTCHA/);
    await new Promise((r) => setTimeout(r, 4100));
    const ok = await c.form('/register', fields);
    assert.equal(ok.status, 200, ok.text);
    assert.match(ok.text, /Check your email/);
    const replay = await c.form('/register', {
      ...fields,
      username: `${username}b`,
      email: `${username}b@example.test`,
    });
    assert.equal(replay.status, 400, 'a ticket works once');
    const forged = await c.form('/forgot-password', { identifier: username, altcha_nojs: `${ticket.slice(0, -2)}AA` });
    assert.equal(forged.status, 400);
  });
});

describe('issue 17 polish without a server', () => {
  test("provider buttons carry the providers' real marks in their brand colours (simple-icons), black marks follow the text colour", () => {
    assert.match(
      providerLogo('google') ?? '',
      /<svg class="provider-logo"[^>]*aria-hidden="true"[\s\S]*fill="#4285F4" d="M/,
    );
    assert.match(providerLogo('facebook') ?? '', /fill="#0866FF"/);
    assert.match(providerLogo('github') ?? '', /fill="currentColor"/);
    assert.match(providerLogo('microsoft') ?? '', /#F25022[\s\S]*#7FBA00[\s\S]*#00A4EF[\s\S]*#FFB900/);
    // The marks are simple-icons' own paths and colours.
    for (const [id, icon, black] of [
      ['google', si.siGoogle, false],
      ['facebook', si.siFacebook, false],
      ['github', si.siGithub, true],
      ['x', si.siX, true],
    ] as const)
      assert.ok(
        (providerLogo(id) ?? '').includes(`fill="${black ? 'currentColor' : `#${icon.hex}`}" d="${icon.path}"`),
        id,
      );
    assert.equal(providerLogo('some-oidc'), undefined, 'no mark: the letter badge stays');
    assert.equal(providerLogo('__proto__'), undefined);
  });

  test('device names from the User-Agent', () => {
    assert.equal(
      deviceName('Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0'),
      'Firefox on Windows',
    );
    assert.equal(
      deviceName(
        'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
      ),
      'Mobile Safari on iOS (phone)',
    );
    assert.equal(deviceName('curl/8.5.0'), 'curl');
    assert.equal(deviceName(null), 'Unknown browser');
  });
});
