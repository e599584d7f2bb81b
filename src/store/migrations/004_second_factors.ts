import type { Kysely } from 'kysely';

// Second factors (MFA-01..MFA-05): what each session proved (`amr`, RFC 8176 values, so QR
// sign-in can copy the strength of the approving session and the OpenID Provider can report it),
// the account's factors (TOTP secrets encrypted, passkey public keys) and its recovery codes
// (hashed, single use).
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('sessions')
    .addColumn('amr', 'text', (c) => c.notNull().defaultTo('[]'))
    .execute();

  await db.schema
    .createTable('second_factors')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('confirmed_at', 'bigint')
    .addColumn('last_used_at', 'bigint')
    .addColumn('secret_enc', 'text')
    .addColumn('last_step', 'bigint')
    .addColumn('credential_id', 'text', (c) => c.unique())
    .addColumn('public_key', 'text')
    .addColumn('sign_count', 'bigint')
    .addColumn('transports', 'text')
    .addColumn('flagged_at', 'bigint')
    .execute();
  await db.schema.createIndex('second_factors_account').on('second_factors').column('account_id').execute();

  await db.schema
    .createTable('mfa_recovery_codes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
    .addColumn('code_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    .execute();
  await db.schema.createIndex('mfa_recovery_codes_account').on('mfa_recovery_codes').column('account_id').execute();
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
