import type { Kernel } from '../../kernel.ts';
import { recentAuditEvents } from '../../store/audit.ts';
import type { Authenticated } from '../../web/auth.ts';
import { deviceName, LocalTime, userAgentTitle } from '../../web/device.tsx';
import { Html } from '../../web/layout.tsx';

/** What this module uses of the container the composition root builds. */
export type ActivityPagesDeps = Pick<Kernel, 'db'>;

void Html;

// What the owner of an account can read about its security events. Only events named here are
// shown, in plain words; internal reasons (e.g. why a sign-in failed) stay in the audit trail.
const LABELS: Record<string, string> = {
  'sign_in.succeeded': 'Signed in',
  'sign_in.failed': 'Failed sign-in attempt',
  'sign_in.locked': 'Sign-in blocked after repeated failed attempts',
  'password.changed': 'Password changed',
  'password.reset_completed': 'Password reset',
  'password.reset_requested': 'Password reset requested',
  'password.change_failed': 'Failed password change (wrong current password)',
  'account.activated': 'Account activated',
  'account.flagged': 'Account flagged for review after repeated password changes',
  'session.ended': 'Session signed out',
  'external.linked': 'External account linked',
  'external.unlinked': 'External account unlinked',
  // Staff actions (ADM-09): the "From" column names the role, not the staff member's address.
  'staff.reset_sent': 'Staff sent you a password reset',
  'staff.sessions_ended': 'Staff signed your account out',
  'staff.unlocked': 'Staff lifted a sign-in block',
  'staff.activation_resent': 'Staff sent a new activation link',
  'staff.flag_cleared': 'Staff reviewed your account',
  'staff.account_disabled': 'Staff disabled your account',
  'staff.account_enabled': 'Staff enabled your account',
  'staff.second_factors_removed': 'Staff removed your second factors after an identity check',
  'qr.redeemed': 'Signed in on a new browser by QR code',
  'qr.approved': 'QR sign-in approved on this account',
  'qr.declined': 'QR sign-in declined',
  'qr.reported': 'QR sign-in reported as not yours; that browser was signed out',
};

export const ACTIVITY_LIMIT = 20;

/** The role a staff action's record names (ADM-09: which role, never who or from where). */
function staffRole(details: string | null): string {
  try {
    const role = (JSON.parse(details ?? '{}') as { role?: unknown }).role;
    return typeof role === 'string' ? role : 'staff';
  } catch {
    return 'staff';
  }
}

export async function recentActivity(d: ActivityPagesDeps, accountId: string) {
  return recentAuditEvents(d.db, accountId, Object.keys(LABELS), ACTIVITY_LIMIT);
}

export async function activitySection(d: ActivityPagesDeps, auth: Authenticated): Promise<string> {
  const rows = await recentActivity(d, auth.account.id);
  return (
    <section class="card" aria-labelledby="activity-h">
      <h2 id="activity-h">Recent security activity</h2>
      {rows.length ? (
        <table class="activity">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">What</th>
              <th scope="col">From</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr>
                <td>
                  <LocalTime ms={Number(r.at)} />
                </td>
                <td safe>{LABELS[r.event] ?? r.event}</td>
                <td>
                  {r.event.startsWith('staff.') ? (
                    <span safe>{`Staff (${staffRole(r.details)})`}</span>
                  ) : (
                    <>
                      <span safe>{r.ip || 'unknown address'}</span>
                      <br />
                      <span class="hint" title={userAgentTitle(r.user_agent)} safe>
                        {deviceName(r.user_agent)}
                      </span>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p>No security events yet.</p>
      )}
      <p class="hint">Something you don't recognise? Change your password and sign out everywhere.</p>
    </section>
  ) as string;
}
