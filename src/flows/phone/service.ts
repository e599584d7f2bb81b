import type { Kysely } from 'kysely';
import type { RequestContext } from '../../context.ts';
import { type SmsBudgetDeps, smsBudgetAllows } from '../../delivery/sms/budget.ts';
import { renderMail, supportName } from '../../delivery/templates.ts';
import { AppError } from '../../errors.ts';
import { currentLocale, t, withLocale } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import { keyedHash, safeEqual } from '../../security/hashing.ts';
import { DIGITS, newCode, newId } from '../../security/random.ts';
import {
  consumeCode,
  findLatestLiveCode,
  insertRecoveryCode,
  supersedeCodes,
  takeCodeAttempt,
} from '../../store/recovery-codes.ts';
import type { Database } from '../../store/schema.ts';
import type { Authenticated } from '../../web/auth.ts';
import type { OrganizationService } from '../organizations/service.ts';
import type { SessionService } from '../sessions/service.ts';
import { maskPhone, parseMobile } from './numbers.ts';

/** What this module uses of the container the composition root builds. */
export type PhoneDeps = Pick<Kernel, 'config' | 'db' | 'clock' | 'random' | 'secret' | 'outbox' | 'audit' | 'guard'> & {
  sessions: SessionService;
  organizations: OrganizationService;
} & SmsBudgetDeps;

/** recovery_codes rows of this method confirm a new number; `target` holds the number. */
export const PHONE_VERIFY = 'phone_verify';
const VERIFY_TTL = 10 * 60_000; // OTP-02
const VERIFY_LENGTH = 6; // OTP-01
const VERIFY_ATTEMPTS = 5;

const verifyHash = (d: PhoneDeps, rowId: string, code: string) =>
  keyedHash(d.secret, `phone_verify:${rowId}`, code.replace(/\s/g, ''));

/**
 * Mobile numbers on /settings: a number counts (phone_verified_at) only after the code sent to it
 * comes back (OTP-05). Adding, changing and removing need a recent sign-in (SES-07); a change or
 * removal is told to the email address and to the old number (LOG-03).
 */
export class PhoneService {
  constructor(private readonly d: PhoneDeps) {}

  async startVerification(
    auth: Authenticated,
    input: { phone: string },
    ctx: RequestContext,
  ): Promise<{ message: string; pending: string }> {
    const d = this.d;
    d.sessions.requireRecentAuth(auth.session);
    const phone = parseMobile(String(input.phone ?? ''), d.config.sms.allowedCallingCodes);
    // OTP-05: SMS pumping caps per IP (inside limit), per number and per account.
    await d.guard.limit('otp_send', ctx, `phone:${phone}`);
    await d.guard.limit('otp_send', ctx, `account:${auth.account.id}`);
    const now = d.clock.now();
    const id = newId(d.random);
    const code = newCode(d.random, DIGITS, VERIFY_LENGTH);
    const send =
      (await d.guard.allow('otp_message', `phone:${phone}`)) &&
      (await d.guard.allow('otp_message', `account:${auth.account.id}`)) &&
      (await smsBudgetAllows(d, ctx));
    await d.db.transaction().execute(async (trx) => {
      await this.cancelPending(trx, auth.account.id, now);
      await insertRecoveryCode(trx, {
        id,
        account_id: auth.account.id,
        method: PHONE_VERIFY,
        flow_id: id,
        token_hash: null,
        code_hash: verifyHash(d, id, code),
        expires_at: now + VERIFY_TTL,
        failed_attempts: 0,
        resends: 0,
        used_at: null,
        target: phone,
        created_at: now,
      });
      if (send) {
        const brand = await d.organizations.brandFor(auth.account, trx);
        // In the account's language, else the request's.
        const text = withLocale(auth.account.locale ?? currentLocale(), () => ({
          subject: t('phone.verify_subject'),
          text: t('phone.verify_text', { code, product: brand.productName }),
        }));
        await d.outbox.send(trx, { channel: 'sms', kind: 'phone_verify', from: brand.smsSender, to: phone, ...text });
      }
      await d.audit.record(
        'phone.verification_sent',
        ctx,
        { accountId: auth.account.id, details: { delivered: send } },
        trx,
      );
    });
    return { message: t('phone.code_sent'), pending: maskPhone(phone) };
  }

  /** The number waiting for its code, if any (masked, for the page). */
  async pending(accountId: string): Promise<string | undefined> {
    const row = await this.livePending(this.d.db, accountId);
    return row?.target ? maskPhone(row.target) : undefined;
  }

  async confirm(auth: Authenticated, input: { code: string }, ctx: RequestContext): Promise<{ phone: string }> {
    const d = this.d;
    await d.guard.limit('otp_verify', ctx, `account:${auth.account.id}`);
    const code = String(input.code ?? '').slice(0, 32);
    const row = await this.livePending(d.db, auth.account.id);
    if (!row?.target) throw new AppError('invalid_code');
    // Take one attempt first, atomically: concurrent guesses get no more than five comparisons.
    const took = await takeCodeAttempt(d.db, row.id, VERIFY_ATTEMPTS);
    if (!took || !row.code_hash || !safeEqual(verifyHash(d, row.id, code), row.code_hash)) {
      await d.audit.record('phone.verification_failed', ctx, { accountId: auth.account.id });
      throw new AppError('invalid_code');
    }
    const now = d.clock.now();
    const phone = row.target;
    const old = auth.account.phone_verified_at ? auth.account.phone : null;
    const ok = await d.db.transaction().execute(async (trx) => {
      if (!(await consumeCode(trx, row.id, now, { unexpired: false }))) return false;
      await trx
        .updateTable('accounts')
        .set({ phone, phone_verified_at: now, updated_at: now })
        .where('id', '=', auth.account.id)
        .execute();
      await d.audit.record(old ? 'phone.changed' : 'phone.added', ctx, { accountId: auth.account.id }, trx);
      await this.notify(trx, auth, old && old !== phone ? old : null, old ? 'changed' : 'added', phone, ctx);
      return true;
    });
    if (!ok) throw new AppError('invalid_code');
    return { phone };
  }

  async remove(auth: Authenticated, ctx: RequestContext): Promise<void> {
    const d = this.d;
    d.sessions.requireRecentAuth(auth.session);
    const old = auth.account.phone;
    if (!old) return;
    const now = d.clock.now();
    await d.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('accounts')
        .set({ phone: null, phone_verified_at: null, updated_at: now })
        .where('id', '=', auth.account.id)
        .execute();
      await this.cancelPending(trx, auth.account.id, now);
      await d.audit.record('phone.removed', ctx, { accountId: auth.account.id }, trx);
      await this.notify(trx, auth, auth.account.phone_verified_at ? old : null, 'removed', null, ctx);
    });
  }

  private async livePending(db: Kysely<Database>, accountId: string) {
    return findLatestLiveCode(db, accountId, PHONE_VERIFY, this.d.clock.now());
  }

  private async cancelPending(trx: Kysely<Database>, accountId: string, now: number) {
    await supersedeCodes(trx, accountId, [PHONE_VERIFY], now);
  }

  /** LOG-03: the email address and the old number hear of it, so a hijacker cannot do it quietly. */
  private async notify(
    trx: Kysely<Database>,
    auth: Authenticated,
    oldPhone: string | null,
    what: 'added' | 'changed' | 'removed',
    phone: string | null,
    ctx: RequestContext,
  ) {
    const d = this.d;
    const brand = await d.organizations.brandFor(auth.account, trx);
    // The account's own request: its language, else the request's.
    const inLocale = <T>(fn: () => T) => withLocale(auth.account.locale ?? currentLocale(), fn);
    if (auth.account.email) {
      const mail = inLocale(() =>
        renderMail(brand, {
          subject: t('phone.mail_subject'),
          title:
            what === 'added'
              ? t('phone.title_added')
              : what === 'changed'
                ? t('phone.title_changed')
                : t('phone.title_removed'),
          lines: [
            what === 'removed'
              ? t('phone.line_removed')
              : what === 'added'
                ? t('phone.line_added', { phone: maskPhone(phone as string) })
                : t('phone.line_set', { phone: maskPhone(phone as string) }),
            t('phone.mail_usable'),
          ],
          after: [t('phone.mail_not_you', { support: supportName(brand) })],
        }),
      );
      await d.outbox.send(trx, { channel: 'email', kind: 'phone_changed', to: auth.account.email, ...mail });
    }
    // The mail above always goes; the text to the old number spends from the SMS budget too.
    if (oldPhone && (await smsBudgetAllows(d, ctx, trx)))
      await d.outbox.send(trx, {
        channel: 'sms',
        kind: 'phone_changed',
        from: brand.smsSender,
        to: oldPhone,
        ...inLocale(() => ({
          subject: t('phone.title_changed'),
          text: t('phone.sms_removed', {
            product: brand.productName,
            username: auth.account.username,
            support: supportName(brand),
          }),
        })),
      });
  }
}
