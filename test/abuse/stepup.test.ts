import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, strongPassword, type TestServer } from '../support/server.ts';
import { createAccounts, solveAltcha } from './helpers.ts';

let ipN = 0;
const nextIp = () => `192.0.2.${++ipN}`;

function shape(r: { status: number; text: string; headers: Headers }) {
  const h = Object.fromEntries(
    [...r.headers].filter(([k]) => !['date', 'content-length', 'keep-alive', 'connection'].includes(k)),
  );
  return { status: r.status, body: r.text, headers: h };
}

describe('CAPTCHA step-up on sign-in and CAPTCHA on forgot-password (ALTCHA)', () => {
  let server: TestServer;
  const password = strongPassword();
  before(async () => {
    server = await startTestServer({
      LATCHKEY_CAPTCHA: 'altcha',
      LATCHKEY_RATE_LIMIT_SCALE: '1',
      LATCHKEY_TRUSTED_PROXIES: '127.0.0.1',
    });
    await createAccounts(server, ['step1', 'step2', 'step3', 'step4'], password);
  });
  after(async () => server?.close());

  const from = (ip: string) => server.client({ headers: { 'x-forwarded-for': ip } });

  test('BF-04 after 3 failures for an account a CAPTCHA is required, answered the same for known and unknown accounts', async () => {
    for (const id of ['step1', 'ghost-account'])
      for (let i = 0; i < 3; i++)
        assert.equal(
          (await from(nextIp()).post('/api/v1/sessions', { identifier: id, password: 'wrong-guess-1' })).status,
          401,
        );
    const known = await from(nextIp()).post('/api/v1/sessions', { identifier: 'step1', password });
    const unknown = await from(nextIp()).post('/api/v1/sessions', { identifier: 'ghost-account', password });
    assert.equal(known.status, 400);
    assert.equal(known.json.code, 'captcha_required');
    assert.deepEqual(shape(unknown), shape(known));

    const forgedKnown = await from(nextIp()).post('/api/v1/sessions', {
      identifier: 'step1',
      password,
      captcha: 'Zm9yZ2Vk',
    });
    const forgedUnknown = await from(nextIp()).post('/api/v1/sessions', {
      identifier: 'ghost-account',
      password,
      captcha: 'Zm9yZ2Vk',
    });
    assert.equal(forgedKnown.json.code, 'captcha_invalid');
    assert.deepEqual(shape(forgedUnknown), shape(forgedKnown));

    const solved = await from(nextIp()).post('/api/v1/sessions', {
      identifier: 'step1',
      password,
      captcha: await solveAltcha(server.base),
    });
    assert.equal(solved.status, 201, 'with a solved CAPTCHA the right password signs in');
    // A success gives back only its own count (ENUM-04): the identifier still asks for the CAPTCHA,
    // as the unknown one does, and with it the right password keeps working.
    assert.equal(
      (await from(nextIp()).post('/api/v1/sessions', { identifier: 'step1', password })).json?.code,
      'captcha_required',
    );
    assert.equal(
      (
        await from(nextIp()).post('/api/v1/sessions', {
          identifier: 'step1',
          password,
          captcha: await solveAltcha(server.base),
        })
      ).status,
      201,
    );
  });

  test('BF-04 repeated failures from one IP require a CAPTCHA from that IP only', async () => {
    const ip = nextIp();
    for (let i = 0; i < 3; i++)
      await from(ip).post('/api/v1/sessions', { identifier: `spray${i}`, password: 'wrong-guess-2' });
    const same = await from(ip).post('/api/v1/sessions', { identifier: 'step2', password });
    assert.equal(same.json?.code, 'captcha_required');
    assert.equal((await from(nextIp()).post('/api/v1/sessions', { identifier: 'step2', password })).status, 201);
  });

  test('BF-04 the sign-in page shows the CAPTCHA when the server asks for it', async () => {
    for (let i = 0; i < 3; i++)
      await from(nextIp()).post('/api/v1/sessions', { identifier: 'step3', password: 'wrong-guess-3' });
    const page = await from(nextIp()).form('/login', { identifier: 'step3', password });
    assert.equal(page.status, 400);
    assert.match(page.text, /<altcha-widget/);
    assert.match(page.text, /Please complete the CAPTCHA/);
    const ok = await from(nextIp()).form('/login', {
      identifier: 'step3',
      password,
      altcha: await solveAltcha(server.base),
    });
    assert.equal(ok.status, 303);
  });

  test('BF-04 the sign-in page shows the CAPTCHA up front once the next attempt needs it, for real and unknown accounts alike', async () => {
    for (const id of ['step4', 'nobody-page']) {
      const pages = [];
      for (let i = 0; i < 3; i++)
        pages.push(await from(nextIp()).form('/login', { identifier: id, password: 'wrong-guess-4' }));
      assert.deepEqual(
        pages.map((p) => [p.status, /<altcha-widget/.test(p.text)]),
        [
          [401, false],
          [401, false],
          [401, true],
        ],
      );
    }
  });

  test('BF-04 ENUM-02 forgot-password always needs the CAPTCHA, with one answer for every account', async () => {
    const known = await from(nextIp()).post('/api/v1/password-resets', { identifier: 'step1' });
    const unknown = await from(nextIp()).post('/api/v1/password-resets', { identifier: 'ghost-account' });
    assert.equal(known.status, 400);
    assert.equal(known.json.code, 'captcha_required');
    assert.deepEqual(shape(unknown), shape(known));
    const forgedK = await from(nextIp()).post('/api/v1/password-resets', {
      identifier: 'step1',
      captcha: 'eyJ4IjoxfQ==',
    });
    const forgedU = await from(nextIp()).post('/api/v1/password-resets', {
      identifier: 'ghost-account',
      captcha: 'eyJ4IjoxfQ==',
    });
    assert.equal(forgedK.json.code, 'captcha_invalid');
    assert.deepEqual(shape(forgedU), shape(forgedK));
    const ok = await from(nextIp()).post('/api/v1/password-resets', {
      identifier: 'step1',
      captcha: await solveAltcha(server.base),
    });
    assert.equal(ok.status, 202);
    const audits = await server.deps.db
      .selectFrom('audit_log')
      .select('event')
      .where('event', '=', 'captcha.failed')
      .execute();
    assert.ok(audits.length >= 4, 'CAPTCHA failures are audited');
  });
});
