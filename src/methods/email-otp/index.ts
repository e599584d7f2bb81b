import type { Kysely } from 'kysely';
import type { RequestContext } from '../../context.ts';
import { formatDuration, formatTime, renderMail } from '../../delivery/templates.ts';
import type { RecoveryMethodDeps } from '../../flows/recovery/method.ts';
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

export const EMAIL_OTP_SENT =
  'If an account matches, we sent a code to its email address. It can take a few minutes; check spam.';

export async function sendEmailOtp(
  d: RecoveryMethodDeps,
  trx: Kysely<Database>,
  account: Account,
  to: string,
  code: string,
  expiresAt: number,
): Promise<void> {
  const mail = renderMail(await d.organizations.brandFor(account, trx), {
    subject: 'Your password reset code',
    title: `Reset the password of ${account.username}`,
    lines: [
      'Someone (hopefully you) asked to reset the password of your account.',
      'Enter this code on the page where you asked for it.',
    ],
    code: { label: 'Your code', value: code },
    after: [
      `The code expires in ${formatDuration(expiresAt - d.clock.now())} (at ${formatTime(expiresAt)}) and works once.`,
      "Didn't ask for this? You can ignore this mail; your password has not changed.",
    ],
  });
  await d.outbox.send(trx, { channel: 'email', kind: 'password_reset_code', to, ...mail });
}

/** A numeric code by email, typed on the page that asked for it (bound to that flow). */
export const emailOtpMethod: OtpMethod = {
  id: 'email_otp',
  label: 'Email me a code',
  byDefault: false,
  requestedMessage: EMAIL_OTP_SENT,
  canDeliver: (account: Account) => Boolean(account.email),
  codeHash: otpHash,
  // OTP-02: email codes live at most 10 minutes.
  settings: {
    emailOtpTtl: { min: 60, max: 600, default: 600, label: 'Email code lifetime (seconds)' },
    ...OTP_SETTINGS,
  },
  page: {
    intro: 'Enter your username or email address. We will email you a code to choose a new password.',
    codeEntry: renderOtpEntry,
  },
  routes: OTP_ROUTES,
  jobs: OTP_JOBS,
  otp: {
    codeLabel: 'Code from the email',
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
