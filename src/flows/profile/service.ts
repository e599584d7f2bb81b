import type { Kysely } from 'kysely';
import type { RequestContext } from '../../context.ts';
import { formatDuration, formatTime, renderMail, supportName } from '../../delivery/templates.ts';
import { AppError } from '../../errors.ts';
import { currentLocale, t, withLocale } from '../../i18n/index.ts';
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
  old ? t('profile.email_change_sent_keep', { email, old }) : t('profile.email_change_sent', { email });

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
    if (email === auth.account.email_key) throw unchanged('email', t('profile.error.already_your_email'));
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
      // The address's owner reads it: the other account's language when it is taken, else this one's.
      const mail = taken
        ? withLocale(taken.locale, () =>
            renderMail(brand, {
              subject: t('profile.mail.taken_subject'),
              title: t('profile.mail.taken_title'),
              lines: [t('profile.mail.taken_line'), t('profile.mail.taken_reset')],
              action: { label: t('profile.mail.taken_action'), url: `${d.config.publicUrl}/forgot-password` },
              after: [t('profile.mail.taken_ignore')],
            }),
          )
        : withLocale(auth.account.locale ?? currentLocale(), () =>
            renderMail(brand, {
              subject: t('profile.mail.verify_title'),
              title: t('profile.mail.verify_title'),
              lines: [
                t('profile.mail.verify_line', { username: auth.account.username }),
                t('profile.mail.verify_only_once_confirmed'),
              ],
              action: {
                label: t('profile.mail.verify_action'),
                url: `${d.config.publicUrl}/settings/email/verify?token=${encodeURIComponent(token)}`,
              },
              code: { label: t('profile.mail.verify_code'), value: formatCode(code) },
              after: [
                t('profile.mail.verify_expires', { duration: formatDuration(EMAIL_CHANGE_TTL) }),
                t('profile.mail.verify_ignore'),
              ],
            }),
          );
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
        if (owner && owner.id !== account.id) throw new AppError('conflict', t('profile.error.email_taken_now'));
        if (!(await consumeCode(trx, row.id, now, { unexpired: true }))) return undefined;
        await setAccountEmail(trx, account.id, email, now);
        await d.audit.record('email.changed', ctx, { accountId: account.id }, trx);
        await this.notifyEmailChanged(trx, account, email, now);
        return account;
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError('conflict', t('profile.error.email_taken_now'));
      throw err;
    }
    if (!old) throw new AppError(fail);
    return { email, accountId: old.id };
  }

  /** LOG-03, ID-03: the old address hears of it, with the time and what to do if it was not them. */
  private async notifyEmailChanged(trx: Kysely<Database>, account: Account, email: string, now: number) {
    const d = this.d;
    const brand = await d.organizations.brandFor(account, trx);
    // The link may be opened signed out, in another browser: the account's language first.
    const locale = account.locale ?? currentLocale();
    if (account.email) {
      const old = account.email;
      const mail = withLocale(locale, () =>
        renderMail(brand, {
          subject: t('profile.mail.changed_title'),
          title: t('profile.mail.changed_title'),
          lines: [
            t('profile.mail.changed_line', { time: formatTime(now), username: account.username, email }),
            t('profile.mail.changed_where'),
          ],
          after: [
            t('profile.mail.changed_not_you', {
              url: `${d.config.publicUrl}/forgot-password`,
              support: supportName(brand),
            }),
          ],
        }),
      );
      await d.outbox.send(trx, { channel: 'email', kind: 'email_changed', to: old, ...mail });
    }
    const welcome = withLocale(locale, () =>
      renderMail(brand, {
        subject: t('profile.mail.confirmed_title'),
        title: t('profile.mail.confirmed_title'),
        lines: [t('profile.mail.confirmed_line', { username: account.username })],
      }),
    );
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
    if (forms.username === auth.account.username) throw unchanged('username', t('profile.error.already_your_username'));
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
          const mail = withLocale(auth.account.locale ?? currentLocale(), () =>
            renderMail(brand, {
              subject: t('profile.mail.username_title'),
              title: t('profile.mail.username_title'),
              lines: [
                t('profile.mail.username_line', {
                  time: formatTime(now),
                  old: auth.account.username,
                  username: forms.username,
                }),
                t('profile.mail.username_sign_in'),
              ],
              after: [
                t('profile.mail.username_not_you', {
                  url: `${d.config.publicUrl}/forgot-password`,
                  support: supportName(brand),
                }),
              ],
            }),
          );
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
