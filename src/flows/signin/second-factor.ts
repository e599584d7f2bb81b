import type { RequestContext } from '../../context.ts';
import type { Method } from '../../methods/registry.ts';
import type { Amr } from '../../security/amr.ts';

/**
 * A second factor (MFA-01..MFA-05): a folder under src/methods/ plus one line in the composition
 * root's SECOND_FACTORS list. The sign-in flow's second-factor step (after the password, an
 * external account, …; BF-05) offers every factor `enrolled` answers true for, hands the client
 * what `begin` returns, and calls `verify` with the client's answer. `D` is what the flow hands
 * its factors, never the whole container. An email code is never one (OTP-06).
 */
export interface SecondFactorMethod<D = never> extends Method<D> {
  /** what a session that passed this factor records (withSecondFactor adds `mfa`) */
  amr: readonly Amr[];
  /** whether the account can use this factor now (a confirmed TOTP, a passkey, unused codes) */
  enrolled(d: D, accountId: string): Promise<boolean>;
  /**
   * What the client needs to answer (passkey: request options whose challenge is bound to the
   * half-finished sign-in `pendingId`); undefined for typed codes.
   */
  begin?(d: D, accountId: string, pendingId: string, ctx: RequestContext): Promise<Record<string, unknown> | undefined>;
  /**
   * Checks the answer (the `code`, `recoveryCode` or `webauthn` field of the request). Throws an
   * AppError when it is wrong; returns what to tell the user afterwards (e.g. codes remaining).
   */
  verify(
    d: D,
    accountId: string,
    answer: unknown,
    pendingId: string,
    ctx: RequestContext,
  ): Promise<{ notice?: Record<string, unknown> } | undefined>;
}
