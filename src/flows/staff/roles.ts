import type { StaffRole } from '../../store/staff.ts';

// Who may do what in the staff console (ADM-05). Staff of the install see every account;
// organization owners and admins get the same console scoped to their own organization's
// members: an organization admin can do what support can, an owner what an admin can, except
// what belongs to the whole install (its audit trail, staff and app clients).

/** The console roles: the install's staff, and an organization's owners and admins. */
export type ConsoleRole = StaffRole | 'org_owner' | 'org_admin';

/**
 * read      the console, the review queue, account search and account pages
 * assist    send a reset, end sessions, unlock, resend activation, clear a flag, handle requests
 * restrict  disable/enable an account, remove its second factors
 * audit     the install's whole audit trail and its export
 * manage    staff and app clients
 */
export type Capability = 'read' | 'assist' | 'restrict' | 'audit' | 'manage';

const GRANTS: Record<ConsoleRole, readonly Capability[]> = {
  admin: ['read', 'assist', 'restrict', 'audit', 'manage'],
  support: ['read', 'assist', 'audit'],
  org_owner: ['read', 'assist', 'restrict'],
  org_admin: ['read', 'assist'],
};

export function roleCan(role: ConsoleRole, cap: Capability): boolean {
  return GRANTS[role].includes(cap);
}

/** How the user is told who acted (ADM-09): a role, never a name. */
export const ROLE_LABEL: Record<ConsoleRole, string> = {
  admin: 'an administrator',
  support: 'a member of the support team',
  org_owner: 'an owner of your organization',
  org_admin: 'an administrator of your organization',
};

/** Short names for pages, audit details and the API. */
export const ROLE_NAME: Record<ConsoleRole, string> = {
  admin: 'admin',
  support: 'support',
  org_owner: 'organization owner',
  org_admin: 'organization admin',
};
