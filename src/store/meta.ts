import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';

// The meta table: install-wide values kept in the database, such as the generated server secret.

/**
 * The value stored under `key`, storing `initial` first when there is none. Several processes
 * starting at once on one database all get the value the first of them stored.
 */
export async function metaValueOrInit(db: Kysely<Database>, key: string, initial: string): Promise<string> {
  await db
    .insertInto('meta')
    .values({ key, value: initial })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
  const row = await db.selectFrom('meta').select('value').where('key', '=', key).executeTakeFirstOrThrow();
  return row.value;
}
