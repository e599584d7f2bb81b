import type { Kysely } from 'kysely';
import type { RequestContext } from '../../context.ts';
import { formatTime, renderMail, supportName } from '../../delivery/templates.ts';
import { currentLocale, t, withLocale } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import { newId } from '../../security/random.ts';
import type { Account } from '../../store/accounts.ts';
import { insertPasswordChange } from '../../store/password-changes.ts';
import { endPendingSignIns } from '../../store/pending-sign-ins.ts';
import { voidAccountCodes } from '../../store/recovery-codes.ts';
import type { Database } from '../../store/schema.ts';
import { forgetTrustedDevices } from '../../store/trusted-devices.ts';
import { type ActivityFlagDeps, flagRepeatedPasswordChanges } from '../activity/flag.ts';
import { revokeAppAccess } from '../apps/revoke.ts';
import type { SessionService } from '../sessions/service.ts';

/** What this module uses of the container the composition root builds. */
export type PasswordChangedDeps = Pick<
  Kernel,
  'config' | 'clock' | 'random' | 'brand' | 'outbox' | 'audit' | 'guard'
> & { sessions: SessionService } & ActivityFlagDeps;

export type PasswordChangeKind = 'change' | 'reset' | 'admin_reset';

/**
 * What every password change does, whichever path set it (settings, reset link, typed code, OTP,
 * staff-assisted): store the new hash, end every session but `keepSessionId` (SES-06, REC-09)
 * and every app's grant (OP-04),
 * cancel every outstanding reset token or code, count the change (LOG-04), and queue the
 * "your password was changed" notice (LOG-03). Runs inside the caller's transaction so either
 * all of it happens or none of it.
 */
export async function applyPasswordChange(
  d: PasswordChangedDeps,
  trx: Kysely<Database>,
  account: Account,
  passwordHash: string,
  kind: PasswordChangeKind,
  ctx: RequestContext,
  keepSessionId?: string,
): Promise<void> {
  const now = d.clock.now();
  await trx
    .updateTable('accounts')
    .set({ password_hash: passwordHash, password_changed_at: now, updated_at: now })
    .where('id', '=', account.id)
    .execute();
  const ended = await d.sessions.endAll(account.id, trx, keepSessionId);
  // OP-04: apps lose their grants and tokens too, and hear so by back-channel logout.
  const apps = await revokeAppAccess(d, trx, account.id, kind === 'change' ? 'password_change' : 'password_reset');
  await voidAccountCodes(trx, account.id, now);
  // A new password ends remembered browsers and half-finished sign-ins: the second factor is
  // asked again at the next sign-in, on every browser (REC-08).
  await forgetTrustedDevices(trx, account.id);
  await endPendingSignIns(trx, account.id, now);
  await insertPasswordChange(trx, { id: newId(d.random), account_id: account.id, kind, at: now });
  await d.audit.record(
    kind === 'change' ? 'password.changed' : 'password.reset_completed',
    ctx,
    {
      accountId: account.id,
      details: { kind, signedOut: ended, appsRevoked: apps },
    },
    trx,
  );
  // LOG-04: repeated completed changes flag the account; BF-03: the new password ends any lockout.
  await flagRepeatedPasswordChanges(d, trx, account, ctx);
  await d.guard.passwordChanged?.(account.id, trx);
  if (account.email) {
    // The owner's own change or reset speaks the request's language; a staff reset the account's.
    const locale = kind === 'admin_reset' ? account.locale : (account.locale ?? currentLocale());
    const mail = withLocale(locale, () =>
      renderMail(d.brand, {
        subject: t('account.mail.subject'),
        title: t('account.mail.subject'),
        lines: [
          t('account.mail.line', {
            username: account.username,
            kind: kind === 'change' ? 'change' : 'reset',
            time: formatTime(now),
          }),
          t('account.mail.browser', {
            browser: ctx.userAgent ? ctx.userAgent.slice(0, 160) : t('account.mail.unknown'),
          }),
          t('account.mail.ip', { ip: ctx.ip || t('account.mail.unknown') }),
          t('account.mail.signed_out'),
        ],
        after: [
          t('account.mail.not_you', {
            url: `${d.config.publicUrl}/forgot-password`,
            support: supportName(d.brand),
          }),
        ],
      }),
    );
    await d.outbox.send(trx, { channel: 'email', kind: 'password_changed', to: account.email, ...mail });
  }
}
