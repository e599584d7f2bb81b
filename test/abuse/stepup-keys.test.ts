import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config/index.ts';
import { ipGroup } from '../../src/security/ip-group.ts';
import { startTestServer, strongPassword, type TestServer } from '../support/server.ts';
import { createAccounts, solveAltcha } from './helpers.ts';

// What the CAPTCHA step-up and the per-IP limits count under: the identifier as typed (not the
// account, ENUM-04) and the client's network (an IPv6 /64, not one address, BF-02).

describe('step-up per identifier as typed, limits per IPv6 network', () => {
  let server: TestServer;
  const password = strongPassword();
  before(async () => {
    server = await startTestServer({
      LATCHKEY_CAPTCHA: 'altcha',
      LATCHKEY_ALTCHA_MAX_NUMBER: '1000',
      LATCHKEY_RATE_LIMIT_SCALE: '1',
      LATCHKEY_TRUSTED_PROXIES: '127.0.0.1',
      LATCHKEY_LIMIT_SIGN_IN_IP: '4/10m',
      LATCHKEY_LIMIT_RESET_REQUEST_ID: '4/1h',
    });
    await createAccounts(server, ['alias1', 'net1', 'victim1'], password);
  });
  after(async () => server?.close());

  let ipN = 0;
  const from = (ip = `192.0.2.${++ipN}`) => server.client({ headers: { 'x-forwarded-for': ip } });

  test('ENUM-04 step-up is counted per identifier as typed: failures as a username do not make its email ask for a CAPTCHA', async () => {
    for (let i = 0; i < 3; i++)
      assert.equal(
        (await from().post('/api/v1/sessions', { identifier: 'alias1', password: 'wrong-guess' })).status,
        401,
      );
    // The same identifier, however it is cased or spaced, needs the CAPTCHA now ...
    const again = await from().post('/api/v1/sessions', { identifier: ' ALIAS1 ', password });
    assert.equal(again.json?.code, 'captcha_required');
    // ... the account's email does not: the step-up says nothing about which email is whose.
    const email = await from().post('/api/v1/sessions', { identifier: 'alias1@example.test', password: 'wrong-guess' });
    const unknown = await from().post('/api/v1/sessions', {
      identifier: 'nobody1@example.test',
      password: 'wrong-guess',
    });
    assert.equal(email.status, 401);
    assert.equal(email.text, unknown.text);
    // The lockout still counts per account (BF-01): 3 + 1 failures so far, the right password by email gets in.
    assert.equal((await from().post('/api/v1/sessions', { identifier: 'alias1@example.test', password })).status, 201);
    const withCaptcha = await from().post('/api/v1/sessions', {
      identifier: 'alias1',
      password,
      captcha: await solveAltcha(server.base),
    });
    assert.equal(withCaptcha.status, 201);
  });

  test('ENUM-04 a sign-in by the owner does not reset the step-up: a real and an unknown identifier still answer alike', async () => {
    for (const id of ['victim1', 'nobody-victim'])
      for (let i = 0; i < 3; i++)
        assert.equal((await from().post('/api/v1/sessions', { identifier: id, password: 'wrong-guess' })).status, 401);
    // The owner signs in (past the step-up, so with a CAPTCHA) ...
    const owner = await from().post('/api/v1/sessions', {
      identifier: 'victim1',
      password,
      captcha: await solveAltcha(server.base),
    });
    assert.equal(owner.status, 201);
    // ... and a prober from a new address cannot tell the account from the unknown identifier.
    const real = await from().post('/api/v1/sessions', { identifier: 'victim1', password: 'wrong-guess' });
    const unknown = await from().post('/api/v1/sessions', { identifier: 'nobody-victim', password: 'wrong-guess' });
    assert.equal(real.json?.code, 'captcha_required');
    assert.equal(unknown.json?.code, 'captcha_required');
    assert.equal(real.text, unknown.text);
  });

  test('BF-02 reset requests for every spelling of one address share one per-identifier limit, full-width at-sign included', async () => {
    const spellings = [
      'spell1@example.test',
      'SPELL1@Example.TEST',
      'spell1\uff20example.test',
      ' spell1@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.test ',
    ];
    // Refused for want of a CAPTCHA, but counted first: four spellings use up the limit of 4 ...
    for (const identifier of spellings)
      assert.equal(
        (await from().post('/api/v1/password-resets', { identifier })).json?.code,
        'captcha_required',
        identifier,
      );
    // ... so a fifth spelling, from yet another address, is over it.
    for (const identifier of ['spell1\uff20EXAMPLE.test', 'Spell1@example.test.']) {
      const res = await from().post('/api/v1/password-resets', { identifier });
      assert.equal(res.status, 429, identifier);
    }
    // Another address has its own budget.
    assert.equal(
      (await from().post('/api/v1/password-resets', { identifier: 'spell2@example.test' })).json?.code,
      'captcha_required',
    );
  });

  test('BF-02 IPv6 clients are limited per /64: two addresses in one /64 share the limit, another /64 does not', async () => {
    const guess = (ip: string) =>
      from(ip).post('/api/v1/sessions', { identifier: `ghost-${ip}`, password: 'wrong-guess' });
    const statuses = [];
    for (const ip of ['2001:db8:7:1::1', '2001:db8:7:1::2', '2001:db8:7:1:ffff:ffff:ffff:ffff', '2001:db8:7:1::abcd'])
      statuses.push((await guess(ip)).status);
    // Four attempts use up the budget of the whole /64; the step-up CAPTCHA is asked from the 4th.
    assert.deepEqual(statuses, [401, 401, 401, 400]);
    assert.equal((await guess('2001:db8:7:1:1234::5')).status, 429, 'a fifth address of the same /64 is limited');
    assert.equal((await guess('2001:db8:7:2::1')).status, 401, 'the next /64 has its own budget');
    // An IPv4-mapped IPv6 address is the IPv4 client it carries.
    for (let i = 0; i < 4; i++) await guess('198.51.100.44');
    assert.equal((await guess('::ffff:198.51.100.44')).status, 429);
    assert.equal(
      (await from('2001:db8:7:3::9').post('/api/v1/sessions', { identifier: 'net1', password })).status,
      201,
    );
  });

  test('BF-02 LATCHKEY_IPV6_PREFIX sets the network size (32 to 128, default 64)', () => {
    assert.equal(ipGroup('2001:db8:7:1::1', 64), ipGroup('2001:db8:7:1:ffff::2', 64));
    assert.notEqual(ipGroup('2001:db8:7:1::1', 64), ipGroup('2001:db8:7:2::1', 64));
    assert.equal(ipGroup('2001:db8:7:1::1', 48), ipGroup('2001:db8:7:2::1', 48));
    assert.notEqual(ipGroup('2001:db8:7:1::1', 128), ipGroup('2001:db8:7:1::2', 128));
    assert.equal(ipGroup('::ffff:192.0.2.1', 64), '192.0.2.1');
    assert.equal(loadConfig({ LATCHKEY_DATABASE_URL: ':memory:' }).limits.ipv6Prefix, 64);
    assert.throws(
      () => loadConfig({ LATCHKEY_DATABASE_URL: ':memory:', LATCHKEY_IPV6_PREFIX: '16' }),
      /LATCHKEY_IPV6_PREFIX/,
    );
  });
});
