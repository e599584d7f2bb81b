import type { Account } from '../../store/accounts.ts';
import type { RecoveryMethod, RecoveryMethodDeps } from './method.ts';

/** What this module uses of the container the composition root builds. */
export type RecoverySelectorDeps = Pick<RecoveryMethodDeps, 'organizations' | 'recoveryMethods'>;

/**
 * Which registered methods answer a request for `account`: those its organization enables; of
 * them the one the user picked (`requested`), or with no pick (API clients of the email issue,
 * "Send Reset Email" on /settings) the ones marked `byDefault`; and only those that can actually
 * reach the account.
 */
export async function methodsFor(
  d: RecoverySelectorDeps,
  account: Account,
  requested?: string,
): Promise<RecoveryMethod[]> {
  const settings = await d.organizations.recoveryFor(account);
  const enabled = d.recoveryMethods.all().filter((m) => settings.methods.includes(m.id));
  const chosen = requested ? enabled.filter((m) => m.id === requested) : enabled.filter((m) => m.byDefault);
  return chosen.filter((m) => m.canDeliver(account));
}
