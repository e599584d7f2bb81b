import type { Kysely } from 'kysely';
import type { RequestContext } from '../../context.ts';
import { formatTime, renderMail, supportName } from '../../delivery/templates.ts';
import { AppError } from '../../errors.ts';
import { t, withLocale } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import { cleanText } from '../../security/audit.ts';
import { isoTime } from '../../security/clock.ts';
import type { Account } from '../../store/accounts.ts';
import { resolveOpenReviewItem } from '../../store/review-items.ts';
import type { Database } from '../../store/schema.ts';
import { endAccountSession, listLiveSessions } from '../../store/sessions.ts';
import type { OrganizationService } from '../organizations/service.ts';
import type { RecoveryService } from '../recovery/service.ts';
import type { RegistrationService } from '../registration/service.ts';
import type { SessionService } from '../sessions/service.ts';
import { endAllAccess } from './access.ts';
import type { AccountDirectory } from './directory.ts';
import type { StaffGuard, Viewer } from './guard.ts';
import { type Capability, type ConsoleRole, ROLE_NAME } from './roles.ts';

/** What this module uses of the container the composition root builds. */
export type StaffActionsDeps = Pick<Kernel, 'config' | 'db' | 'clock' | 'outbox' | 'audit' | 'guard'> & {
  sessions: SessionService;
  recovery: RecoveryService;
  registration: RegistrationService;
  organizations: OrganizationService;
  staffGuard: StaffGuard;
  staffDirectory: AccountDirectory;
};

/** The staff actions, their capability, audit event, and the user's mail's sentence for them (a catalog key). */
export const ACTIONS = {
  reset: { cap: 'assist', event: 'staff.reset_sent', what: 'staff.mail.did.reset' },
  end_sessions: { cap: 'assist', event: 'staff.sessions_ended', what: 'staff.mail.did.end_sessions' },
  unlock: { cap: 'assist', event: 'staff.unlocked', what: 'staff.mail.did.unlock' },
  resend_activation: { cap: 'assist', event: 'staff.activation_resent', what: 'staff.mail.did.resend_activation' },
  clear_flag: { cap: 'assist', event: 'staff.flag_cleared', what: 'staff.mail.did.clear_flag' },
  disable: { cap: 'restrict', event: 'staff.account_disabled', what: 'staff.mail.did.disable' },
  enable: { cap: 'restrict', event: 'staff.account_enabled', what: 'staff.mail.did.enable' },
  remove_second_factors: {
    cap: 'restrict',
    event: 'staff.second_factors_removed',
    what: 'staff.mail.did.remove_second_factors',
  },
} as const satisfies Record<string, { cap: Capability; event: string; what: string }>;

/** How the user is told who acted (ADM-09): a role, never a name; in the user's language. */
const ROLE_LABEL_KEY: Record<ConsoleRole, string> = {
  admin: 'staff.mail.who.admin',
  support: 'staff.mail.who.support',
  org_owner: 'staff.mail.who.org_owner',
  org_admin: 'staff.mail.who.org_admin',
};

export type StaffAction = keyof typeof ACTIONS;

export function isStaffAction(v: unknown): v is StaffAction {
  return typeof v === 'string' && Object.hasOwn(ACTIONS, v);
}

export interface ActionInput {
  reason: string;
  /** end_sessions: one session's handle; none ends them all */
  session?: string;
  /** remove_second_factors: what was checked to establish the user's identity (ADM-03) */
  identityCheck?: string;
}

export interface ActionResult {
  action: StaffAction;
  message: string;
  /** reset: which methods got a link or code, and until when they work (never the secret) */
  sent?: { method: string; expiresAt: string }[];
  count?: number;
}

/** "active" or "pending", in the reader's language (what `enable` leaves the account as). */
const statusWord = (s: 'active' | 'pending') => (s === 'active' ? t('staff.status.active') : t('staff.status.pending'));

export const CHECK_MIN = 8;
export const CHECK_MAX = 500;

/**
 * The staff actions on one account (issue 20). Each one, in this order: the guard's checks (the
 * caller has them: role, second factor, reason, recent sign-in), the change, one audit record
 * `staff.*` with actor, role and reason (LOG-01, ADM-07), and a mail to the account saying what
 * was done, when and by which role, never a secret (ADM-09). The change, the record and the mail
 * commit together. The user also sees the record on /settings (activity).
 */
export class StaffActions {
  constructor(private readonly d: StaffActionsDeps) {}

  async run(
    viewer: Viewer,
    account: Account,
    action: StaffAction,
    input: ActionInput,
    ctx: RequestContext,
  ): Promise<ActionResult> {
    const d = this.d;
    const role = d.staffGuard.roleOf(viewer, account.org_id);
    if (!role) throw new AppError('forbidden');
    const base = { reason: input.reason, role: ROLE_NAME[role] };
    const record = (trx: Kysely<Database>, details: Record<string, string | number | boolean | null> = {}) =>
      d.audit.record(
        ACTIONS[action].event,
        ctx,
        { accountId: account.id, actorId: viewer.auth.account.id, details: { ...base, ...details } },
        trx,
      );
    const notify = (trx: Kysely<Database>) => this.notify(trx, account, action, role);
    const now = d.clock.now();

    switch (action) {
      case 'reset': {
        // The reset goes through the recovery flow itself (ADM-02): same methods, limits, lifetimes.
        const { flowId } = await d.recovery.requestByStaff(account, ctx);
        const rows = await d.db
          .selectFrom('recovery_codes')
          .select(['method', 'expires_at'])
          .where('flow_id', '=', flowId)
          .execute();
        const sent = rows.map((r) => ({ method: r.method, expiresAt: isoTime(Number(r.expires_at)) }));
        await d.db.transaction().execute(async (trx) => {
          await record(trx, { methods: sent.map((s) => s.method).join(',') || 'none' });
          if (sent.length) await notify(trx);
        });
        if (!sent.length)
          return {
            action,
            sent,
            message: t('staff.result.reset_none'),
          };
        const until = sent
          .map((s) => t('staff.result.reset_until', { method: s.method, at: formatTime(Date.parse(s.expiresAt)) }))
          .join(', ');
        return { action, sent, message: t('staff.result.reset', { until }) };
      }
      case 'end_sessions': {
        let count = 0;
        await d.db.transaction().execute(async (trx) => {
          if (input.session) {
            const live = await listLiveSessions(trx, account.id, now, now - d.config.session.idleTtl);
            const target = live.find((s) => d.staffDirectory.sessionHandle(s.id) === input.session);
            if (!target || !(await endAccountSession(trx, account.id, target.id)))
              throw new AppError('not_found', t('staff.result.no_session'));
            count = 1;
          } else count = await d.sessions.endAll(account.id, trx);
          await record(trx, { count, scope: input.session ? 'one' : 'all' });
          await notify(trx);
        });
        return { action, count, message: t('staff.result.sessions_ended', { count }) };
      }
      case 'unlock': {
        await d.db.transaction().execute(async (trx) => {
          await d.guard.passwordChanged?.(account.id, trx);
          await record(trx);
          await notify(trx);
        });
        return { action, message: t('staff.result.unlocked') };
      }
      case 'resend_activation': {
        await d.db.transaction().execute(async (trx) => {
          await d.registration.reissueActivation(account, trx);
          await record(trx);
          await notify(trx);
        });
        return { action, message: t('staff.result.activation') };
      }
      case 'clear_flag': {
        if (account.flagged_at === null) throw new AppError('conflict', t('staff.result.not_flagged'));
        await d.db.transaction().execute(async (trx) => {
          await trx
            .updateTable('accounts')
            .set({ flagged_at: null, flag_reason: null, updated_at: now })
            .where('id', '=', account.id)
            .execute();
          // The flag's review item (sup20's queue) is settled with it.
          await resolveOpenReviewItem(trx, 'flagged_resets', account.id, viewer.auth.account.id, 'legitimate', now);
          await record(trx);
          await notify(trx);
        });
        return { action, message: t('staff.done.clear_flag') };
      }
      case 'disable': {
        if (account.status === 'disabled') throw new AppError('conflict', t('staff.result.already_disabled'));
        if (account.id === viewer.auth.account.id) throw new AppError('conflict', t('staff.result.not_yourself'));
        let ended = 0;
        await d.db.transaction().execute(async (trx) => {
          await trx
            .updateTable('accounts')
            .set({ status: 'disabled', updated_at: now })
            .where('id', '=', account.id)
            .execute();
          // ADM-06: every session ends in this transaction; a session on any other process is
          // refused on its next request (the account is no longer active).
          ended = (await endAllAccess(d, account.id, trx)).sessions;
          await record(trx, { count: ended, previous: account.status });
          await notify(trx);
        });
        return { action, count: ended, message: t('staff.result.disabled', { count: ended }) };
      }
      case 'enable': {
        if (account.status !== 'disabled') throw new AppError('conflict', t('staff.result.not_disabled'));
        const status = account.activated_at !== null ? 'active' : 'pending';
        await d.db.transaction().execute(async (trx) => {
          await trx.updateTable('accounts').set({ status, updated_at: now }).where('id', '=', account.id).execute();
          await record(trx, { status });
          await notify(trx);
        });
        return { action, message: t('staff.result.enabled', { status: statusWord(status) }) };
      }
      case 'remove_second_factors': {
        // ADM-03: the identity check made is recorded first, with who made it, in the same
        // transaction as the removal; without one nothing is removed.
        const check = cleanText((input.identityCheck ?? '').trim(), CHECK_MAX + 1) ?? '';
        if (check.length < CHECK_MIN || check.length > CHECK_MAX)
          throw new AppError('validation_failed', undefined, {
            fields: [
              {
                field: 'identityCheck',
                code: 'identity_check',
                message: t('staff.result.check_needed', { min: CHECK_MIN, max: CHECK_MAX }),
              },
            ],
          });
        let removed = 0;
        await d.db.transaction().execute(async (trx) => {
          await d.audit.record(
            'staff.identity_checked',
            ctx,
            {
              accountId: account.id,
              actorId: viewer.auth.account.id,
              details: { check, checkedBy: viewer.auth.account.username, role: ROLE_NAME[role], reason: input.reason },
            },
            trx,
          );
          const r = await trx.deleteFrom('second_factors').where('account_id', '=', account.id).executeTakeFirst();
          await trx.deleteFrom('mfa_recovery_codes').where('account_id', '=', account.id).execute();
          removed = Number(r.numDeletedRows);
          const ended = (await endAllAccess(d, account.id, trx, 'second_factor_removed')).sessions;
          await record(trx, { count: removed, ended, check });
          await notify(trx);
        });
        return { action, count: removed, message: t('staff.result.factors_removed', { count: removed }) };
      }
    }
  }

  /** ADM-09: what was done, when, by which role; never a secret, never the staff member's name. */
  private async notify(trx: Kysely<Database>, account: Account, action: StaffAction, role: ConsoleRole): Promise<void> {
    if (!account.email) return;
    const brand = await this.d.organizations.brandFor(account, trx);
    // In the account's own language, not the staff member's.
    const mail = withLocale(account.locale, () =>
      renderMail(brand, {
        subject: t('staff.mail.subject'),
        title: t('staff.mail.title'),
        lines: [t(ACTIONS[action].what, { time: formatTime(this.d.clock.now()), who: t(ROLE_LABEL_KEY[role]) })],
        after: [
          t('staff.mail.see_settings', { url: `${this.d.config.publicUrl}/settings` }),
          t('staff.mail.contact', { support: supportName(brand) }),
        ],
      }),
    );
    await this.d.outbox.send(trx, { channel: 'email', kind: `staff_${action}`, to: account.email, ...mail });
  }
}
