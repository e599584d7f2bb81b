import type { Kysely, Selectable } from 'kysely';
import { compiledQuery } from './compiled-query.ts';
import type { Database, SecondFactorsTable } from './schema.ts';

// The second_factors table: an account's TOTP secrets (encrypted) and passkeys. Which factor
// counts and how it is checked is policy and lives in src/methods/<factor>/.

export type SecondFactor = Selectable<SecondFactorsTable>;

export async function insertSecondFactor(db: Kysely<Database>, row: SecondFactor): Promise<void> {
  await db.insertInto('second_factors').values(row).execute();
}

/** The account's factors (confirmed or not), oldest first. */
export function listSecondFactors(db: Kysely<Database>, accountId: string): Promise<SecondFactor[]> {
  return db
    .selectFrom('second_factors')
    .selectAll()
    .where('account_id', '=', accountId)
    .orderBy('created_at', 'asc')
    .execute();
}

/** The account's confirmed factors of one kind. */
export async function confirmedFactors(db: Kysely<Database>, accountId: string, kind: string): Promise<SecondFactor[]> {
  return (await confirmedOfKind(db, accountId, kind)).rows;
}

// Read on every sign-in and second-factor step: compiled once.
const confirmedOfKind = compiledQuery((db, accountId: string, kind: string) =>
  db
    .selectFrom('second_factors')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('kind', '=', kind)
    .where('confirmed_at', 'is not', null),
);
const useStep = compiledQuery((db, id: string, step: number, now: number) =>
  db
    .updateTable('second_factors')
    .set({ last_step: step, last_used_at: now })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', step)]))
    .where('confirmed_at', 'is not', null),
);

/** How many confirmed factors the account has (any kind). */
export async function countConfirmedFactors(db: Kysely<Database>, accountId: string): Promise<number> {
  const row = await db
    .selectFrom('second_factors')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('account_id', '=', accountId)
    .where('confirmed_at', 'is not', null)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

export function findSecondFactor(
  db: Kysely<Database>,
  accountId: string,
  id: string,
): Promise<SecondFactor | undefined> {
  return db
    .selectFrom('second_factors')
    .selectAll()
    .where('id', '=', id)
    .where('account_id', '=', accountId)
    .executeTakeFirst();
}

export async function deleteSecondFactor(db: Kysely<Database>, accountId: string, id: string): Promise<boolean> {
  const r = await db
    .deleteFrom('second_factors')
    .where('id', '=', id)
    .where('account_id', '=', accountId)
    .executeTakeFirst();
  return Number(r.numDeletedRows) === 1;
}

/** Drops the account's unconfirmed factors of one kind (an enrolment started again or abandoned). */
export async function deleteUnconfirmed(db: Kysely<Database>, accountId: string, kind: string): Promise<void> {
  await db
    .deleteFrom('second_factors')
    .where('account_id', '=', accountId)
    .where('kind', '=', kind)
    .where('confirmed_at', 'is', null)
    .execute();
}

/**
 * Accepts TOTP time step `step` for the factor only if it is later than every step accepted
 * before (MFA-02), in ONE statement: of two processes given the same code, exactly one wins.
 * `confirm` also marks an unconfirmed factor confirmed (MFA-01: it counts from now on).
 */
export async function acceptTotpStep(
  db: Kysely<Database>,
  id: string,
  step: number,
  now: number,
  confirm: boolean,
): Promise<boolean> {
  if (!confirm) return Number((await useStep(db, id, step, now)).numAffectedRows) === 1;
  let q = db
    .updateTable('second_factors')
    .set(confirm ? { last_step: step, last_used_at: now, confirmed_at: now } : { last_step: step, last_used_at: now })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', step)]));
  q = confirm ? q.where('confirmed_at', 'is', null) : q.where('confirmed_at', 'is not', null);
  const r = await q.executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}
