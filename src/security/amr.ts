// Authentication method references (RFC 8176) a session records: what its sign-in proved.
// QR sign-in copies the approving session's strength (QR-06), organizations that require a
// second factor check it (MFA-08), and the OpenID Provider reports it in `amr`/`acr` (OP-02).

/** pwd password · otp TOTP code · hwk passkey · user user verification on the passkey ·
 *  kba a recovery code · fed an external account · mfa more than one factor was proved */
export type Amr = 'pwd' | 'otp' | 'hwk' | 'user' | 'kba' | 'fed' | 'mfa';

/** How a sign-in ended: the method for the session list and audit, the factors for `amr`. */
export interface SignInProof {
  /** password, external:<provider>, passkey, qr … (shown in the sessions list) */
  method: string;
  amr: readonly Amr[];
}

export function parseAmr(stored: string | null | undefined): Amr[] {
  if (!stored) return [];
  try {
    const v: unknown = JSON.parse(stored);
    return Array.isArray(v) ? (v.filter((x) => typeof x === 'string') as Amr[]) : [];
  } catch {
    return [];
  }
}

export function serializeAmr(amr: readonly Amr[]): string {
  return JSON.stringify([...new Set(amr)]);
}

/** Whether a session proved a second factor (or a user-verified passkey, which is two on its own). */
export function isMultiFactor(amr: readonly Amr[]): boolean {
  return amr.includes('mfa') || (amr.includes('hwk') && amr.includes('user'));
}

/** The proof after a second factor on top of `first`. */
export function withSecondFactor(first: readonly Amr[], factor: readonly Amr[]): Amr[] {
  return [...new Set<Amr>([...first, ...factor, 'mfa'])];
}
