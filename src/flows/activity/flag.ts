import type { Kysely } from 'kysely';
import type { RequestContext } from '../../context.ts';
import { formatDuration, formatTime, renderMail, supportName } from '../../delivery/templates.ts';
import { currentLocale, t, withLocale } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import type { Account } from '../../store/accounts.ts';
import { countPasswordChangesSince } from '../../store/password-changes.ts';
import { openReviewItem } from '../../store/review-items.ts';
import type { Database } from '../../store/schema.ts';

/** What this module uses of the container the composition root builds. */
export type ActivityFlagDeps = Pick<Kernel, 'config' | 'db' | 'clock' | 'random' | 'brand' | 'outbox' | 'audit'>;

export const FLAG_REASON = 'possibly compromised';

/**
 * LOG-04: more completed password resets/changes than the rule allows within its window flag the
 * account for staff review. Only completed changes count (the `password_changes` rows written by
 * applyPasswordChange), never mere reset requests. The flag does not lock anyone out; it is set
 * once (until staff resolve its review item), audited, queued for review, and the owner is told.
 */
export async function flagRepeatedPasswordChanges(
  d: ActivityFlagDeps,
  trx: Kysely<Database>,
  account: Account,
  ctx: RequestContext,
): Promise<boolean> {
  const rule = d.config.limits.flagResets;
  const now = d.clock.now();
  const n = await countPasswordChangesSince(trx, account.id, now - rule.windowMs);
  if (n <= rule.points) return false;
  const reason = `${FLAG_REASON}: ${n} password resets or changes within ${formatDuration(rule.windowMs)}`;
  const flagged = await trx
    .updateTable('accounts')
    .set({ flagged_at: now, flag_reason: reason, updated_at: now })
    .where('id', '=', account.id)
    .where('flagged_at', 'is', null)
    .executeTakeFirst();
  if (Number(flagged.numUpdatedRows) !== 1) return false;
  await d.audit.record(
    'account.flagged',
    ctx,
    { accountId: account.id, details: { reason: FLAG_REASON, changes: n } },
    trx,
  );
  // The staff review queue is where the flag gets its human look.
  await openReviewItem(d, { kind: 'flagged_resets', accountId: account.id, reason, details: { changes: n } }, trx);
  if (account.email) {
    // The owner's own change or reset set it off: the account's language, else the request's.
    const mail = withLocale(account.locale ?? currentLocale(), () =>
      renderMail(d.brand, {
        subject: t('activity.mail.flag_subject'),
        title: t('activity.mail.flag_title'),
        lines: [
          t('activity.mail.flag_changes', {
            username: account.username,
            count: n,
            window: formatDuration(rule.windowMs),
            time: formatTime(now),
          }),
          t('activity.mail.flag_review'),
        ],
        after: [t('activity.mail.flag_not_you', { support: supportName(d.brand) })],
      }),
    );
    await d.outbox.send(trx, { channel: 'email', kind: 'account_flagged', to: account.email, ...mail });
  }
  return true;
}
