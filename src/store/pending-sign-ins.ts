import type { CompiledQuery, Kysely, Selectable } from 'kysely';
import type { Account } from './accounts.ts';
import { compiledQuery } from './compiled-query.ts';
import { insertRow } from './insert-row.ts';
import { ACCOUNT_COLUMNS, fromColumns } from './row-columns.ts';
import type { Database, PendingSignInsTable } from './schema.ts';

// The pending_sign_ins table: half-finished sign-ins (MFA-07), found by the SHA-256 of the
// pending cookie's token. What they allow is policy and lives in src/flows/signin/.

export type PendingSignIn = Selectable<PendingSignInsTable>;

/** Stores it; the insert is compiled once (it runs on every sign-in of an account with a factor). */
export function insertPendingSignIn(db: Kysely<Database>, row: PendingSignIn): Promise<void> {
  return insertRow(db, 'pending_sign_ins', row);
}

// Every column, in a fixed order: the lookup answers arrays in this order (the account's after
// it). A column added to the table stops this compiling until it is listed.
const PENDING_COLUMNS = Object.keys({
  id: 1,
  token_hash: 1,
  account_id: 1,
  method: 1,
  amr: 1,
  created_at: 1,
  expires_at: 1,
  return_to: 1,
  enrol: 1,
  used_at: 1,
  ip: 1,
  user_agent: 1,
  correlation_id: 1,
  keep_signed_in: 1,
} satisfies Record<keyof PendingSignIn, 1>) as (keyof PendingSignIn)[];

/**
 * Half-finished sign-in + account by token hash, compiled once, for Store.preparedRead (every
 * second-factor step reads it, as every signed-in request reads its session); the hash is its
 * only parameter. Whether it is still live is the caller's check: rows may be remembered.
 */
export function pendingLookupQuery(db: Kysely<Database>): CompiledQuery {
  return db
    .selectFrom('pending_sign_ins')
    .innerJoin('accounts', 'accounts.id', 'pending_sign_ins.account_id')
    .select([
      ...PENDING_COLUMNS.map((c) => `pending_sign_ins.${c}` as const),
      ...ACCOUNT_COLUMNS.map((c) => `accounts.${c}` as const),
    ])
    .where('pending_sign_ins.token_hash', '=', '')
    .compile();
}

/** The half-finished sign-in and account of one row answered by `pendingLookupQuery` (new objects). */
export function pendingLookupRow(row: readonly unknown[]): { pending: PendingSignIn; account: Account } {
  return {
    pending: fromColumns<PendingSignIn>(row, 0, PENDING_COLUMNS),
    account: fromColumns<Account>(row, PENDING_COLUMNS.length, ACCOUNT_COLUMNS),
  };
}

// Used up at every second-factor step: compiled once (bench/RESULTS.md, `mfa`).
const consume = compiledQuery((db, id: string, now: number) =>
  db
    .updateTable('pending_sign_ins')
    .set({ used_at: now })
    .where('id', '=', id)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now),
);

/** Uses it up if still live: true for exactly one of concurrent callers, on any process. */
export async function consumePendingSignIn(db: Kysely<Database>, id: string, now: number): Promise<boolean> {
  return Number((await consume(db, id, now)).numAffectedRows) === 1;
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

/** What the audit trail says of a half-finished sign-in that expired unused. */
export type AbandonedSignIn = Pick<
  PendingSignIn,
  'id' | 'account_id' | 'method' | 'created_at' | 'ip' | 'user_agent' | 'correlation_id'
>;

/**
 * Ends the half-finished sign-ins that expired unused and answers them, each to exactly one
 * caller on any process (the update is the claim), so each is audited once.
 */
export function endAbandonedPendingSignIns(db: Kysely<Database>, now: number): Promise<AbandonedSignIn[]> {
  return db
    .updateTable('pending_sign_ins')
    .set({ used_at: now })
    .where('used_at', 'is', null)
    .where('expires_at', '<=', now)
    .returning(['id', 'account_id', 'method', 'created_at', 'ip', 'user_agent', 'correlation_id'])
    .execute();
}

/** Forgets the ones that ended before `before`. */
export async function deleteOldPendingSignIns(db: Kysely<Database>, before: number): Promise<void> {
  await db.deleteFrom('pending_sign_ins').where('expires_at', '<', before).execute();
}
