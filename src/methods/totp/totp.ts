import { createHmac, timingSafeEqual } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import { AppError } from '../../errors.ts';
import type { Kernel } from '../../kernel.ts';
import { newId } from '../../security/random.ts';
import {
  acceptTotpStep,
  confirmedFactors,
  deleteUnconfirmed,
  insertSecondFactor,
  type SecondFactor,
} from '../../store/second-factors.ts';
import { openSecret, sealSecret } from './secret-box.ts';

// The authenticator app (MFA-01, MFA-02): RFC 6238, SHA-1, 6 digits, 30 s, ±1 step. The secret
// is 160 random bits, shown once at enrolment and stored sealed; the factor counts once a valid
// code confirmed it; a code of a step at or before the last accepted one is refused, by one
// atomic UPDATE, so two processes never both accept a code.

export type TotpDeps = Pick<Kernel, 'db' | 'clock' | 'random' | 'secret' | 'config'>;

const PERIOD = 30;
const CODE = /^\d{6}$/;

function totpOf(secretB32: string, label = 'account', issuer = 'Latchkey'): TOTP {
  return new TOTP({
    issuer,
    label,
    algorithm: 'SHA1',
    digits: 6,
    period: PERIOD,
    secret: Secret.fromBase32(secretB32),
  });
}

/**
 * RFC 4226's HOTP value of one step, with node's HMAC: otpauth's own SHA-1 (written for browsers)
 * took a quarter of the second-factor request's CPU in the mfa bench.
 */
function hotp(key: Uint8Array, step: number): Buffer {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', key).update(counter).digest();
  const at = (mac[19] as number) & 0xf;
  const bin =
    (((mac[at] as number) & 0x7f) << 24) |
    ((mac[at + 1] as number) << 16) |
    ((mac[at + 2] as number) << 8) |
    (mac[at + 3] as number);
  return Buffer.from(String(bin % 1_000_000).padStart(6, '0'));
}

/** The offset (-1, 0 or +1) of the step whose code `code` is, or null; every candidate is computed. */
export function totpDelta(secretB32: string, code: string, nowMs: number): number | null {
  const key = Secret.fromBase32(secretB32).bytes;
  const given = Buffer.from(code);
  const current = Math.floor(nowMs / 1000 / PERIOD);
  let found: number | null = null;
  for (const delta of [0, -1, 1]) {
    const want = hotp(key, current + delta);
    if (want.length === given.length && timingSafeEqual(want, given) && found === null) found = delta;
  }
  return found;
}

/** The otpauth:// URI an authenticator app reads (from the QR code, or typed). */
export function totpUri(secretB32: string, username: string, issuer: string): string {
  return totpOf(secretB32, username, issuer).toString();
}

export interface TotpEnrolment {
  factorId: string;
  secret: string;
  uri: string;
}

/**
 * A new, unconfirmed authenticator-app factor (any earlier unconfirmed one is dropped): the
 * secret and otpauth URI to show once.
 */
export async function startTotp(d: TotpDeps, account: { id: string; username: string }): Promise<TotpEnrolment> {
  const secret = new Secret({ buffer: new Uint8Array(d.random.bytes(20)).buffer }).base32;
  const id = newId(d.random);
  const now = d.clock.now();
  await d.db.transaction().execute(async (trx) => {
    await deleteUnconfirmed(trx, account.id, 'totp');
    await insertSecondFactor(trx, {
      id,
      account_id: account.id,
      kind: 'totp',
      name: 'Authenticator app',
      created_at: now,
      confirmed_at: null,
      last_used_at: null,
      secret_enc: sealSecret(d.secret, d.random, id, secret),
      last_step: null,
      credential_id: null,
      public_key: null,
      sign_count: null,
      transports: null,
      flagged_at: null,
    });
  });
  const uri = totpUri(secret, account.username, d.config.productName);
  return { factorId: id, secret, uri };
}

/** The account's TOTP factors to check a code against: confirmed ones, or (confirming) unconfirmed ones. */
async function candidates(d: TotpDeps, accountId: string, confirming: boolean): Promise<SecondFactor[]> {
  if (!confirming) return confirmedFactors(d.db, accountId, 'totp');
  return d.db
    .selectFrom('second_factors')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('kind', '=', 'totp')
    .where('confirmed_at', 'is', null)
    .execute();
}

/**
 * Checks a code against the account's authenticator app(s) and uses up its time step. With
 * `confirm`, the code confirms an enrolment instead (MFA-01). Throws `invalid_code` when wrong or
 * replayed (MFA-02); returns the factor it matched.
 */
export async function checkTotp(
  d: TotpDeps,
  accountId: string,
  answer: unknown,
  opts: { confirm?: boolean } = {},
): Promise<SecondFactor> {
  const code = typeof answer === 'string' ? answer.replace(/\s+/g, '') : '';
  if (!CODE.test(code)) throw new AppError('invalid_code');
  const now = d.clock.now();
  const current = Math.floor(now / 1000 / PERIOD);
  for (const f of await candidates(d, accountId, opts.confirm === true)) {
    const secret = f.secret_enc ? openSecret(d.secret, f.id, f.secret_enc) : undefined;
    if (!secret) continue;
    const delta = totpDelta(secret, code, now);
    if (delta === null) continue;
    if (await acceptTotpStep(d.db, f.id, current + delta, now, opts.confirm === true)) return f;
  }
  throw new AppError('invalid_code');
}

/** Whether the account has a confirmed authenticator app. */
export async function hasTotp(d: TotpDeps, accountId: string): Promise<boolean> {
  return (await confirmedFactors(d.db, accountId, 'totp')).length > 0;
}
