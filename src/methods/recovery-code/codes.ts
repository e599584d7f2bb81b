import type { Kysely } from 'kysely';
import { AppError } from '../../errors.ts';
import type { Kernel } from '../../kernel.ts';
import { keyedHash } from '../../security/hashing.ts';
import { newCode, newId, UNAMBIGUOUS } from '../../security/random.ts';
import {
  countUnusedMfaRecoveryCodes,
  replaceMfaRecoveryCodes,
  useMfaRecoveryCode,
} from '../../store/mfa-recovery-codes.ts';
import type { Database } from '../../store/schema.ts';

// Second-factor recovery codes (OTP-07, MFA-05): 10 codes of 15 characters from a 30-letter
// alphabet (73 bits each), stored only as keyed hashes, each usable once; a new set voids the old.

export type RecoveryCodeDeps = Pick<Kernel, 'db' | 'clock' | 'random' | 'secret'>;

export const RECOVERY_CODE_COUNT = 10;
const LENGTH = 15;

/** What a typed code is compared as: dashes, spaces and case do not matter. */
export function normalizeRecoveryCode(raw: string): string {
  return raw.replace(/[\s-]+/g, '').toUpperCase();
}

const hashOf = (d: RecoveryCodeDeps, code: string) => keyedHash(d.secret, 'mfa-recovery-code', code);

/** A new set for the account (voiding the old one), in the caller's transaction; the codes to show once. */
export async function issueRecoveryCodes(
  d: RecoveryCodeDeps,
  trx: Kysely<Database>,
  accountId: string,
): Promise<string[]> {
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, () => newCode(d.random, UNAMBIGUOUS, LENGTH));
  await replaceMfaRecoveryCodes(
    trx,
    accountId,
    codes.map((c) => ({ id: newId(d.random), code_hash: hashOf(d, c) })),
    d.clock.now(),
  );
  return codes.map((c) => `${c.slice(0, 5)}-${c.slice(5, 10)}-${c.slice(10)}`.toLowerCase());
}

/** Uses up one code (atomic: a code works once even on two processes at once); how many are left. */
export async function useRecoveryCode(d: RecoveryCodeDeps, accountId: string, answer: unknown): Promise<number> {
  const code = typeof answer === 'string' ? normalizeRecoveryCode(answer) : '';
  if (code.length !== LENGTH || [...code].some((ch) => !UNAMBIGUOUS.includes(ch))) throw new AppError('invalid_code');
  if (!(await useMfaRecoveryCode(d.db, accountId, hashOf(d, code), d.clock.now()))) throw new AppError('invalid_code');
  return countUnusedMfaRecoveryCodes(d.db, accountId);
}

export function recoveryCodesLeft(d: Pick<Kernel, 'db'>, accountId: string): Promise<number> {
  return countUnusedMfaRecoveryCodes(d.db, accountId);
}
