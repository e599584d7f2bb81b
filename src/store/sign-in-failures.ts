import { type Kysely, sql } from 'kysely';
import { compiledQuery } from './compiled-query.ts';
import type { Database } from './schema.ts';

// The durable side of the sign-in lockout (BF-01, BF-06, AV-03): one row per account (or unknown
// identifier) with its run of consecutive failures. Every attempt is counted here by one atomic
// upsert before its password is checked, so parallel attempts on any number of processes each
// get their own place in the run; a success deletes the row, and runs nobody added to for
// LATCHKEY_LOCKOUT_MEMORY are swept (each unknown identifier tried would otherwise stay for ever).

/**
 * Counts one attempt under `key` and returns the run including it, and when the attempt before
 * it was counted (0 when none). A run whose latest attempt is older than `forgetBefore` starts over.
 */
export async function reserveFailure(
  db: Kysely<Database>,
  key: string,
  now: number,
  forgetBefore: number,
): Promise<{ failures: number; prevAt: number }> {
  const row = (await reserve(db, key, now, forgetBefore)).rows[0];
  if (!row) throw new Error('sign_in_failures upsert returned no row');
  return { failures: Number(row.failures), prevAt: Number(row.prev_at) };
}

// Run on every sign-in attempt and second-factor step: compiled once.
const reserve = compiledQuery((db, key: string, now: number, forgetBefore: number) =>
  db
    .insertInto('sign_in_failures')
    .values({ key, failures: 1, last_at: now, prev_at: 0 })
    .onConflict((oc) =>
      oc.column('key').doUpdateSet({
        failures: sql<number>`case when sign_in_failures.last_at < ${forgetBefore} then 1 else sign_in_failures.failures + 1 end`,
        prev_at: sql<number>`case when sign_in_failures.last_at < ${forgetBefore} then 0 else sign_in_failures.last_at end`,
        last_at: now,
      }),
    )
    .returning(['failures', 'prev_at']),
);
const clear = compiledQuery((db, key: string) => db.deleteFrom('sign_in_failures').where('key', '=', key));

/** The current run under `key` without counting anything: 0 failures when none or forgotten. */
export async function readFailures(
  db: Kysely<Database>,
  key: string,
  forgetBefore: number,
): Promise<{ failures: number; lastAt: number }> {
  const row = await db
    .selectFrom('sign_in_failures')
    .select(['failures', 'last_at'])
    .where('key', '=', key)
    .executeTakeFirst();
  if (!row || Number(row.last_at) < forgetBefore) return { failures: 0, lastAt: 0 };
  return { failures: Number(row.failures), lastAt: Number(row.last_at) };
}

/** Ends the run under `key` (a success, or a password reset). */
export async function clearFailures(db: Kysely<Database>, key: string): Promise<void> {
  await clear(db, key);
}

/**
 * Deletes the runs whose latest attempt is older than `forgetBefore` (they count as none already)
 * by the last_at index; returns how many went.
 */
export async function deleteForgottenFailures(db: Kysely<Database>, forgetBefore: number): Promise<number> {
  const r = await db.deleteFrom('sign_in_failures').where('last_at', '<', forgetBefore).executeTakeFirst();
  return Number(r.numDeletedRows);
}
