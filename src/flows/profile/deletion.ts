import type { Kysely } from 'kysely';
import { type RequestContext, systemContext } from '../../context.ts';
import { formatTime, renderMail } from '../../delivery/templates.ts';
import { AppError } from '../../errors.ts';
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
        fields: [{ field: 'confirm', code: 'mismatch', message: 'Type your username to confirm the deletion.' }],
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
        const mail = renderMail(brand, {
          subject: 'Your account will be deleted',
          title: 'Your account will be deleted',
          lines: [
            `On ${formatTime(now)} you asked to delete your account ${a.username}. Every session was signed out.`,
            `On ${formatTime(dueAt)} your account and its data will be removed for good.`,
            'Changed your mind? Sign in before then and the deletion is cancelled.',
          ],
          action: { label: 'Sign in to keep your account', url: `${d.config.publicUrl}/login` },
          after: [
            `Wasn't you? Sign in (or reset your password at ${d.config.publicUrl}/forgot-password) to cancel it, and contact ${brand.supportContact}.`,
          ],
        });
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
        const mail = renderMail(brand, {
          subject: 'Your account will not be deleted',
          title: 'Account deletion cancelled',
          lines: [
            `You signed in to ${account.username}, so the deletion you asked for was cancelled. Your account stays as it was.`,
          ],
          after: [`Wasn't you? Change your password and contact ${brand.supportContact}.`],
        });
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
