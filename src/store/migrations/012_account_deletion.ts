import type { Kysely } from 'kysely';

// Self-service account deletion and organization brands (issue 17): when the user asked for it and when the grace period
// ends (signing in before then cancels it), and when the account's data was removed. A deleted
// account stays as an empty row (status 'deleted', no identifiers) so the anonymised audit trail
// and other tables' references to its id remain valid.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('accounts').addColumn('deletion_requested_at', 'bigint').execute();
  await db.schema.alterTable('accounts').addColumn('deletion_due_at', 'bigint').execute();
  await db.schema.alterTable('accounts').addColumn('deleted_at', 'bigint').execute();
  await db.schema.createIndex('accounts_deletion_due').on('accounts').column('deletion_due_at').execute();

  // An organization's brand (issue 17): colours checked for contrast when saved, a support link,
  // and its logo in the database (base64 text, so one column type serves both engines; at most
  // 256 KB), with a version that changes at every upload so its URL can be cached for a year.
  for (const column of ['brand_color', 'brand_color_dark', 'support_url', 'logo', 'logo_type'])
    await db.schema.alterTable('organizations').addColumn(column, 'text').execute();
  await db.schema.alterTable('organizations').addColumn('logo_version', 'bigint').execute();
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
