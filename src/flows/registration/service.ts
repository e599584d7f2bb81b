import type { RequestContext } from '../../context.ts';
import { formatDuration, renderMail } from '../../delivery/templates.ts';
import { AppError, type FieldProblem } from '../../errors.ts';
import { currentLocale, t, withLocale } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import { keyedHash, safeEqual, sha256 } from '../../security/hashing.ts';
import {
  checkUsername,
  EMAIL_INVALID,
  identifierKey,
  normalizeEmail,
  type UsernameForms,
} from '../../security/identifiers.ts';
import { normalizePassword } from '../../security/password-policy.ts';
import { newCode, newId, newToken, UNAMBIGUOUS } from '../../security/random.ts';
import { type Account, findAccountByIdentifier, newAccountRow, refuseUsernameClash } from '../../store/accounts.ts';
import { defaultOrgId, type OrgStoreDeps } from '../../store/organizations.ts';
import { isOutage } from '../../store/outage.ts';
import { orgName, orgPrefix } from '../../web/org-context.ts';

/** What this module uses of the container the composition root builds. */
export type RegistrationDeps = Pick<
  Kernel,
  | 'config'
  | 'db'
  | 'clock'
  | 'random'
  | 'secret'
  | 'brand'
  | 'hasher'
  | 'policy'
  | 'outbox'
  | 'audit'
  | 'guard'
  | 'captcha'
  | 'worker'
> &
  OrgStoreDeps;

export interface RegistrationInput {
  username: string;
  email: string;
  password: string;
  passwordConfirm?: string;
  captcha?: string;
  orgId?: string;
}

export const ACTIVATION_CODE_LENGTH = 8; // 30^8 ≈ 2^39.3 … with 5 tries per code, guessing is hopeless
const MAX_CODE_ATTEMPTS = 5;

/** Shows an 8-character code as XXXX-XXXX; typing accepts it with or without the dash or spaces. */
export function formatCode(code: string): string {
  return code.length === 8 ? `${code.slice(0, 4)}-${code.slice(4)}` : code;
}
export function parseCode(typed: string): string {
  return typed.replace(/[\s-]/g, '').toUpperCase();
}

/** The answer to every registration (ENUM-03), in the request's language. */
export const registrationAccepted = () => t('registration.accepted');
/** The answer to every resend request, whatever the identifier names. */
export const resendAccepted = () => t('registration.resend_accepted');
/** At most this many activation mails per account within one activation lifetime (a silent cap). */
export const ACTIVATION_MAILS_CAP = 3;
const RESEND_JOB = 'activation_resend';

/** Registration and activation (ENUM-03: an existing email is answered like a new one). */
export class RegistrationService {
  constructor(private readonly d: RegistrationDeps) {
    d.worker.registerJob(RESEND_JOB, (payload) => this.runResendJob(payload));
  }

  /**
   * "Didn't get the activation mail?" (issue 17, defect 2). The answer is the same for every
   * identifier, in the same time: the request only counts limits, checks the CAPTCHA and queues
   * a job; the lookup and the mail happen after the response (as ENUM-02 does for resets).
   */
  async resendActivation(input: { identifier: string; captcha?: string }, ctx: RequestContext) {
    const d = this.d;
    const identifier = typeof input.identifier === 'string' ? input.identifier.trim() : '';
    if (!identifier || identifier.length > 320)
      throw new AppError('validation_failed', undefined, {
        fields: [{ field: 'identifier', code: 'required', message: t('registration.error.identifier_required') }],
      });
    await d.guard.limit('registration', ctx, `resend:${identifierKey(identifier)}`);
    if (!(await d.captcha.verify(input.captcha, ctx))) {
      await d.audit.record('captcha.failed', ctx, { details: { flow: 'activation_resend' } });
      throw new AppError(input.captcha ? 'captcha_invalid' : 'captcha_required');
    }
    await d.outbox.job(d.db, {
      kind: RESEND_JOB,
      // The mail goes out after the answer: it keeps the asker's language for an account without its own.
      payload: {
        identifier,
        ip: ctx.ip,
        userAgent: ctx.userAgent,
        correlationId: ctx.correlationId,
        locale: currentLocale(),
      },
    });
    return { message: resendAccepted() };
  }

  private async runResendJob(payload: Record<string, unknown>): Promise<void> {
    const d = this.d;
    const s = (v: unknown) => (typeof v === 'string' ? v : '');
    const ctx: RequestContext = {
      ip: s(payload.ip),
      userAgent: s(payload.userAgent),
      correlationId: s(payload.correlationId),
    };
    const account = await findAccountByIdentifier(d.db, s(payload.identifier));
    if (account?.status !== 'pending' || !account.email) return;
    const since = d.clock.now() - d.config.activationTtl;
    const recent = await d.db
      .selectFrom('activations')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('account_id', '=', account.id)
      .where('created_at', '>', since)
      .executeTakeFirstOrThrow();
    if (Number(recent.n) >= ACTIVATION_MAILS_CAP) {
      await d.audit.record('activation.resend_withheld', ctx, { accountId: account.id });
      return;
    }
    await d.db.transaction().execute(async (trx) => {
      await this.issueActivation(trx, account, account.locale ?? s(payload.locale));
      await d.audit.record('activation.resent', ctx, { accountId: account.id }, trx);
    });
  }

  /** The checks that need no database; answers the normalised username and email (ID-01, ID-02). */
  validate(input: RegistrationInput): { username: UsernameForms; email: string } {
    const fields: FieldProblem[] = [];
    const username = checkUsername(input.username);
    if (!username.ok) fields.push(username.problem);
    const email = normalizeEmail(input.email);
    if (email === undefined) fields.push(EMAIL_INVALID);
    if (input.passwordConfirm !== undefined && input.passwordConfirm !== input.password)
      fields.push({ field: 'passwordConfirm', code: 'mismatch', message: t('registration.error.mismatch') });
    if (!username.ok || email === undefined || fields.length)
      throw new AppError('validation_failed', undefined, { fields });
    const reasons = this.d.policy.check(input.password, {
      username: input.username,
      email: input.email,
      productName: this.d.config.productName,
    });
    if (reasons.length) throw new AppError('password_rejected', undefined, { reasons });
    return { username: username.forms, email };
  }

  async register(input: RegistrationInput, ctx: RequestContext): Promise<{ message: string }> {
    const d = this.d;
    const { username, email } = this.validate(input);
    // Per IP and per email (BF-02), before anything is looked up; counted whether or not the email
    // or the username is registered (ENUM-03).
    await d.guard.limit('registration', ctx, `email:${email}`);
    if (!(await d.captcha.verify(input.captcha, ctx))) {
      await d.audit.record('captcha.failed', ctx, { details: { flow: 'registration' } });
      throw new AppError(input.captcha ? 'captcha_invalid' : 'captcha_required');
    }
    // Hash first in every case, so an existing email costs the same time as a new one.
    const passwordHash = await d.hasher.hash(normalizePassword(input.password));
    // Usernames are public handles (docs/identifiers.md): a taken one is said so (409), a
    // look-alike refused (400), before the email is looked at, so that answer is the same
    // whatever the email (ENUM-03).
    await refuseUsernameClash(d.db, username);
    const existing = await findAccountByIdentifier(d.db, email);
    if (existing) {
      await this.mailExistingOwner(existing, ctx);
      return { message: registrationAccepted() };
    }
    const now = d.clock.now();
    const account = newAccountRow({
      id: newId(d.random),
      org_id: input.orgId ?? (await defaultOrgId(d)),
      username: username.username,
      email,
      status: 'pending',
      password_hash: passwordHash,
      created_at: now,
      password_changed_at: now,
    });
    try {
      await d.db.transaction().execute(async (trx) => {
        await trx.insertInto('accounts').values(account).execute();
        // Registered in this request: the mail speaks the registrant's language.
        await this.issueActivation(trx, account, currentLocale());
        await d.audit.record('account.registered', ctx, { accountId: account.id }, trx);
      });
    } catch (err) {
      // An unavailable database answers 503 now, not after a second timeout below.
      if (isOutage(err)) throw err;
      if (!/unique|duplicate/i.test(String((err as Error).message))) throw err;
      // Lost a race with a registration for the same (or a look-alike) username, or the same email:
      // answered as if the winner had committed first.
      await refuseUsernameClash(d.db, username);
      const again = await findAccountByIdentifier(d.db, email);
      if (again) {
        await this.mailExistingOwner(again, ctx);
        return { message: registrationAccepted() };
      }
      throw err;
    }
    return { message: registrationAccepted() };
  }

  /** Staff resend activation (issue 20): a new link and code to the account's address; earlier ones stop working. */
  async reissueActivation(account: Account, db: RegistrationDeps['db'] = this.d.db): Promise<void> {
    if (account.status !== 'pending' || !account.email)
      throw new AppError('conflict', t('registration.error.not_pending'));
    // Sent by staff: in the account's own language (else the install's default), not the staff member's.
    await this.issueActivation(db, account, account.locale);
  }

  private async issueActivation(
    db: RegistrationDeps['db'],
    account: Account,
    locale: string | null | undefined,
  ): Promise<void> {
    const d = this.d;
    const now = d.clock.now();
    const token = newToken(d.random);
    const code = newCode(d.random, UNAMBIGUOUS, ACTIVATION_CODE_LENGTH);
    await db
      .updateTable('activations')
      .set({ used_at: now })
      .where('account_id', '=', account.id)
      .where('used_at', 'is', null)
      .execute();
    await db
      .insertInto('activations')
      .values({
        id: newId(d.random),
        account_id: account.id,
        token_hash: sha256(token),
        code_hash: keyedHash(d.secret, `activation:${account.id}`, code),
        expires_at: now + d.config.activationTtl,
        failed_attempts: 0,
        used_at: null,
        created_at: now,
      })
      .execute();
    // In an organization's context the mail wears its name and the link opens its page.
    const org = await db
      .selectFrom('organizations')
      .select(['slug', 'display_name', 'support_contact'])
      .where('id', '=', account.org_id)
      .executeTakeFirst();
    const brand = {
      productName: org
        ? orgName({ slug: org.slug, displayName: org.display_name }, d.brand.productName)
        : d.brand.productName,
      supportContact: org?.support_contact || d.brand.supportContact,
    };
    const prefix = org ? orgPrefix({ slug: org.slug, displayName: org.display_name }) : '';
    const link = `${d.config.publicUrl}${prefix}/activate?token=${encodeURIComponent(token)}`;
    const mail = withLocale(locale, () =>
      renderMail(brand, {
        subject: t('registration.mail.subject'),
        title: t('registration.mail.title', { product: brand.productName, username: account.username }),
        lines: [t('registration.mail.line')],
        action: { label: t('registration.mail.action'), url: link },
        code: { label: t('registration.mail.code'), value: formatCode(code) },
        after: [
          t('registration.mail.expires', { duration: formatDuration(d.config.activationTtl) }),
          t('registration.mail.ignore'),
        ],
      }),
    );
    await d.outbox.send(db, { channel: 'email', kind: 'activation', to: account.email as string, ...mail });
  }

  private async mailExistingOwner(account: Account, ctx: RequestContext): Promise<void> {
    const d = this.d;
    // Most often the owner registering again: their saved language, else this request's.
    const mail = withLocale(account.locale ?? currentLocale(), () =>
      renderMail(d.brand, {
        subject: t('registration.existing.subject'),
        title: t('registration.existing.title'),
        lines: [t('registration.existing.line', { username: account.username }), t('registration.existing.advice')],
        action: { label: t('registration.existing.action'), url: `${d.config.publicUrl}/forgot-password` },
        after: [t('registration.existing.ignore')],
      }),
    );
    await d.db.transaction().execute(async (trx) => {
      await d.outbox.send(trx, { channel: 'email', kind: 'already_registered', to: account.email as string, ...mail });
      await d.audit.record('registration.existing_email', ctx, { accountId: account.id }, trx);
    });
  }

  /** Activates with the link token or with identifier + typed code. Only a POST gets here. */
  async activate(input: { token?: string; identifier?: string; code?: string }, ctx: RequestContext): Promise<void> {
    const d = this.d;
    const now = d.clock.now();
    // Counted under the normal form, so respelling the address (case, Kelvin sign, trailing dot)
    // does not buy more tries.
    await d.guard.limit(
      'activation',
      ctx,
      input.identifier === undefined ? undefined : identifierKey(input.identifier),
    );
    let activationId: string | undefined;
    let accountId: string | undefined;
    if (input.token) {
      const row = await d.db
        .selectFrom('activations')
        .selectAll()
        .where('token_hash', '=', sha256(input.token))
        .executeTakeFirst();
      if (!row || row.used_at !== null || row.expires_at <= now) throw new AppError('invalid_token');
      activationId = row.id;
      accountId = row.account_id;
    } else if (input.identifier && input.code) {
      const account = await findAccountByIdentifier(d.db, input.identifier);
      const row = account
        ? await d.db
            .selectFrom('activations')
            .selectAll()
            .where('account_id', '=', account.id)
            .where('used_at', 'is', null)
            .orderBy('created_at', 'desc')
            .executeTakeFirst()
        : undefined;
      if (!account || !row || row.expires_at <= now || row.failed_attempts >= MAX_CODE_ATTEMPTS)
        throw new AppError('invalid_code');
      const expected = keyedHash(d.secret, `activation:${account.id}`, parseCode(input.code));
      if (!safeEqual(expected, row.code_hash)) {
        await d.db
          .updateTable('activations')
          .set((eb) => ({ failed_attempts: eb('failed_attempts', '+', 1) }))
          .where('id', '=', row.id)
          .execute();
        await d.audit.record('activation.failed', ctx, { accountId: account.id });
        throw new AppError('invalid_code');
      }
      activationId = row.id;
      accountId = account.id;
    } else {
      throw new AppError('validation_failed', t('registration.error.token_or_code'));
    }
    const ok = await d.db.transaction().execute(async (trx) => {
      const used = await trx
        .updateTable('activations')
        .set({ used_at: now })
        .where('id', '=', activationId as string)
        .where('used_at', 'is', null)
        .executeTakeFirst();
      if (Number(used.numUpdatedRows) !== 1) return false;
      const activated = await trx
        .updateTable('accounts')
        .set({ status: 'active', activated_at: now, updated_at: now })
        .where('id', '=', accountId as string)
        .where('status', '=', 'pending')
        .executeTakeFirst();
      if (Number(activated.numUpdatedRows) !== 1) return false;
      await d.audit.record('account.activated', ctx, { accountId }, trx);
      return true;
    });
    if (!ok) throw new AppError(input.token ? 'invalid_token' : 'invalid_code');
  }
}
