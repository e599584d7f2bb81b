import type {
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
  WebAuthnCredential,
} from '@simplewebauthn/server';
import type { Kysely } from 'kysely';
import type { RequestContext } from '../../context.ts';
import { formatTime, renderMail, supportName } from '../../delivery/templates.ts';
import { AppError } from '../../errors.ts';
import type { SessionService } from '../../flows/sessions/service.ts';
import type { SignInResult, SignInService } from '../../flows/signin/service.ts';
import { currentLocale, t, withLocale } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import { isMultiFactor, parseAmr } from '../../security/amr.ts';
import { cleanText } from '../../security/audit.ts';
import { isoTime } from '../../security/clock.ts';
import { newId } from '../../security/random.ts';
import type { Account } from '../../store/accounts.ts';
import {
  countPasskeys,
  deletePasskey,
  findPasskeyByCredentialId,
  insertPasskey,
  listPasskeys,
  PASSKEY,
  type PasskeyRow,
} from '../../store/passkeys.ts';
import { endPendingSignIns } from '../../store/pending-sign-ins.ts';
import type { Database } from '../../store/schema.ts';
import { forgetTrustedDevices } from '../../store/trusted-devices.ts';
import type { Authenticated } from '../../web/auth.ts';
import { issueChallenge, useChallenge, verifyAssertion } from './ceremony.ts';
import { asAssertion, asAttestation, orFailed, parseTransports, passkeyFailed, transportsJson } from './webauthn.ts';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyRegistrationResponse,
} from './webauthn-lib.ts';

/** What this module uses of the container the composition root builds. */
export type PasskeyDeps = Pick<
  Kernel,
  'config' | 'db' | 'engine' | 'clock' | 'random' | 'brand' | 'outbox' | 'audit' | 'guard'
> & {
  sessions: SessionService;
  signIn: SignInService;
};

export interface PasskeyView {
  id: string;
  kind: 'passkey';
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  /** set when its signature counter went backwards: it no longer signs in (MFA-04) */
  flaggedAt: string | null;
}

/**
 * Refuses removing a passkey that is the account's last way to sign in: no password, no linked
 * external account and no other passkey. Shared with the generic factor route, so neither lets a
 * passkey-only account lock itself out. `passkeys`: how many the account has, the target included.
 */
export async function refuseLastPasskey(
  trx: Kysely<Database>,
  account: Pick<Account, 'id' | 'password_hash'>,
  passkeys: number,
): Promise<void> {
  if (account.password_hash || passkeys >= 2) return;
  const linked = await trx
    .selectFrom('external_identities')
    .select('id')
    .where('account_id', '=', account.id)
    .limit(1)
    .execute();
  if (!linked.length) throw new AppError('last_sign_in_method');
}

export const MAX_PASSKEYS = 20;
const NAME_MAX = 64;

export function passkeyView(r: PasskeyRow): PasskeyView {
  return {
    id: r.id,
    kind: 'passkey',
    name: r.name,
    createdAt: isoTime(r.created_at),
    lastUsedAt: r.last_used_at ? isoTime(r.last_used_at) : null,
    flaggedAt: r.flagged_at ? isoTime(r.flagged_at) : null,
  };
}

/** The user handle a passkey stores for its account: its random id, never a name or address. */
export const userHandle = (accountId: string) => {
  const bytes = Buffer.from(accountId);
  const out = new Uint8Array(new ArrayBuffer(bytes.length));
  out.set(bytes);
  return out;
};

/**
 * Passkeys (WebAuthn, MFA-04): adding and removing them in a recent session (SES-07, MFA-06),
 * signing in with one alone (discoverable credential, user verification required), and the
 * checks every assertion gets: a challenge of 256 random bits issued for this ceremony only,
 * used once, expiring; the configured RP ID and the public origin; a signature counter that must
 * move forward, or the credential is flagged, audited and its owner told.
 */
export class PasskeyService {
  constructor(private readonly d: PasskeyDeps) {}

  // --- adding, listing, removing

  async list(accountId: string): Promise<PasskeyView[]> {
    return (await listPasskeys(this.d.db, accountId)).map(passkeyView);
  }

  async has(accountId: string): Promise<boolean> {
    return (await countPasskeys(this.d.db, accountId)) > 0;
  }

  /**
   * SES-07 and MFA-06: a recent sign-in, and when the account already has a second factor, one
   * that proved a second factor (a passkey sign-in with user verification does).
   */
  async requireStepUp(auth: Authenticated): Promise<void> {
    this.d.sessions.requireRecentAuth(auth.session);
    if (isMultiFactor(parseAmr(auth.session.amr))) return;
    const factors = await this.d.db
      .selectFrom('second_factors')
      .select('id')
      .where('account_id', '=', auth.account.id)
      .where('confirmed_at', 'is not', null)
      .limit(1)
      .execute();
    if (factors.length) throw new AppError('reauthentication_required');
  }

  async registrationOptions(auth: Authenticated): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const d = this.d;
    await this.requireStepUp(auth);
    const existing = await listPasskeys(d.db, auth.account.id);
    if (existing.length >= MAX_PASSKEYS)
      throw new AppError('conflict', t('passkey.error.too_many', { max: MAX_PASSKEYS }));
    const challenge = await issueChallenge(this.d, 'register', auth.session.id, auth.account.id);
    return generateRegistrationOptions({
      rpName: d.config.productName,
      rpID: d.config.webauthn.rpId,
      userName: auth.account.username,
      userDisplayName: auth.account.display_name ?? auth.account.username,
      userID: userHandle(auth.account.id),
      challenge,
      timeout: d.config.webauthn.challengeTtl,
      attestationType: 'none',
      // One authenticator holds one passkey for this account.
      excludeCredentials: existing.map((r) => ({
        id: r.credential_id as string,
        transports: parseTransports(r.transports),
      })),
      // Discoverable, so it can sign in without a username; verification asked for, and
      // required at passwordless sign-in (MFA-04).
      authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'preferred' },
    });
  }

  async register(
    auth: Authenticated,
    input: { name?: string; response: unknown },
    ctx: RequestContext,
  ): Promise<PasskeyView> {
    const d = this.d;
    await this.requireStepUp(auth);
    const response = asAttestation(input.response);
    const { challenge } = await useChallenge(this.d, response, 'register', auth.session.id);
    const verified = await orFailed(() =>
      verifyRegistrationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: d.config.webauthn.origin,
        expectedRPID: d.config.webauthn.rpId,
        // A passkey without user verification still works as a second factor; passwordless
        // sign-in refuses it (MFA-04).
        requireUserVerification: false,
      }),
    );
    if (!verified.verified) throw passkeyFailed();
    const row = await newPasskeyRow(d, auth.account.id, input.name, verified.registrationInfo.credential, response);
    await d.db.transaction().execute((trx) => storePasskey(d, trx, auth.account, row, ctx, 'settings'));
    return passkeyView(row);
  }

  /** Removes one of the account's passkeys, unless it is the last way to sign in. */
  async remove(auth: Authenticated, id: string, ctx: RequestContext): Promise<void> {
    const d = this.d;
    await this.requireStepUp(auth);
    await d.db.transaction().execute(async (trx) => {
      let q = trx.selectFrom('accounts').selectAll().where('id', '=', auth.account.id);
      if (d.engine === 'postgres') q = q.forUpdate();
      const account = await q.executeTakeFirst();
      const keys = await listPasskeys(trx, auth.account.id);
      const target = keys.find((k) => k.id === id);
      if (!account || !target) throw new AppError('not_found', t('passkey.error.no_such'));
      await refuseLastPasskey(trx, account, keys.length);
      await deletePasskey(trx, account.id, id);
      await forgetTrustedDevices(trx, account.id);
      await endPendingSignIns(trx, account.id, d.clock.now());
      await d.audit.record('passkey.removed', ctx, { accountId: account.id, details: { factorId: id } }, trx);
      await passkeyNotice(d, trx, account, 'removed', target.name, ctx);
    });
  }

  // --- signing in

  /** Options for a passkey sign-in without a username, bound to this browser (`binding`). */
  async signInOptions(binding: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const challenge = await issueChallenge(this.d, 'signin', binding, null);
    return generateAuthenticationOptions({
      rpID: this.d.config.webauthn.rpId,
      challenge,
      timeout: this.d.config.webauthn.challengeTtl,
      userVerification: 'required',
    });
  }

  /** A passkey sign-in on its own: user verification required, so it proves two factors (MFA-04). */
  async signIn(response: unknown, binding: string, ctx: RequestContext): Promise<SignInResult> {
    const d = this.d;
    await d.guard.limit('sign_in', ctx, 'passkey');
    const { row, account } = await verifyAssertion(d, asAssertion(response), 'signin', binding, ctx, {
      requireUserVerification: true,
    });
    return d.signIn.complete(account, { method: 'passkey', amr: ['hwk', 'user'] }, ctx).catch(async (err) => {
      await d.audit.record('passkey.sign_in_failed', ctx, {
        accountId: row.account_id,
        details: { reason: 'account' },
      });
      throw err;
    });
  }
}

type NoticeDeps = Pick<Kernel, 'config' | 'clock' | 'brand' | 'outbox'>;

/** LOG-03: a passkey added or removed is told to the account's email address. */
export async function passkeyNotice(
  d: NoticeDeps,
  trx: Kysely<Database>,
  account: Account,
  what: 'added' | 'removed',
  name: string,
  ctx: RequestContext,
) {
  if (!account.email) return;
  // The owner's saved language, else the language of their own request that caused it.
  const mail = withLocale(account.locale ?? currentLocale(), () => {
    const title = what === 'added' ? t('passkey.mail.added_title') : t('passkey.mail.removed_title');
    const v = { name, username: account.username, time: formatTime(d.clock.now()) };
    return renderMail(d.brand, {
      subject: title,
      title,
      lines: [
        what === 'added' ? t('passkey.mail.added_line', v) : t('passkey.mail.removed_line', v),
        t('passkey.mail.browser', { browser: ctx.userAgent ? ctx.userAgent.slice(0, 160) : t('passkey.mail.unknown') }),
        t('passkey.mail.ip', { ip: ctx.ip || t('passkey.mail.unknown') }),
      ],
      after: [
        t('passkey.mail.not_you', { url: `${d.config.publicUrl}/forgot-password`, support: supportName(d.brand) }),
      ],
    });
  });
  await d.outbox.send(trx, { channel: 'email', kind: `passkey_${what}`, to: account.email, ...mail });
}

/** A verified new credential as the second_factors row to store. */
export async function newPasskeyRow(
  d: Pick<Kernel, 'db' | 'clock' | 'random'>,
  accountId: string,
  name: string | undefined,
  cred: WebAuthnCredential,
  response: RegistrationResponseJSON,
): Promise<PasskeyRow> {
  const now = d.clock.now();
  const clean = cleanText(String(name ?? '').trim(), NAME_MAX)?.trim() ?? '';
  return {
    id: newId(d.random),
    account_id: accountId,
    kind: PASSKEY,
    name: clean || t('passkey.default_name', { n: (await countPasskeys(d.db, accountId)) + 1 }),
    created_at: now,
    confirmed_at: now,
    last_used_at: null,
    secret_enc: null,
    last_step: null,
    credential_id: cred.id,
    public_key: Buffer.from(cred.publicKey).toString('base64url'),
    sign_count: cred.counter,
    transports: transportsJson(response.response.transports ?? cred.transports),
    flagged_at: null,
  };
}

/** Stores a new passkey in `trx`, audited and told to the owner (LOG-03). */
export async function storePasskey(
  d: NoticeDeps & Pick<Kernel, 'audit'>,
  trx: Kysely<Database>,
  account: Account,
  row: PasskeyRow,
  ctx: RequestContext,
  via: 'settings' | 'recovery',
): Promise<void> {
  if (await findPasskeyByCredentialId(trx, row.credential_id as string))
    throw new AppError('conflict', t('passkey.error.registered'));
  await insertPasskey(trx, row);
  // A factor change ends "don't ask again" browsers and half-finished sign-ins (MFA-06).
  await forgetTrustedDevices(trx, account.id);
  await endPendingSignIns(trx, account.id, d.clock.now());
  await d.audit.record('passkey.added', ctx, { accountId: account.id, details: { factorId: row.id, via } }, trx);
  await passkeyNotice(d, trx, account, 'added', row.name, ctx);
}
