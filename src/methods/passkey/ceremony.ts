import type { AuthenticationResponseJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import type { RequestContext } from '../../context.ts';
import { formatTime, renderMail, supportName } from '../../delivery/templates.ts';
import { t, withLocale } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import { type Account, findAccount } from '../../store/accounts.ts';
import {
  findPasskeyByCredentialId,
  flagPasskey,
  listPasskeys,
  type PasskeyRow,
  recordPasskeyUse,
} from '../../store/passkeys.ts';
import { openReviewItem } from '../../store/review-items.ts';
import {
  type ChallengePurpose,
  deleteExpiredChallenges,
  insertChallenge,
  takeChallenge,
} from '../../store/webauthn-challenges.ts';
import { parseTransports, passkeyFailed, signedChallenge } from './webauthn.ts';
import { generateAuthenticationOptions, verifyAuthenticationResponse } from './webauthn-lib.ts';

// The parts of a WebAuthn ceremony every passkey use shares (sign-in alone, second factor,
// adding one): challenges and the checks of an assertion. Plain functions over the kernel, so
// the second-factor step, which hands its factors only the kernel, can run them too.

/** What this module uses of the container the composition root builds. */
export type CeremonyDeps = Pick<Kernel, 'config' | 'db' | 'clock' | 'random' | 'brand' | 'outbox' | 'audit'>;

/**
 * A new challenge of 256 random bits (MFA-04: at least 128), valid once, for `purpose` within
 * `binding` (a session, a browser, a half-finished sign-in) until LATCHKEY_WEBAUTHN_CHALLENGE_TTL.
 */
export async function issueChallenge(
  d: CeremonyDeps,
  purpose: ChallengePurpose,
  binding: string,
  accountId: string | null,
): Promise<Uint8Array<ArrayBuffer>> {
  const now = d.clock.now();
  const bytes = new Uint8Array(new ArrayBuffer(32));
  bytes.set(d.random.bytes(32));
  // Expired challenges are useless to everyone; clearing them here keeps the table small without a job.
  await deleteExpiredChallenges(d.db, now);
  await insertChallenge(d.db, {
    challenge: Buffer.from(bytes).toString('base64url'),
    purpose,
    binding,
    account_id: accountId,
    created_at: now,
    expires_at: now + d.config.webauthn.challengeTtl,
  });
  return bytes;
}

/** Uses up the challenge the client signed, if it was issued for this ceremony and is still live. */
export async function useChallenge(
  d: CeremonyDeps,
  response: unknown,
  purpose: ChallengePurpose,
  binding: string,
): Promise<{ challenge: string; accountId: string | null }> {
  const challenge = signedChallenge(response as { response?: { clientDataJSON?: unknown } });
  const row = await takeChallenge(d.db, { challenge, purpose, binding, now: d.clock.now() });
  if (!row) throw passkeyFailed();
  return { challenge, accountId: row.account_id };
}

/** Request options for the account's own passkeys (second factor, QR approval), bound to `binding`. */
export async function accountAssertionOptions(
  d: CeremonyDeps,
  accountId: string,
  purpose: ChallengePurpose,
  binding: string,
  userVerification: 'preferred' | 'required' = 'preferred',
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const keys = (await listPasskeys(d.db, accountId)).filter((k) => !k.flagged_at);
  const challenge = await issueChallenge(d, purpose, binding, accountId);
  return generateAuthenticationOptions({
    rpID: d.config.webauthn.rpId,
    challenge,
    timeout: d.config.webauthn.challengeTtl,
    allowCredentials: keys.map((k) => ({ id: k.credential_id as string, transports: parseTransports(k.transports) })),
    userVerification,
  });
}

/**
 * Every assertion's checks, in an order that lets nobody but the key's holder change anything:
 * the challenge is taken first (single use, this ceremony only), the signature, RP ID, origin,
 * type and flags are verified next, and only a valid signature can flag a credential whose
 * counter did not move forward. Every refusal is the same 400 `passkey_failed`, audited.
 */
export async function verifyAssertion(
  d: CeremonyDeps,
  response: AuthenticationResponseJSON,
  purpose: ChallengePurpose,
  binding: string,
  ctx: RequestContext,
  o: { requireUserVerification: boolean; accountId?: string },
): Promise<{ row: PasskeyRow; account: Account }> {
  const fail = async (reason: string, accountId: string | null = null) => {
    await d.audit.record('passkey.sign_in_failed', ctx, { accountId, details: { reason, purpose } });
    return passkeyFailed();
  };
  let challenge: string;
  try {
    ({ challenge } = await useChallenge(d, response, purpose, binding));
  } catch {
    throw await fail('challenge', o.accountId ?? null);
  }
  const row = response.id.length <= 1400 ? await findPasskeyByCredentialId(d.db, response.id) : undefined;
  if (!row || (o.accountId && row.account_id !== o.accountId)) throw await fail('unknown_credential', o.accountId);
  if (row.flagged_at) throw await fail('flagged', row.account_id);
  const handle = response.response.userHandle;
  if (handle && handle !== Buffer.from(row.account_id).toString('base64url'))
    throw await fail('user_handle', row.account_id);
  const stored = Number(row.sign_count ?? 0);
  let result: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
  try {
    result = await verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: d.config.webauthn.origin,
      expectedRPID: d.config.webauthn.rpId,
      // The counter is checked below, after the signature: the library refuses a regression
      // before it looks at the signature, and then anyone could flag anyone's passkey.
      credential: {
        id: row.credential_id as string,
        publicKey: new Uint8Array(Buffer.from(row.public_key as string, 'base64url')),
        counter: 0,
      },
      requireUserVerification: o.requireUserVerification,
    });
  } catch {
    throw await fail('verification', row.account_id);
  }
  if (!result.verified) throw await fail('verification', row.account_id);
  const counter = result.authenticationInfo.newCounter;
  const now = d.clock.now();
  // Authenticators without a counter always send 0; one that has one must move forward.
  const forward = !(counter > 0 || stored > 0) || counter > stored;
  if (!forward || !(await recordPasskeyUse(d.db, row.id, counter, stored, now))) {
    await counterRegressed(d, row, counter, stored, ctx);
    throw passkeyFailed();
  }
  const account = await findAccount(d.db, row.account_id);
  if (!account) throw await fail('unknown_credential');
  return { row, account };
}

/**
 * MFA-04: a signature counter that did not move forward means the passkey may have been cloned.
 * It stops working (flagged_at), the event is audited (`passkey.counter_regressed`), a
 * `passkey_counter` item is opened in the staff review queue and the owner is told.
 */
async function counterRegressed(
  d: CeremonyDeps,
  row: PasskeyRow,
  counter: number,
  stored: number,
  ctx: RequestContext,
): Promise<void> {
  await d.db.transaction().execute(async (trx) => {
    const now = d.clock.now();
    if (!(await flagPasskey(trx, row.id, now))) return;
    await d.audit.record(
      'passkey.counter_regressed',
      ctx,
      { accountId: row.account_id, details: { factorId: row.id, counter, stored } },
      trx,
    );
    await openReviewItem(
      d,
      {
        kind: 'passkey_counter',
        accountId: row.account_id,
        reason: `The signature counter of passkey "${row.name}" went backwards (possible cloned key).`,
        details: { factorId: row.id, counter, stored },
      },
      trx,
    );
    const account = await findAccount(trx, row.account_id);
    if (!account?.email) return;
    // Whoever tried the passkey may not be its owner: the mail speaks the owner's language.
    const mail = withLocale(account.locale, () =>
      renderMail(d.brand, {
        subject: t('passkey.mail.blocked_subject'),
        title: t('passkey.mail.blocked_title'),
        lines: [
          t('passkey.mail.blocked_line', { name: row.name, username: account.username, time: formatTime(now) }),
          t('passkey.mail.blocked_copied'),
        ],
        after: [
          t('passkey.mail.blocked_after', { url: `${d.config.publicUrl}/settings`, support: supportName(d.brand) }),
        ],
      }),
    );
    await d.outbox.send(trx, { channel: 'email', kind: 'passkey_flagged', to: account.email, ...mail });
  });
}
