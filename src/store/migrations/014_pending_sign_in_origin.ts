import type { Kysely } from 'kysely';

// A half-finished sign-in is audited when it ends, not when it starts: as a sign-in (succeeded),
// as a wrong answer (second_factor.failed), or as abandoned when it expires unused. The abandoned
// record names where the first factor came from, so the row keeps the request's IP, user agent
// and correlation id until then.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('pending_sign_ins').addColumn('ip', 'text').execute();
  await db.schema.alterTable('pending_sign_ins').addColumn('user_agent', 'text').execute();
  await db.schema.alterTable('pending_sign_ins').addColumn('correlation_id', 'text').execute();
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
