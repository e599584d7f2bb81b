import type { Kysely } from 'kysely';
import { type RequestContext, systemContext } from '../../context.ts';
import { formatTime, renderMail, supportName } from '../../delivery/templates.ts';
import { AppError } from '../../errors.ts';
import { currentLocale, t, withLocale } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import { usernameKey } from '../../security/identifiers.ts';
import { clearDeletion, markDeletion, purgeIfDue } from '../../store/account-deletion.ts';
import type { Account } from '../../store/accounts.ts';
import type { Database } from '../../store/schema.ts';
import type { Authenticated } from '../../web/auth.ts';
import type { OrganizationService } from '../organizations/service.ts';
import type { SessionService } from '../sessions/service.ts';

/** What this module uses of the container the composition root builds. */
export type DeletionDeps = Pick<Kernel, 'config' | 'db' | 'clock' | 'outbox' | 'worker' | 'audit'> & {
  sessions: SessionService;
  organizations: OrganizationService;
};

/** The outbox job that removes the account's data once its grace period is over. */
export const PURGE_JOB = 'account.purge';

/**
 * Self-service account deletion. Asking needs a recent sign-in (SES-07) and the username typed
 * again; every session ends at once; the data stays for LATCHKEY_DELETION_GRACE, during which
 * signing in cancels the deletion (a stolen session cannot destroy the account behind the owner's
 * back). Then an outbox job, due at the end of the grace period, removes it (so it survives
 * restarts and runs on one process only).
 */
export class AccountDeletion {
  constructor(private readonly d: DeletionDeps) {
    d.worker.registerJob(PURGE_JOB, async (payload) => {
      await this.purge(String(payload.accountId ?? ''));
    });
  }

  async request(auth: Authenticated, input: { confirm: string }, ctx: RequestContext): Promise<{ dueAt: number }> {
    const d = this.d;
    d.sessions.requireRecentAuth(auth.session);
    const typed = String(input.confirm ?? '').slice(0, 256);
    if (!typed || usernameKey(typed) !== auth.account.username_key)
      throw new AppError('validation_failed', undefined, {
        fields: [{ field: 'confirm', code: 'mismatch', message: t('profile.error.type_username') }],
      });
    const now = d.clock.now();
    const dueAt = now + d.config.deletionGrace;
    const a = auth.account;
    await d.db.transaction().execute(async (trx) => {
      await markDeletion(trx, a.id, now, dueAt);
      const ended = await d.sessions.endAll(a.id, trx);
      await d.outbox.job(trx, { kind: PURGE_JOB, payload: { accountId: a.id }, dueAt, label: 'account deletion' });
      await d.audit.record('account.deletion_requested', ctx, { accountId: a.id, details: { signedOut: ended } }, trx);
      if (a.email) {
        const brand = await d.organizations.brandFor(a, trx);
        const mail = withLocale(a.locale ?? currentLocale(), () =>
          renderMail(brand, {
            subject: t('profile.mail.deletion_title'),
            title: t('profile.mail.deletion_title'),
            lines: [
              t('profile.mail.deletion_asked', { time: formatTime(now), username: a.username }),
              t('profile.mail.deletion_due', { time: formatTime(dueAt) }),
              t('profile.mail.deletion_changed_mind'),
            ],
            action: { label: t('profile.mail.deletion_action'), url: `${d.config.publicUrl}/login` },
            after: [
              t('profile.mail.deletion_not_you', {
                url: `${d.config.publicUrl}/forgot-password`,
                support: supportName(brand),
              }),
            ],
          }),
        );
        await d.outbox.send(trx, { channel: 'email', kind: 'deletion_requested', to: a.email, ...mail });
      }
    });
    return { dueAt };
  }

  /**
   * Called where every sign-in issues its session (SignInService.complete): a pending deletion
   * is cancelled, audited and mailed. True when one was.
   */
  async cancelOnSignIn(account: Account, ctx: RequestContext, db: Kysely<Database> = this.d.db): Promise<boolean> {
    if (account.deletion_due_at === null) return false;
    const d = this.d;
    // inside the caller's transaction when it has one (the second-factor step issues its session in one)
    const inTransaction = <T>(work: (trx: Kysely<Database>) => Promise<T>) =>
      db.isTransaction ? work(db) : db.transaction().execute(work);
    return inTransaction(async (trx) => {
      if (!(await clearDeletion(trx, account.id, d.clock.now()))) return false;
      await d.audit.record('account.deletion_cancelled', ctx, { accountId: account.id }, trx);
      if (account.email) {
        const brand = await d.organizations.brandFor(account, trx);
        const mail = withLocale(account.locale ?? currentLocale(), () =>
          renderMail(brand, {
            subject: t('profile.mail.kept_subject'),
            title: t('profile.mail.kept_title'),
            lines: [t('profile.mail.kept_line', { username: account.username })],
            after: [t('profile.mail.kept_not_you', { support: supportName(brand) })],
          }),
        );
        await d.outbox.send(trx, { channel: 'email', kind: 'deletion_cancelled', to: account.email, ...mail });
      }
      return true;
    });
  }

  /** The job: removes the account's data if its deletion is (still) due; a cancelled one is left alone. */
  async purge(accountId: string): Promise<boolean> {
    const d = this.d;
    if (!accountId) return false;
    return d.db.transaction().execute(async (trx) => {
      const gone = await purgeIfDue(trx, accountId, d.clock.now());
      if (!gone) return false;
      await d.audit.record('account.deleted', systemContext('deletion'), { accountId }, trx);
      return true;
    });
  }
}
