import type { RequestContext } from '../../context.ts';
import type { Kernel } from '../../kernel.ts';
import type { Method, MethodRegistry } from '../../methods/registry.ts';
import type { Amr } from '../../security/amr.ts';

/** What the sign-in flow hands its second factors: the plain infrastructure, never the whole container. */
export type SecondFactorDeps = Kernel;

/** The request field that carries a factor's answer at `POST /api/v1/sessions/second-factor`. */
export type AnswerField = 'code' | 'recoveryCode' | 'webauthn';

/**
 * A second factor (MFA-01..MFA-05): a folder under src/methods/ plus one line in the composition
 * root's SECOND_FACTORS list. The sign-in flow's second-factor step (after the password, an
 * external account, …; BF-05) offers every factor `enrolled` answers true for, hands the client
 * what `begin` returns, and calls `verify` with the client's answer. An email code is never one
 * (OTP-06).
 */
export interface SecondFactorMethod<D = SecondFactorDeps> extends Method<D> {
  /** what a session that passed this factor records (withSecondFactor adds `mfa`) */
  amr: readonly Amr[];
  /** which request field carries this factor's answer; one factor per field */
  answer: AnswerField;
  /**
   * A backup (recovery codes): offered next to a real factor, but on its own it never makes an
   * account need the step, and it does not count as "a factor" for MFA-06/MFA-08.
   */
  backup?: boolean;
  /**
   * `verify` reads and writes only through `d.db` (no transaction or audit of its own), so the
   * step may run it inside its transaction, `d.db` then being that transaction (TOTP).
   */
  inTransaction?: boolean;
  /** whether the account can use this factor now (a confirmed TOTP, a passkey, unused codes) */
  enrolled(d: D, accountId: string): Promise<boolean>;
  /**
   * What the client needs to answer (passkey: request options whose challenge is bound to the
   * half-finished sign-in `pendingId`); undefined for typed codes.
   */
  begin?(d: D, accountId: string, pendingId: string, ctx: RequestContext): Promise<Record<string, unknown> | undefined>;
  /**
   * HTML the step page /login/second-factor shows for this factor's offer (already escaped), for
   * factors that need a script (a passkey button). Typed codes (`code`, `recoveryCode`) get the
   * page's own forms, which work without JavaScript.
   */
  pageFragment?(offer: FactorOffer): string;
  /**
   * Checks the answer (the value of its `answer` field). Throws an AppError (`invalid_code`) when
   * it is wrong; it must use up what it accepted atomically (a TOTP step, a recovery code), so two
   * processes never both accept one answer. Returns what to tell the user afterwards (e.g. how
   * many recovery codes remain).
   */
  verify(
    d: D,
    accountId: string,
    answer: unknown,
    pendingId: string,
    ctx: RequestContext,
  ): Promise<{ notice?: Record<string, unknown> } | undefined>;
}

export type SecondFactors = MethodRegistry<SecondFactorMethod>;

/** One factor offered at the step: its id as `type`, its label, and what `begin` returned. */
export type FactorOffer = { type: string; label: string } & Record<string, unknown>;
