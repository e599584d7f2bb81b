import type { Kysely } from 'kysely';

// Sign-in failures per account (and per unknown identifier, keyed by a keyed hash), kept in the
// database so a Redis outage or a restart never forgets a lockout (AV-03), and counted with one
// atomic upsert per attempt so parallel attempts each get their own number (BF-06).
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('sign_in_failures')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('failures', 'integer', (c) => c.notNull())
    .addColumn('last_at', 'bigint', (c) => c.notNull())
    .addColumn('prev_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('sign_in_failures_last_at').on('sign_in_failures').column('last_at').execute();
}
