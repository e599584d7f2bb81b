import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { compiledQuery } from '../../src/store/compiled-query.ts';
import { migrate, openStore, type Store } from '../../src/store/db.ts';
import { clearFailures, readFailures, reserveFailure } from '../../src/store/sign-in-failures.ts';
import { needs } from '../support/env.ts';
import { freshPostgres, postgresAvailable } from '../support/pg.ts';

// Queries compiled once (src/store/compiled-query.ts) answer exactly what the query builder
// answers, on both engines, inside and outside a transaction; a builder that uses an argument
// other than as a plain value is run the usual way.

// how often each builder ran: once per engine when compiled, at every call when not
const built = { byKey: 0, byPrefix: 0 };
const byKey = compiledQuery((db, key: string) => {
  built.byKey++;
  return db.selectFrom('sign_in_failures').select(['key', 'failures']).where('key', '=', key);
});
const byPrefix = compiledQuery((db, prefix: string) => {
  built.byPrefix++;
  return db.selectFrom('sign_in_failures').select('key').where('key', 'like', `${prefix}%`).orderBy('key');
});
const touch = compiledQuery((db, key: string, at: number) =>
  db.updateTable('sign_in_failures').set({ last_at: at }).where('key', '=', key),
);

async function exercise(store: Store) {
  const { db } = store;
  const before = { ...built };
  const now = Date.now();
  await reserveFailure(db, 'cq:a', now, now - 60_000);
  const second = await reserveFailure(db, 'cq:a', now + 1, now - 60_000);
  assert.deepEqual(second, { failures: 2, prevAt: now }, 'the compiled upsert counts like the builder did');
  // a run older than the window starts over: the repeated argument lands in every slot
  assert.deepEqual(await reserveFailure(db, 'cq:a', now + 2, now + 2), { failures: 1, prevAt: 0 });
  await reserveFailure(db, 'cq:ab', now, now - 60_000);
  await reserveFailure(db, 'cq:b', now, now - 60_000);

  assert.deepEqual((await byKey(db, 'cq:a')).rows, [{ key: 'cq:a', failures: 1 }]);
  assert.deepEqual((await byKey(db, 'cq:b')).rows, [{ key: 'cq:b', failures: 1 }], 'each call its own value');
  assert.deepEqual((await byKey(db, 'cq:none')).rows, []);
  // a LIKE pattern built from the argument is no plain parameter: still right for each call
  assert.deepEqual(
    (await byPrefix(db, 'cq:a')).rows.map((r) => r.key),
    ['cq:a', 'cq:ab'],
  );
  assert.deepEqual(
    (await byPrefix(db, 'cq:b')).rows.map((r) => r.key),
    ['cq:b'],
  );
  // three lookups by key: built once for this store's dialect instance, then only rerun; the
  // LIKE builder ran at each of its two calls (plus the trial build that found it cannot be reused)
  assert.equal(built.byKey - before.byKey, 1, 'compiled once, not rebuilt per call');
  assert.equal(built.byPrefix - before.byPrefix, 3, 'an argument inside a value: built at every call');
  assert.equal(Number((await touch(db, 'cq:b', now + 5)).numAffectedRows), 1);
  assert.equal(Number((await touch(db, 'cq:none', now + 5)).numAffectedRows), 0);

  // inside a transaction: its own uncommitted work is seen, and a rollback undoes it
  await assert.rejects(
    db.transaction().execute(async (trx) => {
      await clearFailures(trx, 'cq:b');
      assert.deepEqual((await byKey(trx, 'cq:b')).rows, []);
      throw new Error('roll back');
    }),
    /roll back/,
  );
  assert.deepEqual((await readFailures(db, 'cq:b', 0)).failures, 1, 'rolled back');
  await clearFailures(db, 'cq:b');
  assert.deepEqual((await readFailures(db, 'cq:b', 0)).failures, 0);
}

describe('queries compiled once', () => {
  test('SQLite: same answers as the query builder, in and out of a transaction', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-cq-'));
    const store = openStore(join(dir, 'cq.db'));
    try {
      await migrate(store);
      await exercise(store);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('PostgreSQL: same answers, with its own placeholders', async (t) => {
    if (!needs(t, 'PostgreSQL', await postgresAvailable())) return;
    const pg = await freshPostgres();
    const store = openStore(pg.url);
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-cq-'));
    // one process, both engines: the compiled texts must not mix `?` and `$1`
    const sqlite = openStore(join(dir, 'cq.db'));
    try {
      await Promise.all([migrate(store), migrate(sqlite)]);
      await exercise(store);
      await exercise(sqlite);
    } finally {
      await store.close();
      await sqlite.close();
      await pg.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
