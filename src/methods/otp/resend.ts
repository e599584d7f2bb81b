import type { RequestContext } from '../../context.ts';
import type { Deps } from '../../deps.ts';
import type { OutboxRow } from '../../delivery/worker.ts';
import { AppError } from '../../errors.ts';
import { registerRecoveryMethod, setRecoveryMethodSelector } from '../../flows/recovery/method.ts';
import { findAccount } from '../../store/accounts.ts';
import { sendSmsOtp, smsAllowed, smsOtpMethod, smsTarget } from '../sms-otp/index.ts';
import { EMAIL_OTP_SENT, emailOtpMethod, sendEmailOtp } from '../email-otp/index.ts';
import { newOtp, type OtpMethodId, otpHash, otpTtlMs } from './code.ts';

const RESEND_JOB = 'recovery.otp_resend';
export const RESEND_ANSWER = 'If an account matches, we sent a new code. The earlier code no longer works.';

const str = (v: unknown) => (typeof v === 'string' ? v : '');

/**
 * Plugs the email and SMS code methods into the recovery flow and makes the flow follow each
 * organization's settings: only the methods it enables, and the one the user picked.
 */
export function setupOtpRecovery(d: Deps): void {
  registerRecoveryMethod(emailOtpMethod);
  registerRecoveryMethod(smsOtpMethod);
  setRecoveryMethodSelector(async (dd, account, registered, requested) => {
    const settings = await dd.organizations.recoveryFor(account);
    const enabled = registered.filter((m) => (settings.methods as string[]).includes(m.id));
    // No pick (API clients of the email issue, "Send Reset Email" on /settings): the email link.
    if (!requested) return enabled.filter((m) => m.byDefault);
    return enabled.filter((m) => m.id === requested);
  });
  d.worker.registerJob(RESEND_JOB, (payload, row) => runResend(d, payload, row));
}

/**
 * "Resend code": answered the same for every flow id, the work happens in a job (ENUM-02). The
 * new code replaces the old one in the same row, so the wrong tries so far still count (OTP-04).
 */
export async function requestResend(d: Deps, input: { flow: string }, ctx: RequestContext): Promise<{ message: string }> {
  const flow = str(input.flow);
  if (!flow || flow.length > 64) throw new AppError('validation_failed', 'This request has no code to resend. Start again.');
  await d.guard.limit('otp_send', ctx, `flow:${flow}`);
  await d.outbox.job(d.db, { kind: RESEND_JOB, payload: { flow, ip: ctx.ip, userAgent: ctx.userAgent, correlationId: ctx.correlationId } });
  return { message: RESEND_ANSWER };
}

async function runResend(d: Deps, payload: Record<string, unknown>, _row: OutboxRow): Promise<void> {
  const ctx: RequestContext = { ip: str(payload.ip), userAgent: str(payload.userAgent), correlationId: str(payload.correlationId) };
  const now = d.clock.now();
  const row = await d.db
    .selectFrom('recovery_codes')
    .selectAll()
    .where('flow_id', '=', str(payload.flow))
    .where('method', 'in', ['email_otp', 'sms_otp'])
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  if (!row) return;
  const account = await findAccount(d.db, row.account_id);
  if (!account || account.status === 'disabled') return;
  const settings = await d.organizations.recoveryFor(account);
  const method = row.method as OtpMethodId;
  const refuse = async (reason: string) =>
    d.audit.record('password.reset_code_resend_refused', ctx, { accountId: account.id, details: { method, reason } });
  if (row.resends >= settings.maxResends) return refuse('max_resends');
  const to = method === 'sms_otp' ? smsTarget(d, account) : account.email;
  if (!to) return refuse('no_target');
  if (method === 'sms_otp' ? !(await smsAllowed(d, account, to, ctx)) : !(await d.guard.allow('reset_mail', account.id))) return refuse('message_cap');
  const code = newOtp(d, settings);
  const expiresAt = now + otpTtlMs(method, settings);
  await d.db.transaction().execute(async (trx) => {
    const updated = await trx
      .updateTable('recovery_codes')
      .set({ code_hash: otpHash(d, row, code), expires_at: expiresAt, resends: row.resends + 1, target: to })
      .where('id', '=', row.id)
      .where('used_at', 'is', null)
      .where('resends', '=', row.resends)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) !== 1) return;
    if (method === 'sms_otp') await sendSmsOtp(d, trx, to, code, expiresAt);
    else await sendEmailOtp(d, trx, account, to, code, expiresAt);
    await d.audit.record('password.reset_code_resent', ctx, { accountId: account.id, details: { method, resends: row.resends + 1 } }, trx);
  });
}

export { EMAIL_OTP_SENT };
