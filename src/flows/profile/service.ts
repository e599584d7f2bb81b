import type { Kysely } from 'kysely';
import type { RequestContext } from '../../context.ts';
import { formatDuration, formatTime, renderMail } from '../../delivery/templates.ts';
import { AppError } from '../../errors.ts';
import type { Kernel } from '../../kernel.ts';
import { keyedHash, safeEqual, sha256 } from '../../security/hashing.ts';
import { checkUsername, EMAIL_INVALID, normalizeEmail } from '../../security/identifiers.ts';
import { newCode, newId, newToken, UNAMBIGUOUS } from '../../security/random.ts';
import {
  type Account,
  findAccount,
  findAccountByIdentifier,
  isUniqueViolation,
  refuseUsernameClash,
  setAccountEmail,
  setAccountUsername,
} from '../../store/accounts.ts';
import {
  consumeCode,
  findCodeByTokenHash,
  findLatestLiveCode,
  insertRecoveryCode,
  type RecoveryCode,
  supersedeCodes,
  takeCodeAttempt,
} from '../../store/recovery-codes.ts';
import type { Database } from '../../store/schema.ts';
import type { Authenticated } from '../../web/auth.ts';
import type { OrganizationService } from '../organizations/service.ts';
import { ACTIVATION_CODE_LENGTH, formatCode, parseCode } from '../registration/service.ts';
import type { SessionService } from '../sessions/service.ts';

/** What this module uses of the container the composition root builds. */
export type ProfileDeps = Pick<
  Kernel,
  'config' | 'db' | 'clock' | 'random' | 'secret' | 'outbox' | 'audit' | 'guard'
> & {
  sessions: SessionService;
  organizations: OrganizationService;
};

/** recovery_codes rows of this method confirm a new email address; `target` holds the address. */
export const EMAIL_CHANGE = 'email_change';
/** Like reset and activation mails: a link and a code, 30 minutes (REC-02), 5 tries (REC-06). */
const EMAIL_CHANGE_TTL = 30 * 60_000;
const EMAIL_CHANGE_ATTEMPTS = 5;

const changeHash = (d: ProfileDeps, rowId: string, code: string) =>
  keyedHash(d.secret, `email_change:${rowId}`, parseCode(code));

const unchanged = (field: string, message: string) =>
  new AppError('validation_failed', undefined, { fields: [{ field, code: 'unchanged', message }] });

export const emailChangeSent = (email: string, old: string | null) =>
  `We sent a link and a code to ${email}. ${old ? `Your address stays ${old}` : 'Nothing changes'} until you confirm the new one.`;

/**
 * The signed-in user's own identifiers (ID-03): a new email address or username passes the same
 * checks as at registration (ID-01 normal form, ID-02 look-alikes, uniqueness), needs a recent
 * sign-in (SES-07), is rate-limited, audited, and told to the address on file (LOG-03). A new
 * address counts only once the link or code mailed to it comes back.
 */
export class ProfileService {
  constructor(private readonly d: ProfileDeps) {}

  async startEmailChange(
    auth: Authenticated,
    input: { email: string },
    ctx: RequestContext,
  ): Promise<{ message: string; pending: string }> {
    const d = this.d;
    d.sessions.requireRecentAuth(auth.session);
    await d.guard.limit('profile_change', ctx, `account:${auth.account.id}`);
    const email = normalizeEmail(String(input.email ?? '').slice(0, 320));
    if (email === undefined) throw new AppError('validation_failed', undefined, { fields: [EMAIL_INVALID] });
    if (email === auth.account.email_key) throw unchanged('email', 'This is already your email address.');
    // One address cannot be mail-bombed from many accounts either.
    await d.guard.limit('profile_change', ctx, `email:${email}`);
    // ENUM-03: an address that belongs to another account gets the same answer here; its owner
    // gets a "you already have an account" mail instead of a code, so the change can never finish.
    const taken = await findAccountByIdentifier(d.db, email);
    const now = d.clock.now();
    const id = newId(d.random);
    const token = newToken(d.random);
    const code = newCode(d.random, UNAMBIGUOUS, ACTIVATION_CODE_LENGTH);
    await d.db.transaction().execute(async (trx) => {
      await supersedeCodes(trx, auth.account.id, [EMAIL_CHANGE], now);
      await insertRecoveryCode(trx, {
        id,
        account_id: auth.account.id,
        method: EMAIL_CHANGE,
        flow_id: id,
        token_hash: sha256(token),
        code_hash: changeHash(d, id, code),
        expires_at: now + EMAIL_CHANGE_TTL,
        failed_attempts: 0,
        resends: 0,
        used_at: null,
        target: email,
        created_at: now,
      });
      const brand = await d.organizations.brandFor(auth.account, trx);
      const mail = taken
        ? renderMail(brand, {
            subject: 'You already have an account',
            title: 'Someone tried to move an account to your email address',
            lines: [
              'An account asked to use this email address, but it already belongs to your account, so nothing was changed.',
              'If you forgot your password, you can reset it.',
            ],
            action: { label: 'Reset your password', url: `${d.config.publicUrl}/forgot-password` },
            after: ["If it wasn't you, you can ignore this mail."],
          })
        : renderMail(brand, {
            subject: 'Confirm your new email address',
            title: 'Confirm your new email address',
            lines: [
              `The account ${auth.account.username} asked to use this address from now on.`,
              'It changes only once you confirm it.',
            ],
            action: {
              label: 'Confirm this address',
              url: `${d.config.publicUrl}/settings/email/verify?token=${encodeURIComponent(token)}`,
            },
            code: { label: 'Or enter this code in your settings', value: formatCode(code) },
            after: [
              `The link and the code expire in ${formatDuration(EMAIL_CHANGE_TTL)}.`,
              "Didn't ask for this? Ignore this mail: nothing changes.",
            ],
          });
      await d.outbox.send(trx, {
        channel: 'email',
        kind: taken ? 'email_change_taken' : 'email_change_verify',
        to: email,
        ...mail,
      });
      await d.audit.record('email.change_requested', ctx, { accountId: auth.account.id }, trx);
    });
    return { message: emailChangeSent(email, auth.account.email), pending: email };
  }

  /** The address waiting for confirmation, if any (shown on /settings as pending). */
  async pendingEmail(accountId: string): Promise<string | undefined> {
    const row = await findLatestLiveCode(this.d.db, accountId, EMAIL_CHANGE, this.d.clock.now());
    return row?.target ?? undefined;
  }

  /** Drops a pending change (the page's "cancel"); the address on file never changed. */
  async cancelEmailChange(auth: Authenticated, ctx: RequestContext): Promise<void> {
    await supersedeCodes(this.d.db, auth.account.id, [EMAIL_CHANGE], this.d.clock.now());
    await this.d.audit.record('email.change_cancelled', ctx, { accountId: auth.account.id });
  }

  /** The typed code, while signed in: five tries per code (REC-06), bound to this account (REC-03). */
  async confirmEmailWithCode(auth: Authenticated, input: { code: string }, ctx: RequestContext) {
    const d = this.d;
    await d.guard.limit('otp_verify', ctx, `account:${auth.account.id}`);
    const code = String(input.code ?? '').slice(0, 32);
    const row = await findLatestLiveCode(d.db, auth.account.id, EMAIL_CHANGE, d.clock.now());
    if (!row?.target) throw new AppError('invalid_code');
    // One attempt taken first, atomically: concurrent guesses get no more than five comparisons.
    const took = await takeCodeAttempt(d.db, row.id, EMAIL_CHANGE_ATTEMPTS);
    if (!took || !row.code_hash || !safeEqual(changeHash(d, row.id, code), row.code_hash)) {
      await d.audit.record('email.change_failed', ctx, { accountId: auth.account.id });
      throw new AppError('invalid_code');
    }
    return this.apply(row, ctx, 'invalid_code');
  }

  /** The mailed link: only a POST uses it (REC-04), signed in or not; the token names the account. */
  async confirmEmailWithToken(input: { token: string }, ctx: RequestContext) {
    const d = this.d;
    await d.guard.limit('otp_verify', ctx);
    const token = String(input.token ?? '');
    const row = token && token.length <= 128 ? await findCodeByTokenHash(d.db, sha256(token)) : undefined;
    if (!row || row.method !== EMAIL_CHANGE || row.used_at !== null || row.expires_at <= d.clock.now())
      throw new AppError('invalid_token');
    return this.apply(row, ctx, 'invalid_token');
  }

  /** Whether a link token is one that would still work (the GET page says so before the POST). */
  async tokenLooksLive(token: string): Promise<boolean> {
    if (!token || token.length > 128) return false;
    const row = await findCodeByTokenHash(this.d.db, sha256(token));
    return Boolean(row && row.method === EMAIL_CHANGE && row.used_at === null && row.expires_at > this.d.clock.now());
  }

  private async apply(row: RecoveryCode, ctx: RequestContext, fail: 'invalid_code' | 'invalid_token') {
    const d = this.d;
    const email = row.target as string;
    const now = d.clock.now();
    let old: Account | undefined;
    try {
      old = await d.db.transaction().execute(async (trx) => {
        const account = await findAccount(trx, row.account_id);
        if (account?.status !== 'active') return undefined;
        const owner = await findAccountByIdentifier(trx, email);
        // Only someone who read the mail gets here, so saying "taken" reveals nothing new.
        if (owner && owner.id !== account.id)
          throw new AppError('conflict', 'This email address now belongs to another account.');
        if (!(await consumeCode(trx, row.id, now, { unexpired: true }))) return undefined;
        await setAccountEmail(trx, account.id, email, now);
        await d.audit.record('email.changed', ctx, { accountId: account.id }, trx);
        await this.notifyEmailChanged(trx, account, email, now);
        return account;
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError('conflict', 'This email address now belongs to another account.');
      throw err;
    }
    if (!old) throw new AppError(fail);
    return { email, accountId: old.id };
  }

  /** LOG-03, ID-03: the old address hears of it, with the time and what to do if it was not them. */
  private async notifyEmailChanged(trx: Kysely<Database>, account: Account, email: string, now: number) {
    const d = this.d;
    const brand = await d.organizations.brandFor(account, trx);
    if (account.email) {
      const mail = renderMail(brand, {
        subject: 'Your email address was changed',
        title: 'Your email address was changed',
        lines: [
          `On ${formatTime(now)} the email address of your account ${account.username} was changed from this address to ${email}.`,
          'Mail about your account, including password resets, now goes to the new address.',
        ],
        after: [
          `Wasn't you? Try to reset your password at ${d.config.publicUrl}/forgot-password and contact ${brand.supportContact} at once.`,
        ],
      });
      await d.outbox.send(trx, { channel: 'email', kind: 'email_changed', to: account.email, ...mail });
    }
    const welcome = renderMail(brand, {
      subject: 'Your new email address is confirmed',
      title: 'Your new email address is confirmed',
      lines: [`The account ${account.username} now uses this address.`],
    });
    await d.outbox.send(trx, { channel: 'email', kind: 'email_confirmed', to: email, ...welcome });
  }

  async changeUsername(
    auth: Authenticated,
    input: { username: string },
    ctx: RequestContext,
  ): Promise<{ username: string }> {
    const d = this.d;
    d.sessions.requireRecentAuth(auth.session);
    await d.guard.limit('profile_change', ctx, `account:${auth.account.id}`);
    const checked = checkUsername(String(input.username ?? '').slice(0, 256));
    if (!checked.ok) throw new AppError('validation_failed', undefined, { fields: [checked.problem] });
    const forms = checked.forms;
    if (forms.username === auth.account.username) throw unchanged('username', 'This is already your username.');
    // A taken name is said so (409), a look-alike of another account's refused (400), as at
    // registration; one's own name in other letter case is allowed.
    await refuseUsernameClash(d.db, forms, auth.account.id);
    const now = d.clock.now();
    try {
      await d.db.transaction().execute(async (trx) => {
        await setAccountUsername(trx, auth.account.id, forms, now);
        await d.audit.record('username.changed', ctx, { accountId: auth.account.id }, trx);
        if (auth.account.email) {
          const brand = await d.organizations.brandFor(auth.account, trx);
          const mail = renderMail(brand, {
            subject: 'Your username was changed',
            title: 'Your username was changed',
            lines: [
              `On ${formatTime(now)} the username of your account changed from ${auth.account.username} to ${forms.username}.`,
              'Sign in with the new username (or with your email address) from now on.',
            ],
            after: [
              `Wasn't you? Reset your password at ${d.config.publicUrl}/forgot-password and contact ${brand.supportContact}.`,
            ],
          });
          await d.outbox.send(trx, { channel: 'email', kind: 'username_changed', to: auth.account.email, ...mail });
        }
      });
    } catch (err) {
      // Lost a race with another account taking the same (or a look-alike) name: its answer.
      if (!isUniqueViolation(err)) throw err;
      await refuseUsernameClash(d.db, forms, auth.account.id);
      throw err;
    }
    return { username: forms.username };
  }
}
