import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Migrator } from 'kysely';
import { findAccountByIdentifier } from '../../src/store/accounts.ts';
import { migrate, openStore, type Store } from '../../src/store/db.ts';
import { migrations } from '../../src/store/migrations/index.ts';
import { engines } from '../support/engines.ts';

// ID-01/ID-02 on existing data: rows written the way the code before the 003 migration wrote
// them are rewritten to their normal forms; rows that would collide are left alone and reported
// (a start-up warning and `latchkey identifiers check`), on SQLite and on PostgreSQL.

const root = join(import.meta.dirname, '..', '..');
const cleanEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LATCHKEY_')));

// What the code before ID-01/ID-02 stored: the address as typed with its domain lower-cased, keys
// lower-cased (toLowerCase, not case folding), no skeleton.
const oldEmail = (e: string) => `${e.slice(0, e.lastIndexOf('@'))}@${e.slice(e.lastIndexOf('@') + 1).toLowerCase()}`;
const OLD: [id: string, username: string, email: string | null][] = [
  ['a1', 'Mika', 'Mi\u212Aa@Example.com'], // Kelvin sign: normalises alone
  ['a2', 'bob1', 'bob@bücher.example'], // Unicode and punycode domain: one mailbox, two rows
  ['a3', 'bob2', 'bob@xn--bcher-kva.example'],
  ['a4', 'dora', 'Dora@EXAMPLE.org.'], // trailing dot: normalises alone
  ['a5', 'jose1', 'jose\u0301@example.net'], // NFD and NFC local parts: one mailbox, two rows
  ['a6', 'jose2', 'jos\u00e9@example.net'],
  ['a7', 'ipuser', 'x@10.0.0.25'], // does not normalise
  ['a8', 'zeduni', 'z1@example.test'], // oldest of three look-alikes keeps the skeleton
  ['a9', 'zedun\u0131', 'z2@example.test'],
  ['a10', 'z\u0435duni', 'z3@example.test'], // also mixed script
  ['a11', 'Stra\u00DFe', 'st1@example.test'], // ß and ss: one username under full case folding
  ['a12', 'strasse', 'st2@example.test'],
  ['a13', 'noemail', null],
];

for (const engine of engines) {
  describe(`ID-01/ID-02 migration of existing rows on ${engine.name}`, () => {
    let store: Store | undefined;
    let url = '';
    let cleanup: (() => Promise<void>) | undefined;
    before(async () => {
      const opened = await engine.open();
      if (!opened) return;
      ({ url, cleanup } = opened);
      store = openStore(url);
      const migrator = new Migrator({ db: store.db, provider: { getMigrations: async () => migrations } });
      const first = await migrator.migrateTo('001_foundation');
      assert.equal(first.error, undefined);
      await store.db
        .insertInto('organizations')
        .values({
          id: 'org1',
          slug: 'default',
          name: 'D',
          display_name: 'D',
          support_contact: null,
          recovery_settings: '{}',
          created_at: 1,
        })
        .execute();
      let at = 1_700_000_000_000;
      for (const [id, username, email] of OLD) {
        const stored = email === null ? null : oldEmail(email);
        await store.db
          .insertInto('accounts')
          .values({
            id,
            org_id: 'org1',
            username: username.normalize('NFKC'),
            username_key: username.normalize('NFKC').toLowerCase(),
            email: stored,
            email_key: stored?.toLowerCase() ?? null,
            status: 'active',
            password_hash: null,
            is_staff: 0,
            created_at: at++,
            updated_at: at,
          } as never)
          .execute();
      }
      assert.ok((await migrate(store)).includes('003_identifier_keys'));
    });
    after(async () => {
      await store?.close();
      await cleanup?.();
    });

    const it = (name: string, fn: (s: Store) => Promise<void>) =>
      test(name, async (t) => {
        if (!store) return void t.skip(`${engine.name} is not available`);
        await fn(store);
      });
    const row = (s: Store, id: string) =>
      s.db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

    it('ID-01 stored addresses become their normal form; colliding and unnormalisable ones are left as they were', async (s) => {
      assert.deepEqual(
        [(await row(s, 'a1')).email, (await row(s, 'a1')).email_key],
        ['mika@example.com', 'mika@example.com'],
      );
      assert.deepEqual(
        [(await row(s, 'a4')).email, (await row(s, 'a4')).email_key],
        ['dora@example.org', 'dora@example.org'],
      );
      for (const [id, , email] of OLD.filter(([id]) => ['a2', 'a3', 'a5', 'a6', 'a7'].includes(id))) {
        const r = await row(s, id);
        assert.equal(r.email, oldEmail(email as string), `${id} untouched`);
        assert.equal(r.email_key, oldEmail(email as string).toLowerCase(), `${id} key untouched`);
      }
      assert.equal((await row(s, 'a13')).email, null);
      assert.equal((await findAccountByIdentifier(s.db, 'MI\u212AA@example.com'))?.id, 'a1');
      assert.equal((await findAccountByIdentifier(s.db, 'dora@example.org.'))?.id, 'a4');
    });

    it('ID-02 every username gets its skeleton under a unique index; the oldest of look-alikes keeps it; equal keys are left as they were', async (s) => {
      assert.equal((await row(s, 'a8')).username_skeleton, 'zeduni');
      assert.equal((await row(s, 'a9')).username_skeleton, null);
      assert.equal((await row(s, 'a10')).username_skeleton, null);
      assert.equal((await row(s, 'a11')).username_skeleton, 'strasse');
      assert.equal((await row(s, 'a12')).username_skeleton, null);
      assert.equal(
        (await row(s, 'a11')).username_key,
        'stra\u00DFe',
        'collides with strasse under folding: left as it was',
      );
      assert.equal((await row(s, 'a1')).username_key, 'mika');
      assert.equal((await row(s, 'a13')).username_skeleton, 'noernail');
      await assert.rejects(
        s.db.updateTable('accounts').set({ username_skeleton: 'zeduni' }).where('id', '=', 'a9').execute(),
        /unique|duplicate/i,
        'a second row with one skeleton is refused by the index',
      );
    });

    it('ID-01 ID-02 `latchkey identifiers check` lists every collision, and each start warns until none is left', async () => {
      const cli = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/main.ts'), 'identifiers', 'check'], {
        env: { ...cleanEnv(), LATCHKEY_DATABASE_URL: url, LATCHKEY_LOG_LEVEL: 'warn', LATCHKEY_ENV: 'development' },
        encoding: 'utf8',
      });
      assert.equal(cli.status, 1, cli.stderr);
      const out = cli.stdout;
      // the start-up warning (pino, JSON) with the counts the migration recorded
      const warning = out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l))
        .find((l) => /identifiers check/.test(l.msg));
      assert.deepEqual(warning?.identifiers, {
        emailCollisions: 2,
        unnormalisedEmails: 1,
        usernameCollisions: 1,
        confusableUsernames: 2,
        usernamesBreakingRules: 1,
      });
      const section = (heading: RegExp) => {
        const lines = out.split('\n');
        const i = lines.findIndex((l) => heading.test(l));
        assert.ok(i >= 0, `${heading} in:\n${out}`);
        return lines.slice(i, i + 4).join('\n');
      };
      assert.match(section(/^email collision: bob@xn--bcher-kva\.example/), /a2 {2}bob1[\s\S]*a3 {2}bob2/);
      assert.match(section(/^email collision: jos\u00e9@example\.net/), /a5 {2}jose1[\s\S]*a6 {2}jose2/);
      assert.match(section(/^email that does not normalise/), /a7 {2}ipuser/);
      assert.match(section(/^username collision: strasse/), /a11[\s\S]*a12/);
      assert.match(section(/^confusable usernames \(skeleton "zeduni"/), /a8 {2}zeduni[\s\S]*a9[\s\S]*a10/);
      assert.match(section(/^username breaking the rules \(mixed_script\)/), /a10/);
      assert.match(out, /finding\(s\)/);
    });

    it('ID-01 ID-02 once collisions are resolved by hand, `latchkey identifiers normalise` stores the normal forms and the warning stops', async (s) => {
      await s.db.deleteFrom('accounts').where('id', 'in', ['a3', 'a6', 'a7', 'a9', 'a10', 'a12']).execute();
      const run = (cmd: string) =>
        spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/main.ts'), 'identifiers', cmd], {
          env: { ...cleanEnv(), LATCHKEY_DATABASE_URL: url, LATCHKEY_LOG_LEVEL: 'warn', LATCHKEY_ENV: 'development' },
          encoding: 'utf8',
        });
      const normalised = run('normalise');
      assert.equal(normalised.status, 0, normalised.stdout + normalised.stderr);
      assert.match(normalised.stdout, /no colliding emails or confusable usernames/);
      assert.deepEqual(
        [(await row(s, 'a2')).email, (await row(s, 'a2')).email_key],
        ['bob@xn--bcher-kva.example', 'bob@xn--bcher-kva.example'],
      );
      assert.equal((await row(s, 'a5')).email, 'jos\u00e9@example.net');
      assert.equal((await row(s, 'a11')).username_key, 'strasse');
      assert.equal((await row(s, 'a8')).username_skeleton, 'zeduni');
      const again = run('check');
      assert.equal(again.status, 0);
      assert.doesNotMatch(again.stdout, /identifiers check/, 'no start-up warning any more');
    });
  });
}
