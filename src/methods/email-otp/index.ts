import type { Kysely } from 'kysely';
import type { RequestContext } from '../../context.ts';
import { formatDuration, formatTime, renderMail } from '../../delivery/templates.ts';
import type { RecoveryMethodDeps } from '../../flows/recovery/method.ts';
import { t } from '../../i18n/index.ts';
import type { Account } from '../../store/accounts.ts';
import type { Database } from '../../store/schema.ts';
import { insertOtp, type OtpMethod, otpHash } from '../otp/code.ts';
import { OTP_JOBS, OTP_ROUTES, OTP_SETTINGS } from '../otp/index.ts';
import { renderOtpEntry } from '../otp/pages.tsx';

declare module '../../flows/recovery/method.ts' {
  interface RecoverySettings {
    emailOtpTtl: number;
  }
}

/** The answer to a request for an email code, whatever the identifier (ENUM-02). */
export const emailOtpSent = () => t('email-otp.sent');

export async function sendEmailOtp(
  d: RecoveryMethodDeps,
  trx: Kysely<Database>,
  account: Account,
  to: string,
  code: string,
  expiresAt: number,
): Promise<void> {
  const mail = renderMail(await d.organizations.brandFor(account, trx), {
    subject: t('email-otp.mail_subject'),
    title: t('email-otp.mail_title', { username: account.username }),
    lines: [t('email-otp.mail_asked'), t('email-otp.mail_enter')],
    code: { label: t('email-otp.mail_code'), value: code },
    after: [
      t('email-otp.mail_expires', {
        duration: formatDuration(expiresAt - d.clock.now()),
        time: formatTime(expiresAt),
      }),
      t('email-otp.mail_ignore'),
    ],
  });
  await d.outbox.send(trx, { channel: 'email', kind: 'password_reset_code', to, ...mail });
}

/**
 * A numeric code by email, typed on the page that asked for it (bound to that flow). Its words are
 * getters, read while a page or answer is made, in its language.
 */
export const emailOtpMethod: OtpMethod = {
  id: 'email_otp',
  get label() {
    return t('email-otp.label');
  },
  byDefault: false,
  get requestedMessage() {
    return emailOtpSent();
  },
  canDeliver: (account: Account) => Boolean(account.email),
  codeHash: otpHash,
  // OTP-02: email codes live at most 10 minutes.
  settings: {
    emailOtpTtl: {
      min: 60,
      max: 600,
      default: 600,
      get label() {
        return t('email-otp.setting_ttl');
      },
    },
    ...OTP_SETTINGS,
  },
  page: {
    get intro() {
      return t('email-otp.intro');
    },
    codeEntry: renderOtpEntry,
  },
  routes: OTP_ROUTES,
  jobs: OTP_JOBS,
  otp: {
    get codeLabel() {
      return t('email-otp.code_label');
    },
    ttlMs: (s) => 1000 * s.emailOtpTtl,
    target: (_d, account) => account.email ?? undefined,
    // a resent code counts against the same hourly mail cap as the request (REC-06)
    allowed: (d, account) => d.guard.allow('reset_mail', account.id),
    send: sendEmailOtp,
  },

  async issue(
    d: RecoveryMethodDeps,
    trx: Kysely<Database>,
    account: Account,
    flowId: string,
    _ctx: RequestContext,
  ): Promise<void> {
    const settings = await d.organizations.recoveryFor(account, trx);
    const to = account.email as string;
    const { code, expiresAt } = await insertOtp(d, trx, emailOtpMethod, account, flowId, settings, to);
    await sendEmailOtp(d, trx, account, to, code, expiresAt);
  },
};
