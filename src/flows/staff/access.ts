import type { Kysely } from 'kysely';
import type { Kernel } from '../../kernel.ts';
import { endPendingSignIns } from '../../store/pending-sign-ins.ts';
import type { Database } from '../../store/schema.ts';
import { forgetTrustedDevices } from '../../store/trusted-devices.ts';
import { type AppAccessRevocationReason, revokeAppAccess } from '../apps/revoke.ts';
import type { SessionService } from '../sessions/service.ts';

/** What this module uses of the container the composition root builds. */
export type AccessDeps = Pick<Kernel, 'db' | 'clock' | 'outbox'> & { sessions: Pick<SessionService, 'endAll'> };

/**
 * THE one place that ends all of an account's access at once: every session on every process
 * (sessions live in the database, and a disabled account's session is refused on its next
 * request anyway, ADM-06). Disabling an account and removing its second factors call this, in
 * the transaction of their change.
 *
 * Apps lose access here too (OP-04): every grant, refresh and access token of the account is
 * revoked and each app with a back-channel logout URI is told, so no caller has to know about it.
 *
 * A half-finished sign-in (first factor passed) could otherwise still be finished, and a
 * remembered browser would skip the second factor that staff just removed: both end here too.
 */
export async function endAllAccess(
  d: AccessDeps,
  accountId: string,
  trx: Kysely<Database> = d.db,
  reason: AppAccessRevocationReason = 'account_disabled',
): Promise<{ sessions: number; apps: number }> {
  const sessions = await d.sessions.endAll(accountId, trx);
  await endPendingSignIns(trx, accountId, d.clock.now());
  await forgetTrustedDevices(trx, accountId);
  const apps = await revokeAppAccess(d, trx, accountId, reason);
  return { sessions, apps };
}
