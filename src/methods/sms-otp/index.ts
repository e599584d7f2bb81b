import type { Kysely } from 'kysely';
import type { RequestContext } from '../../context.ts';
import { smsBudgetAllows } from '../../delivery/sms/budget.ts';
import type { RecoveryMethodDeps } from '../../flows/recovery/method.ts';
import { t } from '../../i18n/index.ts';
import type { Account } from '../../store/accounts.ts';
import type { Database } from '../../store/schema.ts';
import { insertOtp, type OtpMethod, otpHash } from '../otp/code.ts';
import { OTP_JOBS, OTP_ROUTES, OTP_SETTINGS } from '../otp/index.ts';
import { renderOtpEntry } from '../otp/pages.tsx';

declare module '../../flows/recovery/method.ts' {
  interface RecoverySettings {
    smsOtpTtl: number;
  }
}

/** The answer to a request for an SMS code, whatever the identifier (ENUM-02). */
export const smsOtpSent = () => t('sms-otp.sent');

export async function sendSmsOtp(
  d: RecoveryMethodDeps,
  trx: Kysely<Database>,
  account: Pick<Account, 'org_id'>,
  to: string,
  code: string,
  expiresAt: number,
): Promise<void> {
  const minutes = Math.max(1, Math.round((expiresAt - d.clock.now()) / 60_000));
  const brand = await d.organizations.brandFor(account, trx);
  await d.outbox.send(trx, {
    channel: 'sms',
    kind: 'password_reset_code',
    // the organization's sender name where LATCHKEY_SMS_BRAND_SENDER is on, as the number's confirmation
    from: brand.smsSender,
    to,
    subject: t('sms-otp.sms_subject'),
    text: t('sms-otp.sms_text', { code, product: brand.productName, minutes }),
  });
}

/** The number the code may go to: only a confirmed one, in an allowed country (OTP-05). */
export function smsTarget(d: RecoveryMethodDeps, account: Account): string | undefined {
  if (!account.phone || !account.phone_verified_at) return undefined;
  const allowed = d.config.sms.allowedCallingCodes;
  if (allowed.length && !allowed.some((c) => account.phone?.startsWith(`+${c}`))) return undefined;
  return account.phone;
}

/**
 * Per number and per account message caps, then the install-wide SMS budget (OTP-05 SMS pumping).
 * Past any of them, nothing is sent and the requester sees the same answer as always.
 */
export async function smsAllowed(
  d: RecoveryMethodDeps,
  account: Account,
  to: string,
  ctx: RequestContext,
  db: Kysely<Database> = d.db,
): Promise<boolean> {
  return (
    (await d.guard.allow('otp_message', `phone:${to}`)) &&
    (await d.guard.allow('otp_message', `account:${account.id}`)) &&
    (await smsBudgetAllows(d, ctx, db))
  );
}

/**
 * A numeric code by SMS to the account's confirmed mobile number, typed on the requesting page.
 * Its words are getters, read while a page or answer is made, in its language.
 */
export const smsOtpMethod: OtpMethod = {
  id: 'sms_otp',
  get label() {
    return t('sms-otp.label');
  },
  byDefault: false,
  get requestedMessage() {
    return smsOtpSent();
  },
  // An account without a confirmed number gets nothing, and the same answer (OTP-05, ENUM-02).
  canDeliver: (account: Account) => Boolean(account.phone && account.phone_verified_at),
  codeHash: otpHash,
  // OTP-02: SMS codes live at most 10 minutes.
  settings: {
    smsOtpTtl: {
      min: 60,
      max: 600,
      default: 600,
      get label() {
        return t('sms-otp.setting_ttl');
      },
    },
    ...OTP_SETTINGS,
  },
  page: {
    get intro() {
      return t('sms-otp.intro');
    },
    codeEntry: renderOtpEntry,
  },
  routes: OTP_ROUTES,
  jobs: OTP_JOBS,
  otp: {
    get codeLabel() {
      return t('sms-otp.code_label');
    },
    ttlMs: (s) => 1000 * s.smsOtpTtl,
    target: smsTarget,
    allowed: smsAllowed,
    send: (d, trx, account, to, code, expiresAt) => sendSmsOtp(d, trx, account, to, code, expiresAt),
  },
  // OTP-05: text messages cost money; sends are limited per client IP and per identifier
  // before the request is even queued (the per-number and per-account caps apply when sending).
  beforeRequest: (d: RecoveryMethodDeps, ctx: RequestContext, identifierKey: string) =>
    d.guard.limit('otp_send', ctx, `reset:${identifierKey}`),

  async issue(
    d: RecoveryMethodDeps,
    trx: Kysely<Database>,
    account: Account,
    flowId: string,
    ctx: RequestContext,
  ): Promise<void> {
    const to = smsTarget(d, account);
    if (!to || !(await smsAllowed(d, account, to, ctx, trx))) {
      await d.audit.record('password.reset_sms_withheld', ctx, { accountId: account.id }, trx);
      return;
    }
    const settings = await d.organizations.recoveryFor(account, trx);
    const { code, expiresAt } = await insertOtp(d, trx, smsOtpMethod, account, flowId, settings, to);
    await sendSmsOtp(d, trx, account, to, code, expiresAt);
  },
};
