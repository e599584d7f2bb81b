import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { Captcha } from '../../src/security/captcha.ts';
import { createAccounts } from '../abuse/helpers.ts';
import { withServer } from '../support/fixture.ts';
import { statusLinkIn } from './helpers.ts';

// A CAPTCHA that accepts only the answer 'ok': the real ones are tested in test/abuse.
const fakeCaptcha: Captcha = { widget: { provider: 'off' }, verify: async (s) => s === 'ok' };

let n = 0;
const contact = () => `filer${process.pid % 1000}x${++n}@contact.test`;
const body = (identifier: string, to = contact()) => ({
  identifier,
  contact: to,
  message: 'I lost my phone and my recovery codes.',
  captcha: 'ok',
});

describe('support requests: same answer for every identifier, signed status link (ADM-08)', () => {
  const fx = withServer({ smtp: true, overrides: { captcha: () => fakeCaptcha } });
  before(async () => {
    await createAccounts(fx.server, ['helpme1'], 'Correct-Horse-Battery-9');
  });

  test('ADM-08 existing and unknown identifiers get the same status, body and headers, and the same work', async () => {
    const c = fx.server.client();
    const jobs = () =>
      fx.server.deps.db
        .selectFrom('outbox')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('kind', '=', 'support.file')
        .executeTakeFirstOrThrow()
        .then((r) => Number(r.n));
    const before = await jobs();
    const known = await c.post('/api/v1/support-requests', body('helpme1'));
    const unknown = await c.post('/api/v1/support-requests', body('nobody-here-at-all'));
    const byEmail = await c.post('/api/v1/support-requests', body('helpme1@example.test'));
    for (const r of [known, unknown, byEmail]) {
      assert.equal(r.status, 202, r.text);
      assert.equal(r.text, known.text);
      assert.equal(r.headers.get('cache-control'), 'no-store');
    }
    assert.deepEqual(
      [...known.headers.keys()].filter((h) => h !== 'date' && h !== 'x-request-id').sort(),
      [...unknown.headers.keys()].filter((h) => h !== 'date' && h !== 'x-request-id').sort(),
    );
    assert.equal(await jobs(), before + 3, 'one job row per request, account or not');
  });

  test('ADM-08 the contact address gets a reference and a signed link that shows the request; nothing about the account', async () => {
    const to = contact();
    const c = fx.server.client();
    assert.equal((await c.post('/api/v1/support-requests', body('helpme1', to))).status, 202);
    const mail = await fx.mail(to, /support request/);
    const link = statusLinkIn(mail);
    assert.doesNotMatch(mail.text, /helpme1/, 'the unverified contact address learns nothing about the account');
    const page = await c.get(link.path, { accept: 'text/html' });
    assert.equal(page.status, 200);
    assert.match(page.text, new RegExp(link.ref));
    assert.match(page.text, /I lost my phone/);
    assert.equal(page.headers.get('cache-control'), 'no-store');
    const api = await c.get(`/api/v1/support-requests/${link.id}?sig=${link.sig}`);
    assert.equal(api.status, 200);
    assert.equal(api.json.ref, link.ref);
    assert.equal(api.json.status, 'open');
    assert.equal(api.json.messages[0].from, 'you');

    // The unknown identifier gets the same acknowledgement.
    const other = contact();
    assert.equal((await c.post('/api/v1/support-requests', body('no-such-user-9', other))).status, 202);
    const mail2 = await fx.mail(other, /support request/);
    const link2 = statusLinkIn(mail2);
    assert.equal(
      mail2.text.replace(/SR-\S+|\/support\/requests\/\S+/g, ''),
      mail.text.replace(/SR-\S+|\/support\/requests\/\S+/g, ''),
    );

    // Only signed, and only for that request.
    for (const path of [
      `/support/requests/${link.id}`,
      `/support/requests/${link.id}?sig=`,
      `/support/requests/${link.id}?sig=${link.sig.slice(0, -2)}AA`,
      `/support/requests/${link.id}?sig=${link2.sig}`,
      `/support/requests/${link2.id}?sig=${link.sig}`,
      `/support/requests/unknown-id?sig=${link.sig}`,
    ]) {
      const r = await c.get(path, { accept: 'text/html' });
      assert.equal(r.status, 404, path);
      assert.doesNotMatch(r.text, /I lost my phone/);
      const j = await c.get(`/api/v1${path.replace('/support/', '/support-')}`);
      assert.equal(j.status, 404, `api ${path}`);
    }
  });

  test('ADM-08 a CAPTCHA is required; without or with a wrong one nothing is queued', async () => {
    const c = fx.server.client();
    const missing = await c.post('/api/v1/support-requests', { ...body('helpme1'), captcha: undefined });
    assert.equal(missing.status, 400);
    assert.equal(missing.json.code, 'captcha_required');
    const wrong = await c.post('/api/v1/support-requests', { ...body('helpme1'), captcha: 'nope' });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.json.code, 'captcha_invalid');
  });

  test('ADM-08 hostile and malformed input is a clear 400 and changes nothing', async () => {
    const c = fx.server.client();
    const count = async () =>
      Number(
        (
          await fx.server.deps.db
            .selectFrom('outbox')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    const start = await count();
    const cases: unknown[] = [
      { ...body('helpme1'), contact: 'not-an-address' },
      { ...body('helpme1'), contact: 'a@b.test\r\nBcc: victim@x.test' },
      { ...body('helpme1'), message: '' },
      { ...body('helpme1'), message: '   ' },
      { ...body('helpme1'), message: 'x'.repeat(4001) },
      { ...body(''), identifier: '' },
      { ...body('helpme1'), identifier: ['helpme1'] },
      { ...body('helpme1'), message: { $gt: '' } },
      '{"identifier": ',
    ];
    for (const payload of cases) {
      const r = await c.post('/api/v1/support-requests', payload, { 'content-type': 'application/json' });
      assert.equal(r.status, 400, `${JSON.stringify(payload)} → ${r.status} ${r.text}`);
    }
    assert.equal(await count(), start);
    // The page form says what is wrong and keeps what was typed.
    const page = await c.post(
      '/support',
      { identifier: 'helpme1', contact: 'bad', message: '<script>alert(1)</script>', captcha: 'ok' },
      { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
    );
    assert.equal(page.status, 400);
    assert.match(page.text, /Enter an email address we can reach you at/);
    assert.match(page.text, /&lt;script>alert\(1\)&lt;\/script>/);
    assert.doesNotMatch(page.text, /<script>alert/);
  });

  test('ADM-08 the page form files a request without JavaScript, and a script in it is shown as text', async () => {
    const to = contact();
    const c = fx.server.client();
    const form = await c.get('/support', { accept: 'text/html' });
    assert.equal(form.status, 200);
    assert.match(form.text, /Contact support/);
    const r = await c.post(
      '/support',
      { identifier: 'helpme1', contact: to, message: '<img src=x onerror=alert(1)> help', captcha: 'ok' },
      { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
    );
    assert.equal(r.status, 200, r.text);
    assert.match(r.text, /Request received/);
    const link = statusLinkIn(await fx.mail(to, /support request/));
    const page = await c.get(link.path, { accept: 'text/html' });
    assert.match(page.text, /&lt;img src=x onerror=alert\(1\)(>|&gt;) help/);
    assert.doesNotMatch(page.text, /<img src=x/);
  });

  test('ADM-08 /login, /forgot-password and the dead reset link page link to Contact support', async () => {
    const c = fx.server.client();
    for (const path of ['/login', '/forgot-password', '/auth/reset/code?token=used-or-unknown']) {
      const r = await c.get(path, { accept: 'text/html' });
      assert.match(r.text, /href="\/support"/, path);
    }
  });
});

describe('support requests are capped per contact address and per IP (ADM-08)', () => {
  const fx = withServer({ env: { LATCHKEY_RATE_LIMIT_SCALE: '1' }, overrides: { captcha: () => fakeCaptcha } });

  test('ADM-08 past 3 requests per contact address and 5 per IP the answer is 429 with Retry-After', async () => {
    const c = fx.server.client();
    const to = contact();
    for (let i = 0; i < 3; i++)
      assert.equal((await c.post('/api/v1/support-requests', body(`someone${i}`, to))).status, 202);
    const capped = await c.post('/api/v1/support-requests', body('someone9', to));
    assert.equal(capped.status, 429);
    assert.ok(Number(capped.headers.get('retry-after')) > 0);
    // Another address from the same IP: one more fits under the per-IP cap of 5, then 429.
    assert.equal((await c.post('/api/v1/support-requests', body('someone', contact()))).status, 202);
    const ip = await c.post('/api/v1/support-requests', body('someone', contact()));
    assert.equal(ip.status, 429);
    const rows = await fx.server.deps.db
      .selectFrom('audit_log')
      .select('details')
      .where('event', '=', 'rate_limited')
      .execute();
    assert.ok(rows.some((r) => /support_request/.test(r.details ?? '')));
  });
});
