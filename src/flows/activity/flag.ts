import type { Kysely } from 'kysely';
import type { RequestContext } from '../../context.ts';
import { formatDuration, formatTime, renderMail } from '../../delivery/templates.ts';
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
    const mail = renderMail(d.brand, {
      subject: 'Unusual activity on your account',
      title: 'We noticed unusual activity on your account',
      lines: [
        `The password of your account ${account.username} was changed or reset ${n} times within ${formatDuration(rule.windowMs)} (last on ${formatTime(now)}).`,
        'That can mean someone else has access to your email or your account, so we have asked our staff to review it. You can keep using your account.',
      ],
      after: [
        `If all of these changes were yours, there is nothing to do. If not, contact ${d.brand.supportContact} right away.`,
      ],
    });
    await d.outbox.send(trx, { channel: 'email', kind: 'account_flagged', to: account.email, ...mail });
  }
  return true;
}
