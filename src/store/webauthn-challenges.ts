import type { Kysely } from 'kysely';
import type { Database, WebauthnChallengesTable } from './schema.ts';

// The webauthn_challenges table (MFA-04): a challenge is valid for one ceremony, once, until it
// expires. Taking it deletes it, so of two requests carrying the same challenge (a replayed
// assertion, or one sent to two processes) exactly one gets it.

export type ChallengePurpose = 'register' | 'signin' | 'second_factor' | 'recovery' | 'qr_approve';

export async function insertChallenge(db: Kysely<Database>, row: WebauthnChallengesTable): Promise<void> {
  await db.insertInto('webauthn_challenges').values(row).execute();
}

/**
 * Deletes and returns the challenge when it was issued for this purpose and binding and has not
 * expired; undefined otherwise (unknown, used, expired, or issued to another ceremony: a
 * mismatch leaves it in place for its own ceremony).
 */
export async function takeChallenge(
  db: Kysely<Database>,
  q: { challenge: string; purpose: ChallengePurpose; binding: string; now: number },
): Promise<{ account_id: string | null } | undefined> {
  return db
    .deleteFrom('webauthn_challenges')
    .where('challenge', '=', q.challenge)
    .where('purpose', '=', q.purpose)
    .where('binding', '=', q.binding)
    .where('expires_at', '>', q.now)
    .returning('account_id')
    .executeTakeFirst();
}

/** Forgets challenges that expired before `now` (nobody can use them any more). */
export async function deleteExpiredChallenges(db: Kysely<Database>, now: number): Promise<void> {
  await db.deleteFrom('webauthn_challenges').where('expires_at', '<=', now).execute();
}
