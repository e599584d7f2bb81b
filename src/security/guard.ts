import type { Kysely } from 'kysely';
import type { RequestContext } from '../context.ts';
import type { Database } from '../store/schema.ts';

// The abuse-protection seam every flow calls (rate limits, lockout, CAPTCHA step-up). Flows ask
// the guard; they never count attempts themselves, so every flow and method gets one policy.

export type GuardedAction =
  | 'sign_in'
  | 'registration'
  | 'activation'
  | 'reset_request'
  | 'support_request'
  | 'reset_complete'
  | 'otp_send'
  | 'otp_verify'
  | 'password_change'
  | 'second_factor'
  | 'profile_change';

export interface SignInGate {
  /** the account is locked: the attempt must fail exactly like a wrong password (ENUM-01) */
  locked: boolean;
  /** a CAPTCHA must accompany this attempt (BF-04 step-up) */
  captchaRequired: boolean;
  /** failures are on record in the account's (or unknown identifier's) run: a success has something to clear */
  failuresCounted: boolean;
}

/** An attempt counted before its password is checked (BF-06): `failures` is its place in the run. */
export interface SignInAttempt extends SignInGate {
  failures: number;
}

export interface Guard {
  /** Throws AppError('rate_limited') when the client or the subject has done this too often. */
  limit(action: GuardedAction, ctx: RequestContext, subject?: string): Promise<void>;
  /**
   * Quota that must not answer differently (e.g. reset mails per account per hour, REC-06):
   * returns false when the quota is used up, and the caller silently does nothing. `exhausted`
   * runs for the first refusal of each window only (to audit it once, not per request).
   */
  allow(
    action: 'reset_mail' | 'otp_message' | 'lockout_notice' | 'sms_budget',
    subject: string,
    exhausted?: () => Promise<void>,
  ): Promise<boolean>;
  /**
   * Where the next attempt would stand, counting nothing (the sign-in page asks it to show the
   * CAPTCHA up front). `accountId` is the account the identifier names (null: none), when the
   * caller has already looked it up; left out, the guard looks it up itself.
   */
  signInGate(identifierKey: string, ctx: RequestContext, accountId?: string | null): Promise<SignInGate>;
  /**
   * Counts a password attempt toward the CAPTCHA step-up before anything is checked (BF-04,
   * BF-06), per identifier as typed and per IP; true when this attempt must carry a CAPTCHA.
   */
  signInStepUp(identifierKey: string, ctx: RequestContext): Promise<boolean>;
  /**
   * Counts the attempt as a failure for the account (or the unknown identifier) before its
   * password is checked, atomically across processes (BF-06); says whether it is locked.
   */
  signInReserve(identifierKey: string, accountId: string | null, ctx: RequestContext): Promise<SignInAttempt>;
  /** `attempt`: the reservation this failure was counted by; without one it is counted now. */
  signInFailed(
    identifierKey: string,
    accountId: string | null,
    ctx: RequestContext,
    attempt?: SignInAttempt,
  ): Promise<void>;
  /** Ends the account's run of failures and gives back the attempt's step-up counts. */
  signInSucceeded(
    identifierKey: string,
    accountId: string,
    ctx: RequestContext,
    attempt?: SignInAttempt,
  ): Promise<void>;
  /**
   * A password reset or change ends any sign-in lockout of the account (BF-03), inside the
   * change's transaction `trx` when given (the lockout lives in the database, AV-03).
   */
  passwordChanged?(accountId: string, trx?: Kysely<Database>): Promise<void>;
  /** Resolves once the work done after a request's answer (a lockout's audit row and notice) is done. */
  settled?(): Promise<void>;
  /** Dependencies the guard runs without for now (e.g. `redis`: counting per process meanwhile). */
  degraded?(): string[];
  close?(): Promise<void>;
}

/** No limits at all: only for unit tests of flows that do not exercise abuse protection. */
export const noGuard: Guard = {
  limit: async () => {},
  allow: async () => true,
  signInGate: async () => ({ locked: false, captchaRequired: false, failuresCounted: false }),
  signInStepUp: async () => false,
  signInReserve: async () => ({ locked: false, captchaRequired: false, failuresCounted: false, failures: 0 }),
  signInFailed: async () => {},
  signInSucceeded: async () => {},
};
