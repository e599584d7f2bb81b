import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { systemContext } from '../../src/context.ts';
import { AppError } from '../../src/errors.ts';
import { deriveUsernames } from '../../src/methods/external/usernames.ts';
import { cryptoRandom } from '../../src/security/random.ts';
import { startTestServer, strongPassword, type TestServer, waitForDevMail } from '../support/server.ts';

// ID-02: look-alike, mixed-script and invisible usernames; item 10 of issue 15: a taken username
// is said so, and that answer never depends on the email.

describe('ID-02 usernames', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    for (const [username, email] of [
      ['zeduni', 'zeduni@example.test'],
      ['other', 'other@example.test'],
    ])
      assert.equal((await register(username, email)).status, 202);
  });
  after(() => server?.close());

  const register = (username: string, email: string, password = strongPassword()) =>
    server.client().post('/api/v1/registrations', { username, email, password });
  const count = async () =>
    Number(
      (
        await server.deps.db
          .selectFrom('accounts')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  const fieldErrors = (json: { errors?: { field: string; code?: string }[] }) =>
    (json.errors ?? []).map((e) => [e.field, e.code]);

  test('ID-02 each look-alike of an existing username is refused with a clear 400 field error', async () => {
    const before = await count();
    const lookAlikes: [string, string][] = [
      ['z\u0435duni', 'mixed_script'], // Cyrillic е
      ['zed\u03C5n\u03B9', 'mixed_script'], // Greek υ and ι
      ['zedun\u0131', 'confusable'], // dotless ı: all Latin, same skeleton
      ['ZEDUN\u0130', 'confusable'], // İ folds to i + combining dot above
      ['zeduni\u3164', 'invisible'], // Hangul filler
      ['zedun\u0456', 'mixed_script'], // Cyrillic і
    ];
    for (const [name, code] of lookAlikes) {
      const res = await register(name, `${Buffer.from(name).toString('hex')}@example.test`);
      assert.equal(res.status, 400, `${JSON.stringify(name)} → ${res.status} ${res.text}`);
      assert.equal(res.json.code, 'validation_failed');
      assert.deepEqual(fieldErrors(res.json), [['username', code]], JSON.stringify(name));
      assert.ok(res.json.errors[0].message.length > 10, 'a message a person can read');
    }
    // the same username in another case or in full-width forms is the same username: taken
    for (const same of ['ZEDUNI', '\uFF5A\uFF45\uFF44\uFF55\uFF4E\uFF49']) {
      const res = await register(same, 'someone-new@example.test');
      assert.equal(res.status, 409, same);
      assert.deepEqual(fieldErrors(res.json), [['username', 'taken']]);
    }
    assert.equal(await count(), before, 'nothing was created');
  });

  test('ID-02 mixed scripts and invisible or filler characters are refused, whatever exists', async () => {
    const before = await count();
    const refused: [string, string][] = [
      ['abc\u0434\u0435\u0444', 'mixed_script'], // Latin + Cyrillic
      ['\u0430lice', 'mixed_script'], // Cyrillic а in a Latin name
      ['ab\u0661\u06623', 'mixed_script'], // Arabic-Indic digits with Latin
      ['\u0661\u0662\u0663\u0664\u06F5', 'mixed_script'], // two Arabic digit systems
      ['ali\u200Bce', 'invisible'], // zero-width space
      ['bob\u3164', 'invisible'], // Hangul filler
      ['\u115Fcarol', 'invisible'], // Hangul choseong filler
      ['dan\u00ADiel', 'invisible'], // soft hyphen
      ['eve\u2060xy', 'invisible'], // word joiner
      ['ev\u202Eel', 'invisible'], // right-to-left override
      ['mal lory', 'invisible'], // a space
    ];
    for (const [name, code] of refused) {
      const res = await register(name, `${Buffer.from(name).toString('hex')}@example.test`);
      assert.equal(res.status, 400, `${JSON.stringify(name)} → ${res.status} ${res.text}`);
      assert.deepEqual(fieldErrors(res.json), [['username', code]], JSON.stringify(name));
    }
    assert.equal(await count(), before);
  });

  test('ID-02 a normal single-script name is accepted (Cyrillic, Greek, Japanese, Latin with digits)', async () => {
    for (const name of [
      '\u0438\u0432\u0430\u043D',
      '\u03B4\u03B7\u03BC\u03B7\u03C4\u03C1\u03B1',
      '\u5C71\u7530\u592A\u90CE',
      'yamada\u5C71\u7530',
      'anna_1984',
      'jos\u00E9.m',
    ]) {
      const res = await register(name, `${Buffer.from(name).toString('hex')}@example.test`);
      assert.equal(res.status, 202, `${name}: ${res.text}`);
      const row = await server.deps.db
        .selectFrom('accounts')
        .select(['username', 'username_skeleton'])
        .where('username', '=', name.normalize('NFKC'))
        .executeTakeFirst();
      assert.ok(row?.username_skeleton, `${name} is stored with its skeleton`);
    }
    // and once one exists, a look-alike in the same script is refused too (Cyrillic а vs Latin a is mixed; і vs и is not)
    const res = await register('\u0438\u0432\u0430\u043D', 'ivan2@example.test');
    assert.equal(res.status, 409);
  });

  test('ID-02 concurrent registrations of two confusable names: only one succeeds', async () => {
    // m and rn share a skeleton; each round sends both at once, so both pass the look-up and
    // the unique index on the skeleton decides.
    for (let round = 0; round < 4; round++) {
      const pair = [`lime${round}m`, `lime${round}rn`];
      const answers = await Promise.all(pair.map((name) => register(name, `${name}@example.test`)));
      const statuses = answers.map((a) => a.status).sort();
      assert.deepEqual(statuses, [202, 400], `round ${round}: ${answers.map((a) => a.text).join(' | ')}`);
      const loser = answers.find((a) => a.status === 400);
      assert.deepEqual(fieldErrors(loser?.json), [['username', 'confusable']]);
      const rows = await server.deps.db
        .selectFrom('accounts')
        .select('username')
        .where('username', 'in', pair)
        .execute();
      assert.equal(rows.length, 1, `round ${round}: one account`);
    }
  });

  test('ID-02 usernames from external accounts follow the same rules', async () => {
    // candidates derived from a profile skip hints the rules refuse
    const derived = deriveUsernames(
      { subject: 's', login: 'z\u0435duni', displayName: 'Zed\u3164Uni', verifiedEmail: 'zed.uni@example.test' },
      cryptoRandom,
    );
    assert.ok(derived.length > 0);
    for (const d of derived) assert.doesNotMatch(d, /[\u0435\u3164]/u, d);
    // the welcome step's rename: look-alikes, mixed scripts and fillers are refused; its own name in another case is fine
    const ctx = systemContext('test');
    const other = await server.deps.db
      .selectFrom('accounts')
      .select('id')
      .where('username_key', '=', 'other')
      .executeTakeFirstOrThrow();
    const refusal = async (name: string) => {
      try {
        await server.deps.external.changeUsername(other.id, name, ctx);
      } catch (err) {
        assert.ok(err instanceof AppError);
        return [err.status, err.extra.fields?.[0]?.code ?? err.code];
      }
      return undefined;
    };
    assert.deepEqual(await refusal('zedun\u0131'), [400, 'confusable']);
    assert.deepEqual(await refusal('ZEDUNI'), [409, 'taken']);
    assert.deepEqual(await refusal('z\u0435duni'), [400, 'mixed_script']);
    assert.deepEqual(await refusal('other\u3164'), [400, 'invisible']);
    assert.equal(await refusal('OTHER'), undefined);
    assert.equal(await refusal('other'), undefined);
  });

  test('ENUM-03 a taken username answers the same whatever the email (existing or new); an existing email with a new username still gets its notice', async () => {
    const outbox = async () =>
      Number(
        (
          await server.deps.db
            .selectFrom('outbox')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    const before = { accounts: await count(), outbox: await outbox() };
    const withExisting = await register('zeduni', 'other@example.test');
    const withNew = await register('zeduni', 'never-seen-before@example.test');
    const withOwn = await register('zeduni', 'zeduni@example.test');
    for (const res of [withExisting, withNew, withOwn]) {
      assert.equal(res.status, 409);
      assert.equal(res.headers.get('content-type'), withNew.headers.get('content-type'));
      assert.equal(res.text, withNew.text, 'byte-identical bodies');
    }
    assert.doesNotMatch(withNew.text, /other@|never-seen|email/i, 'the answer names no address');
    assert.deepEqual(
      { accounts: await count(), outbox: await outbox() },
      before,
      'no account, no mail: nothing that depends on the email happened',
    );

    // a new username with an existing email: the ENUM-03 path (202, the owner is told by mail)
    const res = await register('brand-new-handle', 'OTHER@example.test');
    assert.equal(res.status, 202);
    await waitForDevMail(server, (m) => m.to === 'other@example.test' && /already have an account/.test(m.subject));
    assert.equal(await count(), before.accounts);
  });
});
