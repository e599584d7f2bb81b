import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';

// The used_nonces table: single-use markers (solved CAPTCHA payloads, spent sign-in callbacks).

/** Records `key` until `expiresAt`; false when it was already recorded (a replay), on either engine. */
export async function useNonce(db: Kysely<Database>, key: string, expiresAt: number): Promise<boolean> {
  const r = await db
    .insertInto('used_nonces')
    .values({ key, expires_at: expiresAt })
    .onConflict((oc) => oc.column('key').doNothing())
    .returning('key')
    .executeTakeFirst();
  return r !== undefined;
}

/** Forgets the markers that expired before `now`. */
export async function deleteExpiredNonces(db: Kysely<Database>, now: number): Promise<void> {
  await db.deleteFrom('used_nonces').where('expires_at', '<', now).execute();
}
