import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';

// The mfa_trusted_devices table: browsers whose user chose "don't ask again on this browser",
// by the SHA-256 of the device cookie's token.

export async function insertTrustedDevice(
  db: Kysely<Database>,
  row: { id: string; account_id: string; token_hash: string; created_at: number; expires_at: number },
): Promise<void> {
  await db.insertInto('mfa_trusted_devices').values(row).execute();
}

/** Whether this token hash is a live trusted browser of the account. */
export async function isTrustedDevice(
  db: Kysely<Database>,
  accountId: string,
  tokenHash: string,
  now: number,
): Promise<boolean> {
  const row = await db
    .selectFrom('mfa_trusted_devices')
    .select('id')
    .where('token_hash', '=', tokenHash)
    .where('account_id', '=', accountId)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return row !== undefined;
}

/** Forgets every trusted browser of the account (password reset or change, factor change, sign out everywhere). */
export async function forgetTrustedDevices(db: Kysely<Database>, accountId: string): Promise<number> {
  const r = await db.deleteFrom('mfa_trusted_devices').where('account_id', '=', accountId).executeTakeFirst();
  return Number(r.numDeletedRows);
}
