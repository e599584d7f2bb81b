import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';

// The staff_roles table (ADM-04) and the org_members roles the console reads. Who may do what is
// policy and lives in src/flows/staff/roles.ts.

export type StaffRole = 'support' | 'admin';
export const STAFF_ROLES: readonly StaffRole[] = ['support', 'admin'];

export function isStaffRole(v: unknown): v is StaffRole {
  return v === 'support' || v === 'admin';
}

export async function staffRoleOf(db: Kysely<Database>, accountId: string): Promise<StaffRole | undefined> {
  const row = await db.selectFrom('staff_roles').select('role').where('account_id', '=', accountId).executeTakeFirst();
  return isStaffRole(row?.role) ? row.role : undefined;
}

/** Grants (or changes) a staff role and keeps `accounts.is_staff` in step, in one transaction. */
export async function setStaffRole(
  db: Kysely<Database>,
  accountId: string,
  role: StaffRole,
  now: number,
  by: string,
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('staff_roles')
      .values({ account_id: accountId, role, created_at: now, created_by: by })
      .onConflict((oc) => oc.column('account_id').doUpdateSet({ role }))
      .execute();
    await trx.updateTable('accounts').set({ is_staff: 1, updated_at: now }).where('id', '=', accountId).execute();
  });
}

/** Removes a staff role; false when the account had none. */
export async function removeStaffRole(db: Kysely<Database>, accountId: string, now: number): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const r = await trx.deleteFrom('staff_roles').where('account_id', '=', accountId).executeTakeFirst();
    await trx.updateTable('accounts').set({ is_staff: 0, updated_at: now }).where('id', '=', accountId).execute();
    return Number(r.numDeletedRows) > 0;
  });
}

export async function listStaff(db: Kysely<Database>) {
  return db
    .selectFrom('staff_roles')
    .innerJoin('accounts', 'accounts.id', 'staff_roles.account_id')
    .select(['accounts.id', 'accounts.username', 'accounts.status', 'staff_roles.role', 'staff_roles.created_at'])
    .orderBy('accounts.username_key')
    .execute();
}

/** The organizations an account administers, with its role in each. */
export async function orgRolesOf(db: Kysely<Database>, accountId: string) {
  return db.selectFrom('org_members').select(['org_id', 'role']).where('account_id', '=', accountId).execute();
}

/** Whether the account has a confirmed second factor (ADM-07: staff without one are sent to enrol). */
export async function hasConfirmedSecondFactor(db: Kysely<Database>, accountId: string): Promise<boolean> {
  const row = await db
    .selectFrom('second_factors')
    .select('id')
    .where('account_id', '=', accountId)
    .where('confirmed_at', 'is not', null)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}
