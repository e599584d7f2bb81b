import type { Insertable, Kysely } from 'kysely';
import type { Database, PasswordChangesTable } from './schema.ts';

// The password_changes table: one row per completed change or reset, counted for LOG-04.

export async function insertPasswordChange(db: Kysely<Database>, row: Insertable<PasswordChangesTable>): Promise<void> {
  await db.insertInto('password_changes').values(row).execute();
}

/** How many changes the account completed after `since`. */
export async function countPasswordChangesSince(
  db: Kysely<Database>,
  accountId: string,
  since: number,
): Promise<number> {
  const row = await db
    .selectFrom('password_changes')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('account_id', '=', accountId)
    .where('at', '>', since)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}
