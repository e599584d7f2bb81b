import type { Kysely, Selectable } from 'kysely';
import type { Database, SecondFactorsTable } from './schema.ts';

// Passkeys: the second_factors rows of kind 'passkey' (credential id, COSE public key, signature
// counter, transports; flagged_at once its counter went backwards, MFA-04).

export type PasskeyRow = Selectable<SecondFactorsTable>;
export const PASSKEY = 'passkey';

export async function listPasskeys(db: Kysely<Database>, accountId: string): Promise<PasskeyRow[]> {
  return db
    .selectFrom('second_factors')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('kind', '=', PASSKEY)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

export async function countPasskeys(db: Kysely<Database>, accountId: string): Promise<number> {
  const r = await db
    .selectFrom('second_factors')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('account_id', '=', accountId)
    .where('kind', '=', PASSKEY)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

export async function findPasskeyByCredentialId(
  db: Kysely<Database>,
  credentialId: string,
): Promise<PasskeyRow | undefined> {
  return db
    .selectFrom('second_factors')
    .selectAll()
    .where('credential_id', '=', credentialId)
    .where('kind', '=', PASSKEY)
    .executeTakeFirst();
}

export async function insertPasskey(db: Kysely<Database>, row: PasskeyRow): Promise<void> {
  await db.insertInto('second_factors').values(row).execute();
}

/**
 * Records a use: the new counter (only forwards; false when another request moved it to or past
 * `counter` meanwhile, which is a regression too) and the time.
 */
export async function recordPasskeyUse(
  db: Kysely<Database>,
  id: string,
  counter: number,
  previous: number,
  now: number,
): Promise<boolean> {
  const r = await db
    .updateTable('second_factors')
    .set({ sign_count: counter, last_used_at: now })
    .where('id', '=', id)
    .where('flagged_at', 'is', null)
    .where((eb) => (counter > 0 ? eb('sign_count', '<', counter) : eb('sign_count', '=', previous)))
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Marks a passkey whose counter went backwards; true the first time only. */
export async function flagPasskey(db: Kysely<Database>, id: string, now: number): Promise<boolean> {
  const r = await db
    .updateTable('second_factors')
    .set({ flagged_at: now })
    .where('id', '=', id)
    .where('flagged_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function deletePasskey(db: Kysely<Database>, accountId: string, id: string): Promise<boolean> {
  const r = await db
    .deleteFrom('second_factors')
    .where('id', '=', id)
    .where('account_id', '=', accountId)
    .where('kind', '=', PASSKEY)
    .executeTakeFirst();
  return Number(r.numDeletedRows) === 1;
}
