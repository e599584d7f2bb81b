import { type Kysely, PostgresAdapter, sql } from 'kysely';

// Staff of the install (ADM-04): one row per staff member with its role. `accounts.is_staff`
// stays as a denormalised marker (1 while a row exists), so a session lookup can tell staff
// without a second query. Indexes make the console's account search (exact and prefix on the
// normalised username, email and phone) and the audit filters (actor, event, time) indexed
// look-ups at any size; on PostgreSQL the prefix indexes use text_pattern_ops, so `LIKE 'x%'`
// uses them whatever the database's collation.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('staff_roles')
    .addColumn('account_id', 'text', (c) => c.primaryKey().references('accounts.id'))
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('created_by', 'text')
    .execute();

  await db.schema.createIndex('accounts_phone').on('accounts').column('phone').execute();
  await db.schema.createIndex('audit_actor_at').on('audit_log').columns(['actor_id', 'at']).execute();
  await db.schema.createIndex('audit_event_at').on('audit_log').columns(['event', 'at']).execute();
  await db.schema.createIndex('audit_at').on('audit_log').column('at').execute();

  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    for (const col of ['username_key', 'email_key', 'phone'])
      await sql`create index ${sql.id(`accounts_${col}_prefix`)} on accounts (${sql.id(col)} text_pattern_ops)`.execute(
        db,
      );
  }
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
