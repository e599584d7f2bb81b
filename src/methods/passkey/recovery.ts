import type { PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/server';
import type { RequestContext } from '../../context.ts';
import { AppError } from '../../errors.ts';
import type { SessionService } from '../../flows/sessions/service.ts';
import type { Kernel } from '../../kernel.ts';
import { sha256 } from '../../security/hashing.ts';
import { type Account, findAccount } from '../../store/accounts.ts';
import { listPasskeys } from '../../store/passkeys.ts';
import { consumeCode, findCodeByTokenHash, voidAccountCodes } from '../../store/recovery-codes.ts';
import { issueChallenge, useChallenge } from './ceremony.ts';
import { newPasskeyRow, storePasskey, userHandle } from './service.ts';
import { asAttestation, orFailed, parseTransports, passkeyFailed } from './webauthn.ts';
import { generateRegistrationOptions, verifyRegistrationResponse } from './webauthn-lib.ts';

/** What this module uses of the container the composition root builds. */
export type PasskeyRecoveryDeps = Pick<
  Kernel,
  'config' | 'db' | 'clock' | 'random' | 'brand' | 'outbox' | 'audit' | 'guard'
> & { sessions: SessionService };

// Recovery of an account that signs in with passkeys only (no password): the mailed reset link
// leads to "add a new passkey or set a password" (issue 18, Kratos #3386), not to "change
// password". A new passkey is offered only when passkeys are the account's only credential and
// only factor: with an authenticator app as well, a passkey added by mail alone would skip it
// (REC-08), so such an account only sets a password, and its next sign-in asks for the factor.

/** The live reset link's account when it may add a passkey through it; undefined otherwise. */
export async function passkeyRecoveryAccount(d: PasskeyRecoveryDeps, token: string): Promise<Account | undefined> {
  if (!token || token.length > 128) return undefined;
  const row = await findCodeByTokenHash(d.db, sha256(token));
  if (!row || row.used_at !== null || row.expires_at <= d.clock.now()) return undefined;
  const account = await findAccount(d.db, row.account_id);
  // Active, and no password: passkeys are how it signs in.
  if (account?.status !== 'active' || account.password_hash) return undefined;
  const factors = await d.db
    .selectFrom('second_factors')
    .select('kind')
    .where('account_id', '=', account.id)
    .where('confirmed_at', 'is not', null)
    .execute();
  if (!factors.length || factors.some((f) => f.kind !== 'passkey')) return undefined;
  return account;
}

const binding = (token: string) => `reset:${sha256(token)}`;

export async function recoveryOptions(
  d: PasskeyRecoveryDeps,
  token: string,
  ctx: RequestContext,
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  await d.guard.limit('reset_complete', ctx, `token:${sha256(String(token))}`);
  const account = await passkeyRecoveryAccount(d, String(token));
  if (!account) throw new AppError('invalid_token');
  const existing = await listPasskeys(d.db, account.id);
  const challenge = await issueChallenge(d, 'recovery', binding(token), account.id);
  return generateRegistrationOptions({
    rpName: d.config.productName,
    rpID: d.config.webauthn.rpId,
    userName: account.username,
    userDisplayName: account.display_name ?? account.username,
    userID: userHandle(account.id),
    challenge,
    timeout: d.config.webauthn.challengeTtl,
    attestationType: 'none',
    excludeCredentials: existing.map((r) => ({
      id: r.credential_id as string,
      transports: parseTransports(r.transports),
    })),
    authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'required' },
  });
}

/**
 * Adds the passkey and uses the link up, in one transaction, like a password reset does: every
 * session and every other outstanding reset secret ends (REC-09), the owner is told, and no
 * session is issued (REC-07): the user signs in with the new passkey.
 */
export async function recoverWithPasskey(
  d: PasskeyRecoveryDeps,
  input: { token: string; name?: string; response: unknown },
  ctx: RequestContext,
): Promise<void> {
  const token = String(input.token ?? '');
  await d.guard.limit('reset_complete', ctx, `token:${sha256(token)}`);
  const account = await passkeyRecoveryAccount(d, token);
  if (!account) throw new AppError('invalid_token');
  const response = asAttestation(input.response);
  const { challenge } = await useChallenge(d, response, 'recovery', binding(token));
  const verified = await orFailed(() =>
    verifyRegistrationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: d.config.webauthn.origin,
      expectedRPID: d.config.webauthn.rpId,
      // It will be this account's only way in: it must verify the user (MFA-04).
      requireUserVerification: true,
    }),
  );
  if (!verified.verified) throw passkeyFailed();
  const row = await newPasskeyRow(d, account.id, input.name, verified.registrationInfo.credential, response);
  const ok = await d.db.transaction().execute(async (trx) => {
    const code = await findCodeByTokenHash(trx, sha256(token));
    if (!code || !(await consumeCode(trx, code.id, d.clock.now(), { unexpired: true }))) return false;
    await storePasskey(d, trx, account, row, ctx, 'recovery');
    await d.sessions.endAll(account.id, trx);
    await voidAccountCodes(trx, account.id, d.clock.now());
    return true;
  });
  if (!ok) throw new AppError('invalid_token');
}
