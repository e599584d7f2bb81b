import type { Kysely } from 'kysely';

// The second-factor sign-in step (MFA-07, BF-05): half-finished sign-ins (password right, factor
// pending) live in the database, so the step finishes on whichever process the browser reaches;
// "don't ask again on this browser" devices (hashed tokens); and the organization requirement
// (MFA-08).
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('pending_sign_ins')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
    .addColumn('method', 'text', (c) => c.notNull())
    .addColumn('amr', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('return_to', 'text')
    .addColumn('enrol', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('used_at', 'bigint')
    .execute();
  await db.schema.createIndex('pending_sign_ins_expires').on('pending_sign_ins').column('expires_at').execute();

  await db.schema
    .createTable('mfa_trusted_devices')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('mfa_trusted_devices_account').on('mfa_trusted_devices').column('account_id').execute();

  await db.schema
    .alterTable('organizations')
    .addColumn('require_second_factor', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
