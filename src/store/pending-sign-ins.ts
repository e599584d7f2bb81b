import type { Kysely, Selectable } from 'kysely';
import type { Database, PendingSignInsTable } from './schema.ts';

// The pending_sign_ins table: half-finished sign-ins (MFA-07), found by the SHA-256 of the
// pending cookie's token. What they allow is policy and lives in src/flows/signin/.

export type PendingSignIn = Selectable<PendingSignInsTable>;

export async function insertPendingSignIn(db: Kysely<Database>, row: PendingSignIn): Promise<void> {
  await db.insertInto('pending_sign_ins').values(row).execute();
}

/** The live (unused, unexpired) half-finished sign-in behind a cookie token hash. */
export function findLivePendingSignIn(
  db: Kysely<Database>,
  tokenHash: string,
  now: number,
): Promise<PendingSignIn | undefined> {
  return db
    .selectFrom('pending_sign_ins')
    .selectAll()
    .where('token_hash', '=', tokenHash)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
}

/** Uses it up if still live: true for exactly one of concurrent callers, on any process. */
export async function consumePendingSignIn(db: Kysely<Database>, id: string, now: number): Promise<boolean> {
  const r = await db
    .updateTable('pending_sign_ins')
    .set({ used_at: now })
    .where('id', '=', id)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Ends every half-finished sign-in of the account (a password or factor change). */
export async function endPendingSignIns(db: Kysely<Database>, accountId: string, now: number): Promise<void> {
  await db
    .updateTable('pending_sign_ins')
    .set({ used_at: now })
    .where('account_id', '=', accountId)
    .where('used_at', 'is', null)
    .execute();
}

/** Forgets the ones that ended before `before`. */
export async function deleteOldPendingSignIns(db: Kysely<Database>, before: number): Promise<void> {
  await db.deleteFrom('pending_sign_ins').where('expires_at', '<', before).execute();
}
