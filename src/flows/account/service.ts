import type { RequestContext } from '../../context.ts';
import { AppError } from '../../errors.ts';
import { t } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import { isoTime } from '../../security/clock.ts';
import { normalizePassword } from '../../security/password-policy.ts';
import { findAccount } from '../../store/accounts.ts';
import type { Authenticated } from '../../web/auth.ts';
import type { SessionService } from '../sessions/service.ts';
import { applyPasswordChange, type PasswordChangedDeps } from './password-changed.ts';

/** What this module uses of the container the composition root builds. */
export type AccountDeps = Pick<Kernel, 'config' | 'db' | 'hasher' | 'policy' | 'audit' | 'guard'> & {
  sessions: SessionService;
} & PasswordChangedDeps;

export interface ChangePasswordInput {
  currentPassword: string;
  newPassword: string;
  newPasswordConfirm?: string;
}

/** The signed-in user's own account: profile view and password change. */
export class AccountService {
  constructor(private readonly d: AccountDeps) {}

  profile(auth: Authenticated) {
    const a = auth.account;
    return {
      id: a.id,
      username: a.username,
      email: a.email,
      status: a.status,
      displayName: a.display_name,
      hasPassword: a.password_hash !== null,
      createdAt: isoTime(a.created_at),
      endpoint: this.d.config.publicUrl,
    };
  }

  /**
   * PWD-05: the current password is required and wrong tries are throttled; the new one passes
   * the policy. All other sessions end and the current one gets a new token (SES-06), which is
   * returned so the caller can set the new cookie.
   *
   * The current password is a password guess like a sign-in (BF-01, BF-06): the new one is
   * checked first, so only a change that would go through costs a guess; the guess is counted
   * against the account's lockout before its hash runs, and while the account is locked the
   * dummy hash is spent instead, so a stolen session cannot keep guessing past the lockout.
   */
  async changePassword(
    auth: Authenticated,
    input: ChangePasswordInput,
    ctx: RequestContext,
  ): Promise<{ token: string }> {
    const d = this.d;
    await d.guard.limit('password_change', ctx, auth.account.id);
    if (input.newPasswordConfirm !== undefined && input.newPasswordConfirm !== input.newPassword)
      throw new AppError('validation_failed', undefined, {
        fields: [{ field: 'newPasswordConfirm', code: 'mismatch', message: t('account.error.mismatch') }],
      });
    const account = await findAccount(d.db, auth.account.id);
    if (!account) throw new AppError('unauthorized');
    const reasons = d.policy.check(input.newPassword, {
      username: account.username,
      email: account.email,
      productName: d.config.productName,
    });
    if (reasons.length) throw new AppError('password_rejected', undefined, { reasons });
    const current = normalizePassword(input.currentPassword);
    let ok = false;
    if (account.password_hash) {
      const key = `account:${account.id}`;
      const attempt = await d.guard.signInReserve(key, account.id, ctx);
      if (attempt.locked) await d.hasher.burn(current);
      else ok = await d.hasher.verify(account.password_hash, current);
      // A right password ends the run in applyPasswordChange below (BF-03); a wrong one keeps it.
      if (!ok) await d.guard.signInFailed(key, account.id, ctx, attempt);
    }
    if (!ok) {
      await d.audit.record('password.change_failed', ctx, {
        accountId: account.id,
        details: { reason: 'wrong_current' },
      });
      throw new AppError('current_password_wrong', account.password_hash ? undefined : t('account.error.no_password'));
    }
    const hash = await d.hasher.hash(normalizePassword(input.newPassword));
    return d.db.transaction().execute(async (trx) => {
      await applyPasswordChange(d, trx, account, hash, 'change', ctx, auth.session.id);
      const token = await d.sessions.rotate(auth.session, trx);
      return { token };
    });
  }
}
