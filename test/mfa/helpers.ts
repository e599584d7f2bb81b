import { Secret, TOTP } from 'otpauth';
import { issueRecoveryCodes } from '../../src/methods/recovery-code/codes.ts';
import { checkTotp, startTotp } from '../../src/methods/totp/totp.ts';
import type { Clock } from '../../src/security/clock.ts';
import { findAccountByIdentifier } from '../../src/store/accounts.ts';
import type { TestServer } from '../support/server.ts';

/** A wall clock tests can move forward, so each TOTP code falls in a fresh 30 s step. */
export class ShiftClock implements Clock {
  shift = 0;
  now(): number {
    return Date.now() + this.shift;
  }
  /** moves to the next TOTP step */
  nextStep(): void {
    this.shift += 30_000;
  }
}

export function totpCode(secret: string, at: number): string {
  return new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' }).generate({
    timestamp: at,
  });
}

/** Gives the account a confirmed authenticator app and recovery codes straight through the modules. */
export async function enrolTotpDirect(server: TestServer, clock: ShiftClock, username: string) {
  const d = server.deps;
  const account = await findAccountByIdentifier(d.db, username);
  if (!account) throw new Error(`no account ${username}`);
  const e = await startTotp(d, account);
  await checkTotp(d, account.id, totpCode(e.secret, clock.now()), { confirm: true });
  const codes = await d.db.transaction().execute((trx) => issueRecoveryCodes(d, trx, account.id));
  clock.nextStep();
  return { secret: e.secret, codes, accountId: account.id };
}
