import type { Kysely } from 'kysely';

// Self-service account deletion (issue 17): when the user asked for it and when the grace period
// ends (signing in before then cancels it), and when the account's data was removed. A deleted
// account stays as an empty row (status 'deleted', no identifiers) so the anonymised audit trail
// and other tables' references to its id remain valid.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('accounts').addColumn('deletion_requested_at', 'bigint').execute();
  await db.schema.alterTable('accounts').addColumn('deletion_due_at', 'bigint').execute();
  await db.schema.alterTable('accounts').addColumn('deleted_at', 'bigint').execute();
  await db.schema.createIndex('accounts_deletion_due').on('accounts').column('deletion_due_at').execute();
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
