import type { Kysely, Transaction } from 'kysely';
import { applyIdentifierPlan } from '../identifier-audit.ts';
import type { Database } from '../schema.ts';

// ID-01/ID-02: stored emails become their normalised form (NFKC + full case folding of the local
// part, IDNA of the domain), username keys are re-folded, and every username gets its UTS #39
// skeleton under a unique index, so a look-alike is one indexed look-up and two racing
// registrations of look-alikes cannot both commit. Rows that would collide are left as they were
// and counted in `meta` (a warning at every start until `latchkey identifiers check` finds none).
export async function up(db: Kysely<unknown>): Promise<void> {
  const d = db as Kysely<Database>;
  await d.schema.alterTable('accounts').addColumn('username_skeleton', 'text').execute();
  if (d.isTransaction) await applyIdentifierPlan(d);
  else await d.transaction().execute((trx: Transaction<Database>) => applyIdentifierPlan(trx));
  await d.schema
    .createIndex('accounts_username_skeleton')
    .unique()
    .on('accounts')
    .column('username_skeleton')
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
