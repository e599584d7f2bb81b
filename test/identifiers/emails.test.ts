import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { findAccountByIdentifier } from '../../src/store/accounts.ts';
import { devMailbox, startTestServer, strongPassword, type TestServer, waitForDevMail } from '../support/server.ts';

// ID-01: one mailbox, one account, whatever spelling of the address was typed; mail goes to the
// normalised address only.

describe('ID-01 email normalisation', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server?.close());

  const register = (username: string, email: string, password = strongPassword()) =>
    server.client().post('/api/v1/registrations', { username, email, password });
  const accountsWith = async (emailKey: string) =>
    server.deps.db
      .selectFrom('accounts')
      .select(['id', 'username', 'email'])
      .where('email_key', '=', emailKey)
      .execute();
  const activate = async (to: string) => {
    const mail = await waitForDevMail(server, (m) => m.to === to && /Activate/.test(m.subject));
    const token = /\/activate\?token=([A-Za-z0-9_-]+)/.exec(mail.text)?.[1];
    assert.equal((await server.client().post('/api/v1/activations', { token })).status, 200);
  };

  test('ID-01 the Kelvin sign: a squatter registering mi\\u212Aa@example.com gets the real mika@example.com account, and its resets go to mika@example.com only', async () => {
    const squatterPassword = strongPassword();
    // The squatter comes first: the address is stored (and mailed to) in its normal form.
    assert.equal((await register('squatter', 'mi\u212Aa@example.com', squatterPassword)).status, 202);
    const [row] = await accountsWith('mika@example.com');
    assert.equal(row?.email, 'mika@example.com', 'the Kelvin sign is folded before the address is stored');
    // The activation goes to the real mailbox, so the squatter cannot even activate it.
    await waitForDevMail(server, (m) => m.to === 'mika@example.com' && /Activate/.test(m.subject));

    // The owner registering her own address is the same account (ENUM-03: same answer, a notice mail).
    assert.equal((await register('mika', 'mika@example.com')).status, 202);
    assert.equal((await accountsWith('mika@example.com')).length, 1);
    assert.equal(
      (await server.deps.db.selectFrom('accounts').select('id').where('username_key', '=', 'mika').execute()).length,
      0,
    );
    await waitForDevMail(server, (m) => m.to === 'mika@example.com' && /already have an account/.test(m.subject));

    // A reset for mika@example.com (or the Kelvin spelling) is mailed to the normalised address.
    await activate('mika@example.com');
    for (const identifier of ['mika@example.com', 'mi\u212Aa@example.com']) {
      const before = (await devMailbox(server)).filter((m) => /Reset your password/.test(m.subject)).length;
      assert.equal((await server.client().post('/api/v1/password-resets', { identifier })).status, 202);
      for (
        let i = 0;
        (await devMailbox(server)).filter((m) => /Reset your password/.test(m.subject)).length === before;
        i++
      ) {
        assert.ok(i < 100, 'a reset mail was sent');
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const mails = await devMailbox(server);
    assert.deepEqual(
      [...new Set(mails.filter((m) => /Reset your password/.test(m.subject)).map((m) => m.to))],
      ['mika@example.com'],
    );
    assert.ok(!mails.some((m) => m.to.includes('\u212A')), 'nothing is ever mailed to the spelling the squatter typed');
    const outbox = await server.deps.db.selectFrom('outbox').select('recipient').execute();
    assert.ok(!outbox.some((o) => o.recipient.includes('\u212A')));
    // and the account signs in under either spelling
    for (const identifier of ['mika@example.com', 'MI\u212AA@EXAMPLE.COM'])
      assert.equal(
        (await server.client().post('/api/v1/sessions', { identifier, password: squatterPassword })).status,
        201,
      );
  });

  const variants: [what: string, first: string, second: string, normal: string][] = [
    ['a Unicode and a punycode domain', 'bob@bücher.example', 'bob@xn--bcher-kva.example', 'bob@xn--bcher-kva.example'],
    ['a full-width domain', 'carol@example.com', 'carol@ｅｘａｍｐｌｅ．ｃｏｍ', 'carol@example.com'],
    ['a trailing-dot domain', 'dave@example.org.', 'dave@example.org', 'dave@example.org'],
    ['NFC and NFD local parts', 'jos\u00e9@example.net', 'jose\u0301@example.net', 'jos\u00e9@example.net'],
    ['full case folding of the local part (ß)', 'STRASSE@example.de', 'straße@example.de', 'strasse@example.de'],
  ];
  for (const [what, first, second, normal] of variants)
    test(`ID-01 ${what} are one account: ${JSON.stringify(first)} and ${JSON.stringify(second)}`, async () => {
      const password = strongPassword();
      const name = `v${variants.findIndex((v) => v[0] === what)}first`;
      assert.equal((await register(name, first, password)).status, 202);
      assert.equal((await register(`${name}2`, second)).status, 202, 'answered like a new address (ENUM-03)');
      const rows = await accountsWith(normal);
      assert.deepEqual(
        rows.map((r) => [r.username, r.email]),
        [[name, normal]],
        'one account, stored under the normalised address',
      );
      await waitForDevMail(server, (m) => m.to === normal && /already have an account/.test(m.subject));
      await activate(normal);
      for (const spelling of [first, second, normal]) {
        assert.equal((await findAccountByIdentifier(server.deps.db, spelling))?.username, name, spelling);
        assert.equal(
          (await server.client().post('/api/v1/sessions', { identifier: spelling, password })).status,
          201,
          spelling,
        );
      }
    });

  test('ID-01 an address that does not normalise is refused with a 400 field error and nothing is stored', async () => {
    const before = await server.deps.db
      .selectFrom('accounts')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    for (const email of [
      'ann@10.0.0.25',
      'ann@xn--zz.example',
      'ann@exa_mple.com',
      'ann@[127.0.0.1]',
      'an\u200Bn@example.com',
      'ann@-x.example',
      'ann@example',
    ]) {
      const res = await register('annrefused', email);
      assert.equal(res.status, 400, email);
      assert.equal(res.json.code, 'validation_failed', email);
      assert.deepEqual(
        res.json.errors.map((e: { field: string; code: string }) => [e.field, e.code]),
        [['email', 'invalid']],
        email,
      );
    }
    const after = await server.deps.db
      .selectFrom('accounts')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    assert.equal(Number(after.n), Number(before.n));
  });
});
