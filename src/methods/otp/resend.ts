import type { RequestContext } from '../../context.ts';
import type { OutboxRow } from '../../delivery/worker.ts';
import { AppError } from '../../errors.ts';
import type { RecoveryMethodDeps } from '../../flows/recovery/method.ts';
import { currentLocale, t, withLocale } from '../../i18n/index.ts';
import { findAccount } from '../../store/accounts.ts';
import { findLiveFlowCode, replaceCode } from '../../store/recovery-codes.ts';
import { isOtpMethod, newOtp, otpHash } from './code.ts';

export const RESEND_JOB = 'recovery.otp_resend';
/** The answer to every resend, whatever the flow (ENUM-02). */
export const resendAnswer = () => t('otp.resend_answer');

const otpMethodIds = (d: RecoveryMethodDeps) =>
  d.recoveryMethods
    .all()
    .filter(isOtpMethod)
    .map((m) => m.id);

const str = (v: unknown) => (typeof v === 'string' ? v : '');

/**
 * "Resend code": answered the same for every flow id, the work happens in a job (ENUM-02). The
 * new code replaces the old one in the same row, so the wrong tries so far still count (OTP-04).
 */
export async function requestResend(
  d: RecoveryMethodDeps,
  input: { flow: string },
  ctx: RequestContext,
): Promise<{ message: string }> {
  const flow = str(input.flow);
  if (!flow || flow.length > 64) throw new AppError('validation_failed', t('otp.no_flow'));
  await d.guard.limit('otp_send', ctx, `flow:${flow}`);
  await d.outbox.job(d.db, {
    kind: RESEND_JOB,
    payload: { flow, ip: ctx.ip, userAgent: ctx.userAgent, correlationId: ctx.correlationId, locale: currentLocale() },
  });
  return { message: resendAnswer() };
}

/** The job behind "Resend code", for every code method: each says where and how its code goes. */
export async function runResend(
  d: RecoveryMethodDeps,
  payload: Record<string, unknown>,
  _row: OutboxRow,
): Promise<void> {
  const ctx: RequestContext = {
    ip: str(payload.ip),
    userAgent: str(payload.userAgent),
    correlationId: str(payload.correlationId),
  };
  const now = d.clock.now();
  const row = await findLiveFlowCode(d.db, str(payload.flow), otpMethodIds(d), now);
  if (!row) return;
  const m = d.recoveryMethods.get(row.method);
  if (!isOtpMethod(m)) return;
  const account = await findAccount(d.db, row.account_id);
  if (!account || account.status === 'disabled') return;
  const settings = await d.organizations.recoveryFor(account);
  const method = row.method;
  const refuse = async (reason: string) =>
    d.audit.record('password.reset_code_resend_refused', ctx, { accountId: account.id, details: { method, reason } });
  if (row.resends >= settings.maxResends) return refuse('max_resends');
  const to = m.otp.target(d, account);
  if (!to) return refuse('no_target');
  if (!(await m.otp.allowed(d, account, to, ctx))) return refuse('message_cap');
  const code = newOtp(d, settings);
  const expiresAt = now + m.otp.ttlMs(settings);
  // The new code speaks the account's language, else that of the request that asked for it.
  await withLocale(account.locale ?? (str(payload.locale) || null), () =>
    d.db.transaction().execute(async (trx) => {
      if (!(await replaceCode(trx, row, { code_hash: otpHash(d, row, code), expires_at: expiresAt, target: to })))
        return;
      await m.otp.send(d, trx, account, to, code, expiresAt);
      await d.audit.record(
        'password.reset_code_resent',
        ctx,
        { accountId: account.id, details: { method, resends: row.resends + 1 } },
        trx,
      );
    }),
  );
}
