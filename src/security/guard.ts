import type { RequestContext } from '../context.ts';

// The abuse-protection seam every flow calls (rate limits, lockout, CAPTCHA step-up). Flows ask
// the guard; they never count attempts themselves, so every flow and method gets one policy.

export type GuardedAction =
  | 'sign_in'
  | 'registration'
  | 'activation'
  | 'reset_request'
  | 'reset_complete'
  | 'otp_send'
  | 'otp_verify'
  | 'password_change';

export interface SignInGate {
  /** the account is locked: the attempt must fail exactly like a wrong password (ENUM-01) */
  locked: boolean;
  /** a CAPTCHA must accompany this attempt (BF-04 step-up) */
  captchaRequired: boolean;
  /** failures are on record for the account or identifier: a success has something to clear */
  failuresCounted: boolean;
}

export interface Guard {
  /** Throws AppError('rate_limited') when the client or the subject has done this too often. */
  limit(action: GuardedAction, ctx: RequestContext, subject?: string): Promise<void>;
  /**
   * Quota that must not answer differently (e.g. reset mails per account per hour, REC-06):
   * returns false when the quota is used up, and the caller silently does nothing. `exhausted`
   * runs for the first refusal of each window only (to audit it once, not per request).
   */
  allow(action: 'reset_mail' | 'otp_message' | 'lockout_notice' | 'sms_budget', subject: string, exhausted?: () => Promise<void>): Promise<boolean>;
  /**
   * Where an attempt stands before its password is checked. `accountId` is the account the
   * identifier names (null: none), when the caller has already looked it up; left out, the
   * guard looks it up itself.
   */
  signInGate(identifierKey: string, ctx: RequestContext, accountId?: string | null): Promise<SignInGate>;
  signInFailed(identifierKey: string, accountId: string | null, ctx: RequestContext): Promise<void>;
  /** `gate` is what signInGate answered for this attempt: with no failures on record there is nothing to clear. */
  signInSucceeded(identifierKey: string, accountId: string, ctx: RequestContext, gate?: SignInGate): Promise<void>;
  /** A password reset or change ends any sign-in lockout of the account (BF-03). */
  passwordChanged?(accountId: string): Promise<void>;
  close?(): Promise<void>;
}

/** No limits at all: only for unit tests of flows that do not exercise abuse protection. */
export const noGuard: Guard = {
  limit: async () => {},
  allow: async () => true,
  signInGate: async () => ({ locked: false, captchaRequired: false, failuresCounted: false }),
  signInFailed: async () => {},
  signInSucceeded: async () => {},
};
