import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { emailKey, findAccountByIdentifier, normalizeEmail, usernameKey } from '../../src/store/accounts.ts';
import { isReady, migrate, openStore, type Store } from '../../src/store/db.ts';
import { insertRow } from '../../src/store/insert-row.ts';
import { engines } from '../support/engines.ts';

// The same suite for both engines: one query text must behave alike on SQLite and PostgreSQL.

let seq = 0;
function account(over: Partial<Record<string, unknown>> = {}) {
  seq++;
  const username = (over.username as string) ?? `user${seq}`;
  const email = (over.email as string | null) ?? `user${seq}@example.test`;
  return {
    id: `acc_${seq}_${Math.random().toString(36).slice(2, 8)}`,
    org_id: 'org_store_test',
    username,
    username_key: usernameKey(username),
    username_skeleton: null,
    email,
    email_key: email ? emailKey(email) : null,
    status: 'active' as const,
    password_hash: null,
    display_name: null,
    phone: null,
    phone_verified_at: null,
    is_staff: 0,
    flagged_at: null,
    flag_reason: null,
    deletion_requested_at: null,
    deletion_due_at: null,
    deleted_at: null,
    locale: null,
    created_at: 1_767_225_600_123,
    updated_at: 1_767_225_600_123,
    activated_at: null,
    password_changed_at: null,
    ...over,
  };
}

for (const engine of engines) {
  describe(`store on ${engine.name}`, () => {
    let store: Store | undefined;
    let cleanup: (() => Promise<void>) | undefined;
    let storeUrl = '';
    before(async () => {
      const opened = await engine.open();
      if (!opened) return;
      cleanup = opened.cleanup;
      storeUrl = opened.url;
      store = openStore(opened.url);
      await migrate(store);
      await store.db
        .insertInto('organizations')
        .values({
          id: 'org_store_test',
          slug: 'store-test',
          name: 'Store test',
          display_name: 'Store test',
          support_contact: null,
          recovery_settings: '{}',
          created_at: 1,
        })
        .execute();
    });
    after(async () => {
      await store?.close();
      await cleanup?.();
    });

    const it = (name: string, fn: (s: Store) => Promise<void>) =>
      test(name, async (t) => {
        if (!store) {
          t.skip(`${engine.name} is not available`);
          return;
        }
        await fn(store);
      });

    it('migrations are versioned and idempotent; readiness reflects them', async (s) => {
      assert.deepEqual(await migrate(s), [], 'a second run applies nothing');
      assert.deepEqual(await migrate(s), []);
      assert.equal(await isReady(s), true);
    });

    // PostgreSQL only: one SQLite file has a single writer at a time anyway.
    if (engine.name === 'PostgreSQL')
      it('several processes migrating one fresh database at once apply each migration once', async () => {
        const extra = await engine.open();
        if (!extra) return;
        const stores = [openStore(extra.url), openStore(extra.url), openStore(extra.url)];
        try {
          const results = await Promise.all(stores.map((x) => migrate(x)));
          assert.equal(
            results.flat().filter((n) => n === '001_foundation').length,
            1,
            'applied by exactly one process',
          );
          for (const x of stores) assert.equal(await isReady(x), true);
        } finally {
          for (const x of stores) await x.close();
          await extra.cleanup();
        }
      });

    it('usernames are unique case-insensitively (username_key)', async (s) => {
      await s.db
        .insertInto('accounts')
        .values(account({ username: 'Alice' }))
        .execute();
      await assert.rejects(
        s.db
          .insertInto('accounts')
          .values(account({ username: 'aLICE' }))
          .execute(),
      );
      const n = await s.db
        .selectFrom('accounts')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('username_key', '=', 'alice')
        .executeTakeFirstOrThrow();
      assert.equal(Number(n.n), 1);
    });

    it('emails are normalised and unique (email_key)', async (s) => {
      // ID-01: the local part is case-folded too; what is stored is what mail goes to
      assert.equal(normalizeEmail('  Bob@EXAMPLE.Test '), 'bob@example.test');
      await s.db
        .insertInto('accounts')
        .values(account({ email: normalizeEmail('Bob@Example.TEST') }))
        .execute();
      await assert.rejects(
        s.db
          .insertInto('accounts')
          .values(account({ email: normalizeEmail(' bob@example.test') }))
          .execute(),
      );
      // accounts without an email do not collide with each other
      await s.db
        .insertInto('accounts')
        .values(account({ email: null }))
        .execute();
      await s.db
        .insertInto('accounts')
        .values(account({ email: null }))
        .execute();
    });

    it('find by username or email, whatever the case', async (s) => {
      const a = account({ username: 'Carol', email: 'carol@example.test' });
      await s.db.insertInto('accounts').values(a).execute();
      assert.equal((await findAccountByIdentifier(s.db, 'cAROL'))?.id, a.id);
      assert.equal((await findAccountByIdentifier(s.db, 'Carol@EXAMPLE.test'))?.id, a.id);
      assert.ok(!(await findAccountByIdentifier(s.db, 'nobody')));
    });

    it('time columns come back as numbers (epoch ms)', async (s) => {
      const a = account();
      await s.db.insertInto('accounts').values(a).execute();
      await s.db
        .insertInto('sessions')
        .values({
          id: `ses_${a.id}`,
          account_id: a.id,
          token_hash: `hash_${a.id}`,
          amr: '[]',
          created_at: 1_767_225_600_123,
          last_seen_at: 1_767_225_600_456,
          expires_at: 1_767_830_400_789,
          auth_at: 1_767_225_600_123,
          method: 'password',
          ip: null,
          user_agent: null,
        })
        .execute();
      const row = await s.db
        .selectFrom('sessions')
        .selectAll()
        .where('account_id', '=', a.id)
        .executeTakeFirstOrThrow();
      for (const col of ['created_at', 'last_seen_at', 'expires_at', 'auth_at'] as const)
        assert.equal(typeof row[col], 'number', col);
      assert.equal(row.expires_at, 1_767_830_400_789);
      const acc = await s.db.selectFrom('accounts').selectAll().where('id', '=', a.id).executeTakeFirstOrThrow();
      assert.equal(acc.created_at, 1_767_225_600_123);
      assert.equal(typeof acc.is_staff, 'number');
      const count = await s.db
        .selectFrom('accounts')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      assert.ok(Number.isInteger(Number(count.n)));
    });

    it('a failed transaction rolls back every write in it', async (s) => {
      const a = account();
      await assert.rejects(
        s.db.transaction().execute(async (trx) => {
          await trx.insertInto('accounts').values(a).execute();
          await trx.updateTable('organizations').set({ name: 'changed' }).where('id', '=', 'org_store_test').execute();
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.equal(await s.db.selectFrom('accounts').select('id').where('id', '=', a.id).executeTakeFirst(), undefined);
      const org = await s.db
        .selectFrom('organizations')
        .select('name')
        .where('id', '=', 'org_store_test')
        .executeTakeFirstOrThrow();
      assert.equal(org.name, 'Store test');
      // and a constraint violation inside a transaction rolls back the earlier insert too
      const b = account();
      await assert.rejects(
        s.db.transaction().execute(async (trx) => {
          await trx.insertInto('accounts').values(b).execute();
          await trx
            .insertInto('accounts')
            .values({ ...account(), username_key: b.username_key })
            .execute();
        }),
      );
      assert.equal(await s.db.selectFrom('accounts').select('id').where('id', '=', b.id).executeTakeFirst(), undefined);
    });

    it('preparedRead answers arrays in select order, and only committed data', async (s) => {
      const a = account({ display_name: 'Prepared' });
      const read = s.preparedRead(
        s.db.selectFrom('accounts').select(['id', 'display_name', 'created_at']).where('id', '=', '').compile(),
      );
      assert.deepEqual(await read([a.id]), [], 'nothing yet');
      // A row written inside an open transaction is invisible until the commit.
      let release!: () => void;
      const held = new Promise<void>((r) => {
        release = r;
      });
      let written!: () => void;
      const inserted = new Promise<void>((r) => {
        written = r;
      });
      const trx = s.db.transaction().execute(async (t) => {
        await t.insertInto('accounts').values(a).execute();
        written();
        await held;
      });
      await inserted;
      assert.deepEqual(await read([a.id]), [], 'uncommitted work is not seen');
      release();
      await trx;
      assert.deepEqual(await read([a.id]), [[a.id, 'Prepared', 1_767_225_600_123]]);
      assert.deepEqual(await read(["' or 1=1 --"]), [], 'the parameter is a value, never SQL');
    });

    it('preparedRead sees a change made through another connection (another process) within milliseconds', async (s) => {
      const a = account({ display_name: 'before' });
      await s.db.insertInto('accounts').values(a).execute();
      const read = s.preparedRead(s.db.selectFrom('accounts').select(['display_name']).where('id', '=', '').compile());
      assert.deepEqual(await read([a.id]), [['before']]);
      assert.deepEqual(await read([a.id]), [['before']], 'remembered');
      const other = openStore(storeUrl);
      try {
        await other.db.updateTable('accounts').set({ display_name: 'after' }).where('id', '=', a.id).execute();
        await new Promise((r) => setTimeout(r, 5));
        assert.deepEqual(await read([a.id]), [['after']]);
        await other.db.deleteFrom('accounts').where('id', '=', a.id).execute();
        await new Promise((r) => setTimeout(r, 5));
        assert.deepEqual(await read([a.id]), [], 'a deleted row is gone');
      } finally {
        await other.close();
      }
      // This store's own writes are seen at once, with no wait.
      const b = account({ display_name: 'mine' });
      await s.db.insertInto('accounts').values(b).execute();
      assert.deepEqual(await read([b.id]), [['mine']]);
      await s.db.updateTable('accounts').set({ display_name: 'mine, changed' }).where('id', '=', b.id).execute();
      assert.deepEqual(await read([b.id]), [['mine, changed']]);
      await s.db.transaction().execute(async (t) => {
        await t.deleteFrom('accounts').where('id', '=', b.id).execute();
      });
      assert.deepEqual(await read([b.id]), []);
    });

    it('insertRow writes what the query builder writes, row after row of one column list, in or out of a transaction', async (s) => {
      const rows = [
        account(),
        account({ display_name: "o'hara; drop table accounts" }),
        account({ phone: '+15550100' }),
      ];
      for (const r of rows) await insertRow(s.db, 'accounts', r);
      // an undefined value leaves its column out (its default applies), as Kysely does
      const sparse = { ...account(), display_name: undefined };
      await insertRow(s.db, 'accounts', sparse);
      const read = await s.db
        .selectFrom('accounts')
        .selectAll()
        .where(
          'id',
          'in',
          [...rows, sparse].map((r) => r.id),
        )
        .orderBy('created_at')
        .orderBy('username')
        .execute();
      const byId = new Map(read.map((r) => [r.id, r]));
      for (const r of rows) assert.deepEqual(byId.get(r.id), r);
      assert.equal(byId.get(sparse.id)?.display_name, null);
      // a value Kysely turns into SQL of its own is not a parameter: built afresh, still stored
      const computed = account();
      await insertRow(s.db, 'accounts', { ...computed, display_name: sql<string>`'made' || ' in sql'` } as never);
      const made = await s.db
        .selectFrom('accounts')
        .select('display_name')
        .where('id', '=', computed.id)
        .executeTakeFirst();
      assert.equal(made?.display_name, 'made in sql');
      // so is a function that makes the SQL from the expression builder
      const factory = account();
      await insertRow(s.db, 'accounts', {
        ...factory,
        display_name: () => sql<string>`'from' || ' a factory'`,
      } as never);
      assert.equal((await findAccountByIdentifier(s.db, factory.username))?.display_name, 'from a factory');
      // and the plain shape it shares a column list with still compiles to parameters
      const after = account({ display_name: 'plain again' });
      await insertRow(s.db, 'accounts', after);
      assert.equal((await findAccountByIdentifier(s.db, after.username))?.display_name, 'plain again');
      // inside a transaction it runs on the transaction: a rollback takes it back
      const rolled = account();
      await assert.rejects(
        s.db.transaction().execute(async (t) => {
          await insertRow(t, 'accounts', rolled);
          throw new Error('roll back');
        }),
        /roll back/,
      );
      assert.equal(await findAccountByIdentifier(s.db, rolled.username), undefined);
      // a constraint still holds: the same id twice is refused and the first row stays
      await assert.rejects(insertRow(s.db, 'accounts', { ...account(), id: (rows[0] as { id: string }).id }));
      assert.equal((await findAccountByIdentifier(s.db, (rows[0] as { username: string }).username))?.id, rows[0]?.id);
    });

    it('hostile text is stored and read back verbatim (parameters, never SQL)', async (s) => {
      const nasty = `x'); drop table accounts; -- <script>alert(1)</script> \u202e`;
      const a = account({ display_name: nasty });
      await s.db.insertInto('accounts').values(a).execute();
      const row = await s.db
        .selectFrom('accounts')
        .select('display_name')
        .where('id', '=', a.id)
        .executeTakeFirstOrThrow();
      assert.equal(row.display_name, nasty);
      await sql`select 1`.execute(s.db);
    });
  });
}
