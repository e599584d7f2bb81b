import type { Kysely, Selectable } from 'kysely';
import type { Database, RecoveryCodesTable } from './schema.ts';

// The recovery_codes table: one row per issued reset link/code, emailed or texted code, or phone
// confirmation code, stored only as hashes. Which codes count, how many tries they get and what
// a match unlocks is policy and lives in src/flows/recovery/ and src/flows/phone/.

export type RecoveryCode = Selectable<RecoveryCodesTable>;

/** Stores a newly issued code; runs in the issuing transaction. */
export async function insertRecoveryCode(db: Kysely<Database>, row: RecoveryCode): Promise<void> {
  await db.insertInto('recovery_codes').values(row).execute();
}

/** Ends (uses up at `now`) every live code of the account issued by one of `methods` (REC-02). */
export async function supersedeCodes(
  db: Kysely<Database>,
  accountId: string,
  methods: readonly string[],
  now: number,
): Promise<void> {
  await db
    .updateTable('recovery_codes')
    .set({ used_at: now })
    .where('account_id', '=', accountId)
    .where('used_at', 'is', null)
    .where('method', 'in', [...methods])
    .execute();
}

/** Ends every live code of the account, whichever method issued it (a password change). */
export async function voidAccountCodes(db: Kysely<Database>, accountId: string, now: number): Promise<void> {
  await db
    .updateTable('recovery_codes')
    .set({ used_at: now })
    .where('account_id', '=', accountId)
    .where('used_at', 'is', null)
    .execute();
}

/** Whether any code, used or not, was issued for the flow. */
export async function flowHasCode(db: Kysely<Database>, flowId: string): Promise<boolean> {
  const row = await db.selectFrom('recovery_codes').select('id').where('flow_id', '=', flowId).executeTakeFirst();
  return row !== undefined;
}

/** The code whose link token has this SHA-256, used or not. */
export function findCodeByTokenHash(db: Kysely<Database>, tokenHash: string): Promise<RecoveryCode | undefined> {
  return db.selectFrom('recovery_codes').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
}

/** The newest live code of the account issued by `method`, if any. */
export function findLatestLiveCode(
  db: Kysely<Database>,
  accountId: string,
  method: string,
  now: number,
): Promise<RecoveryCode | undefined> {
  return db
    .selectFrom('recovery_codes')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('method', '=', method)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .orderBy('created_at', 'desc')
    .executeTakeFirst();
}

/** A live code of the flow issued by one of `methods`, if any. */
export function findLiveFlowCode(
  db: Kysely<Database>,
  flowId: string,
  methods: readonly string[],
  now: number,
): Promise<RecoveryCode | undefined> {
  return db
    .selectFrom('recovery_codes')
    .selectAll()
    .where('flow_id', '=', flowId)
    .where('method', 'in', [...methods])
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
}

/** Which of an account's live codes one typed code is tried against. */
export interface CodeAttempt {
  accountId: string;
  now: number;
  /** a code with this many failed attempts is dead */
  maxAttempts: number;
  methods: readonly string[];
  /** methods whose codes are bound to their flow: tried only when `flow` is theirs (OTP-03) */
  boundMethods: readonly string[];
  flow: string;
}

/**
 * Takes one attempt from every live typed code of the account that the try may compare against,
 * in ONE atomic statement, and returns them: concurrent guesses never get more comparisons than
 * `maxAttempts` (REC-06). The statement is the same whether or not the account exists or has
 * codes (ENUM-04): callers pass an account id no row has for an unknown identifier.
 */
export function takeCodeAttempts(
  db: Kysely<Database>,
  a: CodeAttempt,
): Promise<Pick<RecoveryCode, 'id' | 'code_hash' | 'method'>[]> {
  return (
    db
      .updateTable('recovery_codes')
      .set((eb) => ({ failed_attempts: eb('failed_attempts', '+', 1) }))
      .where('account_id', '=', a.accountId)
      .where('used_at', 'is', null)
      .where('expires_at', '>', a.now)
      .where('code_hash', 'is not', null)
      .where('failed_attempts', '<', a.maxAttempts)
      .where('method', 'in', [...a.methods])
      // No row has the flow id '' (flows are random ids): without a flow, bound codes are skipped.
      .where((eb) => eb.or([eb('method', 'not in', [...a.boundMethods, '']), eb('flow_id', '=', a.flow)]))
      .returning(['id', 'code_hash', 'method'])
      .execute()
  );
}

/** Takes one attempt from one unused code; false when it has none left (or is used). */
export async function takeCodeAttempt(db: Kysely<Database>, id: string, maxAttempts: number): Promise<boolean> {
  const took = await db
    .updateTable('recovery_codes')
    .set((eb) => ({ failed_attempts: eb('failed_attempts', '+', 1) }))
    .where('id', '=', id)
    .where('used_at', 'is', null)
    .where('failed_attempts', '<', maxAttempts)
    .executeTakeFirst();
  return Number(took.numUpdatedRows) === 1;
}

/** Gives back an attempt taken by a try that matched. */
export async function returnCodeAttempt(db: Kysely<Database>, id: string): Promise<void> {
  await db
    .updateTable('recovery_codes')
    .set((eb) => ({ failed_attempts: eb('failed_attempts', '-', 1) }))
    .where('id', '=', id)
    .execute();
}

/**
 * Uses the code up at `now` if it is still unused (and, with `unexpired`, not expired at `now`).
 * True for exactly one of concurrent callers.
 */
export async function consumeCode(
  db: Kysely<Database>,
  id: string,
  now: number,
  opts: { unexpired: boolean },
): Promise<boolean> {
  let q = db.updateTable('recovery_codes').set({ used_at: now }).where('id', '=', id).where('used_at', 'is', null);
  if (opts.unexpired) q = q.where('expires_at', '>', now);
  const used = await q.executeTakeFirst();
  return Number(used.numUpdatedRows) === 1;
}

/**
 * Puts a new code into an unused row (a resend), counting the resend; false when the row was used
 * or resent meanwhile (`resends` is no longer the one read), so two resends never both win.
 */
export async function replaceCode(
  db: Kysely<Database>,
  row: Pick<RecoveryCode, 'id' | 'resends'>,
  fresh: Pick<RecoveryCode, 'code_hash' | 'expires_at' | 'target'>,
): Promise<boolean> {
  const updated = await db
    .updateTable('recovery_codes')
    .set({ code_hash: fresh.code_hash, expires_at: fresh.expires_at, resends: row.resends + 1, target: fresh.target })
    .where('id', '=', row.id)
    .where('used_at', 'is', null)
    .where('resends', '=', row.resends)
    .executeTakeFirst();
  return Number(updated.numUpdatedRows) === 1;
}
