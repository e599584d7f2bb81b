import type { Kysely } from 'kysely';
import type { Kernel } from '../../kernel.ts';
import {
  accountGrants,
  accountOpSessions,
  clientsWithBackchannel,
  deleteAccountPayloads,
} from '../../store/oidc-store.ts';
import type { Database } from '../../store/schema.ts';

/** What this module uses of the container the composition root builds. */
export type AppAccessDeps = Pick<Kernel, 'clock' | 'outbox'>;

export const BACKCHANNEL_JOB = 'op_backchannel_logout';

export type AppAccessRevocationReason =
  | 'password_reset'
  | 'password_change'
  | 'sign_out_everywhere'
  | 'account_disabled'
  | 'second_factor_removed'
  | 'user';

/**
 * OP-04, the one place: revokes every grant of the account (with its codes, access and refresh
 * tokens) and ends its provider sessions, then queues a back-channel logout token for each
 * client that had one and registered a URI. Runs in the caller's transaction (`db`), so the
 * revocation and the queued logouts commit with the change that caused them; delivery goes
 * through the outbox (retries), never in the response. Returns how many clients lost access.
 */
export async function revokeAppAccess(
  d: AppAccessDeps,
  db: Kysely<Database>,
  accountId: string,
  reason: AppAccessRevocationReason,
): Promise<number> {
  const grants = await accountGrants(db, accountId, 0);
  const sessions = await accountOpSessions(db, accountId);
  // client id → the provider session id (`sid`) it knows, when any
  const clients = new Map<string, string | undefined>();
  const grantIds = grants.map((g) => g.grantId);
  for (const g of grants) if (g.clientId) clients.set(g.clientId, undefined);
  for (const s of sessions) {
    const authorizations = (
      JSON.parse(s.payload) as { authorizations?: Record<string, { sid?: string; grantId?: string }> }
    ).authorizations;
    for (const [clientId, a] of Object.entries(authorizations ?? {})) {
      clients.set(clientId, a.sid);
      if (a.grantId) grantIds.push(a.grantId);
    }
  }
  await deleteAccountPayloads(db, accountId, grantIds);
  for (const clientId of await clientsWithBackchannel(db, [...clients.keys()]))
    await d.outbox.job(db, {
      kind: BACKCHANNEL_JOB,
      payload: { clientId, sub: accountId, sid: clients.get(clientId), reason },
      label: `back-channel logout for client ${clientId}`,
    });
  return clients.size;
}
