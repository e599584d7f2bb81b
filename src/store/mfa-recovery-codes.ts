import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';

// The mfa_recovery_codes table: an account's second-factor recovery codes (OTP-07), only as
// keyed hashes, single use.

/** Voids the account's unused codes and stores a new set, in the caller's transaction. */
export async function replaceMfaRecoveryCodes(
  db: Kysely<Database>,
  accountId: string,
  rows: { id: string; code_hash: string }[],
  now: number,
): Promise<void> {
  await voidMfaRecoveryCodes(db, accountId, now);
  if (rows.length)
    await db
      .insertInto('mfa_recovery_codes')
      .values(rows.map((r) => ({ ...r, account_id: accountId, created_at: now, used_at: null })))
      .execute();
}

export async function voidMfaRecoveryCodes(db: Kysely<Database>, accountId: string, now: number): Promise<void> {
  await db
    .updateTable('mfa_recovery_codes')
    .set({ used_at: now })
    .where('account_id', '=', accountId)
    .where('used_at', 'is', null)
    .execute();
}

/** Uses up the account's unused code with this hash: true for exactly one of concurrent callers. */
export async function useMfaRecoveryCode(
  db: Kysely<Database>,
  accountId: string,
  codeHash: string,
  now: number,
): Promise<boolean> {
  const r = await db
    .updateTable('mfa_recovery_codes')
    .set({ used_at: now })
    .where('account_id', '=', accountId)
    .where('code_hash', '=', codeHash)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function countUnusedMfaRecoveryCodes(db: Kysely<Database>, accountId: string): Promise<number> {
  const row = await db
    .selectFrom('mfa_recovery_codes')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('account_id', '=', accountId)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}
