import type { Kysely } from 'kysely';

// Languages (issue 17): the language an account chose (null: follow the browser), and the one an
// organization's pages use when the browser asks for none that is offered.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('accounts').addColumn('locale', 'text').execute();
  await db.schema.alterTable('organizations').addColumn('default_locale', 'text').execute();
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
