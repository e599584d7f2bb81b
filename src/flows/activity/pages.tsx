import { t, th } from '../../i18n/index.ts';
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
// Each event names the catalog key of its words (said in the reader's language when shown).
const LABELS: Record<string, string> = {
  'sign_in.succeeded': 'activity.event.sign_in_succeeded',
  'sign_in.failed': 'activity.event.sign_in_failed',
  'sign_in.locked': 'activity.event.sign_in_locked',
  'password.changed': 'activity.event.password_changed',
  'password.reset_completed': 'activity.event.password_reset_completed',
  'password.reset_requested': 'activity.event.password_reset_requested',
  'password.change_failed': 'activity.event.password_change_failed',
  'account.activated': 'activity.event.account_activated',
  'account.flagged': 'activity.event.account_flagged',
  'session.ended': 'activity.event.session_ended',
  'external.linked': 'activity.event.external_linked',
  'external.unlinked': 'activity.event.external_unlinked',
  // Staff actions (ADM-09): the "From" column names the role, not the staff member's address.
  'staff.reset_sent': 'activity.event.staff_reset_sent',
  'staff.sessions_ended': 'activity.event.staff_sessions_ended',
  'staff.unlocked': 'activity.event.staff_unlocked',
  'staff.activation_resent': 'activity.event.staff_activation_resent',
  'staff.flag_cleared': 'activity.event.staff_flag_cleared',
  'staff.account_disabled': 'activity.event.staff_account_disabled',
  'staff.account_enabled': 'activity.event.staff_account_enabled',
  'staff.second_factors_removed': 'activity.event.staff_second_factors_removed',
  'qr.redeemed': 'activity.event.qr_redeemed',
  'qr.approved': 'activity.event.qr_approved',
  'qr.declined': 'activity.event.qr_declined',
  'qr.reported': 'activity.event.qr_reported',
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
      <h2 id="activity-h">{th('activity.heading')}</h2>
      {rows.length ? (
        <table class="activity">
          <thead>
            <tr>
              <th scope="col">{th('activity.col_when')}</th>
              <th scope="col">{th('activity.col_what')}</th>
              <th scope="col">{th('activity.col_from')}</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr>
                <td>
                  <LocalTime ms={Number(r.at)} />
                </td>
                <td safe>{Object.hasOwn(LABELS, r.event) ? t(LABELS[r.event] as string) : r.event}</td>
                <td>
                  {r.event.startsWith('staff.') ? (
                    <span safe>{t('activity.staff_role', { role: staffRole(r.details) })}</span>
                  ) : (
                    <>
                      <span safe>{r.ip || t('activity.unknown_address')}</span>
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
        <p>{th('activity.none')}</p>
      )}
      <p class="hint">{th('activity.hint')}</p>
    </section>
  ) as string;
}
