import type { Insertable, Kysely, Selectable } from 'kysely';
import type { Database, SupportMessagesTable, SupportRequestsTable } from './schema.ts';

// The support_requests and support_messages tables ("Contact support", ADM-08).

export type SupportRequest = Selectable<SupportRequestsTable>;
export type SupportMessage = Selectable<SupportMessagesTable>;

export async function insertSupportRequest(db: Kysely<Database>, row: Insertable<SupportRequestsTable>): Promise<void> {
  await db.insertInto('support_requests').values(row).execute();
}

export function findSupportRequest(db: Kysely<Database>, id: string): Promise<SupportRequest | undefined> {
  return db.selectFrom('support_requests').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function addSupportMessage(db: Kysely<Database>, row: Insertable<SupportMessagesTable>): Promise<void> {
  await db.insertInto('support_messages').values(row).execute();
}

/** The conversation, oldest first. */
export function supportMessages(db: Kysely<Database>, requestId: string): Promise<SupportMessage[]> {
  return db
    .selectFrom('support_messages')
    .selectAll()
    .where('request_id', '=', requestId)
    .orderBy('created_at', 'asc')
    .orderBy('id', 'asc')
    .execute();
}

export async function setSupportStatus(
  db: Kysely<Database>,
  id: string,
  status: SupportRequest['status'],
  now: number,
): Promise<void> {
  await db.updateTable('support_requests').set({ status, updated_at: now }).where('id', '=', id).execute();
}
