import type { Kysely } from 'kysely';

// "Keep me signed in" ticked on the password form was lost when a second factor was asked for:
// the session came from the second request, which never saw the box. The half-finished sign-in
// keeps the choice so the session it ends in gets the lasting cookie the user asked for.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('pending_sign_ins')
    .addColumn('keep_signed_in', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
