import type { Insertable, Kysely, Selectable } from 'kysely';
import type { Database, DevMailboxTable } from './schema.ts';

// The dev_mailbox table: what the development transport "delivered" (shown at /dev/mailbox).

export type DevMail = Selectable<DevMailboxTable>;

export async function insertDevMail(db: Kysely<Database>, mail: Insertable<DevMailboxTable>): Promise<void> {
  await db.insertInto('dev_mailbox').values(mail).execute();
}

/** The newest messages first, at most `limit`. */
export function listDevMail(db: Kysely<Database>, limit: number): Promise<DevMail[]> {
  return db.selectFrom('dev_mailbox').selectAll().orderBy('created_at', 'desc').orderBy('id').limit(limit).execute();
}

export function findDevMail(db: Kysely<Database>, id: string): Promise<DevMail | undefined> {
  return db.selectFrom('dev_mailbox').selectAll().where('id', '=', id).executeTakeFirst();
}
