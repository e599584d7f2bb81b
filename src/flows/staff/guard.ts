import type { RequestContext } from '../../context.ts';
import { AppError } from '../../errors.ts';
import { t } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import { isMultiFactor, parseAmr } from '../../security/amr.ts';
import { cleanText } from '../../security/audit.ts';
import { type Account, findAccount } from '../../store/accounts.ts';
import { orgRolesOf, type StaffRole, staffRoleOf } from '../../store/staff.ts';
import type { Authenticated } from '../../web/auth.ts';
import type { OrgRole } from '../organizations/service.ts';
import type { SessionService } from '../sessions/service.ts';
import { type Capability, type ConsoleRole, roleCan } from './roles.ts';

/** What this module uses of the container the composition root builds. */
export type StaffGuardDeps = Pick<Kernel, 'db' | 'audit'> & { sessions: Pick<SessionService, 'requireRecentAuth'> };

/** Someone allowed into the console, and from where they see it. */
export interface Viewer {
  auth: Authenticated;
  /** the install's staff role, or null for an organization owner/admin */
  staffRole: StaffRole | null;
  /** the organizations this account owns or administers, and its role in each */
  orgs: ReadonlyMap<string, OrgRole>;
}

/** Account ids are random base64url (newId). */
const ACCOUNT_ID = /^[A-Za-z0-9_-]{1,64}$/;

export const REASON_MIN = 8;
export const REASON_MAX = 500;

/**
 * The one gate of every /admin page and /api/v1/admin route. In this order:
 *  1. a session (401, or /login on a page);
 *  2. a console role allowing the capability (ADM-05: 403, audited as `admin.forbidden`);
 *  3. a sign-in with a second factor (ADM-07: `staff_second_factor_required`, 403, audited; the pages send
 *     the user to enrol at /settings#two-step or to sign in again with the factor);
 *  4. for actions, a written reason (400) and a recent sign-in (SES-07: 401
 *     `reauthentication_required`); the reason goes into the action's audit record.
 * Per account, `account()` then checks the account is within the viewer's reach.
 */
export class StaffGuard {
  constructor(private readonly d: StaffGuardDeps) {}

  /** The viewer for a session, or null when the account has no console role at all. */
  async viewerOf(auth: Authenticated): Promise<Viewer | null> {
    const [staffRole, orgRows] = await Promise.all([
      auth.account.is_staff ? staffRoleOf(this.d.db, auth.account.id) : undefined,
      orgRolesOf(this.d.db, auth.account.id),
    ]);
    const orgs = new Map(orgRows.map((r) => [r.org_id, r.role]));
    if (!staffRole && !orgs.size) return null;
    return { auth, staffRole: staffRole ?? null, orgs };
  }

  /**
   * The viewer's role for an account of `orgId`, or, without one, the strongest role it holds
   * anywhere (what the console's install-wide pages are shown with, scoped by `orgScope`).
   */
  roleOf(v: Viewer, orgId?: string): ConsoleRole | undefined {
    if (v.staffRole) return v.staffRole;
    const roles = orgId === undefined ? [...v.orgs.values()] : [v.orgs.get(orgId)];
    if (roles.includes('owner')) return 'org_owner';
    if (roles.includes('admin')) return 'org_admin';
    return undefined;
  }

  can(v: Viewer, cap: Capability, orgId?: string): boolean {
    const role = this.roleOf(v, orgId);
    return role !== undefined && roleCan(role, cap);
  }

  /** The organizations whose members the viewer sees; null for the whole install (staff). */
  orgScope(v: Viewer): string[] | null {
    return v.staffRole ? null : [...v.orgs.keys()];
  }

  /** Steps 1-3: the console itself. */
  async require(auth: Authenticated | null, cap: Capability, ctx: RequestContext, action: string): Promise<Viewer> {
    if (!auth) throw new AppError('unauthorized');
    const viewer = await this.viewerOf(auth);
    if (!viewer || !this.can(viewer, cap)) return this.refuse(auth.account.id, ctx, action);
    if (!isMultiFactor(parseAmr(auth.session.amr))) {
      await this.d.audit.record('admin.forbidden', ctx, {
        actorId: auth.account.id,
        details: { action, why: 'no_second_factor' },
      });
      throw new AppError('staff_second_factor_required');
    }
    return viewer;
  }

  /** Steps 1-4: an action, with its cleaned written reason. */
  async requireAction(
    auth: Authenticated | null,
    cap: Capability,
    ctx: RequestContext,
    action: string,
    rawReason: unknown,
  ): Promise<{ viewer: Viewer; reason: string }> {
    const viewer = await this.require(auth, cap, ctx, action);
    const reason = checkReason(rawReason);
    this.d.sessions.requireRecentAuth(viewer.auth.session);
    return { viewer, reason };
  }

  /**
   * An account the viewer may apply `cap` to: 404 when there is none, an audited 403 when it
   * is outside the viewer's organizations, or staff and the viewer is not (an organization
   * admin cannot act on the install's staff).
   */
  async account(v: Viewer, accountId: string, cap: Capability, ctx: RequestContext, action: string): Promise<Account> {
    const account = ACCOUNT_ID.test(accountId) ? await findAccount(this.d.db, accountId) : undefined;
    if (!account) throw new AppError('not_found', t('staff.no_account'));
    if (!this.can(v, cap, account.org_id) || (account.is_staff && !v.staffRole))
      return this.refuse(v.auth.account.id, ctx, action, account.id);
    return account;
  }

  private async refuse(actorId: string, ctx: RequestContext, action: string, accountId?: string): Promise<never> {
    await this.d.audit.record('admin.forbidden', ctx, { actorId, accountId: accountId ?? null, details: { action } });
    throw new AppError('forbidden');
  }
}

/** ADM-07: every staff action carries a written reason, kept in the audit trail. */
export function checkReason(raw: unknown): string {
  const reason = typeof raw === 'string' ? (cleanText(raw.trim(), REASON_MAX + 1) ?? '') : '';
  if (reason.length < REASON_MIN || reason.length > REASON_MAX)
    throw new AppError('validation_failed', undefined, {
      fields: [
        {
          field: 'reason',
          code: 'reason',
          message: t('staff.reason_needed', { min: REASON_MIN, max: REASON_MAX }),
        },
      ],
    });
  return reason;
}
