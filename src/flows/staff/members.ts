import type { RequestContext } from '../../context.ts';
import { AppError } from '../../errors.ts';
import type { Kernel } from '../../kernel.ts';
import { findAccountByIdentifier } from '../../store/accounts.ts';
import {
  hasConfirmedSecondFactor,
  isStaffRole,
  listStaff,
  removeStaffRole,
  STAFF_ROLES,
  type StaffRole,
  setStaffRole,
} from '../../store/staff.ts';

/** What this module uses of the container the composition root builds. */
export type StaffMembersDeps = Pick<Kernel, 'db' | 'clock' | 'audit'>;

/**
 * The install's staff (ADM-04): there are no default credentials; a staff member is an existing,
 * active account given a role by `latchkey staff add`. Every change is audited.
 */
export class StaffMembers {
  constructor(private readonly d: StaffMembersDeps) {}

  async add(identifier: string, role: string, ctx: RequestContext, by = 'cli') {
    if (!isStaffRole(role)) throw new AppError('validation_failed', `The role is one of: ${STAFF_ROLES.join(', ')}.`);
    const account = await findAccountByIdentifier(this.d.db, identifier);
    if (!account) throw new AppError('not_found', `No account "${identifier}".`);
    if (account.status !== 'active')
      throw new AppError(
        'conflict',
        `Account "${account.username}" is ${account.status}; only active accounts can be staff.`,
      );
    await setStaffRole(this.d.db, account.id, role, this.d.clock.now(), by);
    await this.d.audit.record('staff.role_granted', ctx, { accountId: account.id, details: { role, by } });
    return { account, role: role as StaffRole, hasSecondFactor: await hasConfirmedSecondFactor(this.d.db, account.id) };
  }

  async remove(identifier: string, ctx: RequestContext, by = 'cli') {
    const account = await findAccountByIdentifier(this.d.db, identifier);
    if (!account) throw new AppError('not_found', `No account "${identifier}".`);
    if (!(await removeStaffRole(this.d.db, account.id, this.d.clock.now())))
      throw new AppError('not_found', `Account "${account.username}" is not staff.`);
    await this.d.audit.record('staff.role_removed', ctx, { accountId: account.id, details: { by } });
    return account;
  }

  async list() {
    const rows = await listStaff(this.d.db);
    return Promise.all(
      rows.map(async (r) => ({
        username: r.username,
        role: r.role,
        status: r.status,
        since: Number(r.created_at),
        hasSecondFactor: await hasConfirmedSecondFactor(this.d.db, r.id),
      })),
    );
  }
}
