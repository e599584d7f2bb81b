import type { Kysely } from 'kysely';

// QR sign-in (QR-01..QR-09): one row per request a new browser starts. Only hashes of its
// secrets are kept (the QR secret, the typed code, the binding cookie, the "This wasn't me"
// link); its state moves forward by conditional updates, so approval and redemption happen once
// even when processes race. Organizations get their own on/off switch.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('qr_logins')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('binding_hash', 'text', (c) => c.notNull())
    .addColumn('secret_hash', 'text', (c) => c.notNull().unique())
    .addColumn('code_hash', 'text', (c) => c.notNull())
    .addColumn('number', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('ip', 'text')
    .addColumn('user_agent', 'text')
    .addColumn('shown_at', 'bigint')
    .addColumn('account_id', 'text', (c) => c.references('accounts.id'))
    .addColumn('approver_session_id', 'text')
    .addColumn('approver_amr', 'text')
    .addColumn('approver_ip', 'text')
    .addColumn('approver_user_agent', 'text')
    .addColumn('decided_at', 'bigint')
    .addColumn('session_id', 'text')
    .addColumn('redeemed_at', 'bigint')
    .addColumn('report_hash', 'text', (c) => c.unique())
    .addColumn('reported_at', 'bigint')
    .execute();
  await db.schema.createIndex('qr_logins_expires').on('qr_logins').column('expires_at').execute();
  await db.schema.createIndex('qr_logins_code').on('qr_logins').column('code_hash').execute();
  await db.schema.createIndex('qr_logins_account').on('qr_logins').column('account_id').execute();

  await db.schema
    .alterTable('organizations')
    .addColumn('qr_login', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
