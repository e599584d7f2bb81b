import type { Kysely } from 'kysely';
import type { RequestContext } from '../../context.ts';
import {
  MAX_CODE_ATTEMPTS,
  type RecoveryMethod,
  type RecoveryMethodDeps,
  type RecoverySettings,
} from '../../flows/recovery/method.ts';
import { keyedHash } from '../../security/hashing.ts';
import { DIGITS, newCode, newId } from '../../security/random.ts';
import type { Account } from '../../store/accounts.ts';
import { insertRecoveryCode } from '../../store/recovery-codes.ts';
import type { Database } from '../../store/schema.ts';

// What email and SMS codes share: digits from the CSPRNG (OTP-01), a keyed hash bound to the
// flow and account (OTP-03, DESIGN principle 5), the organization's lifetime, length, attempts.

declare module '../../flows/recovery/method.ts' {
  interface RecoverySettings {
    otpLength: number;
    maxAttempts: number;
    maxResends: number;
  }
}

/** What a code method adds to the contract, for the shared resend and code page. */
export interface OtpDelivery {
  /** the label of the code field on the code page */
  codeLabel: string;
  /** the code's lifetime under the organization's settings, in ms */
  ttlMs(s: RecoverySettings): number;
  /** where a resent code goes now, or none */
  target(d: RecoveryMethodDeps, account: Account): string | undefined;
  /** the message caps a resend must pass (OTP-05, REC-06) */
  allowed(d: RecoveryMethodDeps, account: Account, to: string, ctx: RequestContext): Promise<boolean>;
  send(
    d: RecoveryMethodDeps,
    trx: Kysely<Database>,
    account: Account,
    to: string,
    code: string,
    expiresAt: number,
  ): Promise<void>;
}

export interface OtpMethod extends RecoveryMethod {
  otp: OtpDelivery;
}

export const isOtpMethod = (m: RecoveryMethod | undefined): m is OtpMethod => Boolean(m && 'otp' in m);

export function otpHash(
  d: RecoveryMethodDeps,
  row: { flow_id: string | null; account_id: string },
  code: string,
): string {
  return keyedHash(d.secret, `otp:${row.flow_id ?? ''}:${row.account_id}`, code.replace(/[\s-]/g, ''));
}

export function newOtp(d: RecoveryMethodDeps, settings: RecoverySettings): string {
  return newCode(d.random, DIGITS, settings.otpLength);
}

/**
 * The recovery flow lets a code take MAX_CODE_ATTEMPTS wrong tries; an organization allowing
 * fewer starts its codes with the difference already spent, so the flow's one atomic counter
 * enforces both.
 */
export const spentAttempts = (s: RecoverySettings) => Math.max(0, MAX_CODE_ATTEMPTS - s.maxAttempts);

export async function insertOtp(
  d: RecoveryMethodDeps,
  trx: Kysely<Database>,
  method: Pick<OtpMethod, 'id' | 'otp'>,
  account: Account,
  flowId: string,
  settings: RecoverySettings,
  target: string,
): Promise<{ code: string; expiresAt: number }> {
  const now = d.clock.now();
  const code = newOtp(d, settings);
  const expiresAt = now + method.otp.ttlMs(settings);
  await insertRecoveryCode(trx, {
    id: newId(d.random),
    account_id: account.id,
    method: method.id,
    flow_id: flowId,
    token_hash: null,
    code_hash: otpHash(d, { flow_id: flowId, account_id: account.id }, code),
    expires_at: expiresAt,
    failed_attempts: spentAttempts(settings),
    resends: 0,
    used_at: null,
    target,
    created_at: now,
  });
  return { code, expiresAt };
}
